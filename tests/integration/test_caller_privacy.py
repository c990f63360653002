"""A caller's name, phone and e-mail (12345 hotline, Open311) are shown in full only on one event's own page to
dispatchers and admins. Everywhere else — lists, the JSON API for other roles, the Excel and CSV exports, Open311 —
they are masked or absent, for every role that may see the event at all."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import shapely
from openpyxl import load_workbook

from gridgov.extensions import db
from gridgov.models import Area, Event, User
from gridgov.services.workflow import fire_action
from gridgov.timeutil import to_local, utcnow
from tests.conftest import login

NAME, PHONE = "李四海", "13987654321"
MASKED_NAME, MASKED_PHONE = "李**", "139****4321"
O311_NAME, O311_PHONE, O311_EMAIL = "王 明", "13812345678", "wangming@example.cn"
KEY = "privacy-open311-key"
SEE_IN_FULL = {"demo_dispatcher", "demo_admin"}
MAY_SEE_EVENT = ("demo_dispatcher", "demo_admin", "demo_supervisor", "demo_handler")


def user(name: str) -> User:
    return db.session.scalar(db.select(User).where(User.username == name))


@pytest.fixture
def hotline_event(client):
    """A 12345 call in demo_dispatcher's township, registered and dispatched to demo_handler's department."""
    grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like(f"{user('demo_dispatcher').area_code}%"))
                             .order_by(Area.code).limit(1))
    point = shapely.from_wkb(grid.geometry).representative_point()
    login(client, "demo_dispatcher")
    client.post("/hotline/new", data={"caller_name": NAME, "caller_phone": PHONE, "address": "人民路 8 号",
                                      "lon": str(point.x), "lat": str(point.y), "category": "0301",
                                      "description": "夜间施工噪音扰民", "urgency": "1", "client_uuid": "privacy-1"})
    client.post("/logout")
    event = db.session.scalar(db.select(Event).where(Event.client_uuid == "privacy-1"))
    dispatcher = user("demo_dispatcher")
    fire_action(event.id, "register", user=dispatcher)
    fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": user("demo_handler").department_code})
    return db.session.get(Event, event.id)


def as_user(client, username: str):
    client.post("/logout")
    login(client, username)
    return client


def shows_full(text: str) -> bool:
    return NAME in text or PHONE in text


@pytest.mark.parametrize("username", MAY_SEE_EVENT)
def test_the_event_page_shows_the_caller_in_full_to_dispatchers_and_admins_only(client, hotline_event, username):
    page = as_user(client, username).get(f"/events/{hotline_event.id}", follow_redirects=True)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert hotline_event.number in body
    if username in SEE_IN_FULL:
        assert NAME in body and PHONE in body
    else:
        assert not shows_full(body)
        if username == "demo_supervisor":  # the supervisors' page is the dispatchers' page: masked there
            assert MASKED_NAME in body and MASKED_PHONE in body


@pytest.mark.parametrize("username", MAY_SEE_EVENT)
def test_the_json_api_masks_the_caller_except_on_the_detail_for_dispatchers_and_admins(client, hotline_event,
                                                                                       username):
    as_user(client, username)
    (item,) = [i for i in client.get("/api/v1/events?per_page=100").get_json()["items"] if i["id"] == hotline_event.id]
    assert (item["caller_name"], item["caller_phone"]) == (MASKED_NAME, MASKED_PHONE)
    detail = client.get(f"/api/v1/events/{hotline_event.id}").get_json()
    expected = (NAME, PHONE) if username in SEE_IN_FULL else (MASKED_NAME, MASKED_PHONE)
    assert (detail["caller_name"], detail["caller_phone"]) == expected


@pytest.mark.parametrize("path", ["/hotline/", "/dispatch", "/dispatch?queue=open", "/dispatch/supervised?all=1"])
def test_lists_never_show_the_caller_in_full(client, hotline_event, path):
    for username in ("demo_dispatcher", "demo_admin", "demo_supervisor"):
        response = as_user(client, username).get(path)
        assert response.status_code in (200, 403)
        assert not shows_full(response.get_data(as_text=True)), (username, path)


def _period() -> dict:
    today = to_local(utcnow(), "Asia/Shanghai").date()
    return {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}


def _xlsx_text(data: bytes) -> str:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                     for cell in row if cell is not None)


@pytest.mark.parametrize("username", ["demo_dispatcher", "demo_supervisor", "demo_admin"])
def test_excel_and_csv_exports_carry_no_caller(client, hotline_event, username):
    as_user(client, username)
    area = {"area": user(username).area_code}
    listing = client.get("/dashboard/events", query_string={"figure": "reported", **_period(), **area})
    assert hotline_event.number in listing.get_data(as_text=True) and not shows_full(listing.get_data(as_text=True))
    xlsx = client.get("/dashboard/export/events.xlsx", query_string={"figure": "reported", **_period(), **area})
    text = _xlsx_text(xlsx.data)
    assert hotline_event.number in text and "夜间施工噪音扰民" in text  # the event is in it ...
    assert not shows_full(text) and MASKED_PHONE not in text  # ... its caller is not
    csv_text = client.get("/dashboard/export/events.csv", query_string={"figure": "reported", **_period(), **area}
                          ).get_data(as_text=True)
    assert hotline_event.number in csv_text and not shows_full(csv_text)
    report = client.get("/dashboard/export/report.xlsx", query_string={**_period(), **area})
    assert report.status_code == 200 and not shows_full(_xlsx_text(report.data))


def test_open311_never_answers_with_the_callers_contact(client, app_ctx, hotline_event):
    app_ctx.config["OPEN311_API_KEYS"] = [KEY]
    try:
        grid = db.session.scalar(db.select(Area).where(Area.level == "grid").order_by(Area.code).limit(1))
        point = shapely.from_wkb(grid.geometry).representative_point()
        created = client.post("/open311/v2/requests.json", data={
            "api_key": KEY, "service_code": "0102", "lat": str(point.y), "long": str(point.x),
            "description": "垃圾桶满了", "first_name": "明", "last_name": "王", "phone": O311_PHONE,
            "email": O311_EMAIL})
        assert created.status_code == 201
        number = created.get_json()[0]["service_request_id"]
        stored = db.session.scalar(db.select(Event).where(Event.number == number))
        assert O311_EMAIL in stored.caller_name and stored.caller_phone == O311_PHONE  # kept for the dispatcher
        client.post("/logout")
        answers = [client.get(path).get_data(as_text=True) for path in (
            "/open311/v2/requests.json", "/open311/v2/requests.xml", f"/open311/v2/requests/{number}.json",
            f"/open311/v2/requests/{number}.xml", f"/open311/v2/requests/{hotline_event.number}.json")]
        assert number in answers[0] and hotline_event.number in answers[0]
        ET.fromstring(answers[1].encode())
        for body in answers:
            for secret in (NAME, PHONE, O311_PHONE, O311_EMAIL, "王 明", MASKED_PHONE):
                assert secret not in body
    finally:
        app_ctx.config["OPEN311_API_KEYS"] = []
