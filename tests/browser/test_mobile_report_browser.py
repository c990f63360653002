"""A grid worker reports from a phone: GPS, category, photo, submit, event number — and again offline:
the report waits on the phone, goes out when the network returns, and makes exactly one event."""
from __future__ import annotations

import re

import pytest
import shapely
from PIL import Image

from tests.browser.conftest import login_as

pytestmark = pytest.mark.browser


def worker_grid_point(app):
    from gridgov.extensions import db
    from gridgov.models import Area, User

    with app.app_context():
        worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
        grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like(f"{worker.area_code}%"))
                                 .order_by(Area.code).limit(1))
        point = shapely.from_wkb(grid.geometry).representative_point()
        return grid.code, point.x, point.y


def events_with_uuid(app, client_uuid: str) -> int:
    from gridgov.extensions import db
    from gridgov.models import Event

    with app.app_context():
        count = db.session.scalar(db.select(db.func.count()).select_from(Event).where(Event.client_uuid == client_uuid))
        db.session.remove()
        return count


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "scene.jpg"
    Image.new("RGB", (640, 480), (150, 90, 60)).save(path, "JPEG", quality=85)
    return path


def fill_report(page, photo, description):
    page.wait_for_selector("#position-status[data-source=gps]")
    page.fill("#category-search", "bllj")  # pinyin initials of 暴露垃圾
    assert page.locator("#categories label.choice:visible").count() == 1
    page.click("label.choice[data-code='0102']")
    page.fill("#description", description)
    page.set_input_files("#photos", str(photo))
    page.wait_for_selector("#photo-previews img")


def test_grid_worker_reports_from_a_phone_and_survives_going_offline(make_page, live_server, photo):
    grid, lon, lat = worker_grid_point(live_server.app)
    page = make_page(360, 640)
    context = page.context
    context.grant_permissions(["geolocation"], origin=live_server.base_url)
    context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 8})
    login_as(page, "demo_worker")
    page.goto("/m/report")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360

    # Online: the report is sent at once and the answer shows its number, grid and state.
    fill_report(page, photo, "人行道上有暴露垃圾")
    assert "±8 m" in page.inner_text("#position-status")
    page.click("#submit")
    page.wait_for_selector("#result:not([hidden])")
    number = page.inner_text("#result-number")
    assert re.fullmatch(r"\d{8}-\d{4}", number)
    assert grid in page.inner_text("#result-grid")
    assert page.inner_text("#result-state") == "已上报"

    # Offline: the report waits in IndexedDB; a second submit of the same form is the same report.
    page.click("#report-another")
    fill_report(page, photo, "井盖缺失，已设置警示")
    context.set_offline(True)
    page.click("#submit")
    page.wait_for_selector("#send-status[data-state=waiting]")
    assert "自动重发" in page.inner_text("#send-status")
    page.evaluate("() => document.getElementById('report-form').requestSubmit()")  # a double tap
    pending = page.evaluate("() => GridOutbox.all()")
    assert len(pending) == 1 and pending[0]["fields"]["description"] == "井盖缺失，已设置警示"
    client_uuid = pending[0]["uuid"]
    assert events_with_uuid(live_server.app, client_uuid) == 0

    # Back online: the 'online' event sends it; exactly one event exists for its UUID.
    context.set_offline(False)
    page.wait_for_selector("#result:not([hidden])", timeout=20_000)
    assert page.inner_text("#result-number") != number
    assert page.evaluate("() => GridOutbox.all()") == []
    assert events_with_uuid(live_server.app, client_uuid) == 1

    # A replay of the same UUID (a lost answer retried) returns the same event, still one row.
    replay = page.evaluate("""async (uuid) => {
        const fd = new FormData();
        Object.entries({category: '0102', description: 'replay', lon: '%s', lat: '%s', client_uuid: uuid})
          .forEach(([k, v]) => fd.append(k, v));
        const r = await fetch('/api/v1/events', {method: 'POST', body: fd,
          headers: {'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content}});
        return {status: r.status, body: await r.json()};
    }""" % (lon, lat), client_uuid)
    assert replay["status"] == 200 and replay["body"]["replay"] is True
    assert events_with_uuid(live_server.app, client_uuid) == 1

    # My reports list both, with their state.
    page.goto("/m/events")
    assert page.locator("#my-events li").count() >= 2
    assert number in page.inner_text("#my-events")
