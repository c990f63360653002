"""The soak run's two steps inside the app (run as `python -m bench.soak_app …` with the stack's
environment, so they see exactly the production configuration): `setup` creates the county's staff
and their bearer tokens, `check` reads the database after the run and says what, if anything, was lost
or half-written.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- setup
def setup(args) -> dict:
    import shapely
    from werkzeug.security import generate_password_hash

    from gridgov import create_app
    from gridgov.extensions import db
    from gridgov.models import Area, Category, Department, User
    from gridgov.models.prefs import NotificationPreference
    from gridgov.services.accounts import validate_user_fields
    from gridgov.services.tokens import issue_token

    app = create_app()
    rng = random.Random(args.seed)
    with app.app_context():
        county = db.session.scalar(db.select(Area.code).where(Area.level == "county"))
        townships = list(db.session.scalars(db.select(Area.code).where(Area.level == "township").order_by(Area.code)))
        grids = db.session.execute(db.select(Area.code, Area.parent_code, Area.geometry)
                                   .where(Area.level == "grid").order_by(Area.code)).all()
        categories = [(c.code, c.default_department_code) for c in db.session.scalars(
            db.select(Category).where(Category.active.is_(True)).order_by(Category.code))
            if c.is_leaf and c.default_department_code]
        county_departments = set(db.session.scalars(db.select(Department.code).where(Department.level == "county")))
        # The handlers work for the departments the reported categories go to by default.
        departments = sorted({dept for _, dept in categories if dept in county_departments})

        # One scrypt hash for everyone: 375 separate hashes would cost a minute of CPU and prove nothing.
        password_hash = generate_password_hash(args.password)
        phone = iter(range(13800000000, 13900000000))
        people: list[tuple[User, dict]] = []

        def person(username, role, area, department=None) -> User:
            validate_user_fields(username=username, password=args.password, role=role, area_code=area,
                                 department_code=department)
            user = User(username=username, role=role, area_code=area, department_code=department,
                        display_name=username, active=True, phone=str(next(phone)), password_hash=password_hash)
            db.session.add(user)
            return user

        picked = rng.sample(grids, min(args.workers, len(grids)))
        while len(picked) < args.workers:
            picked.append(rng.choice(grids))
        for i, grid in enumerate(picked):
            shape = shapely.from_wkb(grid.geometry)
            people.append((person(f"soak_gw_{i:03d}", "grid_worker", grid.code),
                           {"grid": grid.code, "village": grid.parent_code, "points": points_in(shape, 12, rng)}))
        for i in range(args.dispatchers):
            township = townships[i % len(townships)]
            people.append((person(f"soak_dp_{i:02d}", "dispatcher", township), {"township": township}))
        for i in range(args.handlers):
            department = departments[i % len(departments)]
            people.append((person(f"soak_hd_{i:02d}", "handler", county, department), {"department": department}))
        for i in range(args.supervisors):
            people.append((person(f"soak_sv_{i}", "supervisor", county), {}))
        db.session.flush()
        for user, _ in people:  # SMS as well as in-app, so external delivery is part of what is checked
            db.session.add(NotificationPreference(user_id=user.id, channels=["inapp", "sms"]))
        db.session.commit()

        plan: dict = {"county": county, "townships": townships, "categories": categories,
                      "departments": departments, "password": args.password,
                      "grid_workers": [], "dispatchers": [], "handlers": [], "supervisors": []}
        bucket = {"grid_worker": "grid_workers", "dispatcher": "dispatchers", "handler": "handlers",
                  "supervisor": "supervisors"}
        for user, extra in people:
            entry = {"username": user.username, "id": user.id, **extra}
            if user.role != "supervisor":  # supervisors ask POST /api/v1/auth/token for theirs, in the run
                entry["token"], _ = issue_token(user, 48, "soak")
            plan[bucket[user.role]].append(entry)
        db.session.remove()
        db.engine.dispose()
    return plan


def points_in(shape, count: int, rng: random.Random) -> list[tuple[float, float]]:
    import shapely

    min_x, min_y, max_x, max_y = shape.bounds
    found = []
    for _ in range(count * 200):
        x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
        if shape.contains(shapely.Point(x, y)):
            found.append((round(x, 7), round(y, 7)))
            if len(found) == count:
                break
    if not found:
        point = shape.representative_point()
        found.append((point.x, point.y))
    return found


# ---------------------------------------------------------------- checks
class Checks:
    def __init__(self):
        self.items: list[dict] = []

    def add(self, name: str, ok: bool, detail: str, **data) -> None:
        self.items.append({"name": name, "ok": bool(ok), "detail": detail, **data})


def check(args) -> dict:
    from sqlalchemy import text

    from gridgov import create_app
    from gridgov.extensions import db
    from gridgov.models import Event, OutboxMessage
    from gridgov.notify import recipients
    from gridgov.notify.channels import configured_channels
    from gridgov.notify.deliver import notification_key, preferences
    from gridgov.jobs.handlers import message_key
    from gridgov.media.intake import EXT_BY_MIME
    from gridgov.media.storage import public_path, thumb_path

    run = json.loads(Path(args.run).read_text())
    acked: dict[str, dict] = run["acked"]           # uuid -> {"id", "photos", "attempts", "replayed"}
    failed: dict[str, str] = run["failed"]          # uuid -> why the phone gave up
    sms_received: dict[str, int] = run["sms_received"]  # notification dedupe key -> times the gateway saw it
    hard_rq_kills = int(run.get("hard_rq_kills", 0))
    app = create_app()
    checks = Checks()
    sql = lambda q, **p: db.session.execute(text(q), p)  # noqa: E731

    with app.app_context():
        # 1. Every acknowledged report is in the database exactly once, as the event the phone was told.
        found: dict[str, list[int]] = {}
        for uuid, event_id in sql("SELECT client_uuid, id FROM events WHERE client_uuid LIKE 'soak-%'"):
            found.setdefault(uuid, []).append(event_id)
        missing = [u for u in acked if u not in found]
        doubled = [u for u, ids in found.items() if len(ids) > 1]
        wrong = [u for u, info in acked.items() if u in found and found[u] != [info["id"]]]
        checks.add("acknowledged reports stored exactly once (by client UUID)",
                   not missing and not doubled and not wrong,
                   f"{len(acked)} acknowledged, {len(missing)} missing, {len(doubled)} stored twice, "
                   f"{len(wrong)} under another id", samples=(missing + doubled + wrong)[:5])
        retried = [u for u, info in acked.items() if info.get("attempts", 1) > 1 or info.get("replayed")]
        bad_retried = [u for u in retried if found.get(u) != [acked[u]["id"]]]
        checks.add("each retried or replayed UUID made exactly one event", not bad_retried,
                   f"{len(retried)} UUIDs sent more than once "
                   f"({sum(1 for u in retried if acked[u].get('attempts', 1) > 1)} retried after an error, "
                   f"{sum(1 for u in retried if acked[u].get('replayed'))} replayed after a 2xx), "
                   f"{len(bad_retried)} with not exactly one event", samples=bad_retried[:5])
        stray = [u for u in found if u not in acked]
        checks.add("no event for a report the phone was told failed", not stray,
                   f"{len(failed)} reports given up by the phones, {len(stray)} stored without a 2xx",
                   samples=stray[:5])

        # 2. Nothing half-written.
        no_first = sql("""SELECT count(*) FROM events e WHERE NOT EXISTS
                          (SELECT 1 FROM event_log l WHERE l.event_id = e.id AND l.seq = 1 AND l.action = 'report'
                           AND l.from_state IS NULL)""").scalar()
        head = sql("""SELECT count(*) FROM events e JOIN
                      (SELECT event_id, max(seq) AS top, count(*) AS n FROM event_log GROUP BY event_id) l
                      ON l.event_id = e.id WHERE l.top <> l.n OR (e.log_seq > 0 AND e.log_seq <> l.top)""").scalar()
        state = sql("""SELECT count(*) FROM events e JOIN LATERAL
                       (SELECT to_state FROM event_log l WHERE l.event_id = e.id AND l.to_state IS NOT NULL
                        ORDER BY seq DESC LIMIT 1) last ON true WHERE last.to_state <> e.state""").scalar()
        no_task = sql("""SELECT count(*) FROM events e WHERE e.state IN ('dispatched', 'in_progress')
                         AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.event_id = e.id
                                         AND t.status IN ('dispatched', 'in_progress'))""").scalar()
        checks.add("no half-written events (first log row, log head, state = last logged state, open task)",
                   no_first == 0 and head == 0 and state == 0 and no_task == 0,
                   f"{no_first} without their report log row, {head} with a gap or a stale head, "
                   f"{state} whose state is not their last logged one, {no_task} running without an open task")

        root = Path(app.config["UPLOAD_DIR"])
        photo_rows = sql("SELECT sha256, mime FROM photos").all()
        lost_files = [sha for sha, mime in photo_rows if not public_path(root, sha, EXT_BY_MIME[mime]).is_file()
                      or not thumb_path(root, sha).is_file()]
        counts = dict(sql("""SELECT e.client_uuid, count(p.id) FROM events e LEFT JOIN photos p
                             ON p.event_id = e.id AND p.kind = 'report' WHERE e.client_uuid LIKE 'soak-%'
                             GROUP BY e.client_uuid""").all())
        short = [u for u, info in acked.items() if u in counts and counts[u] != info["photos"]]
        checks.add("every photo row has its file and thumbnail; every report has the photos it was sent with",
                   not lost_files and not short,
                   f"{len(photo_rows)} photo rows, {len(lost_files)} without their files, "
                   f"{len(short)} reports with another number of photos", samples=(lost_files + short)[:5])

        # 3. The outbox: every row sent, and every notify row's notifications exist.
        unsent = sql("SELECT count(*) FROM outbox WHERE sent_at IS NULL").scalar()
        total_outbox = sql("SELECT count(*) FROM outbox").scalar()
        by_kind = dict(sql("SELECT kind, count(*) FROM outbox GROUP BY kind").all())
        retried_rows = sql("SELECT count(*) FROM outbox WHERE attempts > 1").scalar()
        checks.add("every outbox row sent", unsent == 0,
                   f"{total_outbox} rows {by_kind}, {unsent} unsent, {retried_rows} needed more than one relay")
        if "done_at" in {c["name"] for c in db.inspect(db.engine).get_columns("outbox")}:
            undone = sql("SELECT id FROM outbox WHERE done_at IS NULL ORDER BY id").scalars().all()
            again = sql("SELECT count(*) FROM outbox WHERE last_error LIKE 'enqueued again%'").scalar()
            checks.add("every outbox row's job ran to the end (done_at)", not undone,
                       f"{len(undone)} not done, {again} enqueued again after their rq job was lost",
                       samples=undone[:10])

        bases = Counter()
        for (key,) in sql("SELECT dedupe_key FROM notifications"):
            bases[key.rsplit("|u", 1)[0]] += 1
        channels = configured_channels(app.config)
        not_done, checked = [], 0
        for message in db.session.scalars(db.select(OutboxMessage).where(OutboxMessage.kind == "notify")
                                          .order_by(OutboxMessage.id)):
            checked += 1
            key = message_key(message)
            if bases.get(key):
                continue
            # No notification carries this row's key: fine only if nobody was to hear of it.
            payload = message.payload
            event = db.session.get(Event, payload["event_id"]) if payload.get("event_id") else None
            users = recipients.users_by_id(payload.get("user_ids") or [])
            if event is not None and payload.get("audience"):
                users += recipients.users_for_event(event, payload["audience"])
            prefs = preferences([u.id for u in users])
            expected = [notification_key(key, u.id, name) for u in users
                        for name in (prefs[u.id].channels if u.id in prefs else ["inapp"])
                        if name in channels and channels[name].reaches(u)]
            if expected:
                not_done.append(message.id)
        checks.add("every notify outbox row produced its notifications (its job ran)", not not_done,
                   f"{checked} notify rows, {len(not_done)} whose recipients got nothing", samples=not_done[:10])

        # 4. Notifications: one per dedupe key, external ones delivered, the gateway saw each once.
        total, distinct = sql("SELECT count(*), count(DISTINCT dedupe_key) FROM notifications").one()
        by_channel = dict(sql("SELECT channel, count(*) FROM notifications GROUP BY channel").all())
        checks.add("no duplicate notification per dedupe key", total == distinct,
                   f"{total} notifications {by_channel}, {total - distinct} duplicates")
        sms = dict(sql("SELECT dedupe_key, delivered_at IS NOT NULL FROM notifications WHERE channel = 'sms'").all())
        undelivered = [k for k, delivered in sms.items() if not delivered]
        never_sent = [k for k, delivered in sms.items() if delivered and not sms_received.get(k)]
        phantom = [k for k in sms_received if k not in sms]
        resent = {k: n for k, n in sms_received.items() if n > 1}
        checks.add("every SMS notification delivered, and recorded as delivered only when the gateway got it",
                   not undelivered and not never_sent and not phantom,
                   f"{len(sms)} SMS notifications, {len(undelivered)} undelivered, {len(never_sent)} marked "
                   f"delivered but never received, {len(phantom)} received without a row",
                   samples=(undelivered + never_sent + phantom)[:5])
        checks.add("each SMS reached the gateway exactly once (a resend is tolerated only for a job killed "
                   "between sending and recording: at most one per rq worker kill or PostgreSQL restart)",
                   len(resent) <= hard_rq_kills,
                   f"{len(resent)} sent more than once ({sum(resent.values()) - len(resent)} extra sends), "
                   f"{hard_rq_kills} rq worker kills and PostgreSQL restarts", samples=list(resent)[:5])

        events_total = sql("SELECT count(*) FROM events").scalar()
        soak_events = len(found)
        states = dict(sql("SELECT state, count(*) FROM events WHERE client_uuid LIKE 'soak-%' GROUP BY state").all())
        log_rows = sql("SELECT count(*) FROM event_log").scalar()
        db.session.remove()
        db.engine.dispose()
    return {"checks": checks.items, "figures": {"events": events_total, "soak_events": soak_events,
                                                "soak_states": states, "log_rows": log_rows}}


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="step", required=True)
    s = sub.add_parser("setup")
    s.add_argument("out")
    s.add_argument("--workers", type=int, default=300)
    s.add_argument("--dispatchers", type=int, default=20)
    s.add_argument("--handlers", type=int, default=50)
    s.add_argument("--supervisors", type=int, default=5)
    s.add_argument("--password", default="soak-pass-123")
    s.add_argument("--seed", type=int, default=7)
    c = sub.add_parser("check")
    c.add_argument("run", help="JSON written by the load generator: acked, failed, sms_received, hard_rq_kills")
    c.add_argument("out")
    args = parser.parse_args()
    result = setup(args) if args.step == "setup" else check(args)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
