"""The engine binds a workflow definition to events with one shared `transitions.Machine` per definition.

`Engine.fire` checks and fires one action on any object with a `.state` string attribute (a plain object, an
SQLAlchemy row) and returns an `Outcome` naming the effects the service must apply.  The engine touches nothing
but `subject.state`: no database, no clock, no I/O.  The machine is built once per definition (see registry.py),
never per event or request, with `auto_transitions=False` and the guards as `conditions=`.

How a fire reaches the shared machine (measured in bench/workflow_engine.py):

* Default: `machine.events[action].trigger(subject, ...)`.  This is what the trigger method that `add_model`
  would bind does, minus the binding: transitions reads `subject.state`, runs the conditions, and sets the
  new state on that subject alone.  Nothing is written onto the subject and `machine.models` is never
  touched, so no lock is needed; every call has its own EventData.  About 10 µs a fire.
* `Engine(definition, bind_models=True)`: the textbook `add_model(subject, initial=subject.state)`, trigger,
  `remove_model` in a finally, about 60 µs, most of it binding ~50 callables.  Two hazards come with it, both
  handled here: (1) `add_model` checks `model not in machine.models` (an `==` test) and `remove_model`
  removes by `==`, so two threads holding two instances of the same row whose class compares by primary key
  break each other (`list.remove(x): x not in list`, reproduced in the tests) — a lock around
  add/trigger/remove fixes it and keeps `machine.models` at zero or one entry; (2) `remove_model` leaves
  `trigger`, `may_trigger`, each action, `may_<action>` and `is_<state>` on the instance — the engine deletes
  exactly the names it caused to be bound.  (It would also register a model's own `on_enter_<state>` methods
  as callbacks on the shared states; gridgov's models have none.)
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine, MachineError

from .definition import ActionDef, WorkflowDef
from .errors import InvalidInput, MissingInput, NotAllowed, UnknownAction, WrongState

SATISFACTION = ("satisfied", "basically_satisfied", "dissatisfied")


@dataclass(frozen=True)
class Actor:
    """Facts about who fires an action, computed by the service from the user and the event.

    in_area:     the actor's area covers the event's responsible area (township, or county once escalated)
    holds_task:  the actor's department holds the event's open task
    in_grid:     the actor's area covers the event's grid
    is_reporter: the actor reported the event
    """

    role: str
    in_area: bool = False
    holds_task: bool = False
    in_grid: bool = False
    is_reporter: bool = False


@dataclass(frozen=True)
class Outcome:
    """What a fired action did; the service applies `effects` in order and writes one event-log row."""

    action: str
    from_state: str
    to_state: str
    effects: tuple[str, ...]
    inputs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def changed_state(self) -> bool:
        return self.from_state != self.to_state


_JURISDICTION_CHECKS = {
    "any": lambda actor: True,
    "area": lambda actor: actor.in_area,
    "department": lambda actor: actor.holds_task,
    "grid": lambda actor: actor.role == "grid_worker" and (actor.in_grid or actor.is_reporter),
}


def _text(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _present(value) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, (list, tuple, set, frozenset)):
        return len(value) > 0
    return True


def _check_deadline(value) -> str | None:
    if not isinstance(value, _dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        return "must be a timezone-aware datetime"
    return None


def _check_photos(value) -> str | None:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) == 0:
        return "must be a non-empty list"
    return None


def _check_satisfaction(value) -> str | None:
    return None if value in SATISFACTION else f"must be one of {', '.join(SATISFACTION)}"


def _check_text(value) -> str | None:
    return None if _text(value) else "must be non-blank text"


_INPUT_CHECKS = {
    "deadline": _check_deadline,
    "photos": _check_photos,
    "satisfaction": _check_satisfaction,
    "comment": _check_text,
    "reason": _check_text,
}


_FLAG_MISSING_ZH = {"verified": "尚未核查通过", "extension_pending": "没有待审批的延期申请"}
_FLAG_PRESENT_ZH = {"verified": "已核查通过", "extension_pending": "有延期申请待审批"}


def check_inputs(action: ActionDef, inputs: Mapping[str, Any], labels: dict | None = None) -> None:
    """Raise MissingInput/InvalidInput unless every required input is present and well-formed.

    Optional inputs that are given are validated too (a naive deadline is never acceptable)."""
    for name in sorted(action.requires):
        if not _present(inputs.get(name)):
            raise MissingInput(action.name, name, labels=labels)
    for name, value in inputs.items():
        check = _INPUT_CHECKS.get(name)
        if check is not None and (name in action.requires or value is not None):
            problem = check(value)
            if problem:
                raise InvalidInput(action.name, name, problem, labels=labels)


def check_actor(action: ActionDef, actor: Actor, labels: dict | None = None) -> None:
    """Raise NotAllowed unless the actor's role and jurisdiction admit the action."""
    if actor.role not in action.roles:
        raise NotAllowed(action.name, actor.role, "role", labels=labels)
    if not _JURISDICTION_CHECKS[action.jurisdiction](actor):
        raise NotAllowed(action.name, actor.role, action.jurisdiction, labels=labels)


def check_flags(action: ActionDef, state: str, flags: Collection[str], labels: dict | None = None) -> None:
    """Raise WrongState unless the event's flags satisfy the action's `when` and `unless`."""
    missing = action.when - set(flags)
    if missing:
        raise WrongState(action.name, state, "、".join(_FLAG_MISSING_ZH.get(f, f) for f in sorted(missing)),
                         "requires " + ", ".join(sorted(missing)), labels=labels)
    present = action.unless & set(flags)
    if present:
        raise WrongState(action.name, state, "、".join(_FLAG_PRESENT_ZH.get(f, f) for f in sorted(present)),
                         "not while " + ", ".join(sorted(present)), labels=labels)


class Engine:
    """One definition, one machine, built once; `fire` and `allowed_actions` are safe to call from any thread.

    bind_models=True fires through add_model/remove_model under a lock instead (see the module docstring)."""

    def __init__(self, definition: WorkflowDef, *, bind_models: bool = False):
        self.definition = definition
        self.bind_models = bind_models
        self._lock = threading.Lock()
        transitions = []
        for action in definition.actions:
            transitions.append({
                "trigger": action.name,
                "source": list(action.sources),
                "dest": action.dest,
                "conditions": [self._guard(action)],
            })
        self.machine = Machine(
            model=None,
            states=list(definition.state_names),
            transitions=transitions,
            initial=definition.initial,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
            name=definition.name,
        )
        # The attribute names add_model binds onto a model, so fire() can remove exactly those afterwards.
        names = {"trigger", "may_trigger"}
        for trigger in self.machine.events:
            names.update((trigger, f"may_{trigger}"))
        names.update(f"is_{s}" for s in self.machine.states)
        self._bound_names = frozenset(names)

    @property
    def name(self) -> str:
        return self.definition.name

    def labels(self, action: ActionDef, state: str) -> dict:
        """Human labels for error messages."""
        sdef = self.definition._state_index.get(state)
        return {"action_zh": action.label_zh, "action_en": action.label_en,
                "state_zh": sdef.label_zh if sdef else state, "state_en": sdef.label_en if sdef else state}

    def _guard(self, action: ActionDef):
        # One condition per transition: raise the precise domain error instead of returning False, so the
        # caller learns *why* (403 vs 409 vs 422) and the machine never moves.  State flags first (409),
        # then role and jurisdiction (403), then inputs (422).
        def guard(event_data) -> bool:
            kwargs = event_data.kwargs
            state = event_data.state.name
            check_flags(action, state, kwargs["flags"], self.labels(action, state))
            check_actor(action, kwargs["actor"], self.labels(action, state))
            check_inputs(action, kwargs["inputs"], self.labels(action, state))
            return True
        guard.__name__ = f"guard_{action.name}"
        return guard

    def _state_of(self, subject, action: str) -> str:
        state = getattr(subject, "state", None)
        if not isinstance(state, str) or state not in self.definition._state_index:
            raise WrongState(action, str(state), "状态不属于该流程", f"state unknown to workflow '{self.name}'")
        return state

    def fire(self, subject, action: str, actor: Actor, inputs: Mapping[str, Any] | None = None, *,
             flags: Collection[str] = ()) -> Outcome:
        """Check and fire `action` on `subject`, setting `subject.state`; raise a WorkflowError and leave the
        state unchanged when the action is not possible.  `flags` are event facts such as 'verified'."""
        adef = self.definition.action(action)  # UnknownAction
        inputs = dict(inputs or {})
        from_state = self._state_of(subject, action)
        event = self.machine.events[action]
        kwargs = {"actor": actor, "inputs": inputs, "flags": frozenset(flags)}
        if not self.bind_models:
            try:
                event.trigger(subject, **kwargs)
            except MachineError:
                raise WrongState(action, from_state, labels=self.labels(adef, from_state)) from None
        else:
            self._fire_bound(subject, event, kwargs, adef, from_state)
        return Outcome(action=action, from_state=from_state, to_state=subject.state, effects=adef.effects,
                       inputs=inputs)

    def _fire_bound(self, subject, event, kwargs, adef: ActionDef, from_state: str) -> None:
        with self._lock:
            had = set(vars(subject))
            self.machine.add_model(subject, initial=from_state)
            try:
                # the event itself, not the bound `subject.trigger`: a model may own an attribute of that name
                event.trigger(subject, **kwargs)
            except MachineError:
                raise WrongState(adef.name, from_state, labels=self.labels(adef, from_state)) from None
            finally:
                try:
                    self.machine.remove_model(subject)
                finally:
                    d = vars(subject)
                    for name in self._bound_names - had:
                        d.pop(name, None)

    def check(self, subject, action: str, actor: Actor, inputs: Mapping[str, Any] | None = None, *,
              flags: Collection[str] = ()) -> ActionDef:
        """Raise exactly what `fire` would raise, without changing anything; return the action."""
        adef = self.definition.action(action)
        state = self._state_of(subject, action)
        labels = self.labels(adef, state)
        if state not in adef.sources:
            raise WrongState(action, state, labels=labels)
        check_flags(adef, state, flags, labels)
        check_actor(adef, actor, labels)
        check_inputs(adef, dict(inputs or {}), labels)
        return adef

    def allowed_actions(self, subject, actor: Actor, *, flags: Collection[str] = ()) -> list[ActionDef]:
        """The actions this actor may fire now (state, flags, role, jurisdiction), for showing buttons.
        Inputs are not checked: the button opens the form that collects them."""
        state = getattr(subject, "state", None)
        if state not in self.definition._state_index:
            return []
        result = []
        triggers = set(self.machine.get_triggers(state))
        for adef in self.definition.actions:
            if adef.name not in triggers:
                continue
            try:
                check_flags(adef, state, flags)
                check_actor(adef, actor)
            except (WrongState, NotAllowed):
                continue
            result.append(adef)
        return result

    def may(self, subject, action: str, actor: Actor, *, flags: Collection[str] = ()) -> bool:
        try:
            self.definition.action(action)
        except UnknownAction:
            return False
        return any(a.name == action for a in self.allowed_actions(subject, actor, flags=flags))

    def replay(self, outcomes, initial: str | None = None) -> str:
        """The state a sequence of outcomes leads to, checking each starts where the previous ended."""
        state = initial or self.definition.initial
        for o in outcomes:
            if o.from_state != state:
                raise WrongState(o.action, state, "流转记录不连续", f"log expects {o.from_state!r}")
            adef = self.definition.action(o.action)
            if o.from_state not in adef.sources:
                raise WrongState(o.action, state)
            state = adef.dest if adef.dest is not None else state
            if state != o.to_state:
                raise WrongState(o.action, state, "流转记录与定义不符", f"log says {o.to_state!r}")
        return state
