"""The named workflows of this installation, each with its engine built once at registration."""

from __future__ import annotations

import threading

from .default import DEFAULT
from .definition import WorkflowDef
from .engine import Engine
from .errors import InvalidDefinition, UnknownWorkflow
from .hotline import HOTLINE

_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def register(definition: WorkflowDef, *, replace: bool = False) -> Engine:
    """Build the engine for `definition` and make it available by name; refuses to shadow silently."""
    if not isinstance(definition, WorkflowDef):
        definition = WorkflowDef.from_dict(definition)
    engine = Engine(definition)  # built outside the lock: it is the slow part
    with _lock:
        if definition.name in _engines and not replace:
            raise InvalidDefinition(definition.name, "a workflow with this name is already registered")
        _engines[definition.name] = engine
    return engine


def unregister(name: str) -> None:
    with _lock:
        _engines.pop(name, None)


def get_engine(name: str = "default") -> Engine:
    try:
        return _engines[name]
    except KeyError:
        raise UnknownWorkflow(name) from None


def get_workflow(name: str = "default") -> WorkflowDef:
    return get_engine(name).definition


def names() -> list[str]:
    return sorted(_engines)


register(DEFAULT)
register(HOTLINE)
