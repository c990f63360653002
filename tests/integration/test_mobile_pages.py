"""The grid worker's phone pages: render for grid workers, refuse other roles, show my reports."""
import io

import pytest
import shapely

from gridgov.extensions import db
from gridgov.models import Area, Event, Photo
from tests.conftest import login
from tests.helpers.images import jpeg_bytes


def worker_point():
    grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like("330521001001%"))
                             .order_by(Area.code).limit(1))
    p = shapely.from_wkb(grid.geometry).representative_point()
    return grid, p.x, p.y


def post_report(client, **extra):
    _, lon, lat = worker_point()
    data = {"category": "0102", "description": "路边垃圾堆积", "lon": str(lon), "lat": str(lat),
            "photos": [(io.BytesIO(jpeg_bytes()), "a.jpg")]}
    data.update(extra)
    return client.post("/api/v1/events", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize("path", ["/m/", "/m/report", "/m/events", "/m/areas.geojson"])
def test_grid_worker_gets_the_mobile_pages(client, path):
    login(client, "demo_worker")
    response = client.get(path)
    assert response.status_code == 200


@pytest.mark.parametrize("username", ["demo_dispatcher", "demo_handler", "demo_supervisor", "demo_admin"])
def test_other_roles_are_refused(client, username):
    login(client, username)
    assert client.get("/m/report").status_code == 403
    assert client.get("/m/events").status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/m/report")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_report_page_has_camera_input_categories_and_map(client):
    login(client, "demo_worker")
    html = client.get("/m/report").get_data(as_text=True)
    assert 'accept="image/*" capture="environment" multiple' in html
    assert 'value="0102"' in html and 'data-pinyin="bllj"' in html
    assert 'id="map"' in html and "leaflet.js" in html and 'name="csrf-token"' in html
    assert 'value="01"' not in html  # major classes are headings, not choices


def test_area_layer_holds_the_workers_village_and_its_grids(client):
    login(client, "demo_worker")
    fc = client.get("/m/areas.geojson").get_json()
    area = db.session.scalar(db.select(Area.code).where(Area.level == "village").order_by(Area.code).limit(1))
    codes = {f["properties"]["code"] for f in fc["features"]}
    assert area in codes
    assert any(c.startswith(area) and len(c) == 15 for c in codes)
    assert all(c.startswith(area[:9]) for c in codes)


def test_my_events_lists_my_reports_with_state_and_grid(client):
    login(client, "demo_worker")
    assert post_report(client).status_code == 201
    grid, _, _ = worker_point()
    html = client.get("/m/events").get_data(as_text=True)
    event = db.session.scalar(db.select(Event))
    assert event.number in html and "已上报" in html and grid.name in html


def test_event_detail_shows_photos_and_the_log(client):
    login(client, "demo_worker")
    body = post_report(client).get_json()
    html = client.get(f"/m/events/{body['id']}").get_data(as_text=True)
    photo = db.session.scalar(db.select(Photo))
    assert body["number"] in html and photo.sha256 in html
    assert 'data-action="report"' in html and "路边垃圾堆积" in html


def test_self_resolved_report_keeps_before_and_after_photos_apart(client):
    login(client, "demo_worker")
    response = post_report(client, self_resolve="true", resolve_comment="已清理",
                           after_photos=[(io.BytesIO(jpeg_bytes(color=(10, 200, 10))), "after.jpg")])
    assert response.status_code == 201, response.get_json()
    event = db.session.get(Event, response.get_json()["id"])
    assert event.state == "closed" and event.self_resolved
    assert sorted(p.kind for p in event.photos) == ["report", "result"]
    html = client.get(f"/m/events/{event.id}").get_data(as_text=True)
    assert "自行处置" in html and 'data-action="self_resolve"' in html


def test_someone_elses_event_outside_my_area_is_not_found(client):
    login(client, "demo_worker")
    event_id = post_report(client).get_json()["id"]
    db.session.execute(db.update(Event).where(Event.id == event_id).values(
        reporter_id=None, grid_code="330521002001001", village_code="330521002001", township_code="330521002"))
    db.session.commit()
    assert client.get(f"/m/events/{event_id}").status_code == 404
