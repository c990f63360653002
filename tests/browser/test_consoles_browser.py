"""The consoles in headless Chromium: the whole closed loop with the demo users (dispatcher on the desk, handler
on the workbench, grid worker verifying on a 360×640 phone, dispatcher closing), a return with re-dispatch, an
extension approval, and the supervisor and admin pages — each checked with axe-core and photographed."""
from __future__ import annotations

import uuid

import pytest
import shapely

from tests.browser.conftest import _artifact_path, check_accessibility, login_as
from tests.helpers.images import jpeg_bytes

pytestmark = pytest.mark.browser


def shot(page, request, name):
    page.screenshot(path=str(_artifact_path(request.config, f"console-{name}")), full_page=True)


def report(live_server, description: str) -> tuple[int, str]:
    """The grid worker's report, through the reporting service (the /m/report page is built elsewhere)."""
    with live_server.app.app_context():
        from gridgov.extensions import db
        from gridgov.models import Area, User
        from gridgov.services.reporting import report_event

        worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
        grid = db.session.scalar(db.select(Area).where(Area.level == "grid", Area.code.startswith(worker.area_code))
                                 .order_by(Area.code).limit(1))
        point = shapely.from_wkb(grid.geometry).representative_point()
        event = report_event(user=worker, category="0102", description=description, lon=point.x, lat=point.y).event
        return event.id, event.number


def fire(live_server, event_id: int, action: str, username: str) -> None:
    with live_server.app.app_context():
        from gridgov.extensions import db
        from gridgov.models import User
        from gridgov.services.workflow import fire_action

        actor = db.session.scalar(db.select(User).where(User.username == username))
        fire_action(event_id, action, user=actor)


def state_of(live_server, event_id: int) -> tuple[str, bool, bool]:
    with live_server.app.app_context():
        from gridgov.extensions import db
        from gridgov.models import Event

        db.session.expire_all()
        event = db.session.get(Event, event_id)
        return event.state, event.verified, event.extension_pending


def submit(page, action: str):
    with page.expect_navigation():
        page.click(f"form[data-action={action}] button[type=submit]")
    errors = page.locator(".flash-error")
    assert errors.count() == 0, errors.first.inner_text()


@pytest.fixture
def photo_file(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes((30, 140, 60)))
    return str(path)


def test_closed_loop_across_the_consoles(make_page, live_server, photo_file, request):
    event_id, number = report(live_server, f"小区门口暴露垃圾 {uuid.uuid4().hex[:6]}")

    desk = make_page(1280, 900)
    login_as(desk, "demo_dispatcher")
    desk.goto("/dispatch")
    assert desk.locator("[data-queue=new] .count").inner_text() != "0"
    desk.wait_for_selector('#desk-map .leaflet-overlay-pane canvas', state='attached')  # no eval: the page's CSP forbids it
    # Keyboard: j focuses the first row's link.
    desk.keyboard.press("j")
    assert desk.evaluate("document.activeElement.closest('tr') !== null")
    check_accessibility(desk)
    shot(desk, request, "dispatch-desk")
    with desk.expect_navigation():
        desk.click(f"a:text-is('{number}')")
    check_accessibility(desk)
    submit(desk, "register")
    assert desk.locator("[data-suggested-department]").get_attribute("data-suggested-department") == "330521-CG"
    assert desk.locator("form[data-action=dispatch] input[name=deadline]").input_value() != ""
    shot(desk, request, "dispatch-event")
    submit(desk, "dispatch")
    assert state_of(live_server, event_id)[0] == "dispatched"

    bench = make_page(1280, 900)
    login_as(bench, "demo_handler")
    bench.goto("/tasks")
    row = bench.locator(f"tr:has(a:text-is('{number}'))")
    assert row.locator("time.countdown").inner_text().startswith("剩余")
    check_accessibility(bench)
    shot(bench, request, "tasks")
    with bench.expect_navigation():
        row.locator("button").click()  # 签收 right from the list
    assert state_of(live_server, event_id)[0] == "in_progress"
    bench.fill("#progress-note", "已安排清运车")
    with bench.expect_navigation():
        bench.click("form[data-action=note] button[type=submit]")
    bench.fill(f"#f-submit_result-comment-{event_id}", "垃圾已清运")
    bench.set_input_files(f"#f-submit_result-photos-{event_id}", photo_file)
    check_accessibility(bench)
    shot(bench, request, "task")
    submit(bench, "submit_result")
    assert state_of(live_server, event_id)[0] == "handled"

    phone = make_page()  # 360×640
    login_as(phone, "demo_worker")
    phone.goto("/m/verify")
    check_accessibility(phone)
    shot(phone, request, "verify-list")
    with phone.expect_navigation():
        phone.click(f"[data-event-id='{event_id}'] a")
    assert phone.locator("section:has(#after-title) img").count() >= 1  # the result photo is shown
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.fill(f"#f-verify_pass-comment-{event_id}", "现场已清理")
    phone.set_input_files(f"#f-verify_pass-photos-{event_id}", photo_file)
    check_accessibility(phone)
    shot(phone, request, "verify-event")
    submit(phone, "verify_pass")
    assert state_of(live_server, event_id)[1] is True

    desk.goto(f"/dispatch/events/{event_id}")
    submit(desk, "close")
    assert state_of(live_server, event_id)[0] == "closed"
    assert desk.locator(".log li[data-action=close]").count() == 1


def test_return_redispatch_and_extension_approval(make_page, live_server, request):
    returned_id, _n = report(live_server, f"退回测试 {uuid.uuid4().hex[:6]}")
    extended_id, _m = report(live_server, f"延期测试 {uuid.uuid4().hex[:6]}")
    desk = make_page(1280, 900)
    login_as(desk, "demo_dispatcher")
    for event_id in (returned_id, extended_id):
        desk.goto(f"/dispatch/events/{event_id}")
        submit(desk, "register")
        submit(desk, "dispatch")

    bench = make_page(1280, 900)
    login_as(bench, "demo_handler")
    bench.goto(f"/tasks/{returned_id}")
    bench.fill(f"#f-return-reason-{returned_id}", "非本部门职责")
    submit(bench, "return")
    assert state_of(live_server, returned_id)[0] == "returned"
    bench.goto(f"/tasks/{extended_id}")
    submit(bench, "accept")
    bench.fill(f"#f-request_extension-reason-{extended_id}", "需采购设备")
    bench.fill(f"#f-request_extension-deadline-{extended_id}", "2099-03-01T17:00")
    submit(bench, "request_extension")
    assert state_of(live_server, extended_id)[2] is True

    desk.goto("/dispatch?queue=returned")
    with desk.expect_navigation():
        desk.click(f"tr[data-event-id='{returned_id}'] a")
    desk.select_option(f"#f-redispatch-department-{returned_id}", "330521-SW")
    desk.fill(f"#f-redispatch-override_reason-{returned_id}", "管网问题，改派水务")
    submit(desk, "redispatch")
    assert state_of(live_server, returned_id)[0] == "dispatched"

    desk.goto("/dispatch?queue=extension")
    with desk.expect_navigation():
        desk.click(f"tr[data-event-id='{extended_id}'] a")
    assert desk.locator(f"#f-approve_extension-deadline-{extended_id}").input_value() == "2099-03-01T17:00"
    check_accessibility(desk)
    shot(desk, request, "extension")
    submit(desk, "approve_extension")
    assert state_of(live_server, extended_id)[2] is False


def test_supervisor_supervises_and_admin_pages_are_accessible(make_page, live_server, request):
    event_id, number = report(live_server, f"督办测试 {uuid.uuid4().hex[:6]}")
    fire(live_server, event_id, "register", "demo_dispatcher")  # 督办 is for registered, open events
    page = make_page(1280, 900)
    login_as(page, "demo_supervisor")
    page.goto(f"/dispatch/events/{event_id}")
    page.fill(f"#f-supervise-comment-{event_id}", "限期处理")
    page.select_option(f"#f-supervise-level-{event_id}", "2")
    submit(page, "supervise")
    page.goto("/dispatch/supervised")
    assert page.locator(f"tr[data-event-id='{event_id}']").count() == 1
    check_accessibility(page)
    shot(page, request, "supervised")

    admin = make_page(1280, 900)
    login_as(admin, "demo_admin")
    for path, name in (("/admin/users", "admin-users"), ("/admin/categories", "admin-categories"),
                       ("/admin/departments", "admin-departments"), ("/admin/calendar", "admin-calendar"),
                       ("/admin/areas/import", "admin-import"), ("/admin/workflows", "admin-workflows"),
                       ("/notifications", "notifications")):
        admin.goto(path)
        check_accessibility(admin)
        shot(admin, request, name)


def test_english_desk(make_page, live_server, request):
    page = make_page(1280, 900)
    login_as(page, "demo_dispatcher")
    page.goto("/dispatch")
    with page.expect_navigation():
        page.click("header form button:has-text('English')")
    assert page.locator("h1").inner_text() == "Dispatch desk"
    assert page.locator("html").get_attribute("lang") == "en"
    check_accessibility(page)
    shot(page, request, "dispatch-desk-en")
    with page.expect_navigation():
        page.click("header form button:has-text('中文')")
    assert page.locator("h1").inner_text() == "调度台"
