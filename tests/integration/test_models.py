"""The schema refuses what the domain forbids, on both databases."""
import pytest
from sqlalchemy.exc import IntegrityError

from gridgov.extensions import db
from gridgov.models import Area, Event, User
from gridgov.timeutil import utcnow


def _event(**overrides) -> Event:
    fields = dict(number=f"T-{utcnow().timestamp()}", category_code="0102", lon=120.0, lat=30.6,
                  county_code="330521", state="reported")
    fields.update(overrides)
    return Event(**fields)


def _refused(obj) -> None:
    db.session.add(obj)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_area_code_length_must_match_level(app_ctx):
    _refused(Area(code="3305211", level="township", name="bad"))


def test_area_level_must_be_known(app_ctx):
    _refused(Area(code="330521", level="province", name="bad"))


def test_handler_must_have_a_department(app_ctx):
    _refused(User(username="h_no_dept", password_hash="x", role="handler", area_code="330521"))


def test_unknown_role_is_refused(app_ctx):
    _refused(User(username="boss", password_hash="x", role="boss", area_code="330521"))


def test_event_coordinates_must_be_in_range(app_ctx):
    _refused(_event(lon=200.0))


def test_urgency_is_one_two_or_three(app_ctx):
    _refused(_event(urgency=7))


def test_client_uuid_is_unique(app_ctx):
    db.session.add(_event(number="A-1", client_uuid="same-uuid"))
    db.session.commit()
    _refused(_event(number="A-2", client_uuid="same-uuid"))


def test_event_number_is_unique(app_ctx):
    db.session.add(_event(number="N-1"))
    db.session.commit()
    _refused(_event(number="N-1"))


def test_event_needs_a_known_category(app_ctx):
    _refused(_event(category_code="9999"))


def test_version_counter_is_bumped_on_every_update(app_ctx):
    event = _event(number="V-1")
    db.session.add(event)
    db.session.commit()
    assert event.version == 1
    event.description = "changed"
    db.session.commit()
    assert event.version == 2
