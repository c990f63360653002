"""The JSON API end to end on both databases: report, replay, photos, bad input, actions, locate."""
import io
import threading
from pathlib import Path

import pytest
import shapely

from gridgov.extensions import db
from gridgov.models import Area, Event, EventLog, Photo
from tests.conftest import DEMO_PASSWORD
from tests.helpers.images import jpeg_bytes, png_bytes


def token(client, username):
    return client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD}).get_json()["token"]


def auth(client, username="demo_worker"):
    return {"Authorization": f"Bearer {token(client, username)}"}


def a_point():
    grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like("330521001001%"))
                             .order_by(Area.code).limit(1))
    p = shapely.from_wkb(grid.geometry).representative_point()
    return grid.code, p.x, p.y


def report(client, headers, **fields):
    _, lon, lat = a_point()
    body = {"category": "0102", "description": "垃圾未清运", "lon": lon, "lat": lat}
    body.update(fields)
    return client.post("/api/v1/events", json=body, headers=headers)


def counts():
    return (db.session.scalar(db.select(db.func.count()).select_from(Event)),
            db.session.scalar(db.select(db.func.count()).select_from(EventLog)),
            db.session.scalar(db.select(db.func.count()).select_from(Photo)))


def stored_files(app):
    root = Path(app.config["UPLOAD_DIR"])
    return sorted(p.name for p in root.rglob("*.jpg")) if root.exists() else []


def test_report_json_maps_to_grid_and_answers_201(client):
    grid, _, _ = a_point()
    response = report(client, auth(client))
    assert response.status_code == 201
    body = response.get_json()
    assert body["grid"] == grid and body["state"] == "reported" and body["version"] == 1
    assert body["number"].endswith("-0001")


def test_replay_with_idempotency_key_returns_the_same_event(client):
    headers = auth(client) | {"Idempotency-Key": "retry-42"}
    first = report(client, headers)
    second = report(client, headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.get_json()["id"] == second.get_json()["id"] and second.get_json()["replay"] is True
    assert counts()[0] == 1


def test_multipart_report_with_photo_stores_a_gps_free_copy(client, app_ctx):
    _, lon, lat = a_point()
    data = {"category": "0102", "description": "带照片", "lon": str(lon), "lat": str(lat), "client_uuid": "u-1",
            "photos": [(io.BytesIO(jpeg_bytes(gps=(lon, lat))), "IMG_1.jpg")]}
    response = client.post("/api/v1/events", data=data, headers=auth(client), content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    photo = db.session.scalar(db.select(Photo))
    assert abs(photo.exif_lon - lon) < 1e-3 and abs(photo.exif_lat - lat) < 1e-3
    stored = next(Path(app_ctx.config["UPLOAD_DIR"]).rglob(f"{photo.sha256}.jpg"))
    from PIL import Image

    assert not Image.open(stored).getexif().get_ifd(0x8825)
    detail = client.get(f"/api/v1/events/{response.get_json()['id']}", headers=auth(client))
    assert client.get(detail.get_json()["photos"][0]["url"], headers=auth(client)).status_code == 200


@pytest.mark.parametrize("name,data,status", [
    ("fake.jpg", b"this is not an image at all", 400),
    ("cut.jpg", jpeg_bytes()[:200], 400),
])
def test_bad_photos_are_refused_and_leave_nothing(client, app_ctx, name, data, status):
    before, files_before = counts(), stored_files(app_ctx)
    _, lon, lat = a_point()
    form = {"category": "0102", "description": "x", "lon": str(lon), "lat": str(lat),
            "photos": [(io.BytesIO(jpeg_bytes()), "good.jpg"), (io.BytesIO(data), name)]}
    response = client.post("/api/v1/events", data=form, headers=auth(client), content_type="multipart/form-data")
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["message_zh"] and error["message_en"]
    assert counts() == before and stored_files(app_ctx) == files_before


def test_oversized_photo_gets_413(client, app_ctx):
    app_ctx.config["MAX_PHOTO_BYTES"] = 1000
    try:
        _, lon, lat = a_point()
        form = {"category": "0102", "description": "x", "lon": str(lon), "lat": str(lat),
                "photos": [(io.BytesIO(png_bytes((400, 400))), "big.png")]}
        response = client.post("/api/v1/events", data=form, headers=auth(client), content_type="multipart/form-data")
        assert response.status_code == 413 and counts()[0] == 0
    finally:
        app_ctx.config["MAX_PHOTO_BYTES"] = 10 * 1024 * 1024


@pytest.mark.parametrize("fields,status,code", [
    ({"lon": float("nan")}, 400, "invalid_coordinate"),
    ({"lon": -74.0, "lat": 40.7}, 400, "invalid_coordinate"),
    ({"crs": "mars"}, 400, "unknown_crs"),
    ({"category": "9999"}, 422, "bad_category"),
    ({"category": "01"}, 422, "bad_category"),
    ({"urgency": 9}, 422, "unprocessable_entity"),
])
def test_bad_input_gets_a_clear_error_and_no_rows(client, fields, status, code):
    response = report(client, auth(client), **fields) if "nan" not in str(fields) else client.post(
        "/api/v1/events", data='{"category":"0102","description":"x","lon":NaN,"lat":30.6}',
        headers=auth(client) | {"Content-Type": "application/json"})
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["code"] == code
    assert counts()[0] == 0


def test_actions_with_if_match_and_conflict(client):
    event_id = report(client, auth(client)).get_json()["id"]
    dispatcher = auth(client, "demo_dispatcher")
    ok = client.post(f"/api/v1/events/{event_id}/actions/register", json={}, headers=dispatcher | {"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"' and ok.get_json()["state"] == "registered"
    stale = client.post(f"/api/v1/events/{event_id}/actions/reject", json={"reason": "x"},
                        headers=dispatcher | {"If-Match": '"1"'})
    assert stale.status_code == 409
    wrong = client.post(f"/api/v1/events/{event_id}/actions/close", json={}, headers=dispatcher)
    assert wrong.status_code == 409 and wrong.get_json()["error"]["code"] == "wrong_state"
    forbidden = client.post(f"/api/v1/events/{event_id}/actions/dispatch", json={}, headers=auth(client))
    assert forbidden.status_code == 403
    missing = client.post(f"/api/v1/events/{event_id}/actions/escalate", json={}, headers=dispatcher)
    assert missing.status_code == 422


def test_lists_respect_jurisdiction(client):
    report(client, auth(client))
    assert client.get("/api/v1/events", headers=auth(client, "demo_dispatcher")).get_json()["total"] == 1
    assert client.get("/api/v1/events", headers=auth(client, "demo_handler")).get_json()["total"] == 0
    event_id = client.get("/api/v1/events", headers=auth(client)).get_json()["items"][0]["id"]
    assert client.get(f"/api/v1/events/{event_id}", headers=auth(client, "demo_handler")).status_code == 404


def test_locate_answers_like_the_cli(client):
    grid, lon, lat = a_point()
    body = client.get(f"/api/v1/geo/locate?lon={lon}&lat={lat}", headers=auth(client)).get_json()
    assert body["grid"] == grid and body["distance_m"] == 0
    bad = client.get("/api/v1/geo/locate?lon=500&lat=30", headers=auth(client))
    assert bad.status_code == 400


def test_openapi_document_covers_the_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/events", "/api/v1/events/{event_id}", "/api/v1/events/{event_id}/actions/{action}",
            "/api/v1/geo/locate", "/api/v1/auth/token"} <= set(paths)


def test_two_hundred_concurrent_posts_with_one_uuid_make_one_event(app_ctx, backend):
    if backend != "postgresql":
        pytest.skip("concurrency is meaningful on the server database")
    client = app_ctx.test_client()
    headers = auth(client) | {"Idempotency-Key": "storm-1"}
    _, lon, lat = a_point()
    body = {"category": "0102", "description": "并发", "lon": lon, "lat": lat}
    db.session.remove()
    statuses = []
    barrier = threading.Barrier(20)

    def burst():
        with app_ctx.app_context():
            c = app_ctx.test_client()
            barrier.wait()
            for _ in range(10):
                statuses.append(c.post("/api/v1/events", json=body, headers=headers).status_code)
            db.session.remove()

    threads = [threading.Thread(target=burst) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 200 and set(statuses) <= {200, 201} and statuses.count(201) == 1
    assert counts()[0] == 1


def _point_of(area_prefix):
    from tests.integration.consoles.helpers import first_grid

    point = shapely.from_wkb(first_grid(area_prefix).geometry).representative_point()
    return point.x, point.y


def test_likely_duplicates_name_only_events_the_reporter_may_see(client):
    """Regression: the answer to a report listed every open event of the category within 50 m, so a report
    just across a village or township line named the neighbours' events (id, number, state) — events that
    every other route hides as absent."""
    from gridgov.services.reporting import report_event
    from tests.integration.consoles.helpers import outsiders, townships, user

    neighbour = outsiders()["other_worker"]
    lon, lat = _point_of(townships()[1])
    theirs = report_event(user=neighbour, category="0102", description="邻乡镇的垃圾", lon=lon, lat=lat).event
    across = client.post("/api/v1/events", headers=auth(client, "demo_dispatcher"),
                         json={"category": "0102", "description": "路过邻乡镇看到", "lon": lon, "lat": lat})
    assert across.status_code == 201 and across.get_json()["township"] == theirs.township_code
    assert across.get_json()["likely_duplicates"] == []
    assert theirs.number not in across.get_data(as_text=True)
    # Inside the jurisdiction the hint still works.
    lon, lat = _point_of(user("demo_worker").area_code)
    first = report_event(user=user("demo_worker"), category="0102", description="垃圾", lon=lon, lat=lat).event
    again = client.post("/api/v1/events", headers=auth(client, "demo_dispatcher"),
                        json={"category": "0102", "description": "同一处垃圾", "lon": lon, "lat": lat})
    assert [d["number"] for d in again.get_json()["likely_duplicates"]] == [first.number]


def test_a_replay_key_of_someone_elses_report_reveals_nothing(client):
    """Regression: a retry key (Idempotency-Key or client_uuid) answered with the event it was first used for,
    whoever asked, so anybody holding another reporter's key read that event, jurisdiction or not."""
    from tests.integration.consoles.helpers import outsiders, townships

    outsiders()
    lon, lat = _point_of(townships()[1])
    key = {"Idempotency-Key": "phone-7f3a-0001"}
    theirs = client.post("/api/v1/events", headers=auth(client, "other_worker") | key,
                         json={"category": "0102", "description": "外乡镇的秘密", "lon": lon, "lat": lat})
    assert theirs.status_code == 201
    before = counts()
    mine = client.post("/api/v1/events", headers=auth(client, "demo_worker") | key,
                       json={"category": "0102", "description": "我的上报", "lon": lon, "lat": lat})
    assert mine.status_code == 409 and mine.get_json()["error"]["code"] == "idempotency_key_taken"
    assert "外乡镇的秘密" not in mine.get_data(as_text=True)
    assert theirs.get_json()["number"] not in mine.get_data(as_text=True)
    assert counts() == before
    # The reporter's own retry is still answered with their event.
    retry = client.post("/api/v1/events", headers=auth(client, "other_worker") | key,
                        json={"category": "0102", "description": "外乡镇的秘密", "lon": lon, "lat": lat})
    assert retry.status_code == 200 and retry.get_json()["id"] == theirs.get_json()["id"]


def test_likely_duplicates_follow_each_roles_view(client):
    """The hints are decided as can_see decides, per role: a grid worker's own reports count wherever they
    lie, a neighbour's do not; a handler sees only events dispatched to their department (decided in SQL,
    from the tasks). On PostgreSQL the rows come from the report statement, elsewhere they are Events."""
    from gridgov.services.reporting import report_event
    from gridgov.services.workflow import fire_action
    from tests.integration.consoles.helpers import outsiders, townships, user

    people = outsiders()
    lon, lat = _point_of(townships()[1])  # outside demo_worker's village and demo_dispatcher's township
    body = {"category": "0102", "description": "同一处", "lon": lon, "lat": lat}
    mine = report_event(user=user("demo_worker"), category="0102", description="路过外乡镇", lon=lon, lat=lat).event
    theirs = report_event(user=people["other_worker"], category="0102", description="外乡镇", lon=lon, lat=lat).event
    handler = user("demo_handler")
    fire_action(theirs.id, "register", user=people["other_dispatcher"])
    fire_action(theirs.id, "dispatch", user=people["other_dispatcher"], inputs={"department": handler.department_code})

    worker = client.post("/api/v1/events", headers=auth(client, "demo_worker"), json=body).get_json()
    assert [d["id"] for d in worker["likely_duplicates"]] == [mine.id]
    neighbour = client.post("/api/v1/events", headers=auth(client, "other_worker"), json=body).get_json()
    assert [d["id"] for d in neighbour["likely_duplicates"]] == [mine.id, theirs.id, worker["id"]]
    by_handler = client.post("/api/v1/events", headers=auth(client, "demo_handler"), json=body).get_json()
    assert [d["id"] for d in by_handler["likely_duplicates"]] == [theirs.id]
    assert [d["state"] for d in by_handler["likely_duplicates"]] == ["dispatched"]
