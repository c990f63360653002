import pytest

from workflows.calendar import WorkCalendar
from workflows.registry import get_engine


@pytest.fixture(scope="session")
def default_engine():
    return get_engine("default")


@pytest.fixture(scope="session")
def hotline_engine():
    return get_engine("hotline")


@pytest.fixture
def cal():
    return WorkCalendar()
