"""Per-user notification preferences: which channels to use and when to keep quiet."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.extensions import db
from gridgov.timeutil import utcnow

CHANNELS = ("inapp", "email", "sms")
DEFAULT_CHANNELS = ("inapp",)


class NotificationPreference(db.Model):
    """A user without a row gets DEFAULT_CHANNELS and no quiet hours.

    Quiet hours are local wall-clock times ("22:00"–"07:00" wraps midnight); during them only the
    in-app channel delivers at once, e-mail and SMS wait until the quiet hours end.
    """

    __tablename__ = "notification_prefs"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    channels: Mapped[list] = mapped_column(JSON, default=lambda: list(DEFAULT_CHANNELS))
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
