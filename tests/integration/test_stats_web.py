"""The stats API, the dashboard pages and the exports: access rules and the same numbers everywhere."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from gridgov.demo.history import seed_history
from gridgov.timeutil import utcnow
from tests.conftest import login

PERIOD = {"period": "last_30_days"}


@pytest.fixture
def seeded(app_ctx):
    seed_history(seed=3, count=150, days=40, now=utcnow() - timedelta(minutes=5))
    return app_ctx


def api(client, **params):
    response = client.get("/api/v1/stats", query_string=params)
    return response.status_code, response.get_json()


def test_api_needs_login_and_a_statistics_role(client):
    status, body = api(client)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    login(client, "demo_worker")
    status, body = api(client)
    assert status == 403 and body["error"]["message_en"]


def test_township_dispatcher_cannot_ask_for_another_township(client):
    login(client, "demo_dispatcher")
    status, own = api(client, group_by="village")
    assert status == 200 and own["area"] == "330521001"
    status, body = api(client, area="330521002")
    assert status == 403
    assert body["error"]["message_zh"] == "无权查看该区域的统计" and "jurisdiction" in body["error"]["message_en"]
    assert api(client, area="330521")[0] == 403


def test_api_validates_parameters(client):
    login(client, "demo_supervisor")
    assert api(client, group_by="planet")[0] == 400
    assert api(client, **{"from": "2026-13-01", "to": "2026-12-01"})[0] == 400
    assert api(client, **{"from": "2026-10-02", "to": "2026-10-01"})[0] == 400
    assert api(client, area="12")[0] == 400


def test_api_groupings_add_up_to_the_total(seeded):
    client = seeded.test_client()
    login(client, "demo_supervisor")
    status, body = api(client, group_by="township,department,day", **PERIOD)
    assert status == 200
    total = body["total"]
    assert total["reported"] > 0 and total["registered"] > 0
    for grouping in ("township", "day"):
        rows = body["groups"][grouping]
        for name in ("reported", "registered", "due", "closed", "overdue", "tasks_handled"):
            assert sum(r[name] for r in rows) == total[name], (grouping, name)
    assert total["closure_rate"] == round(total["closed"] / total["due"], 4)


def test_dashboard_page_and_drill_down_show_the_api_numbers(seeded):
    client = seeded.test_client()
    login(client, "demo_supervisor")
    _, body = api(client, group_by="township", **PERIOD)
    page = client.get("/dashboard", query_string=PERIOD)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "echarts.min.js" in html and "乡镇排名" in html
    township = next(r for r in body["rows"] if r["closed"])
    listing = client.get("/dashboard/events", query_string=dict(
        PERIOD, figure="closed", group_by="township", key=township["key"]))
    assert listing.status_code == 200
    assert f"结案数：{township['closed']}" in listing.get_data(as_text=True)
    # A township drill-down link narrows the area; another township's dispatcher gets 403.
    assert client.get("/dashboard", query_string=dict(PERIOD, area=township["key"])).status_code == 200


def test_dispatcher_sees_only_own_township_on_the_dashboard(client):
    login(client, "demo_dispatcher")
    assert client.get("/dashboard").status_code == 200
    response = client.get("/dashboard", query_string={"area": "330521002"})
    assert response.status_code == 403 and "无权查看" in response.get_data(as_text=True)


def test_area_geojson_is_limited_to_the_jurisdiction(client):
    login(client, "demo_dispatcher")
    body = client.get("/dashboard/areas.geojson?level=village").get_json()
    assert body["features"] and all(f["properties"]["code"].startswith("330521001") for f in body["features"])
    assert client.get("/dashboard/areas.geojson?level=village&area=330521").status_code == 403


def test_excel_report_opens_and_matches_the_api(seeded):
    client = seeded.test_client()
    login(client, "demo_supervisor")
    _, body = api(client, group_by="township,department", **PERIOD)
    response = client.get("/dashboard/export/report.xlsx", query_string=PERIOD)
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.data))
    assert {"总体", "按乡镇", "按部门", "按日", "部门考评", "乡镇考评"} <= set(wb.sheetnames)
    sheet = wb["按乡镇"]
    assert sheet.freeze_panes == "C4" and sheet._charts
    header = [c.value for c in sheet[3]]
    col = {name: header.index(name) for name in ("上报数", "结案数", "结案率", "返工率")}
    assert sheet.cell(4, col["结案率"] + 1).number_format == "0.00%"
    by_key = {r["key"]: r for r in body["groups"]["township"]}
    rows = list(sheet.iter_rows(min_row=4, values_only=True))
    assert len(rows) == len(by_key)
    for row in rows:
        api_row = by_key[row[0]]
        assert row[col["上报数"]] == api_row["reported"]
        assert row[col["结案数"]] == api_row["closed"]
        assert row[col["结案率"]] == api_row["closure_rate"]
        assert row[col["返工率"]] == api_row["rework_rate"]
    total_row = next(wb["总体"].iter_rows(min_row=4, values_only=True))
    assert total_row[header.index("立案数")] == body["total"]["registered"]


def test_csv_report_and_event_exports(seeded):
    client = seeded.test_client()
    login(client, "demo_supervisor")
    _, body = api(client, **PERIOD)
    report = client.get("/dashboard/export/report.csv", query_string=dict(PERIOD, group_by="department"))
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["代码", "职能部门", "上报数"]
    assert sum(int(r[2]) for r in rows[1:]) == body["total"]["reported"]
    events_csv = client.get("/dashboard/export/events.csv", query_string=dict(PERIOD, figure="closed"))
    lines = list(csv.reader(io.StringIO(events_csv.get_data(as_text=True).lstrip("\ufeff"))))
    assert lines[0][0] == "事件编号" and len(lines) - 1 == body["total"]["closed"]
    xlsx = client.get("/dashboard/export/events.xlsx", query_string=dict(PERIOD, figure="overdue"))
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True)["事件清单"]
    assert sum(1 for _ in sheet.iter_rows(min_row=2)) == body["total"]["overdue"]


def test_csv_report_streams_after_the_request_is_over(app):
    """Regression: the report CSV's rows were computed lazily, while the server sends the body — after the
    request's app context is gone — so the download broke off with 'Working outside of application context'.
    Tests that push an app context of their own (app_ctx) could not see it; here nothing is pushed."""
    client = app.test_client()
    login(client, "demo_supervisor")
    response = client.get("/dashboard/export/report.csv", query_string=dict(PERIOD, group_by="township"))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["代码", "乡镇/街道", "上报数"]  # the rows' query ran while the body was sent


def test_dashboard_charts_speak_the_readers_language(client):
    """dashboard.js draws legends, axis and map labels from the page's JSON, translated server-side."""
    import json
    import re

    import flask_babel

    login(client, "demo_supervisor")

    def labels(lang):
        # The test client reuses the fixture's app context, where Flask-Babel keeps the last locale.
        flask_babel.refresh()
        page = client.get("/dashboard", query_string={"lang": lang}).get_data(as_text=True)
        block = re.search(r'<script[^>]*id="chart-data"[^>]*>(.*?)</script>', page, re.S).group(1)
        return json.loads(block)["labels"]

    english, chinese = labels("en"), labels("zh_CN")
    assert english["closure_rate"] == "Closure rate" and english["on_time_rate"] == "On-time closure rate"
    assert chinese["closure_rate"] == "结案率" and chinese["count_unit"] == "件"
    assert set(english) == set(chinese) and all(english.values())
