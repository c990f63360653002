"""The two-level event category tree, each leaf with a default department and a time limit."""
from __future__ import annotations

import enum

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.extensions import db


class TimeUnit(str, enum.Enum):
    natural_hours = "natural_hours"
    working_hours = "working_hours"
    working_days = "working_days"


class Category(db.Model):
    """Major classes have 2-digit codes (01 市容环境); subclasses 4 digits (0102 暴露垃圾)."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint("length(code) IN (2, 4)", name="code_length"),
        CheckConstraint(
            "time_unit IN ('natural_hours','working_hours','working_days')", name="time_unit"
        ),
    )

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("categories.code"), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    pinyin: Mapped[str] = mapped_column(String(40), default="")
    default_department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    time_limit: Mapped[float] = mapped_column(Float, default=3)
    time_unit: Mapped[str] = mapped_column(String(20), default="working_days")
    urgent_time_limit: Mapped[float | None] = mapped_column(Float)
    workflow: Mapped[str] = mapped_column(String(40), default="default")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def is_leaf(self) -> bool:
        return len(self.code) == 4
