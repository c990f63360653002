"""What the API fuzzer found, one regression test each, on both databases: bad input is a 4xx with the
bilingual error shape, never a 500, and the OpenAPI document names every status an operation answers."""
import pytest

from gridgov.errors import error_body
from tests.integration.test_api_events import a_point, auth, counts, report

METHODS = ("get", "post", "put", "patch", "delete")


def assert_refused(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["status"] == status and error["message_zh"] and error["message_en"]
    assert error["message"] and error["message_zh"] != error["message_en"]
    if code:
        assert error["code"] == code
    return error


# PostgreSQL refuses U+0000 in text (psycopg raises before sending) and neither database can encode a
# lone surrogate, which JSON may carry as an escape: both used to reach a query as a 500.
@pytest.mark.parametrize("method,path,body,where", [
    ("get", "/api/v1/events?state=%00", None, "query:state"),
    ("get", "/api/v1/events?category=01%00", None, "query:category"),
    ("get", "/api/v1/events?department=%00", None, "query:department"),
    ("post", "/api/v1/events", '{"category":"0102","description":"a\\u0000b","lon":LON,"lat":LAT}', "description"),
    ("post", "/api/v1/events", '{"category":"0102","description":"x","address":"\\u0000","lon":LON,"lat":LAT}',
     "address"),
    ("post", "/api/v1/events", '{"category":"01\\u0000","description":"x","lon":LON,"lat":LAT}', "category"),
    ("post", "/api/v1/events", '{"category":"0102","description":"\\ud800","lon":LON,"lat":LAT}', "description"),
    ("post", "/api/v1/auth/token", '{"username":"demo\\u0000","password":"x"}', "username"),
    ("post", "/api/v1/auth/token", '{"username":"demo_worker","password":"x","label":"\\udfff"}', "label"),
])
def test_unstorable_characters_are_refused_with_400(client, method, path, body, where):
    _, lon, lat = a_point()
    data = body.replace("LON", str(lon)).replace("LAT", str(lat)) if body else None
    response = client.open(path, method=method.upper(), data=data, headers=auth(client) | (
        {"Content-Type": "application/json"} if data else {}))
    error = assert_refused(response, 400, "unstorable_text")
    assert error["details"]["field"] == where
    assert counts()[0] == 0


# The guard looks at the raw bytes first and walks the decoded body only when they could hold such a
# character (request_guard.json_may_hold_unstorable): a surrogate written as raw bytes (json.loads reads
# UTF-8 with 'surrogatepass') and an escape in a UTF-16 body must still be caught.
@pytest.mark.parametrize("encode", [
    lambda text: text.replace("SURROGATE", "").encode().replace(b"RAW", b"\xed\xa0\x80"),
    lambda text: text.replace("RAW", "").replace("SURROGATE", "\\u0000").encode("utf-16"),
    lambda text: text.replace("RAW", "").replace("SURROGATE", "\\udc00").encode("utf-32"),
])
def test_unstorable_characters_in_raw_bytes_or_other_encodings_are_refused(client, encode):
    _, lon, lat = a_point()
    text = f'{{"category":"0102","description":"aRAWSURROGATEb","lon":{lon},"lat":{lat}}}'
    response = client.post("/api/v1/events", data=encode(text), headers=auth(client) | {
        "Content-Type": "application/json"})
    assert assert_refused(response, 400, "unstorable_text")["details"]["field"] == "description"
    assert counts()[0] == 0


def test_the_byte_check_lets_only_bodies_without_such_characters_through():
    from gridgov.request_guard import json_may_hold_unstorable

    assert not json_may_hold_unstorable('{"description":"暴露垃圾，路边堆放 😀"}'.encode())
    for body in (b'{"d":"\\u0000"}', b'{"d":"\xed\xa0\x80"}', '{"d":"x"}'.encode("utf-16"),
                 '{"d":"한국"}'.encode()):
        assert json_may_hold_unstorable(body)


def test_unstorable_characters_in_a_form_field_or_action_body_are_refused(client):
    _, lon, lat = a_point()
    form = {"category": "0102", "description": "a\x00", "lon": str(lon), "lat": str(lat)}
    response = client.post("/api/v1/events", data=form, headers=auth(client), content_type="multipart/form-data")
    assert assert_refused(response, 400, "unstorable_text")["details"]["field"] == "form:description"
    event_id = report(client, auth(client)).get_json()["id"]
    response = client.post(f"/api/v1/events/{event_id}/actions/reject", json={"reason": "no\x00"},
                           headers=auth(client, "demo_dispatcher"))
    assert_refused(response, 400, "unstorable_text")
    assert client.get(f"/api/v1/events/{event_id}", headers=auth(client)).get_json()["state"] == "reported"


def test_plain_text_with_odd_but_storable_characters_is_accepted(client):
    response = report(client, auth(client), description="换行\n制表\t表情😀 \u200b 零宽")
    assert response.status_code == 201
    assert response.get_json()["description"] == "换行\n制表\t表情😀 \u200b 零宽"


# Event ids are 32-bit in PostgreSQL: a larger one in the URL made the lookup itself fail.
@pytest.mark.parametrize("path", ["/api/v1/events/2147483648", "/api/v1/events/99999999999999999999",
                                  "/api/v1/events/2147483648/actions/register"])
def test_event_ids_beyond_32_bits_are_not_found(client, path):
    response = client.open(path, method="POST" if "actions" in path else "GET", json={},
                           headers=auth(client, "demo_admin"))
    assert_refused(response, 404)


def test_the_id_bound_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    param = spec["paths"]["/api/v1/events/{event_id}"]["parameters"][0]
    assert param["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


def test_merge_into_an_id_beyond_32_bits_is_422(client):
    event_id = report(client, auth(client)).get_json()["id"]
    response = client.post(f"/api/v1/events/{event_id}/actions/merge", json={"master_event": 2**40},
                           headers=auth(client, "demo_dispatcher"))
    assert "master_event" in assert_refused(response, 422)["details"]["fields"]


# str.isdigit() admits "²", which int() then refuses.
@pytest.mark.parametrize("value", ["²", "١", "1.0", '"1', "99999999999"])
def test_if_match_must_be_ascii_digits(client, value):
    event_id = report(client, auth(client)).get_json()["id"]
    response = client.post(f"/api/v1/events/{event_id}/actions/register", json={},
                           headers=auth(client, "demo_dispatcher") | {"If-Match": value})
    assert_refused(response, 400, "bad_if_match")


@pytest.mark.parametrize("value", ['"1"', "W/\"1\"", "1"])
def test_if_match_accepts_the_etag_forms(client, value):
    event_id = report(client, auth(client)).get_json()["id"]
    response = client.post(f"/api/v1/events/{event_id}/actions/register", json={},
                           headers=auth(client, "demo_dispatcher") | {"If-Match": value})
    assert response.status_code == 200 and response.headers["ETag"] == '"2"'


# Year 1 and year 9999 overflowed `datetime` on the way to UTC and into month buckets.
@pytest.mark.parametrize("query", ["from=0001-01-01&to=0001-01-02", "from=9999-12-30&to=9999-12-31",
                                   "from=1969-12-31&to=1970-01-02"])
def test_statistics_refuse_days_outside_the_supported_range(client, query):
    response = client.get(f"/api/v1/stats?{query}", headers=auth(client, "demo_supervisor"))
    assert assert_refused(response, 400)["details"]["field"] == "from"


def test_statistics_accept_the_edges_of_the_range(client):
    for query in ("from=1970-01-01&to=1970-01-31", "from=2999-12-01&to=2999-12-31"):
        assert client.get(f"/api/v1/stats?{query}", headers=auth(client, "demo_supervisor")).status_code == 200


@pytest.mark.parametrize("query", ["reported_from=0001-01-01T00:00:00%2B01:00",
                                   "reported_to=9999-12-31T23:59:59-01:00"])
def test_list_filters_refuse_instants_outside_the_supported_range(client, query):
    response = client.get(f"/api/v1/events?{query}", headers=auth(client, "demo_admin"))
    assert_refused(response, 422)


@pytest.mark.parametrize("deadline", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_dispatch_refuses_a_deadline_outside_the_supported_range(client, deadline):
    event_id = report(client, auth(client)).get_json()["id"]
    dispatcher = auth(client, "demo_dispatcher")
    assert client.post(f"/api/v1/events/{event_id}/actions/register", json={}, headers=dispatcher).status_code == 200
    response = client.post(f"/api/v1/events/{event_id}/actions/dispatch", json={"deadline": deadline},
                           headers=dispatcher)
    assert "deadline" in assert_refused(response, 422)["details"]["fields"]
    assert client.get(f"/api/v1/events/{event_id}", headers=dispatcher).get_json()["state"] == "registered"


# The document used to describe flask-smorest's error shape ({code, status, message, errors}) under a
# catch-all `default`, so every error body contradicted it and every status looked documented.
def test_openapi_documents_each_operations_error_statuses_in_the_real_shape(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    error_schema = spec["components"]["schemas"]["ErrorDetail"]
    sent = error_body(404, "not_found", "找不到", "Not found", {"x": 1})["error"]
    assert set(sent) == set(error_schema["properties"])
    assert set(error_schema["required"]) == set(sent) - {"details"}
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            responses = item[method]["responses"]
            assert "default" not in responses, (method, path)
            assert "503" in responses, (method, path)
            if item[method].get("security") != []:  # every operation behind a token may lack one
                assert "401" in responses, (method, path)
            for status, answer in responses.items():
                if status.startswith(("4", "5")):
                    ref = answer.get("$ref") or answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith(("/ErrorBody", "/UNPROCESSABLE_ENTITY")), (method, path, status)


def test_statistics_answer_is_documented_field_by_field(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    schema = spec["paths"]["/api/v1/stats"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    documented = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    report(client, auth(client))
    body = client.get("/api/v1/stats?group_by=township", headers=auth(client, "demo_supervisor")).get_json()
    assert set(body) <= set(documented["properties"]) and set(documented["required"]) <= set(body)
    row = spec["components"]["schemas"]["StatsRow"]["properties"]
    assert set(body["total"]) == set(row) and set(body["rows"][0]) == set(row)


# The replay answered with whichever event held the key, whoever asked: another user's report leaked.
def test_a_key_from_another_users_report_is_409_and_shows_nothing(client):
    first = report(client, auth(client) | {"Idempotency-Key": "shared-key-1"})
    assert first.status_code == 201
    response = report(client, auth(client, "demo_handler") | {"Idempotency-Key": "shared-key-1"})
    error = assert_refused(response, 409, "idempotency_key_taken")
    assert "number" not in error and first.get_json()["number"] not in response.get_data(as_text=True)
    again = report(client, auth(client) | {"Idempotency-Key": "shared-key-1"})
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    assert counts()[0] == 1
