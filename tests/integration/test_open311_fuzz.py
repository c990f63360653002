"""Hostile input to Open311 GeoReport v2 never gets a 500: every error speaks the spec, and a refused POST
writes nothing.

The routes are the route table's Open311 entries (authz_table.TABLE), each in JSON and in XML. The fields are
the spec's: the filters of GET requests (service_request_id, service_code, start_date, end_date, status), the
arguments of POST requests (api_key, service_code, lat/long, address_string, the citizen's contact, media,
attributes…) and the path's codes, request ids, photo hashes and format. Each field gets every value of its family in
hostile.py (missing, empty, NUL, lone surrogates, invalid UTF-8, 10 000 characters, duplicate keys, impossible
and far dates, dates with offsets, NaN/±inf/±1e308 and swapped or out-of-range coordinates, unknown codes…)
while the rest of the request stays valid; POSTs also get wrong content types.

Each answer must be below 500 and in its format: an error is `[{"code": status, "description": …}]`, or
<errors><error><code/><description/></error></errors> for .xml; a success is a list of requests (services…).
A refused POST leaves the row count of every table as it was. SQLite takes every case; PostgreSQL the values
whose fate the database decides (hostile.DATABASE_BOUND).
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
import shapely

from gridgov.extensions import db
from gridgov.models import Area
from gridgov.services.reporting import report_event
from tests.helpers.images import candidates, jpeg_bytes
from tests.integration import hostile
from tests.integration.authz_table import TABLE
from tests.integration.consoles.helpers import report_in, townships, user
from tests.integration.hostile import Case, Upload, values_for

KEY = "fuzz-open311-key"
FORMATS = ("json", "xml")
ROUTES = sorted(key for key in TABLE if key[0].startswith("open311."))

# The spec's arguments of each resource and the family of values each takes (hostile.FAMILIES).
FIELDS = {
    ("open311.requests_list", "GET"): {"service_request_id": "code", "service_code": "code", "start_date": "date",
                                       "end_date": "date", "status": "code", "jurisdiction_id": "text"},
    ("open311.create_request", "POST"): {
        "api_key": "text", "service_code": "code", "lat": "coordinate", "long": "coordinate",
        "address_string": "text", "address_id": "text", "email": "text", "device_id": "text", "account_id": "number",
        "first_name": "text", "last_name": "text", "phone": "text", "description": "text", "media_url": "redirect",
        "media": "file", "attribute[WHISPR]": "text", "jurisdiction_id": "text"},
}
ANY_QUERY = {"jurisdiction_id": "text"}  # every resource takes it; none needs it (one jurisdiction)
VALID_EXTRA = {"start_date": "2020-01-01T00:00:00+08:00"}  # what a duplicate of a field left out repeats
PATH_VALUES = ("%00", "%ED%A0%80", "%FF%FE", "x" * 3000, "..", "%2F..%2Fx", "ZZZZ", str(hostile.BIG), "-1",
               "%E9%95%BF" * 200, "0102%20", "json.json")
FMT_VALUES = ("JSON", "yaml", "xml%00", "json%20", "", "x" * 300)


@pytest.fixture
def county(app_ctx):
    """The demo county with two requests to ask about, and Open311 keys configured."""
    app_ctx.config["OPEN311_API_KEYS"] = [KEY]
    grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.startswith(townships()[0]))
                             .order_by(Area.code).limit(1))
    point = shapely.from_wkb(grid.geometry).representative_point()
    first = report_in(townships()[0], reporter=user("demo_worker"))
    second = report_in(townships()[0], category="0104")
    pictured = report_event(user=user("demo_worker"), category="0102", description="路边有暴露垃圾", lon=point.x,
                            lat=point.y, photos=candidates(None, jpeg_bytes((40, 120, 200)))).event
    yield {"lon": f"{point.x:.6f}", "lat": f"{point.y:.6f}", "numbers": (first.number, second.number),
           "photo": pictured.photos[0].sha256}
    app_ctx.config["OPEN311_API_KEYS"] = []


def valid_request(endpoint: str, county: dict) -> tuple[str, dict]:
    """(path with {fmt}, valid arguments) of a route."""
    first, second = county["numbers"]
    return {
        "open311.discovery": ("/open311/v2/discovery.{fmt}", {}),
        "open311.services_list": ("/open311/v2/services.{fmt}", {}),
        "open311.service_definition": ("/open311/v2/services/0102.{fmt}", {}),
        "open311.request_detail": (f"/open311/v2/requests/{first}.{{fmt}}", {}),
        "open311.media": (f"/open311/v2/media/{county['photo']}.jpg", {}),  # a photo: no format of its own
        # Ids override every other filter (the spec), and without a start the end reaches 90 days back: the
        # valid list names no ids and no start, so each of those fields, when it is fuzzed, gets its own way.
        "open311.requests_list": ("/open311/v2/requests.{fmt}", {
            "service_code": "0102,0104", "end_date": "2999-01-01T00:00:00Z", "status": "open"}),
        "open311.create_request": ("/open311/v2/requests.{fmt}", {
            "api_key": KEY, "service_code": "0102", "lat": county["lat"], "long": county["lon"],
            "address_string": "城关镇人民路 12 号", "email": "wang@example.com", "first_name": "明", "last_name": "王",
            "phone": "13812345678", "description": "小区门口垃圾三天没人收",
            "media": Upload("photo.jpg", b"\xff\xd8\xff\xe0", "image/jpeg")}),
    }[endpoint]


def cases(endpoint: str, method: str, county: dict, backend: str):
    path, valid = valid_request(endpoint, county)
    fields = FIELDS.get((endpoint, method), ANY_QUERY)
    found = []
    for name, kind in fields.items():
        for label, value in values_for(kind):
            value = value(valid.get(name) or VALID_EXTRA.get(name, "")) if callable(value) else value
            found.append(Case(f"{name}={label}", list({**valid, name: value}.items())))
    if "lat" in fields:
        for label, lat, lon in (("swapped", county["lon"], county["lat"]), ("out_of_range", "-91", "181"),
                                ("nan", "nan", "nan"), ("e308", "1e308", "-1e308")):
            found.append(Case(f"lat,long={label}", list({**valid, "lat": lat, "long": lon}.items())))
    if backend == "postgresql":
        return [case for case in found if hostile.database_bound(case)]
    pairs = list(valid.items())
    if endpoint == "open311.media":
        sha = county["photo"]
        found += [Case(f"path sha256={value[:20]}", pairs, path=f"/open311/v2/media/{value}.jpg")
                  for value in PATH_VALUES + ("0" * 64, sha.upper(), sha[:-1])]
        found += [Case(f"path ext={value[:20]}", pairs, path=f"/open311/v2/media/{sha}.{value}")
                  for value in ("png", "JPG", "jpg%00", "jpg%20", "x" * 300, "json", "xml")]
        return found
    for value in PATH_VALUES if "{fmt}" in path and re.search(r"/(services|requests)/[^/.]+\.", path) else ():
        hostile_path = re.sub(r"/([^/]+)\.\{fmt\}$", f"/{value}.{{fmt}}", path)
        found.append(Case(f"path id={value[:20]}", pairs, path=hostile_path))
    for value in FMT_VALUES:
        found.append(Case(f"path fmt={value[:20]}", pairs, path=path.replace("{fmt}", value)))
    if method == "POST":
        plain = {k: v for k, v in valid.items() if not isinstance(v, Upload)}
        found += [Case("json body", body=json.dumps(plain).encode(), content_type="application/json"),
                  Case("json with a lone surrogate", body=json.dumps({**plain, "description": "\ud800"}).encode(),
                       content_type="application/json"),
                  Case("text/plain body", body=hostile.urlencoded(list(plain.items())), content_type="text/plain"),
                  Case("multipart without boundary", body=b"--x\r\ngarbage", content_type="multipart/form-data"),
                  Case("raw invalid utf-8", pairs + [("x", hostile.Raw(b"\xff\xfe\xed\xa0\x80"))]),
                  Case("nul in a key", pairs + [("a\x00b", "1")]),
                  Case("arguments in the query string", [], path=path + "?" + hostile.urlencoded(
                      list(plain.items())).decode("latin-1"))]
    return found


def send(client, method: str, path: str, case: Case):
    if method == "GET":
        query = hostile.urlencoded(case.pairs or []).decode("latin-1")
        return client.open(path, method="GET", query_string=query)
    if case.pairs is not None:
        body, content_type = hostile.encode_body(case.pairs, as_multipart=False)
    else:
        body, content_type = case.body, case.content_type
    return client.open(path, method="POST", data=body, content_type=content_type)


def spec_problem(response, path: str) -> str | None:
    """What is wrong with the answer's format (None: nothing)."""
    fmt = "xml" if path.split("?")[0].endswith(".xml") else "json"
    status = response.status_code
    if status < 400 and response.mimetype.startswith("image/"):  # a request's photo
        return None
    try:
        if fmt == "xml":
            if response.mimetype != "text/xml":
                return f"{status} as {response.mimetype}, not text/xml"
            root = ET.fromstring(response.data)
            if status < 400:
                return None
            errors = root.findall("error")
            if root.tag != "errors" or not errors:
                return f"{status}: <{root.tag}> is not <errors><error>…"
            if any(e.findtext("code") != str(status) or not (e.findtext("description") or "").strip() for e in errors):
                return f"{status}: an <error> without its code {status} or a description"
            return None
        if response.mimetype != "application/json":
            return f"{status} as {response.mimetype}, not application/json"
        body = json.loads(response.data)
    except (ValueError, ET.ParseError) as exc:
        return f"{status}: the body does not parse ({exc})"
    if status < 400:
        return None if isinstance(body, (list, dict)) else f"{status}: {type(body).__name__} body"
    if not (isinstance(body, list) and body and all(
            isinstance(e, dict) and set(e) == {"code", "description"} and e["code"] == status
            and isinstance(e["description"], str) and e["description"].strip() for e in body)):
        return f"{status}: {str(body)[:120]} is not [{{'code': {status}, 'description': …}}]"
    return None


@pytest.mark.parametrize("key", ROUTES, ids=lambda k: f"{k[1]} {k[0]}")
def test_open311_answers_hostile_input_in_the_spec_and_a_refusal_writes_nothing(app_ctx, backend, county, key):
    """The cases take turns at .json and .xml: the request is read the same way for both, each format renders
    every kind of answer."""
    endpoint, method = key
    client = app_ctx.test_client()
    problems, sent = [], 0
    path, valid = valid_request(endpoint, county)
    for fmt in FORMATS:  # the valid request first: refusals must be the hostile value's doing
        answer = send(client, method, path.replace("{fmt}", fmt), Case("valid", list(valid.items())))
        if answer.status_code >= 400:
            problems.append(f"the valid {method} {path} ({fmt}) is refused: {answer.status_code} {answer.data[:200]}")
    db.session.remove()
    before = hostile.row_counts(db.session)
    for turn, case in enumerate(cases(endpoint, method, county, backend)):
        path = (case.path or valid_request(endpoint, county)[0]).replace("{fmt}", FORMATS[turn % 2])
        response = send(client, method, path, case)
        sent += 1
        where = f"{method} {path[:70]} {case.label}"
        if response.status_code >= 500:
            problems.append(f"{where}: answered {response.status_code}")
        problem = spec_problem(response, path)
        if problem:
            problems.append(f"{where}: {problem}")
        if method == "POST":
            db.session.remove()
            after = hostile.row_counts(db.session)
            if response.status_code != 201 and after != before:
                problems.append(f"{where}: refused ({response.status_code}) but changed "
                                f"{hostile.changed_counts(before, after)}")
            before = after
    if method == "POST":  # what was accepted is published: the lists must still be readable
        for fmt in FORMATS:
            path = f"/open311/v2/requests.{fmt}"
            response = client.get(path)
            if response.status_code != 200 or spec_problem(response, path):
                problems.append(f"after the POSTs, GET {path}: {response.status_code} {spec_problem(response, path)}")
    assert sent >= 5 or backend == "postgresql"
    assert not problems, f"{method} {endpoint}: {len(problems)} of {sent} cases\n" + "\n".join(problems[:60])
