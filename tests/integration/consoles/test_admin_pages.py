"""Admin pages: users (create, change role and area, deactivate, reset password), departments, categories,
calendar overrides, the area import preview and the workflow diagrams."""
import io
from datetime import date

from gridgov.extensions import db
from gridgov.models import CalendarDay, Category, Department, User
from tests.conftest import login
from tests.integration.consoles.helpers import townships


def test_admin_manages_a_user_from_creation_to_deactivation(client):
    login(client, "demo_admin")
    township = townships()[2]
    response = client.post("/admin/users", data={"username": "new_dispatcher_x", "password": "long-enough-1",
                                                 "role": "dispatcher", "area_code": township, "display_name": "新调度员"})
    assert response.status_code == 302
    created = db.session.scalar(db.select(User).where(User.username == "new_dispatcher_x"))
    assert created.role == "dispatcher" and created.area_code == township and created.check_password("long-enough-1")
    assert "new_dispatcher_x" in client.get("/admin/users?q=new_disp").get_data(as_text=True)
    client.post(f"/admin/users/{created.id}", data={"role": "handler", "area_code": "330521",
                                                    "department_code": "330521-CG", "display_name": "改"})
    db.session.refresh(created)
    assert created.role == "handler" and created.department_code == "330521-CG" and not created.active
    client.post(f"/admin/users/{created.id}/password", data={"password": "another-pass-2"})
    db.session.refresh(created)
    assert created.check_password("another-pass-2")
    # A bad request comes back as a message, nothing changes.
    client.post(f"/admin/users/{created.id}/password", data={"password": "short"})
    db.session.refresh(created)
    assert created.check_password("another-pass-2")
    db.session.delete(created)
    db.session.commit()


def test_admin_cannot_lock_themselves_out(client):
    login(client, "demo_admin")
    admin = db.session.scalar(db.select(User).where(User.username == "demo_admin"))
    client.post(f"/admin/users/{admin.id}", data={"role": "admin", "area_code": "330521", "display_name": "x"})
    db.session.refresh(admin)
    assert admin.active


def test_departments_categories_and_calendar(client):
    login(client, "demo_admin")
    client.post("/admin/departments", data={"code": "330521-TEST", "name": "测试局", "level": "county",
                                            "area_code": "330521", "active": "1"})
    assert db.session.get(Department, "330521-TEST").name == "测试局"
    category = db.session.get(Category, "0102")
    before = (category.time_limit, category.time_unit, category.default_department_code)
    client.post("/admin/categories/0102", data={"time_limit": "6", "time_unit": "natural_hours",
                                                "urgent_time_limit": "2", "default_department_code": "330521-TEST",
                                                "active": "1"})
    db.session.refresh(category)
    assert (category.time_limit, category.time_unit, category.urgent_time_limit) == (6, "natural_hours", 2)
    assert "测试局" in client.get("/admin/categories").get_data(as_text=True)
    category.time_limit, category.time_unit, category.default_department_code = before
    category.urgent_time_limit = None
    db.session.commit()
    db.session.delete(db.session.get(Department, "330521-TEST"))
    db.session.commit()

    client.post("/admin/calendar", data={"day": "2030-10-09", "is_workday": "1", "note": "调休"})
    assert db.session.get(CalendarDay, date(2030, 10, 9)).is_workday
    client.post("/admin/calendar/2030-10-09/delete")
    assert db.session.get(CalendarDay, date(2030, 10, 9)) is None


def test_area_import_previews_then_commits_all_or_nothing(client):
    import json

    import shapely

    from gridgov.models import Area

    login(client, "demo_admin")
    village = db.session.scalar(db.select(Area).where(Area.level == "village").order_by(Area.code).limit(1))
    outline = shapely.from_wkb(village.geometry)
    code = village.code + "998"
    good = json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature",
        "properties": {"code": code, "name": "新网格", "parent_code": village.code},
        "geometry": shapely.geometry.mapping(outline)}]}).encode()
    body = client.post("/admin/areas/import", data={"level": "grid", "file": (io.BytesIO(good), "g.geojson")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-report-ok="true"' in body and 'name="token"' in body
    assert db.session.get(Area, code) is None  # the preview writes nothing
    token = body.split('name="token" value="')[1].split('"')[0]
    try:
        assert client.post("/admin/areas/import/commit", data={"token": token, "level": "grid"}).status_code == 302
        assert db.session.get(Area, code) is not None
    finally:
        db.session.execute(db.delete(Area).where(Area.code == code))
        db.session.commit()
    bad = b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "1"}, "geometry": null}]}'
    body = client.post("/admin/areas/import", data={"level": "grid", "file": (io.BytesIO(bad), "g.geojson")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-report-ok="false"' in body and 'name="token"' not in body
    body = client.post("/admin/areas/import", data={"level": "grid", "file": (io.BytesIO(b"not json"), "g.geojson")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-report-ok="false"' in body


def test_workflow_diagrams_are_drawn(client):
    login(client, "demo_admin")
    body = client.get("/admin/workflows").get_data(as_text=True)
    assert body.count("<svg") >= 2 and "已结案" in body
