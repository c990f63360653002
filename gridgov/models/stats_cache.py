"""The sealed-month statistics cache (see gridgov/services/stats/cache.py for what it holds and why)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.extensions import db
from gridgov.timeutil import utcnow


class StatsMonthCache(db.Model):
    """Counts of final events for one request signature and one local month, per cohort."""

    __tablename__ = "stats_month_cache"
    __table_args__ = (UniqueConstraint("signature", "month", name="uq_stats_month_cache_signature_month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signature: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))  # local month, 2026-10
    computed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
