"""The admin audit log (管理操作日志): one append-only, hash-chained row per administrative action."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.extensions import db
from gridgov.timeutil import utcnow


class AdminAudit(db.Model):
    """One chain for the whole table, ordered by `seq` (1, 2, 3 … with no gaps).

    The actor and the target are plain values, not foreign keys: the log must outlive the accounts,
    departments and days it names, and a row's hash covers them as they were when it was written.
    """

    __tablename__ = "admin_audit"
    __table_args__ = (
        Index("ix_admin_audit_action_seq", "action", "seq"),
        Index("ix_admin_audit_actor_seq", "actor_name", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
