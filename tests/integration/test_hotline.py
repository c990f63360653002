"""12345 hotline entry: dispatchers only, hotline workflow, caller kept private (masked in lists)."""
import shapely

from gridgov.extensions import db
from gridgov.models import Area, Event
from tests.conftest import login


def form(**extra):
    grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like("330521001%"))
                             .order_by(Area.code).limit(1))
    p = shapely.from_wkb(grid.geometry).representative_point()
    data = {"caller_name": "李四海", "caller_phone": "13987654321", "address": "人民路 8 号", "lon": str(p.x),
            "lat": str(p.y), "category": "0301", "description": "夜间施工噪音扰民", "urgency": "2",
            "client_uuid": "hotline-form-1"}
    data.update(extra)
    return grid, data


def test_dispatcher_records_a_call_on_the_hotline_workflow(client):
    login(client, "demo_dispatcher")
    assert client.get("/hotline/new").status_code == 200
    grid, data = form()
    response = client.post("/hotline/new", data=data)
    assert response.status_code == 302
    event = db.session.scalar(db.select(Event))
    assert event.source == "hotline" and event.workflow == "hotline" and event.grid_code == grid.code
    assert event.caller_name == "李四海" and event.caller_phone == "13987654321" and event.urgency == 2
    assert response.headers["Location"].endswith(f"/hotline/{event.id}")


def test_double_submit_of_the_form_makes_one_event(client):
    login(client, "demo_dispatcher")
    _, data = form()
    client.post("/hotline/new", data=data)
    client.post("/hotline/new", data=data)
    assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 1


def test_caller_masked_in_lists_and_full_on_the_detail_for_dispatchers(client):
    login(client, "demo_dispatcher")
    _, data = form()
    client.post("/hotline/new", data=data)
    event = db.session.scalar(db.select(Event))
    listing = client.get("/hotline/").get_data(as_text=True)
    assert "李**" in listing and "139****4321" in listing
    assert "13987654321" not in listing and "李四海" not in listing
    detail = client.get(f"/hotline/{event.id}").get_data(as_text=True)
    assert "13987654321" in detail and "李四海" in detail
    api_list = client.get("/api/v1/events").get_json()["items"][0]
    assert api_list["caller_phone"] == "139****4321" and api_list["caller_name"] == "李**"
    api_detail = client.get(f"/api/v1/events/{event.id}").get_json()
    assert api_detail["caller_phone"] == "13987654321"


def test_supervisor_sees_the_caller_masked_even_on_the_detail(client):
    login(client, "demo_dispatcher")
    _, data = form()
    client.post("/hotline/new", data=data)
    event = db.session.scalar(db.select(Event))
    client.post("/logout")
    login(client, "demo_supervisor")
    detail = client.get(f"/api/v1/events/{event.id}").get_json()
    assert detail["caller_phone"] == "139****4321" and detail["caller_name"] == "李**"


def test_address_only_call_is_stored_unmapped(client):
    login(client, "demo_dispatcher")
    _, data = form(lon="", lat="", client_uuid="hotline-2")
    assert client.post("/hotline/new", data=data).status_code == 302
    event = db.session.scalar(db.select(Event))
    assert event.grid_code is None and event.address == "人民路 8 号"


def test_bad_input_rerenders_the_form_and_stores_nothing(client):
    login(client, "demo_dispatcher")
    _, data = form(caller_phone="abc")
    response = client.post("/hotline/new", data=data)
    assert response.status_code == 422 and "电话号码" in response.get_data(as_text=True)
    _, data = form(category="9999")
    response = client.post("/hotline/new", data=data)
    assert response.status_code == 422 and "夜间施工噪音扰民" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 0


def test_other_roles_cannot_use_the_hotline_form(client):
    for username in ("demo_worker", "demo_handler", "demo_supervisor"):
        login(client, username)
        assert client.get("/hotline/new").status_code == 403
        client.post("/logout")
