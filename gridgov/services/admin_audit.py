"""The admin audit log (管理操作日志): record each admin action in its own transaction, list and verify the chain.

Every service that changes users, tokens, departments, categories, areas, the calendar or background
jobs on an admin's behalf calls `record(...)` before it commits, so the change and its audit row are
written together or not at all. Rows form one chain with the event log's hashing
(`workflows.audit.chain_hash`, starting at GENESIS); `verify_chain` walks it and names the first row
that does not hold, and compares the chain's end with the head kept in `settings`.

`data` says what changed, never a password, a password hash or a token: keys that name such things
are refused outright, so a careless caller fails in its tests instead of writing a secret forever.
"""
from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping

from flask import current_app

from gridgov.extensions import db
from gridgov.models import AdminAudit, Setting
from gridgov.timeutil import EARLIEST_DAY, LATEST_DAY, as_aware_utc, utcnow
from workflows.audit import GENESIS, canonical_json, chain_hash

HEAD_KEY = "admin_audit_head"
SECRET_KEYS = frozenset({"password", "password_hash", "new_password", "token", "token_hash", "secret", "api_key"})
PAGE_SIZE = 50


@dataclass(frozen=True)
class CliActor:
    """Whoever runs `flask …` on the server: no account, so the operating-system login names them."""

    username: str
    id: None = None
    role: str = "cli"


def cli_actor() -> CliActor:
    try:
        name = getpass.getuser()
    except Exception:  # no login name in some containers
        name = "unknown"
    return CliActor(f"cli:{name}"[:100])


def audit_record(row) -> dict:
    """The fields the hash covers: everything but the hashes (works for ORM rows and Core rows alike)."""
    return {
        "seq": row.seq,
        "at": as_aware_utc(row.at),  # stored naive UTC; the hash covers the instant
        "actor_id": row.actor_id,
        "actor_name": row.actor_name,
        "actor_role": row.actor_role,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id or "",
        "data": row.data or {},
    }


def _secret_keys(value, path: str = "") -> list[str]:
    found = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            if str(key).lower() in SECRET_KEYS:
                found.append(f"{path}{key}")
            found.extend(_secret_keys(item, f"{path}{key}."))
    elif isinstance(value, (list, tuple)):
        for item in value:
            found.extend(_secret_keys(item, path))
    return found


def _plain(data: Mapping | None) -> dict:
    """`data` as the JSON column will give it back, so the hash written is the hash verified."""
    data = dict(data or {})
    secrets_named = _secret_keys(data)
    if secrets_named:
        raise ValueError(f"the admin audit never stores secrets: {', '.join(secrets_named)}")

    def dates_as_text(value):
        if isinstance(value, datetime):
            return as_aware_utc(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Mapping):
            return {k: dates_as_text(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [dates_as_text(v) for v in value]
        return value

    return json.loads(canonical_json(dates_as_text(data)))


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict:
    """{field: [old, new]} for the fields whose value differs."""
    return {key: [before.get(key), after.get(key)] for key in after if before.get(key) != after.get(key)}


def _lock_head() -> tuple[int, str]:
    """The next seq and the previous hash, with the head row locked until this transaction ends
    (PostgreSQL re-reads a row it waited for, so a second admin's append follows the first)."""
    value = db.session.scalar(db.select(Setting.value).where(Setting.key == HEAD_KEY).with_for_update())
    if value is None:  # a database built without the migration: start the head from the table
        last = db.session.execute(db.select(AdminAudit.seq, AdminAudit.hash).order_by(AdminAudit.seq.desc())
                                  .limit(1)).first()
        seq, hash_ = (last.seq, last.hash) if last else (0, GENESIS)
        db.session.add(Setting(key=HEAD_KEY, value=f"{seq}:{hash_}"))
        db.session.flush()
        return seq + 1, hash_
    seq, _, hash_ = value.partition(":")
    return int(seq) + 1, hash_


def record(action: str, *, actor, target_type: str, target_id: Any = "", data: Mapping | None = None,
           at: datetime | None = None) -> AdminAudit:
    """Add the next audit row to the session; the caller's commit writes it with the change itself.

    `actor` is a User, a CliActor, or None for work the system does by itself."""
    seq, prev_hash = _lock_head()
    row = AdminAudit(
        seq=seq, at=(at or utcnow()).replace(microsecond=0),
        actor_id=getattr(actor, "id", None),
        actor_name=(getattr(actor, "username", None) or "system")[:100],
        actor_role=(getattr(actor, "role", None) or "system")[:20],
        action=action, target_type=target_type, target_id="" if target_id is None else str(target_id)[:64],
        data=_plain(data), prev_hash=prev_hash,
    )
    row.hash = chain_hash(prev_hash, audit_record(row))
    db.session.add(row)
    db.session.execute(db.update(Setting).where(Setting.key == HEAD_KEY)
                       .values(value=f"{seq}:{row.hash}", updated_at=utcnow()))
    return row


# --- verification ------------------------------------------------------------------------------------


@dataclass
class AdminChainBreak:
    seq: int
    reason: str


@dataclass
class AdminChainReport:
    checked: int
    broken: AdminChainBreak | None
    head_hash: str
    head_seq: int = 0

    @property
    def anchor(self) -> str:
        """`seq:hash` of the last row: kept off the machine, it lets a later verify prove the chain was not
        rewritten from the start (`verify_chain(anchor=...)`), which no hash inside the database can."""
        return f"{self.head_seq}:{self.head_hash}"


def parse_anchor(text: str) -> tuple[int, str]:
    seq, _, hash_ = (text or "").strip().partition(":")
    if not seq.isdigit() or len(hash_) != 64 or any(c not in "0123456789abcdef" for c in hash_):
        raise ValueError("an anchor looks like SEQ:HASH (64 hex digits), as `audit verify` prints it")
    return int(seq), hash_


def verify_chain(batch_size: int = 5000, anchor: tuple[int, str] | None = None) -> AdminChainReport:
    """Walk the chain in seq order (plain rows, never objects cached in the session), then check the
    head recorded in settings against the chain's last row, and the row an earlier anchor names."""
    columns = [getattr(AdminAudit, c) for c in ("seq", "at", "actor_id", "actor_name", "actor_role", "action",
                                                  "target_type", "target_id", "data", "prev_hash", "hash")]
    checked, expected_prev, expected_seq = 0, GENESIS, 1
    query = db.select(*columns).order_by(AdminAudit.seq).execution_options(yield_per=batch_size)
    for row in db.session.execute(query):
        checked += 1
        if anchor is not None and row.seq == anchor[0] and row.hash != anchor[1]:
            return AdminChainReport(checked, AdminChainBreak(
                row.seq, "the row's hash differs from the anchor kept earlier: the chain was rewritten"), "")
        if row.seq != expected_seq:
            return AdminChainReport(checked, AdminChainBreak(
                row.seq, f"sequence gap: expected seq {expected_seq} (rows removed)"), "")
        if row.prev_hash != expected_prev:
            return AdminChainReport(checked, AdminChainBreak(row.seq, "prev_hash does not match the previous row"), "")
        try:
            intact = chain_hash(row.prev_hash, audit_record(row)) == row.hash
        except (TypeError, ValueError):
            intact = False
        if not intact:
            return AdminChainReport(checked, AdminChainBreak(row.seq, "hash does not match the row's content"), "")
        expected_prev, expected_seq = row.hash, expected_seq + 1
    last_seq = expected_seq - 1
    head = db.session.scalar(db.select(Setting.value).where(Setting.key == HEAD_KEY))
    head_seq, _, head_hash = (head or "0:" + GENESIS).partition(":")
    if int(head_seq or 0) != last_seq or head_hash != expected_prev:
        return AdminChainReport(checked, AdminChainBreak(
            last_seq, f"the recorded head (seq {head_seq}) does not match the last row (seq {last_seq}): "
                      "rows were removed from or added to the end behind the app's back"), "")
    if anchor is not None and anchor[0] > last_seq:
        return AdminChainReport(checked, AdminChainBreak(
            last_seq, f"the anchored row (seq {anchor[0]}) is gone: the chain is shorter than it was"), "")
    return AdminChainReport(checked, None, expected_prev, last_seq)


# --- listing -----------------------------------------------------------------------------------------


@dataclass
class AuditFilters:
    actor: str = ""
    action: str = ""
    first: date | None = None
    last: date | None = None

    @classmethod
    def from_args(cls, args) -> "AuditFilters":
        def day(name):
            # Like a malformed date, a day outside EARLIEST_DAY…LATEST_DAY filters nothing: year 1 or 9999
            # overflowed datetime when it became a UTC bound (a 500).
            try:
                value = date.fromisoformat((args.get(name) or "").strip())
            except ValueError:
                return None
            return value if EARLIEST_DAY <= value <= LATEST_DAY else None

        return cls(actor=(args.get("actor") or "").strip()[:100], action=(args.get("action") or "").strip()[:40],
                   first=day("from"), last=day("to"))

    def clauses(self) -> list:
        from zoneinfo import ZoneInfo

        from gridgov.timeutil import to_naive_utc

        tz = ZoneInfo(current_app.config["GRIDGOV_TIMEZONE"])
        found = []
        if self.actor:
            found.append(AdminAudit.actor_name == self.actor)
        if self.action.endswith("."):  # "user." lists every user action
            found.append(AdminAudit.action.startswith(self.action, autoescape=True))
        elif self.action:
            found.append(AdminAudit.action == self.action)
        if self.first:
            found.append(AdminAudit.at >= to_naive_utc(datetime.combine(self.first, time(), tz)))
        if self.last:
            found.append(AdminAudit.at < to_naive_utc(datetime.combine(self.last + timedelta(days=1), time(), tz)))
        return found

    def args(self) -> dict:
        return {k: v for k, v in (("actor", self.actor), ("action", self.action),
                                  ("from", self.first.isoformat() if self.first else ""),
                                  ("to", self.last.isoformat() if self.last else "")) if v}


def page_of_rows(filters: AuditFilters, page: int, per_page: int = PAGE_SIZE) -> tuple[list[AdminAudit], int]:
    """Newest first: one page of rows and the number of matching rows."""
    clauses = filters.clauses()
    total = db.session.scalar(db.select(db.func.count()).select_from(AdminAudit).where(*clauses)) or 0
    rows = db.session.scalars(db.select(AdminAudit).where(*clauses).order_by(AdminAudit.seq.desc())
                              .limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
    return list(rows), total


def known_actions() -> list[str]:
    return list(db.session.scalars(db.select(AdminAudit.action).distinct().order_by(AdminAudit.action)))


def known_actors() -> list[str]:
    return list(db.session.scalars(db.select(AdminAudit.actor_name).distinct().order_by(AdminAudit.actor_name)))
