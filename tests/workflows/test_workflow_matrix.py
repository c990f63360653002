"""Every action × every role × in/out of jurisdiction × every state, against a table written by hand.

The table below is the truth the definition must match; the engine must then honour it for every
combination, so a change to either shows up here."""

import pytest

from wf_helpers import GOOD_INPUTS, Ev
from workflows.definition import ROLES
from workflows.engine import Actor
from workflows.errors import MissingInput, NotAllowed, WrongState

D, H, G, S = "dispatcher", "handler", "grid_worker", "supervisor"
OPEN = ("registered", "dispatched", "in_progress", "handled", "returned", "escalated")

# action: (sources, dest, roles, jurisdiction, requires, when, unless)
DEFAULT_TABLE = {
    "register": (("reported",), "registered", {D}, "area", set(), set(), set()),
    "reject": (("reported",), "rejected", {D}, "area", {"reason"}, set(), set()),
    "merge": (("reported", "registered"), "merged", {D}, "area", {"master_event"}, set(), set()),
    "dispatch": (("registered", "escalated"), "dispatched", {D}, "area", {"department", "deadline"}, set(), set()),
    "redispatch": (("returned",), "dispatched", {D}, "area", {"department"}, set(), set()),
    "accept": (("dispatched",), "in_progress", {H}, "department", set(), set(), set()),
    "return": (("dispatched", "in_progress"), "returned", {H}, "department", {"reason"}, set(),
               {"extension_pending"}),
    "submit_result": (("in_progress",), "handled", {H}, "department", {"comment", "photos"}, set(),
                      {"extension_pending"}),
    "verify_pass": (("handled",), None, {G}, "grid", {"photos"}, set(), {"verified"}),
    "verify_fail": (("handled",), "dispatched", {G}, "grid", {"reason", "photos"}, set(), {"verified"}),
    "close": (("handled",), "closed", {D}, "area", set(), {"verified"}, set()),
    "self_resolve": (("reported",), "closed", {G}, "grid", {"comment", "photos"}, set(), set()),
    "escalate": (("registered", "dispatched", "in_progress", "returned"), "escalated", {D, S}, "area",
                 {"reason"}, set(), set()),
    "request_extension": (("dispatched", "in_progress"), None, {H}, "department", {"reason", "deadline"}, set(),
                          {"extension_pending"}),
    "approve_extension": (("dispatched", "in_progress"), None, {D}, "area", set(), {"extension_pending"}, set()),
    "refuse_extension": (("dispatched", "in_progress"), None, {D}, "area", {"reason"}, {"extension_pending"},
                         set()),
    "supervise": (OPEN, None, {S}, "area", {"comment"}, set(), set()),
    "reopen": (("closed",), "registered", {D}, "area", {"reason"}, set(), set()),
}

HOTLINE_TABLE = dict(DEFAULT_TABLE)
HOTLINE_TABLE.update({
    "visit": (("handled",), "visited", {D}, "area", {"satisfaction"}, {"verified"}, set()),
    "visit_rework": (("visited",), "dispatched", {D}, "area", {"reason"}, set(), set()),
    "close": (("visited",), "closed", {D}, "area", set(), set(), set()),
    "supervise": (OPEN + ("visited",), None, {S}, "area", {"comment"}, set(), set()),
})

FACTS = ("in_area", "holds_task", "in_grid", "is_reporter")
RULE_FACTS = {"area": ("in_area",), "department": ("holds_task",), "grid": ("in_grid", "is_reporter"),
              "any": ()}


def actors(role, rule):
    """(actor, inside?) pairs: each fact that satisfies the rule alone, and every other fact without it."""
    out = []
    for fact in RULE_FACTS[rule]:
        out.append((Actor(role, **{fact: True}), True))
    others = {f: True for f in FACTS if f not in RULE_FACTS[rule]}
    out.append((Actor(role, **others), rule == "any"))
    return out


@pytest.mark.parametrize("engine_name, table", [("default", DEFAULT_TABLE), ("hotline", HOTLINE_TABLE)])
def test_definition_matches_the_table(engine_name, table, request):
    engine = request.getfixturevalue(f"{engine_name}_engine")
    assert {a.name for a in engine.definition.actions} == set(table)
    for action in engine.definition.actions:
        sources, dest, roles, rule, requires, when, unless = table[action.name]
        assert set(action.sources) == set(sources), action.name
        assert (action.dest, set(action.roles), action.jurisdiction) == (dest, roles, rule), action.name
        assert (set(action.requires), set(action.when), set(action.unless)) == (requires, when, unless), action.name


def _cases(engine_name, table):
    for action in table:
        for role in sorted(ROLES):
            yield pytest.param(engine_name, action, role, id=f"{engine_name}-{action}-{role}")


@pytest.mark.parametrize("engine_name, action, role",
                         list(_cases("default", DEFAULT_TABLE)) + list(_cases("hotline", HOTLINE_TABLE)))
def test_every_state_role_and_jurisdiction(engine_name, action, role, request):
    engine = request.getfixturevalue(f"{engine_name}_engine")
    table = DEFAULT_TABLE if engine_name == "default" else HOTLINE_TABLE
    sources, dest, roles, rule, requires, when, unless = table[action]
    inputs = {k: GOOD_INPUTS[k] for k in requires}
    for state in engine.definition.state_names:
        for actor, inside in actors(role, rule):
            ev = Ev(state)
            if state not in sources:
                with pytest.raises(WrongState):
                    engine.fire(ev, action, actor, inputs, flags=when)
                assert ev.state == state
                continue
            if role not in roles or not inside:
                with pytest.raises(NotAllowed) as err:
                    engine.fire(ev, action, actor, inputs, flags=when)
                assert err.value.reason == ("role" if role not in roles else rule)
                assert ev.state == state
                assert action not in [a.name for a in engine.allowed_actions(ev, actor, flags=when)]
                continue
            assert action in [a.name for a in engine.allowed_actions(ev, actor, flags=when)]
            outcome = engine.fire(ev, action, actor, inputs, flags=when)
            assert ev.state == outcome.to_state == (dest or state)
            assert outcome.from_state == state and outcome.action == action
            assert outcome.effects == engine.definition.action(action).effects


@pytest.mark.parametrize("engine_name, table", [("default", DEFAULT_TABLE), ("hotline", HOTLINE_TABLE)])
def test_each_required_input_and_flag_is_enforced(engine_name, table, request):
    engine = request.getfixturevalue(f"{engine_name}_engine")
    for action, (sources, dest, roles, rule, requires, when, unless) in table.items():
        role = sorted(roles)[0]
        actor = Actor(role, in_area=True, holds_task=True, in_grid=True, is_reporter=True)
        state = sources[0]
        full = {k: GOOD_INPUTS[k] for k in requires}
        for missing in requires:
            for absent in ({k: v for k, v in full.items() if k != missing}, {**full, missing: None},
                           {**full, missing: "" if missing != "photos" else []}):
                ev = Ev(state)
                with pytest.raises(MissingInput) as err:
                    engine.fire(ev, action, actor, absent, flags=when)
                assert err.value.field == missing and ev.state == state
        for flag in when:
            ev = Ev(state)
            with pytest.raises(WrongState):
                engine.fire(ev, action, actor, full, flags=set(when) - {flag})
            assert ev.state == state
        for flag in unless:
            ev = Ev(state)
            with pytest.raises(WrongState):
                engine.fire(ev, action, actor, full, flags=set(when) | {flag})
            assert ev.state == state
