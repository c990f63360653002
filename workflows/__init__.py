"""Workflow definitions (data), the engine that fires them on events, the working-day calendar, deadlines,
the hash-chained audit log helpers and diagrams.  Pure Python: no Flask, no database."""

from .definition import ActionDef, StateDef, WorkflowDef
from .engine import Actor, Engine, Outcome
from .errors import (InvalidDefinition, InvalidInput, MissingInput, NotAllowed, StaleVersion, UnknownAction,
                     UnknownWorkflow, WorkflowError, WrongState)
from .registry import get_engine, get_workflow, register

__all__ = [
    "ActionDef", "StateDef", "WorkflowDef", "Actor", "Engine", "Outcome",
    "WorkflowError", "WrongState", "NotAllowed", "MissingInput", "InvalidInput", "StaleVersion",
    "UnknownAction", "UnknownWorkflow", "InvalidDefinition",
    "get_engine", "get_workflow", "register",
]
