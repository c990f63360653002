"""The admin audit log: every admin action (web and CLI) writes exactly one row, with who, what, on what and the
changes; refused or failed actions write nothing; the page lists, filters and pages the log for admins only."""
from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import timedelta

import pytest
import shapely
from sqlalchemy import func, select

from gridgov.extensions import db
from gridgov.models import AdminAudit, ApiToken, Area, CalendarDay, Category, Department, OutboxMessage, User
from gridgov.services import admin_audit
from gridgov.services.tokens import issue_token
from gridgov.timeutil import utcnow
from tests.conftest import login
from tests.integration.consoles.helpers import townships


def last_seq() -> int:
    db.session.rollback()  # see what other sessions (the CLI's) committed
    return db.session.scalar(select(func.coalesce(func.max(AdminAudit.seq), 0)))


def only_new_row(before: int) -> AdminAudit:
    db.session.rollback()
    rows = db.session.scalars(select(AdminAudit).where(AdminAudit.seq > before).order_by(AdminAudit.seq)).all()
    assert [r.action for r in rows] and len(rows) == 1, f"expected one new audit row, got {[r.action for r in rows]}"
    return rows[0]


def expect(row: AdminAudit, action: str, actor: User, target_type: str, target_id, **data) -> None:
    assert (row.action, row.actor_id, row.actor_name, row.actor_role) == (action, actor.id, actor.username, actor.role)
    assert (row.target_type, row.target_id) == (target_type, str(target_id))
    assert utcnow() - row.at < timedelta(minutes=2)
    for key, value in data.items():
        assert row.data.get(key) == value, (key, row.data)


def user_named(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def remove_user(user: User) -> None:
    db.session.execute(db.delete(ApiToken).where(ApiToken.user_id == user.id))
    db.session.delete(user)
    db.session.commit()


def test_each_user_and_token_action_writes_one_row_with_its_fields(client):
    login(client, "demo_admin")
    admin = user_named("demo_admin")
    township = townships()[2]
    name, password = f"aud_{uuid.uuid4().hex[:6]}", "first-secret-pw-1"

    before = last_seq()
    client.post("/admin/users", data={"username": name, "password": password, "role": "dispatcher",
                                      "area_code": township, "display_name": "审计员"})
    user = user_named(name)
    expect(only_new_row(before), "user.create", admin, "user", user.id, username=name, role="dispatcher",
           area_code=township, display_name="审计员", active=True)
    try:
        fields = {"role": "dispatcher", "area_code": township, "display_name": "审计员二", "active": "1"}
        before = last_seq()
        client.post(f"/admin/users/{user.id}", data=fields)
        expect(only_new_row(before), "user.update", admin, "user", user.id,
               changes={"display_name": ["审计员", "审计员二"]})

        before = last_seq()
        client.post(f"/admin/users/{user.id}", data={**fields, "role": "supervisor"})
        expect(only_new_row(before), "user.role_change", admin, "user", user.id,
               changes={"role": ["dispatcher", "supervisor"]})

        issue_token(user, 1, label="phone")
        before = last_seq()
        client.post(f"/admin/users/{user.id}", data={k: v for k, v in fields.items() if k != "active"}
                    | {"role": "supervisor"})
        expect(only_new_row(before), "user.deactivate", admin, "user", user.id,
               changes={"active": [True, False]}, tokens_revoked=1)

        before = last_seq()
        client.post(f"/admin/users/{user.id}", data={**fields, "role": "supervisor"})
        expect(only_new_row(before), "user.activate", admin, "user", user.id, changes={"active": [False, True]})

        before = last_seq()
        client.post(f"/admin/users/{user.id}/password", data={"password": "second-secret-pw-2"})
        expect(only_new_row(before), "user.password_reset", admin, "user", user.id, username=name, unlocked=False)

        locked_until = (utcnow() + timedelta(minutes=10)).replace(microsecond=0)
        user.locked_until, user.failed_logins = locked_until, 3
        db.session.commit()
        before = last_seq()
        client.post(f"/admin/users/{user.id}/unlock")
        expect(only_new_row(before), "user.unlock", admin, "user", user.id, username=name, failed_logins=3,
               locked_until=locked_until.isoformat(timespec="microseconds") + "Z")
        db.session.refresh(user)
        assert user.locked_until is None

        old_phone, first = issue_token(user, 1, label="old phone")
        _, second = issue_token(user, 1, label="new phone")
        first_id, second_id = first.id, second.id
        phone = client.application.test_client()
        bearer = {"Authorization": f"Bearer {old_phone}"}
        assert phone.get("/api/v1/events?per_page=1", headers=bearer).status_code == 200  # (and cached)
        before = last_seq()
        client.post(f"/admin/users/{user.id}/tokens/revoke", data={"token_id": str(first_id)})
        expect(only_new_row(before), "token.revoke", admin, "user", user.id, token_ids=[first_id],
               labels=["old phone"])
        assert phone.get("/api/v1/events?per_page=1", headers=bearer).status_code == 401  # refused at once
        before = last_seq()
        client.post(f"/admin/users/{user.id}/tokens/revoke", data={"all": "1"})
        expect(only_new_row(before), "token.revoke", admin, "user", user.id, token_ids=[second_id])

        # Neither password, nor its hash, nor a token ever reaches the audit.
        db.session.rollback()
        every_row = json.dumps([r.data for r in db.session.scalars(select(AdminAudit))], ensure_ascii=False)
        assert password not in every_row and "second-secret-pw-2" not in every_row
        assert user_named(name).password_hash not in every_row and "scrypt:" not in every_row
    finally:
        remove_user(user_named(name))


def test_catalog_and_calendar_changes_write_one_row_each(client):
    login(client, "demo_admin")
    admin = user_named("demo_admin")
    code = f"AUD-{uuid.uuid4().hex[:6]}"
    before = last_seq()
    client.post("/admin/departments", data={"code": code, "name": "审计局", "level": "county", "area_code": "330521",
                                            "active": "1"})
    expect(only_new_row(before), "department.create", admin, "department", code,
           changes={"name": [None, "审计局"], "name_en": [None, ""], "level": [None, "county"],
                    "area_code": [None, "330521"], "active": [None, True]})
    before = last_seq()
    client.post("/admin/departments", data={"code": code, "name": "审计局二", "level": "county",
                                            "area_code": "330521", "active": "1"})
    expect(only_new_row(before), "department.update", admin, "department", code,
           changes={"name": ["审计局", "审计局二"]})

    category = db.session.get(Category, "0102")
    saved = (category.time_limit, category.time_unit, category.urgent_time_limit, category.default_department_code)
    try:
        before = last_seq()
        client.post("/admin/categories/0102", data={"time_limit": "7", "time_unit": "natural_hours",
                                                    "urgent_time_limit": "", "default_department_code": code,
                                                    "active": "1"})
        row = only_new_row(before)
        expect(row, "category.update", admin, "category", "0102")
        assert row.data["changes"]["time_limit"] == [saved[0], 7.0]
        assert row.data["changes"]["default_department_code"] == [saved[3], code]
    finally:
        category = db.session.get(Category, "0102")
        category.time_limit, category.time_unit, category.urgent_time_limit, category.default_department_code = saved
        db.session.commit()
        db.session.delete(db.session.get(Department, code))
        db.session.commit()

    before = last_seq()
    client.post("/admin/calendar", data={"day": "2031-10-08", "is_workday": "1", "note": "调休"})
    expect(only_new_row(before), "calendar.override", admin, "calendar_day", "2031-10-08", is_workday=True,
           note="调休", previous=None)
    before = last_seq()
    client.post("/admin/calendar", data={"day": "2031-10-08", "is_workday": "0", "note": "休"})
    expect(only_new_row(before), "calendar.override", admin, "calendar_day", "2031-10-08", is_workday=False,
           previous={"is_workday": True, "note": "调休"})
    before = last_seq()
    client.post("/admin/calendar/2031-10-08/delete")
    expect(only_new_row(before), "calendar.delete", admin, "calendar_day", "2031-10-08",
           previous={"is_workday": False, "note": "休"})


def _new_grid_geojson() -> tuple[str, bytes]:
    village = db.session.scalar(select(Area).where(Area.level == "village").order_by(Area.code.desc()).limit(1))
    code = village.code + "997"
    body = json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": code, "name": "审计网格", "parent_code": village.code},
        "geometry": shapely.geometry.mapping(shapely.from_wkb(village.geometry))}]}).encode()
    return code, body


def test_area_import_and_job_rerun_write_one_row_each(client):
    login(client, "demo_admin")
    admin = user_named("demo_admin")
    code, body = _new_grid_geojson()
    page = client.post("/admin/areas/import", data={"level": "grid", "file": (io.BytesIO(body), "grids-2031.geojson")},
                       content_type="multipart/form-data").get_data(as_text=True)
    token = page.split('name="token" value="')[1].split('"')[0]
    before = last_seq()
    try:
        client.post("/admin/areas/import/commit", data={"token": token, "level": "grid"})
        expect(only_new_row(before), "areas.import", admin, "areas", "grid", file="grids-2031.geojson",
               sha256=hashlib.sha256(body).hexdigest(), count=1, new=1, replaced=0, by_level={"grid": 1},
               first_codes=[code])
    finally:
        db.session.execute(db.delete(Area).where(Area.code == code))
        db.session.commit()

    stuck = OutboxMessage(kind="no_such_kind", payload={}, attempts=9, last_error="boom")
    db.session.add(stuck)
    db.session.commit()
    before = last_seq()
    client.post(f"/admin/jobs/outbox/{stuck.id}/retry")
    expect(only_new_row(before), "job.rerun", admin, "outbox", stuck.id, kind="no_such_kind", attempts=9)


def test_cli_commands_write_one_row_each_naming_the_os_login(app_ctx, tmp_path):
    runner = app_ctx.test_cli_runner()
    name = f"cli_{uuid.uuid4().hex[:6]}"
    before = last_seq()
    result = runner.invoke(args=["users", "create", "--username", name, "--role", "dispatcher", "--area",
                                 townships()[1], "--password-stdin"], input="cli-secret-pw-9\n")
    assert result.exit_code == 0, result.output
    row = only_new_row(before)
    user = user_named(name)
    assert (row.action, row.actor_id, row.actor_role, row.target_id) == ("user.create", None, "cli", str(user.id))
    assert row.actor_name.startswith("cli:") and "cli-secret-pw-9" not in json.dumps(row.data)
    try:
        user.locked_until = utcnow() + timedelta(minutes=5)
        db.session.commit()
        before = last_seq()
        assert runner.invoke(args=["users", "unlock", name]).exit_code == 0
        row = only_new_row(before)
        assert (row.action, row.actor_role, row.target_id, row.data["username"]) == ("user.unlock", "cli",
                                                                                     str(user.id), name)
        before = last_seq()
        assert runner.invoke(args=["users", "unlock", "nobody-at-all"]).exit_code != 0
        assert last_seq() == before
    finally:
        remove_user(user_named(name))

    code, body = _new_grid_geojson()
    path = tmp_path / "cli-grids.geojson"
    path.write_bytes(body)
    before = last_seq()
    try:
        result = runner.invoke(args=["geo", "import", str(path), "--level", "grid"])
        assert result.exit_code == 0, result.output
        row = only_new_row(before)
        assert (row.action, row.actor_role, row.data["file"], row.data["sha256"], row.data["count"]) == (
            "areas.import", "cli", "cli-grids.geojson", hashlib.sha256(body).hexdigest(), 1)
    finally:
        db.session.rollback()
        db.session.execute(db.delete(Area).where(Area.code == code))
        db.session.commit()


def _admin_id() -> int:
    return user_named("demo_admin").id


def _worker_id() -> int:
    return user_named("demo_worker").id


# (who, method, path or a function giving it, form) — every one of these is refused or fails.
REFUSED = [
    ("demo_dispatcher", "/admin/users", {"username": "x_by_dispatcher", "password": "long-enough-1",
                                         "role": "admin", "area_code": "330521"}),
    ("demo_supervisor", lambda: f"/admin/users/{_worker_id()}/password", {"password": "long-enough-1"}),
    ("demo_handler", "/admin/calendar", {"day": "2031-05-05", "is_workday": "1"}),
    ("demo_worker", lambda: f"/admin/users/{_worker_id()}/unlock", {}),
    (None, "/admin/departments", {"code": "ANON-1", "name": "x", "area_code": "330521"}),
    ("demo_admin", "/admin/users", {"username": "short_pw", "password": "short", "role": "dispatcher",
                                    "area_code": "330521"}),
    ("demo_admin", "/admin/users", {"username": "demo_worker", "password": "long-enough-1", "role": "dispatcher",
                                    "area_code": "330521"}),
    ("demo_admin", lambda: f"/admin/users/{_admin_id()}", {"role": "dispatcher", "area_code": "330521",
                                                           "display_name": "x", "active": "1"}),
    ("demo_admin", lambda: f"/admin/users/{_worker_id()}", {"role": "wizard", "area_code": "330521"}),
    ("demo_admin", lambda: f"/admin/users/{_worker_id()}/password", {"password": "short"}),
    ("demo_admin", "/admin/users/99999999/unlock", {}),
    ("demo_admin", lambda: f"/admin/users/{_worker_id()}/tokens/revoke", {}),
    ("demo_admin", lambda: f"/admin/users/{_worker_id()}/tokens/revoke", {"all": "1"}),
    ("demo_admin", "/admin/departments", {"code": "bad code!", "name": "x", "area_code": "330521"}),
    ("demo_admin", "/admin/categories/9999", {"time_limit": "1", "time_unit": "natural_hours"}),
    ("demo_admin", "/admin/categories/0102", {"time_limit": "-3", "time_unit": "natural_hours"}),
    ("demo_admin", "/admin/calendar", {"day": "2031-13-40", "is_workday": "1"}),
    ("demo_admin", "/admin/calendar/2031-02-03/delete", {}),
    ("demo_admin", "/admin/areas/import/commit", {"token": "0123abcd", "level": "grid"}),
    ("demo_admin", "/admin/jobs/outbox/99999999/retry", {}),
]


@pytest.mark.parametrize("who, path, form", REFUSED)
def test_refused_and_failed_admin_actions_write_nothing(client, who, path, form):
    if who:
        login(client, who)
    path = path() if callable(path) else path
    counts = lambda: tuple(db.session.scalar(select(func.count()).select_from(m))  # noqa: E731
                           for m in (User, Department, CalendarDay, ApiToken))
    before, rows = last_seq(), counts()
    response = client.post(path, data=form)
    assert response.status_code in (302, 403, 404)
    if who is None:
        assert "/login" in response.headers["Location"]
    if response.status_code == 302 and who == "demo_admin":  # refused on the page, with the reason
        with client.session_transaction() as session:
            assert [c for c, _ in session.get("_flashes", [])] == ["error"]
    assert last_seq() == before and counts() == rows


def test_a_change_rolled_back_takes_its_audit_row_with_it(app_ctx):
    from gridgov.services import accounts

    before = last_seq()
    accounts.create_user(username=f"rb_{uuid.uuid4().hex[:6]}", password="long-enough-1", role="supervisor",
                         area_code="330521", commit=False)
    db.session.rollback()
    assert last_seq() == before
    assert admin_audit.verify_chain().broken is None


def test_secrets_are_refused_by_the_audit_itself(app_ctx):
    for data in ({"password": "x"}, {"changes": {"password_hash": ["a", "b"]}}, {"tokens": [{"token": "t"}]}):
        with pytest.raises(ValueError, match="never stores secrets"):
            admin_audit.record("user.update", actor=None, target_type="user", target_id=1, data=data)
    db.session.rollback()


def test_audit_page_lists_filters_and_pages_for_admins_only(client):
    login(client, "demo_admin")
    days = [f"2032-03-{d:02d}" for d in range(1, 13)]
    for day in days:
        client.post("/admin/calendar", data={"day": day, "is_workday": "1", "note": "页"})
    client.post("/admin/calendar/2032-03-01/delete")
    try:
        page = client.get("/admin/audit?action=calendar.delete").get_data(as_text=True)
        assert 'data-action="calendar.delete"' in page and 'data-action="calendar.override"' not in page
        assert "2032-03-01" in page and "页" in page  # the changes, as readable text
        family = client.get("/admin/audit?action=calendar.").get_data(as_text=True)
        assert 'data-action="calendar.delete"' in family and 'data-action="calendar.override"' in family
        mine = client.get("/admin/audit?actor=demo_admin").get_data(as_text=True)
        assert "calendar.override" in mine
        nobody = client.get("/admin/audit?actor=demo_dispatcher").get_data(as_text=True)
        assert "data-seq=" not in nobody
        today = utcnow().date()
        assert "data-seq=" in client.get(f"/admin/audit?from={today - timedelta(days=1)}&to={today + timedelta(days=1)}").get_data(as_text=True)
        assert "data-seq=" not in client.get("/admin/audit?from=2001-01-01&to=2001-01-31").get_data(as_text=True)
        # 50 a page, newest first; the second page carries on where the first stopped.
        total = db.session.scalar(select(func.count()).select_from(AdminAudit))
        if total <= admin_audit.PAGE_SIZE:
            for i in range(admin_audit.PAGE_SIZE + 1 - total):
                client.post("/admin/calendar", data={"day": "2032-04-01", "is_workday": str(i % 2), "note": "翻页"})
        first = client.get("/admin/audit").get_data(as_text=True)
        second = client.get("/admin/audit?page=2").get_data(as_text=True)
        seqs = lambda body: [int(s.split('"')[0]) for s in body.split('data-seq="')[1:]]  # noqa: E731
        assert len(seqs(first)) == admin_audit.PAGE_SIZE and seqs(first) == sorted(seqs(first), reverse=True)
        assert seqs(second) and max(seqs(second)) < min(seqs(first))
        assert 'data-chain="intact"' in client.get("/admin/audit?verify=1").get_data(as_text=True)
        assert client.get("/admin/audit?page=-3&from=garbage").status_code == 200
    finally:
        for day in days[1:] + ["2032-04-01"]:
            client.post(f"/admin/calendar/{day}/delete")
    dispatcher = client.application.test_client()
    login(dispatcher, "demo_dispatcher")
    assert dispatcher.get("/admin/audit").status_code == 403
