"""Open311 GeoReport v2, field by field against the spec, in JSON and XML, on both databases."""
import io
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
import shapely

from gridgov.extensions import db
from gridgov.models import Area, Category, Event
from gridgov.services.workflow import fire_action
from gridgov.models import User
from gridgov.timeutil import utcnow
from tests.conftest import login
from tests.helpers.images import jpeg_bytes

KEY = "test-open311-key"
W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}


@pytest.fixture
def o311(client, app_ctx):
    app_ctx.config["OPEN311_API_KEYS"] = [KEY]
    yield client
    app_ctx.config["OPEN311_API_KEYS"] = []


def a_point(township="330521001"):
    grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.like(f"{township}%"))
                             .order_by(Area.code).limit(1))
    p = shapely.from_wkb(grid.geometry).representative_point()
    return grid, p.x, p.y


def post(client, fmt="json", **fields):
    _, lon, lat = a_point()
    data = {"api_key": KEY, "service_code": "0102", "lat": str(lat), "long": str(lon),
            "description": "小区门口垃圾三天没人收", "first_name": "明", "last_name": "王", "phone": "13812345678"}
    data.update(fields)
    return client.post(f"/open311/v2/requests.{fmt}", data={k: v for k, v in data.items() if v is not None})


def test_discovery_names_the_v2_endpoint_and_both_formats(o311):
    body = o311.get("/open311/v2/discovery.json").get_json()
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    assert W3C.match(body["changeset"])
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = ET.fromstring(o311.get("/open311/v2/discovery.xml").data)
    assert root.tag == "discovery" and root.find("endpoints/endpoint/specification").text.endswith("GeoReport_v2")
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]


def test_services_are_the_leaf_categories_with_every_spec_field(o311):
    response = o311.get("/open311/v2/services.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    services = response.get_json()
    leaves = db.session.scalars(db.select(Category.code).where(db.func.length(Category.code) == 4,
                                                               Category.active.is_(True))).all()
    assert sorted(s["service_code"] for s in services) == sorted(leaves)
    garbage = next(s for s in services if s["service_code"] == "0102")
    assert set(garbage) == SERVICE_FIELDS
    assert garbage["service_name"] == "暴露垃圾" and garbage["group"] == "市容环境"
    assert garbage["metadata"] is False and garbage["type"] in ("realtime", "batch", "blackbox")
    assert "BLLJ" in garbage["keywords"]
    root = ET.fromstring(o311.get("/open311/v2/services.xml").data)
    assert root.tag == "services" and len(root.findall("service")) == len(services)
    first = root.find("service[service_code='0102']")
    assert {c.tag for c in first} == SERVICE_FIELDS and first.find("metadata").text == "false"


def test_service_definition_has_no_attributes_and_unknown_code_is_404(o311):
    assert o311.get("/open311/v2/services/0102.json").get_json() == {"service_code": "0102", "attributes": []}
    root = ET.fromstring(o311.get("/open311/v2/services/0102.xml").data)
    assert root.tag == "service_definition" and root.find("service_code").text == "0102"
    missing = o311.get("/open311/v2/services/9999.json")
    assert missing.status_code == 404
    (error,) = missing.get_json()
    assert error["code"] == 404 and "9999" in error["description"]


def test_post_creates_an_open311_event_without_reporter_and_with_private_contact(o311):
    response = post(o311)
    assert response.status_code == 201
    (created,) = response.get_json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    event = db.session.scalar(db.select(Event).where(Event.number == created["service_request_id"]))
    grid, _, _ = a_point()
    assert event.source == "open311" and event.reporter_id is None and event.grid_code == grid.code
    assert event.caller_name == "王 明" and event.caller_phone == "13812345678"
    detail = o311.get(f"/open311/v2/requests/{event.number}.json").get_json()[0]
    assert "13812345678" not in str(detail) and "王" not in str(detail)


def test_post_xml_answers_in_xml(o311):
    response = post(o311, fmt="xml")
    assert response.status_code == 201 and response.mimetype == "text/xml"
    assert response.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(response.data)
    assert root.tag == "service_requests" and root.find("request/service_request_id").text.count("-") == 1


@pytest.mark.parametrize("fields, status, fragment", [
    ({"api_key": None}, 400, "api_key"),
    ({"api_key": "wrong"}, 403, "api_key"),
    ({"service_code": None}, 400, "service_code"),
    ({"service_code": "9999"}, 400, "category"),
    ({"service_code": "01"}, 400, "subcategory"),
    ({"lat": None, "long": None}, 400, "address_string"),
    ({"long": None}, 400, "together"),
    ({"lat": "north"}, 400, "number"),
    ({"lat": "95", "long": "120"}, 400, ""),
])
def test_bad_posts_are_refused_in_the_spec_error_format_and_store_nothing(o311, fields, status, fragment):
    response = post(o311, **fields)
    assert response.status_code == status
    errors = response.get_json()
    assert isinstance(errors, list) and errors[0]["code"] == status and fragment in errors[0]["description"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Event)) == 0


def test_errors_in_xml(o311):
    response = post(o311, fmt="xml", api_key="wrong")
    root = ET.fromstring(response.data)
    assert response.status_code == 403 and root.tag == "errors"
    assert root.find("error/code").text == "403" and "api_key" in root.find("error/description").text


def test_address_only_request_goes_unmapped(o311):
    response = post(o311, lat=None, long=None, address_string="城关镇人民路 12 号")
    assert response.status_code == 201
    event = db.session.scalar(db.select(Event))
    assert event.grid_code is None and event.village_code is None and event.township_code is None
    assert event.county_code == "330521"
    doc = o311.get(f"/open311/v2/requests/{event.number}.json").get_json()[0]
    assert doc["lat"] is None and doc["long"] is None and doc["address"] == "城关镇人民路 12 号"


def test_open_request_document_field_by_field(o311):
    number = post(o311, address_string="人民路口").get_json()[0]["service_request_id"]
    event = db.session.scalar(db.select(Event).where(Event.number == number))
    dispatcher = db.session.scalar(db.select(User).where(User.username == "demo_dispatcher"))
    fire_action(event.id, "register", user=dispatcher, inputs={"comment": "立案"})
    fire_action(event.id, "dispatch", user=dispatcher, inputs={"comment": "请处理"})
    photo_event = db.session.get(Event, event.id)
    (doc,) = o311.get(f"/open311/v2/requests/{number}.json").get_json()
    assert set(doc) == REQUEST_FIELDS
    assert doc["service_request_id"] == number and doc["status"] == "open" and doc["status_notes"] is None
    assert doc["service_code"] == "0102" and doc["service_name"] == "暴露垃圾"
    assert doc["description"] == "小区门口垃圾三天没人收" and doc["address"] == "人民路口"
    assert doc["agency_responsible"] == "城市管理局"
    assert doc["service_notice"].startswith("已派遣")
    for field in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3C.match(doc[field]), (field, doc[field])
    assert doc["requested_datetime"].endswith("+08:00")
    assert abs(doc["lat"] - photo_event.lat) < 1e-9 and abs(doc["long"] - photo_event.lon) < 1e-9
    assert doc["media_url"] is None and doc["address_id"] is None and doc["zipcode"] is None
    root = ET.fromstring(o311.get(f"/open311/v2/requests/{number}.xml").data)
    request_el = root.find("request")
    assert root.tag == "service_requests" and {c.tag for c in request_el} == REQUEST_FIELDS
    assert request_el.find("status").text == "open" and request_el.find("status_notes").text is None


def self_resolved_with_photo(client, category="0102", **photo_kw) -> dict:
    login(client, "demo_worker")
    grid, lon, lat = a_point()
    created = client.post("/api/v1/events", data={
        "category": category, "description": "垃圾", "lon": str(lon), "lat": str(lat), "self_resolve": "true",
        "resolve_comment": "已现场清理完毕", "photos": [(io.BytesIO(jpeg_bytes(**photo_kw)), "a.jpg")]},
        content_type="multipart/form-data").get_json()
    client.post("/logout")
    return created


def test_closed_request_has_status_notes_and_media_url(o311):
    _, lon, lat = a_point()
    created = self_resolved_with_photo(o311, gps=(lon, lat))
    (doc,) = o311.get(f"/open311/v2/requests/{created['number']}.json").get_json()
    assert doc["status"] == "closed" and doc["status_notes"] == "已现场清理完毕"
    assert doc["media_url"].startswith("http://localhost/open311/v2/media/") and doc["media_url"].endswith(".jpg")
    assert doc["expected_datetime"] is None
    # The citizen's app, signed in nowhere, can show the photo: the stored copy, without the EXIF position.
    image = o311.get(doc["media_url"].removeprefix("http://localhost"))
    assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.cache_control.public
    assert image.data[:2] == b"\xff\xd8" and b"Exif" not in image.data[:4096]


def test_media_of_unpublished_classes_and_unknown_photos_are_not_served(o311):
    private = self_resolved_with_photo(o311, category="0601", color=(10, 200, 30))
    event = db.session.scalar(db.select(Event).where(Event.number == private["number"]))
    sha = event.photos[0].sha256
    for path in (f"/open311/v2/media/{sha}.jpg", f"/open311/v2/media/{'0' * 64}.jpg",
                 "/open311/v2/media/not-a-hash.jpg", f"/open311/v2/media/{sha}.png"):
        answer = o311.get(path)
        assert answer.status_code == 404, path
        assert answer.get_json()[0]["code"] == 404 and answer.get_json()[0]["description"]


def test_request_list_filters(o311):
    first = post(o311).get_json()[0]["service_request_id"]
    second = post(o311, service_code="0104").get_json()[0]["service_request_id"]
    old = db.session.scalar(db.select(Event).where(Event.number == second))
    db.session.execute(db.update(Event).where(Event.id == old.id).values(
        reported_at=utcnow() - timedelta(days=120), state="closed"))
    db.session.commit()

    def ids(query=""):
        response = o311.get(f"/open311/v2/requests.json{query}")
        assert response.status_code == 200, response.data
        return [r["service_request_id"] for r in response.get_json()]

    assert ids() == [first]  # default: the last 90 days
    assert ids(f"?service_request_id={first},{second}") == [first, second] or \
        sorted(ids(f"?service_request_id={first},{second}")) == sorted([first, second])
    start = (utcnow() - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sorted(ids(f"?start_date={start}")) == sorted([first, second])
    assert ids(f"?start_date={start}&service_code=0104") == [second]
    assert ids(f"?start_date={start}&status=closed") == [second]
    assert ids(f"?start_date={start}&status=open") == [first]
    end = (utcnow() - timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert ids(f"?start_date={start}&end_date={end}") == [second]
    bad = o311.get("/open311/v2/requests.json?status=pending")
    assert bad.status_code == 400 and bad.get_json()[0]["code"] == 400
    bad_date = o311.get("/open311/v2/requests.json?start_date=yesterday")
    assert bad_date.status_code == 400 and "ISO 8601" in bad_date.get_json()[0]["description"]


def test_unknown_request_and_unknown_format(o311):
    missing = o311.get("/open311/v2/requests/20990101-0001.json")
    assert missing.status_code == 404 and missing.get_json()[0]["code"] == 404
    assert o311.get("/open311/v2/services.yaml").status_code == 404


def test_post_needs_no_csrf_token(app_ctx, o311):
    app_ctx.config["WTF_CSRF_ENABLED"] = True
    try:
        assert post(o311).status_code == 201
    finally:
        app_ctx.config["WTF_CSRF_ENABLED"] = False


def test_disputes_can_be_filed_but_are_never_listed_back(o311):
    public = post(o311).get_json()[0]["service_request_id"]
    private = post(o311, service_code="0601", description="邻居王某家漏水到我家").get_json()[0]["service_request_id"]
    listed = [r["service_request_id"] for r in o311.get("/open311/v2/requests.json").get_json()]
    assert public in listed and private not in listed
    assert o311.get(f"/open311/v2/requests.json?service_request_id={private}").get_json() == []
    assert o311.get(f"/open311/v2/requests/{private}.json").status_code == 404
    assert db.session.scalar(db.select(Event).where(Event.number == private)).category_code == "0601"
