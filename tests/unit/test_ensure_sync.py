"""GridgovFlask.ensure_sync answers plain functions from their code flags, and agrees with Flask's."""
import functools

import pytest
from flask import Flask

from gridgov import GridgovFlask


def plain(x):
    return x


async def coroutine(x):
    return x


class Holder:
    def method(self, x):
        return x

    async def async_method(self, x):
        return x


def _flask_answer(app: Flask, func):
    try:
        return Flask.ensure_sync(app, func) is func
    except RuntimeError:  # Flask without its async extra: it refuses coroutine functions
        return False


def _ours(app: GridgovFlask, func):
    try:
        return app.ensure_sync(func) is func
    except RuntimeError:
        return False


@pytest.mark.parametrize("func", [plain, coroutine, Holder().method, Holder().async_method,
                                  functools.partial(plain, 1), functools.partial(coroutine, 1), len, lambda: None])
def test_ensure_sync_passes_sync_callables_through_and_coroutines_to_flask(func):
    app = GridgovFlask(__name__)
    assert _ours(app, func) == _flask_answer(app, func)


def test_a_coroutine_function_is_never_returned_as_is():
    app = GridgovFlask(__name__)
    assert _ours(app, coroutine) is False
    assert app.ensure_sync(plain) is plain
