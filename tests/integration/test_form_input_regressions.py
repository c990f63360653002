"""Hostile form and query input that the fuzzing (test_form_fuzz.py, test_open311_fuzz.py) found answered with
a 500, one test per cause, on SQLite and PostgreSQL: each now gets a 4xx or a message, and writes nothing."""
from __future__ import annotations

import pytest

from gridgov.extensions import db
from gridgov.models import Event
from gridgov.routing import MAX_ROW_ID, row_id
from tests.conftest import login
from tests.integration.consoles.helpers import report_in, townships, user

NO_ROW_IDS = ("²", "１２", str(MAX_ROW_ID + 1), str(2**70), "9" * 5000, "-1", "1.5")


def flashed(client) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return session.pop("_flashes", [])


@pytest.mark.parametrize("text", NO_ROW_IDS)
def test_row_id_takes_ascii_digits_a_32_bit_column_can_hold(text):
    assert row_id(text) is None
    assert row_id(" 42 ") == 42 and row_id(str(MAX_ROW_ID)) == MAX_ROW_ID and row_id(None) is None


def test_ids_no_row_can_have_in_forms_and_queries_are_refused_not_a_500(client, app_ctx):
    """Before: "²" passed str.isdigit() and broke int(), and 2**31 and beyond overflowed the id column (batch
    dispatch, notifications, a merge's master event, the form's version, the desk's urgency filter, token
    revocation)."""
    event = report_in(townships()[0], reporter=user("demo_worker"))
    admin = app_ctx.test_client()
    login(admin, "demo_admin")
    login(client, "demo_dispatcher")
    victim = user("demo_worker")
    for text in NO_ROW_IDS:
        answer = client.post("/dispatch/batch", data={"event_id": text})
        assert answer.status_code == 302 and ("error", "请先勾选要派遣的事件") in flashed(client), text
        assert client.post("/notifications/read", data={"id": text}).status_code == 302, text
        assert client.get(f"/dispatch?urgency={text}").status_code == 200, text
        answer = client.post(f"/events/{event.id}/act/merge", data={"master_event": text})
        assert answer.status_code == 302 and ("error", "被合并的事件编号不正确") in flashed(client), text
        answer = client.post(f"/events/{event.id}/act/reject", data={"version": text})  # no reason: refused
        assert answer.status_code == 302 and flashed(client)[0][0] == "error", text
        answer = admin.post(f"/admin/users/{victim.id}/tokens/revoke", data={"token_id": text})
        assert answer.status_code == 302 and ("error", "请选择要撤销的令牌") in flashed(admin), text
    db.session.expire_all()
    assert db.session.get(Event, event.id).state == "reported" and db.session.get(Event, event.id).version == 1


SPLIT = "/dispatch\r\nSet-Cookie: stolen=1"


def test_a_redirect_target_with_a_line_break_is_not_followed(client, app_ctx):
    """Before: a `next` or `back` with CR/LF passed is_safe_next, and Werkzeug refused the Location header after
    the action had been committed: a 500 for work that was done."""
    event = report_in(townships()[0], reporter=user("demo_worker"))
    login(client, "demo_dispatcher")
    answer = client.post(f"/events/{event.id}/act/register", data={"next": SPLIT, "back": SPLIT})
    assert answer.status_code == 302 and answer.headers["Location"] == f"/events/{event.id}"
    assert ("ok", "已完成：立案") in flashed(client)
    answer = client.post(f"/events/{event.id}/act/register", data={"back": SPLIT})  # refused: already registered
    assert answer.status_code == 302 and answer.headers["Location"] == f"/events/{event.id}"
    answer = client.post("/dispatch/batch", data={"next": SPLIT})
    assert answer.status_code == 302 and answer.headers["Location"] == "/dispatch"
    answer = client.post("/lang/zh_CN", data={"next": SPLIT})
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert "stolen" not in str(answer.headers)
    db.session.expire_all()
    assert db.session.get(Event, event.id).state == "registered"


@pytest.mark.parametrize("deadline", ["0001-01-01T00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                      "9999-12-31T23:59"])
def test_a_deadline_at_the_ends_of_the_calendar_is_refused_with_a_message(client, app_ctx, deadline):
    """Before: an action form's deadline (request or approve an extension, dispatch, supervise) in year 1 or 9999
    overflowed `datetime` on its way to UTC: a 500."""
    from gridgov.services.workflow import fire_action

    event = report_in(townships()[0], reporter=user("demo_worker"))
    dispatcher, handler = user("demo_dispatcher"), user("demo_handler")
    fire_action(event.id, "register", user=dispatcher)
    fire_action(event.id, "dispatch", user=dispatcher, inputs={"department": handler.department_code})
    fire_action(event.id, "accept", user=handler)
    version = db.session.get(Event, event.id).version
    login(client, "demo_handler")
    answer = client.post(f"/events/{event.id}/act/request_extension", data={"reason": "需要更多时间",
                                                                            "deadline": deadline})
    assert answer.status_code == 302
    assert flashed(client) == [("error", "时间应在 1970-01-01 至 2999-12-31 之间")]
    db.session.expire_all()
    assert db.session.get(Event, event.id).version == version and not db.session.get(Event, event.id).extension_pending


def zipped(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_an_area_upload_that_is_no_readable_zip_is_refused_with_a_message(client, app_ctx):
    """Before: a .zip that was no zip raised BadZipFile and a member named "." tried to overwrite the staging
    folder itself: both a 500."""
    import io
    from pathlib import Path

    login(client, "demo_admin")
    staging = Path(app_ctx.config["INSTANCE_DIR"]) / "imports"
    before = set(staging.iterdir()) if staging.exists() else set()
    answer = client.post("/admin/areas/import", content_type="multipart/form-data",
                         data={"level": "grid", "file": (io.BytesIO(b"PK\x03\x04 no zip"), "areas.zip")})
    assert answer.status_code == 200 and "无法读取该 zip 压缩包" in answer.get_data(as_text=True)
    assert set(staging.iterdir()) == before  # nothing kept of it
    odd = zipped({".": b"x", "../up.shp": b"x", "/abs.shp": b"x", "original-name.txt": b"x", "a/b.dbf": b"x"})
    answer = client.post("/admin/areas/import", content_type="multipart/form-data",
                         data={"level": "grid", "file": (io.BytesIO(odd), "areas.zip")})
    assert answer.status_code == 200 and 'data-report-ok="false"' in answer.get_data(as_text=True)


@pytest.mark.parametrize("page", [str(2**70), str(2**63), "99999999999999999999"])
def test_a_page_number_past_every_list_shows_an_empty_page(client, app_ctx, page):
    """Before: the phone's "my reports", the audit log and the dashboard's event list multiplied any page number
    into an OFFSET; past 2**63 no database integer holds it: a 500."""
    login(client, "demo_worker")
    assert client.get(f"/m/events?page={page}").status_code == 200
    client.post("/logout")
    login(client, "demo_admin")
    assert client.get(f"/admin/audit?page={page}").status_code == 200
    assert client.get(f"/dashboard/events?page={page}").status_code == 200


def test_audit_log_dates_at_the_ends_of_the_calendar_filter_nothing(client, app_ctx):
    """Before: from=0001-01-01 or to=9999-12-31 overflowed datetime when the day became a UTC bound: a 500."""
    login(client, "demo_admin")
    everything = client.get("/admin/audit").get_data(as_text=True).count("<tr")
    for query in ("from=0001-01-01", "to=9999-12-31", "from=0001-01-01&to=9999-12-31"):
        answer = client.get(f"/admin/audit?{query}")
        assert answer.status_code == 200 and answer.get_data(as_text=True).count("<tr") == everything, query


@pytest.mark.parametrize("query", ["end_date=0001-01-01", "end_date=0001-01-01T00:00:00%2B14:00",
                                   "start_date=9999-12-31T23:59:59-14:00", "start_date=0001-01-01T00:00:00%2B14:00"])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_request_list_dates_at_the_ends_of_the_calendar_are_refused_in_the_spec(client, app_ctx, query, fmt):
    """Before: an end_date in year 1 (the start defaults to 90 days before it) or a date whose offset carries it
    past year 1 or 9999 in UTC overflowed datetime: a 500."""
    import xml.etree.ElementTree as ET

    answer = client.get(f"/open311/v2/requests.{fmt}?{query}")
    assert answer.status_code == 400
    if fmt == "json":
        (error,) = answer.get_json()
        assert error["code"] == 400 and "1970-01-01" in error["description"]
    else:
        root = ET.fromstring(answer.data)
        assert root.tag == "errors" and root.findtext("error/code") == "400"
        assert "1970-01-01" in root.findtext("error/description")


def test_open311_urls_that_match_no_route_answer_in_the_spec(client, app_ctx):
    """Before: /open311/v2/requests. (no format) or an id holding %2F matched no route, and the app answered in
    its own JSON error shape, not the spec's list of errors that an Open311 client parses."""
    import xml.etree.ElementTree as ET

    for path, status in (("/open311/v2/requests.", 404), ("/open311/v2/services/a%2Fb.json", 404),
                         ("/open311/v2/services/a%2Fb.xml", 404)):
        answer = client.get(path)
        assert answer.status_code == status, path
        if path.endswith(".xml"):
            root = ET.fromstring(answer.data)
            assert root.tag == "errors" and root.findtext("error/code") == str(status)
            assert root.findtext("error/description") == "Not found (找不到该资源)"
        else:
            assert answer.get_json() == [{"code": status, "description": "Not found (找不到该资源)"}], path
    answer = client.delete("/open311/v2/services.json")
    assert answer.status_code == 405
    assert answer.get_json() == [{"code": 405, "description": "Method not allowed (不支持该请求方法)"}]
    assert client.get("/no/such/page", headers={"Accept": "application/json"}).get_json()["error"]["status"] == 404


def test_open311_xml_stays_well_formed_when_stored_text_holds_control_characters(client, app_ctx):
    """Before: a request whose description held \\x01 or ESC was accepted (the text is storable) and written raw
    into every later requests.xml, so no client could parse the list; an unknown service_code with one broke
    the XML error the same way."""
    import xml.etree.ElementTree as ET

    import shapely

    from tests.integration.consoles.helpers import first_grid

    app_ctx.config["OPEN311_API_KEYS"] = ["regression-key"]
    try:
        point = shapely.from_wkb(first_grid(townships()[0]).geometry).representative_point()
        created = client.post("/open311/v2/requests.json", data={
            "api_key": "regression-key", "service_code": "0102", "lat": str(point.y), "long": str(point.x),
            "description": "垃圾\x01\x0b\x1b[2J没人收"})
        assert created.status_code == 201
        feed = ET.fromstring(client.get("/open311/v2/requests.xml").data)
        assert feed.findtext("request/description") == "垃圾\ufffd\ufffd\ufffd[2J没人收"
        refused = client.post("/open311/v2/requests.xml", data={"api_key": "regression-key",
                                                                "service_code": "01\x0102", "address_string": "人民路"})
        assert refused.status_code == 400 and ET.fromstring(refused.data).findtext("error/code") == "400"
    finally:
        app_ctx.config["OPEN311_API_KEYS"] = []


def test_a_new_user_with_a_very_long_name_keeps_its_first_100_characters(client, app_ctx):
    """Before: creating a user cut nothing (editing one cut the name to its 100-character column), and
    PostgreSQL refused the longer value: a 500."""
    from gridgov.models import User

    login(client, "demo_admin")
    answer = client.post("/admin/users", data={"username": "long_name_user", "password": "long-enough-1",
                                               "role": "grid_worker", "area_code": townships()[0],
                                               "display_name": "长" * 10000})
    assert answer.status_code == 302 and flashed(client) == [("ok", "已创建用户")]
    created = db.session.scalar(db.select(User).where(User.username == "long_name_user"))
    assert created.display_name == "长" * 100
    db.session.delete(created)
    db.session.commit()


def test_spreadsheets_hold_text_with_control_characters(client, app_ctx):
    """Before: a description holding a control character — accepted, the text is storable — made openpyxl
    refuse its cell, and the event list download answered 500 for everyone (the report's names likewise)."""
    import io

    from openpyxl import load_workbook

    report_in(townships()[0], reporter=user("demo_worker"), description="垃圾\x01\x0b\x1b[2J没人收")
    login(client, "demo_admin")
    listing = client.get("/dashboard/export/events.xlsx")
    assert listing.status_code == 200
    rows = list(load_workbook(io.BytesIO(listing.data), read_only=True).worksheets[0].values)
    assert "垃圾\ufffd\ufffd\ufffd[2J没人收" in rows[1]
    report = client.get("/dashboard/export/report.xlsx")
    assert report.status_code == 200 and load_workbook(io.BytesIO(report.data)).sheetnames


def test_a_category_time_limit_must_be_a_finite_number_up_to_1000(client, app_ctx):
    """Before: NaN broke SQLite's NOT NULL and the audit row's JSON, and 9…9 (400 digits, inf to float()): 500s;
    1e308 was stored, and every dispatch of the category then computed a deadline past year 9999: a 500 each."""
    from gridgov.models import AdminAudit, Category

    login(client, "demo_admin")
    before = (db.session.get(Category, "0102").time_limit, db.session.scalar(db.select(db.func.count(AdminAudit.seq))))
    for field in ("time_limit", "urgent_time_limit"):
        for limit in ("nan", "inf", "9" * 400, "1e308", "1001"):
            form = {"time_limit": "4", "urgent_time_limit": "2", "time_unit": "working_hours", "active": "1",
                    field: limit}
            answer = client.post("/admin/categories/0102", data=form)
            assert answer.status_code == 302 and flashed(client)[0][0] == "error", (field, limit[:10])
    db.session.expire_all()
    assert (db.session.get(Category, "0102").time_limit,
            db.session.scalar(db.select(db.func.count(AdminAudit.seq)))) == before
