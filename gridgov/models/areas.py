"""Administrative areas (county → township → village → grid) with portable polygons."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, LargeBinary, String, DateTime
from sqlalchemy.orm import Mapped, mapped_column

from gridgov.extensions import db
from gridgov.timeutil import utcnow


class AreaLevel(str, enum.Enum):
    county = "county"
    township = "township"
    village = "village"
    grid = "grid"


CODE_LENGTH = {"county": 6, "township": 9, "village": 12, "grid": 15}


class Area(db.Model):
    """One polygon of the hierarchy. The geometry is WKB (WGS-84 lon/lat) so SQLite and
    PostgreSQL store it alike; the bounding box columns let SQL prefilter without PostGIS."""

    __tablename__ = "areas"
    __table_args__ = (
        CheckConstraint("level IN ('county','township','village','grid')", name="level"),
        CheckConstraint(
            "(level = 'county' AND length(code) = 6) OR (level = 'township' AND length(code) = 9)"
            " OR (level = 'village' AND length(code) = 12) OR (level = 'grid' AND length(code) = 15)",
            name="code_length",
        ),
        Index("ix_areas_level_parent", "level", "parent_code"),
    )

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    level: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("areas.code"), index=True)
    geometry: Mapped[bytes | None] = mapped_column(LargeBinary)
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<Area {self.level} {self.code} {self.name}>"


class GridDepartment(db.Model):
    """Departments responsible for a grid, used to suggest where to dispatch."""

    __tablename__ = "grid_departments"

    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), primary_key=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), primary_key=True)
