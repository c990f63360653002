"""The consoles on real databases: the closed loop through the page forms, return and re-dispatch,
extension approval, supervision, batch dispatch, progress notes and the override rule."""
import io
import re

from gridgov.extensions import db
from gridgov.models import Event, EventLog, Extension, Supervision, Task
from tests.conftest import login
from tests.helpers.images import jpeg_bytes
from tests.integration.consoles.helpers import report_in, user


def as_user(client, name):
    client.post("/logout")
    assert login(client, name).status_code == 302
    return client


def act(client, event, action, data=None, photo=False):
    db.session.refresh(event)
    payload = {"version": str(event.version), **(data or {})}
    if photo:
        payload["photos"] = (io.BytesIO(jpeg_bytes()), "after.jpg")
    response = client.post(f"/events/{event.id}/act/{action}", data=payload,
                           content_type="multipart/form-data" if photo else None)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    db.session.refresh(event)
    return response


def flashes(client) -> list[str]:
    with client.session_transaction() as session:
        return [m for _c, m in session.get("_flashes", [])]


def new_event(description="路边有暴露垃圾"):
    worker = user("demo_worker")
    return report_in(worker.area_code, reporter=worker, description=description)


def test_the_closed_loop_through_the_consoles(client):
    event = new_event()
    as_user(client, "demo_dispatcher")
    desk = client.get("/dispatch").get_data(as_text=True)
    assert event.number in desk and 'data-queue="new"' in desk
    page = client.get(f"/dispatch/events/{event.id}").get_data(as_text=True)
    assert 'data-action="register"' in page and 'data-action="reject"' in page
    act(client, event, "register")
    page = client.get(f"/dispatch/events/{event.id}").get_data(as_text=True)
    assert 'data-suggested-department="330521-CG"' in page  # the category's default department comes first
    deadline = re.search(r'name="deadline" value="([^"]+)"', page).group(1)
    act(client, event, "dispatch", {"department": "330521-CG", "deadline": deadline})
    assert event.state == "dispatched" and event.department_code == "330521-CG"

    as_user(client, "demo_handler")
    # The message centre names the new task and links to the handler's own page for it.
    inbox = client.get("/notifications").get_data(as_text=True)
    assert f'href="/events/{event.id}"' in inbox
    assert client.get(f"/events/{event.id}").headers["Location"].endswith(f"/tasks/{event.id}")
    tasks = client.get("/tasks").get_data(as_text=True)
    assert event.number in tasks and "data-countdown" in tasks
    act(client, event, "accept")
    assert client.post(f"/tasks/{event.id}/note", data={"note": "已到现场，正在清运"}).status_code == 302
    act(client, event, "submit_result", {"comment": "已清运完毕"}, photo=True)
    assert event.state == "handled"
    assert any(p.kind == "result" for p in event.photos)

    as_user(client, "demo_worker")
    listing = client.get("/m/verify").get_data(as_text=True)
    assert event.number in listing
    page = client.get(f"/m/verify/{event.id}").get_data(as_text=True)
    assert 'data-action="verify_pass"' in page and 'data-action="verify_fail"' in page
    act(client, event, "verify_pass", {"comment": "现场已清理干净"}, photo=True)
    assert event.verified

    as_user(client, "demo_dispatcher")
    assert event.number in client.get("/dispatch?queue=to_close").get_data(as_text=True)
    act(client, event, "close")
    assert event.state == "closed"
    actions = [r.action for r in db.session.scalars(db.select(EventLog).where(EventLog.event_id == event.id)
                                                    .order_by(EventLog.seq))]
    assert actions == ["report", "register", "dispatch", "accept", "note", "submit_result", "verify_pass", "close"]
    task = db.session.scalar(db.select(Task).where(Task.event_id == event.id))
    assert "已到现场" in task.note


def test_return_and_redispatch_and_extension_approval(client):
    event = new_event()
    as_user(client, "demo_dispatcher")
    act(client, event, "register")
    act(client, event, "dispatch", {"department": "330521-CG"})
    as_user(client, "demo_handler")
    act(client, event, "return", {"reason": "不属于本部门职责"})
    assert event.state == "returned"
    as_user(client, "demo_dispatcher")
    assert event.number in client.get("/dispatch?queue=returned").get_data(as_text=True)
    # Leaving the suggestion without a reason comes back as a message, and nothing changes.
    act(client, event, "redispatch", {"department": "330521-SW"})
    assert event.state == "returned" and any("原因" in m for m in flashes(client))
    act(client, event, "redispatch", {"department": "330521-SW", "override_reason": "系管网问题"})
    assert event.state == "dispatched" and event.department_code == "330521-SW"
    log = db.session.scalar(db.select(EventLog).where(EventLog.event_id == event.id, EventLog.action == "redispatch"))
    assert log.data["override_reason"] == "系管网问题"

    other = new_event("井盖缺失")
    act(client, other, "register")
    act(client, other, "dispatch", {"department": "330521-CG"})
    as_user(client, "demo_handler")
    act(client, other, "accept")
    old_deadline = other.deadline
    page = client.get(f"/tasks/{other.id}").get_data(as_text=True)
    assert 'data-action="request_extension"' in page
    act(client, other, "request_extension", {"reason": "需要采购配件", "deadline": "2099-01-01T17:00"})
    assert other.extension_pending
    as_user(client, "demo_dispatcher")
    assert other.number in client.get("/dispatch?queue=extension").get_data(as_text=True)
    page = client.get(f"/dispatch/events/{other.id}").get_data(as_text=True)
    assert 'value="2099-01-01T17:00"' in page  # the requested deadline is prefilled
    act(client, other, "approve_extension", {"deadline": "2099-01-01T17:00"})
    assert not other.extension_pending and other.deadline > old_deadline
    assert db.session.scalar(db.select(Extension.status).where(Extension.event_id == other.id)) == "approved"


def test_supervision_and_supervised_list(client):
    event = new_event()
    as_user(client, "demo_dispatcher")
    act(client, event, "register")
    as_user(client, "demo_supervisor")
    page = client.get(f"/dispatch/events/{event.id}").get_data(as_text=True)
    assert 'data-action="supervise"' in page and 'data-action="escalate"' in page
    act(client, event, "supervise", {"comment": "请加快处理", "level": "2", "deadline": "2099-02-01T12:00"})
    supervision = db.session.scalar(db.select(Supervision).where(Supervision.event_id == event.id))
    assert supervision.level == 2 and supervision.note == "请加快处理" and supervision.deadline is not None
    listing = client.get("/dispatch/supervised").get_data(as_text=True)
    assert event.number in listing and "请加快处理" in listing


def test_batch_dispatch_registers_and_dispatches_each_selected_event(client):
    events = [new_event(f"垃圾 {i}") for i in range(3)]
    as_user(client, "demo_dispatcher")
    response = client.post("/dispatch/batch", data={"event_id": [str(e.id) for e in events]})
    assert response.status_code == 302
    for e in events:
        db.session.refresh(e)
        assert e.state == "dispatched" and e.department_code == "330521-CG"
    assert any("已派遣 3 件" in m for m in flashes(client))


def test_stale_form_shows_a_message_instead_of_acting(client):
    event = new_event()
    as_user(client, "demo_dispatcher")
    stale = event.version
    act(client, event, "register")
    response = client.post(f"/events/{event.id}/act/reject", data={"version": str(stale), "reason": "重复"})
    assert response.status_code == 302
    db.session.refresh(event)
    assert event.state == "registered" and flashes(client)


def test_progress_note_needs_the_department_holding_the_task(client):
    event = new_event()
    as_user(client, "demo_dispatcher")
    act(client, event, "register")
    act(client, event, "dispatch", {"department": "330521-SW", "override_reason": "水务"})
    as_user(client, "demo_handler")  # CG, not SW: the event is not even visible
    assert client.post(f"/tasks/{event.id}/note", data={"note": "x"}).status_code == 404
    assert db.session.scalar(db.select(Event.state).where(Event.id == event.id)) == "dispatched"


def test_escalation_hands_the_event_to_the_county_desk(client):
    event = new_event()
    as_user(client, "demo_dispatcher")
    act(client, event, "register")
    as_user(client, "demo_supervisor")
    act(client, event, "escalate", {"reason": "跨乡镇问题"})
    assert event.state == "escalated"
    # The township dispatcher still sees it but may no longer act; the county desk lists it to dispatch.
    as_user(client, "demo_dispatcher")
    page = client.get(f"/dispatch/events/{event.id}").get_data(as_text=True)
    assert 'data-action="dispatch"' not in page
    from tests.integration.consoles.helpers import ensure_user

    ensure_user("county_dispatcher", "dispatcher", "330521")
    as_user(client, "county_dispatcher")
    assert event.number in client.get("/dispatch?queue=to_dispatch").get_data(as_text=True)
    assert 'data-action="dispatch"' in client.get(f"/dispatch/events/{event.id}").get_data(as_text=True)


def test_desk_filters_and_counts(client):
    urgent = new_event("紧急的垃圾")
    db.session.execute(db.update(Event).where(Event.id == urgent.id).values(urgency=3))
    db.session.commit()
    plain = new_event("普通的垃圾")
    as_user(client, "demo_dispatcher")
    body = client.get("/dispatch?queue=new&urgency=3").get_data(as_text=True)
    assert urgent.number in body and plain.number not in body
    assert 'data-queue="new"' in body and 'data-count="1"' in body
    body = client.get("/dispatch?queue=new&category=09").get_data(as_text=True)
    assert urgent.number not in body and plain.number not in body
    body = client.get("/dispatch?queue=new&sort=urgency").get_data(as_text=True)
    assert body.index(urgent.number) < body.index(plain.number)
    body = client.get("/dispatch?queue=new&sort=newest").get_data(as_text=True)
    assert body.index(plain.number) < body.index(urgent.number)
    geo = client.get("/dispatch/grids.geojson").get_json()
    coloured = {f["properties"]["code"]: f["properties"]["status"] for f in geo["features"]}
    assert coloured[urgent.grid_code] == "none"  # open but not yet dispatched
    assert all(code.startswith(user("demo_dispatcher").area_code) for code in coloured)
