"""Workflow definitions as plain data: states, actions, who may fire them, what they need and what they set.

A definition never runs anything.  The engine turns it into one `transitions.Machine`; the service layer applies
the named effects.  The vocabularies below (roles, jurisdiction rules, inputs, flags, effects) are the contract
between a definition written as data and the code that honours it: a definition naming anything else is rejected
when it is loaded, so a typo in a county's YAML fails at start-up, not silently at the first event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import InvalidDefinition, UnknownAction

ROLES = frozenset({"grid_worker", "dispatcher", "handler", "supervisor", "admin"})

#: Named jurisdiction rules; the service computes the facts (see `engine.Actor`), the engine only reads them.
JURISDICTIONS = MappingProxyType({
    "any": "no jurisdiction check beyond the role",
    "area": "the actor's area covers the event's responsible area (its township; the county once escalated)",
    "department": "the actor's department holds the event's open task",
    "grid": "the actor is a grid worker whose area covers the event's grid, or who reported the event",
})

#: Inputs an action may require, and what counts as present (see engine._INPUT_CHECKS).
INPUTS = MappingProxyType({
    "comment": "non-blank text (说明)",
    "reason": "non-blank text (原因): why rejected, returned, reopened, refused …",
    "photos": "non-empty sequence of photo references",
    "department": "department code or id",
    "deadline": "timezone-aware datetime",
    "master_event": "id of the event this one duplicates",
    "satisfaction": "one of satisfied, basically_satisfied, dissatisfied (回访满意度)",
    "level": "supervision level (督办级别)",
})

#: Flags are facts about the event that are not states; the service computes them and passes them to the engine.
FLAGS = MappingProxyType({
    "verified": "the grid worker passed the verification of the current result (核查通过)",
    "extension_pending": "a handler's extension request awaits a dispatcher's answer",
})

#: Effects the service applies, in the listed order, in the same transaction as the state change.
EFFECTS = MappingProxyType({
    "stamp_registered": "set registered_at = now (the start of 立案 statistics)",
    "mark_rejected": "set rejected_at = now and keep the reason",
    "link_master": "point the event at inputs['master_event'] (merged duplicate)",
    "open_task": "create a task for inputs['department'] with the event's deadline; it becomes the open task",
    "accept_task": "stamp accepted_at on the open task",
    "complete_task": "stamp handled_at and the result (comment, photos) on the open task",
    "reopen_task": "rework: put the last task back to its department (handled_at cleared, rework_count += 1 on it)",
    "close_task": "finish the open task, if any (returned, escalated or closed), with the reason",
    "count_rework": "event.rework_count += 1 (返工)",
    "set_deadline": "event and open task deadline = inputs['deadline']; if the input is absent keep the old one",
    "pause_clock": "start a paused span: time spent returned is not charged to the handling time",
    "resume_clock": "end the paused span; without a new deadline the old one is shifted by the span (deadlines.py)",
    "flag_extension": "record the request (reason, requested deadline) and set extension_pending",
    "extend_deadline": "deadline = inputs['deadline'] or the requested one; log the extension",
    "clear_extension": "clear extension_pending, recording approval or refusal",
    "record_supervision": "append a supervision (督办) with inputs['level'] and comment",
    "escalate_to_county": "the responsible area becomes the county; a county dispatcher takes over",
    "mark_verified": "set the verified flag (verified_at, verifier)",
    "clear_verified": "clear the verified flag",
    "record_visit": "store the 回访 satisfaction and comment",
    "mark_self_resolved": "self_resolved = True (自行处置)",
    "mark_closed": "set closed_at = now and whether it is on time",
    "clear_closed": "clear closed_at (reopened)",
})

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Names transitions would clash with when it binds triggers onto a model.
_RESERVED = {"state", "trigger", "may_trigger"}


def _reserved(name: str) -> bool:
    return name in _RESERVED or name.startswith(("is_", "may_", "to_"))


@dataclass(frozen=True)
class StateDef:
    name: str
    label_zh: str
    label_en: str
    # Terminal: the event is finished for statistics and its clock stops.  An exceptional action such as
    # `reopen` may still leave a terminal state.
    terminal: bool = False

    def label(self, lang: str = "zh") -> str:
        return self.label_en if lang.startswith("en") else self.label_zh


@dataclass(frozen=True)
class ActionDef:
    name: str
    label_zh: str
    label_en: str
    sources: tuple[str, ...]
    dest: str | None  # None: the event stays in its state (supervise, request_extension …)
    roles: frozenset[str]
    jurisdiction: str = "area"
    requires: frozenset[str] = frozenset()
    effects: tuple[str, ...] = ()
    when: frozenset[str] = frozenset()    # flags that must be set
    unless: frozenset[str] = frozenset()  # flags that must not be set

    def __post_init__(self):
        # accept lists/strings from data and normalise to the declared immutable types
        object.__setattr__(self, "sources", tuple(_listify(self.sources)))
        object.__setattr__(self, "roles", frozenset(_listify(self.roles)))
        object.__setattr__(self, "requires", frozenset(_listify(self.requires)))
        object.__setattr__(self, "effects", tuple(_listify(self.effects)))
        object.__setattr__(self, "when", frozenset(_listify(self.when)))
        object.__setattr__(self, "unless", frozenset(_listify(self.unless)))

    def label(self, lang: str = "zh") -> str:
        return self.label_en if lang.startswith("en") else self.label_zh

    def to_dict(self) -> dict:
        return {
            "name": self.name, "label_zh": self.label_zh, "label_en": self.label_en,
            "sources": list(self.sources), "dest": self.dest, "roles": sorted(self.roles),
            "jurisdiction": self.jurisdiction, "requires": sorted(self.requires), "effects": list(self.effects),
            "when": sorted(self.when), "unless": sorted(self.unless),
        }


def _listify(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


@dataclass(frozen=True)
class WorkflowDef:
    name: str
    label_zh: str
    label_en: str
    initial: str
    states: tuple[StateDef, ...]
    actions: tuple[ActionDef, ...]
    _state_index: Mapping[str, StateDef] = field(init=False, repr=False, compare=False)
    _action_index: Mapping[str, ActionDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "states", tuple(self.states))
        object.__setattr__(self, "actions", tuple(self.actions))
        self._validate()
        object.__setattr__(self, "_state_index", MappingProxyType({s.name: s for s in self.states}))
        object.__setattr__(self, "_action_index", MappingProxyType({a.name: a for a in self.actions}))

    # -- lookups ---------------------------------------------------------------------------------------------
    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.states)

    def state(self, name: str) -> StateDef:
        try:
            return self._state_index[name]
        except KeyError:
            raise KeyError(f"workflow {self.name!r} has no state {name!r}") from None

    def action(self, name: str) -> ActionDef:
        try:
            return self._action_index[name]
        except KeyError:
            raise UnknownAction(name, self.name) from None

    def has_action(self, name: str) -> bool:
        return name in self._action_index

    def actions_from(self, state: str) -> list[ActionDef]:
        return [a for a in self.actions if state in a.sources]

    # -- validation ------------------------------------------------------------------------------------------
    def _fail(self, problem: str):
        raise InvalidDefinition(self.name, problem)

    def _validate(self):
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            self._fail(f"workflow name {self.name!r} must be lower_snake_case")
        seen: set[str] = set()
        for s in self.states:
            if not isinstance(s, StateDef):
                self._fail(f"state {s!r} is not a StateDef")
            if not _NAME.match(s.name):
                self._fail(f"state name {s.name!r} must be lower_snake_case")
            if s.name in seen:
                self._fail(f"duplicate state {s.name!r}")
            seen.add(s.name)
        if self.initial not in seen:
            self._fail(f"initial state {self.initial!r} is not a declared state")
        names: set[str] = set()
        for a in self.actions:
            if not isinstance(a, ActionDef):
                self._fail(f"action {a!r} is not an ActionDef")
            where = f"action {a.name!r}"
            if not _NAME.match(a.name) or _reserved(a.name):
                self._fail(f"{where}: name must be lower_snake_case and not clash with state/trigger/is_/may_/to_")
            if a.name in names:
                self._fail(f"duplicate action {a.name!r}")
            if a.name in seen:
                self._fail(f"{where}: an action may not share a state's name")
            names.add(a.name)
            if not a.sources:
                self._fail(f"{where}: no source state")
            for src in a.sources:
                if src not in seen:
                    self._fail(f"{where}: unknown source state {src!r}")
            if len(set(a.sources)) != len(a.sources):
                self._fail(f"{where}: repeated source state")
            if a.dest is not None and a.dest not in seen:
                self._fail(f"{where}: unknown destination state {a.dest!r}")
            if not a.roles:
                self._fail(f"{where}: no role may fire it")
            for label, got, vocab in (("role", a.roles, ROLES), ("input", a.requires, INPUTS),
                                      ("effect", a.effects, EFFECTS), ("flag", a.when | a.unless, FLAGS)):
                unknown = sorted(set(got) - set(vocab))
                if unknown:
                    self._fail(f"{where}: unknown {label}(s) {', '.join(unknown)}")
            if a.jurisdiction not in JURISDICTIONS:
                self._fail(f"{where}: unknown jurisdiction rule {a.jurisdiction!r}")
            if a.when & a.unless:
                self._fail(f"{where}: a flag is both required and forbidden")
            if len(set(a.effects)) != len(a.effects):
                self._fail(f"{where}: repeated effect")
        # Every state must be reachable from the initial one, or the definition has a dead end nobody can enter.
        reachable = {self.initial}
        frontier = [self.initial]
        while frontier:
            here = frontier.pop()
            for a in self.actions:
                if here in a.sources and a.dest is not None and a.dest not in reachable:
                    reachable.add(a.dest)
                    frontier.append(a.dest)
        unreachable = [s.name for s in self.states if s.name not in reachable]
        if unreachable:
            self._fail(f"unreachable state(s) {', '.join(unreachable)}")

    # -- data round trip ---------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping) -> "WorkflowDef":
        """Build a definition from plain data (parsed YAML or JSON).  Unknown keys are rejected."""
        name = data.get("name", "?") if isinstance(data, Mapping) else "?"
        try:
            top = dict(data)
            states = [StateDef(**_only(s, {"name", "label_zh", "label_en", "terminal"}, name))
                      for s in top.pop("states")]
            actions = []
            for a in top.pop("actions"):
                a = _only(a, {"name", "label_zh", "label_en", "sources", "dest", "roles", "jurisdiction",
                              "requires", "effects", "when", "unless"}, name)
                actions.append(ActionDef(**a))
            top = _only(top, {"name", "label_zh", "label_en", "initial"}, name)
            return cls(states=tuple(states), actions=tuple(actions), **top)
        except InvalidDefinition:
            raise
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidDefinition(name, f"malformed data: {exc!r}") from exc

    def to_dict(self) -> dict:
        return {
            "name": self.name, "label_zh": self.label_zh, "label_en": self.label_en, "initial": self.initial,
            "states": [{"name": s.name, "label_zh": s.label_zh, "label_en": s.label_en, "terminal": s.terminal}
                       for s in self.states],
            "actions": [a.to_dict() for a in self.actions],
        }


def _only(data: Mapping, allowed: set[str], workflow: str) -> dict:
    extra = set(data) - allowed
    if extra:
        raise InvalidDefinition(workflow, f"unknown key(s) {', '.join(sorted(extra))} in {dict(data).get('name', data)!r}")
    return dict(data)


def iter_edges(definition: WorkflowDef) -> Iterable[tuple[str, str | None, ActionDef]]:
    """(source, dest, action) for every source of every action; dest None means the state does not change."""
    for a in definition.actions:
        for src in a.sources:
            yield src, a.dest, a
