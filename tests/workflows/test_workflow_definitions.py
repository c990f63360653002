"""Definitions as data: validation on construction, round trips, and the hotline variant built from data."""

import copy

import pytest

from wf_helpers import Ev
from workflows.default import DEFAULT, default_data
from workflows.definition import ActionDef, StateDef, WorkflowDef
from workflows.diagram import to_dot, to_svg
from workflows.engine import Actor
from workflows.errors import InvalidDefinition, MissingInput, WrongState
from workflows.hotline import HOTLINE


def test_round_trip():
    assert WorkflowDef.from_dict(DEFAULT.to_dict()) == DEFAULT
    assert WorkflowDef.from_dict(HOTLINE.to_dict()) == HOTLINE


def _broken(mutate):
    data = default_data()
    mutate(data)
    return data


def _action(data, name):
    return next(a for a in data["actions"] if a["name"] == name)


@pytest.mark.parametrize("mutate, problem", [
    (lambda d: _action(d, "register").update(dest="nowhere"), "unknown destination"),
    (lambda d: _action(d, "register").update(sources=["limbo"]), "unknown source"),
    (lambda d: d["actions"].append(copy.deepcopy(_action(d, "register"))), "duplicate action"),
    (lambda d: d["states"].append({"name": "orphan", "label_zh": "孤立", "label_en": "Orphan"}), "unreachable"),
    (lambda d: d["states"].append(copy.deepcopy(d["states"][0])), "duplicate state"),
    (lambda d: _action(d, "close").update(effects=["mark_closd"]), "unknown effect"),
    (lambda d: _action(d, "close").update(roles=["mayor"]), "unknown role"),
    (lambda d: _action(d, "close").update(requires=["signature"]), "unknown input"),
    (lambda d: _action(d, "close").update(jurisdiction="planet"), "unknown jurisdiction"),
    (lambda d: _action(d, "close").update(roles=[]), "no role"),
    (lambda d: _action(d, "close").update(name="to_closed"), "must be lower_snake_case"),
    (lambda d: _action(d, "close").update(colour="red"), "unknown key"),
    (lambda d: d.update(initial="limbo"), "initial state"),
    (lambda d: d.pop("actions"), "malformed"),
])
def test_invalid_definitions_are_rejected_when_loaded(mutate, problem):
    with pytest.raises(InvalidDefinition) as err:
        WorkflowDef.from_dict(_broken(mutate))
    assert problem in err.value.problem


def test_a_county_can_change_a_rule_as_data():
    data = default_data()
    data["name"] = "strict_county"
    _action(data, "register")["requires"] = ["comment"]
    wf = WorkflowDef.from_dict(data)
    from workflows.engine import Engine
    engine = Engine(wf)
    with pytest.raises(MissingInput):
        engine.fire(Ev(), "register", Actor("dispatcher", in_area=True))


def test_definitions_are_immutable_and_normalised():
    a = ActionDef("x", "x", "x", sources=["reported"], dest=None, roles=["admin"])
    assert a.sources == ("reported",) and a.roles == frozenset({"admin"})
    with pytest.raises(Exception):
        a.name = "y"
    assert StateDef("s", "甲", "A").label("en") == "A"


# -- the 12345 hotline variant ------------------------------------------------------------------------------

dispatcher = Actor("dispatcher", in_area=True)


def test_hotline_adds_a_callback_before_close(hotline_engine):
    ev = Ev("handled")
    with pytest.raises(WrongState):  # the callback comes only after verification
        hotline_engine.fire(ev, "visit", dispatcher, {"satisfaction": "satisfied"})
    with pytest.raises(WrongState):  # and closing now needs the callback
        hotline_engine.fire(ev, "close", dispatcher, flags={"verified"})
    with pytest.raises(MissingInput):
        hotline_engine.fire(ev, "visit", dispatcher, {"satisfaction": "so-so"}, flags={"verified"})
    out = hotline_engine.fire(ev, "visit", dispatcher, {"satisfaction": "basically_satisfied"}, flags={"verified"})
    assert ev.state == "visited" and out.effects == ("record_visit",)
    hotline_engine.fire(ev, "close", dispatcher, flags={"verified"})
    assert ev.state == "closed"


def test_hotline_dissatisfied_citizen_sends_it_back(hotline_engine):
    ev = Ev("visited")
    out = hotline_engine.fire(ev, "visit_rework", dispatcher, {"reason": "群众不满意"})
    assert ev.state == "dispatched" and out.effects == ("count_rework", "clear_verified", "reopen_task")


def test_hotline_is_built_from_the_default_without_changing_it():
    assert "visited" not in DEFAULT.state_names and DEFAULT.action("close").sources == ("handled",)
    assert HOTLINE.action("close").sources == ("visited",)
    assert {a.name for a in HOTLINE.actions} - {a.name for a in DEFAULT.actions} == {"visit", "visit_rework"}


# -- diagrams --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("wf", [DEFAULT, HOTLINE])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_svg_shows_every_state_and_action(wf, lang):
    import xml.etree.ElementTree as ET
    svg = to_svg(wf, lang)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    text = "".join(root.itertext())
    for s in wf.states:
        assert s.label(lang) in text and s.name in text
    for a in wf.actions:
        assert a.label(lang) in text, a.name
    assert len([g for g in root.iter() if g.get("id", "").startswith("state-")]) == len(wf.states)


def test_dot_has_one_edge_per_move():
    dot = to_dot(DEFAULT)
    assert dot.startswith('digraph "default"') and '"handled" -> "dispatched"' in dot
    assert '"reported" -> "closed" [label="自行处置"]' in dot
    assert "peripheries=2" in dot  # terminal states
