"""The jurisdiction helper decides who may see an event; these cases are its contract."""
import pytest

from gridgov.access import actor_facts, area_covers, area_level, can_see
from gridgov.models import Event, Task, User

EVENT_AREAS = dict(county_code="330521", township_code="330521001", village_code="330521001002",
                   grid_code="330521001002003")


def make_event(**overrides) -> Event:
    fields = dict(EVENT_AREAS, reporter_id=99, department_code=None, state="registered")
    fields.update(overrides)
    event = Event(**fields)
    event.tasks = []
    return event


def make_user(role: str, area: str, department: str | None = None, user_id: int = 1, active=True) -> User:
    return User(id=user_id, username=f"u{user_id}", role=role, area_code=area,
                department_code=department, active=active)


@pytest.mark.parametrize("code,level", [("330521", "county"), ("330521001", "township"),
                                        ("330521001002", "village"), ("330521001002003", "grid")])
def test_area_level_follows_code_length(code, level):
    assert area_level(code) == level


def test_area_level_rejects_malformed_codes():
    with pytest.raises(ValueError):
        area_level("3305")


def test_area_covers_by_prefix():
    assert area_covers("330521001", "330521001002003")
    assert not area_covers("330521002", "330521001002003")
    assert not area_covers("330521", None)


@pytest.mark.parametrize("role,area,expected", [
    ("dispatcher", "330521001", True),
    ("dispatcher", "330521002", False),
    ("supervisor", "330521", True),
    ("supervisor", "330522", False),
    ("grid_worker", "330521001002", True),
    ("grid_worker", "330521001002003", True),
    ("grid_worker", "330521001002004", False),
    ("admin", "330599", True),
])
def test_area_roles_see_events_inside_their_area_only(role, area, expected):
    assert can_see(make_user(role, area), make_event()) is expected


def test_grid_worker_always_sees_own_report_even_outside_area():
    worker = make_user("grid_worker", "330521009001", user_id=99)
    assert can_see(worker, make_event(reporter_id=99))


def test_handler_sees_only_events_dispatched_to_their_department():
    handler = make_user("handler", "330521", department="D1")
    assert not can_see(handler, make_event())
    assert can_see(handler, make_event(department_code="D1"))
    past = make_event()
    past.tasks = [Task(department_code="D1", seq=1)]
    assert can_see(handler, past)


def test_inactive_user_sees_nothing():
    assert not can_see(make_user("admin", "330521", active=False), make_event())


def test_actor_facts_for_workflow_guards():
    facts = actor_facts(make_user("handler", "330521", department="D1", user_id=5),
                        make_event(department_code="D1", reporter_id=5))
    assert facts.holds_task and facts.in_area and facts.is_reporter and not facts.in_grid
    worker_facts = actor_facts(make_user("grid_worker", "330521001002"), make_event())
    assert worker_facts.in_grid
