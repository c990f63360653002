"""People and the units they work for: departments and users with a role and a jurisdiction."""
from __future__ import annotations

import enum
import hashlib
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from gridgov.extensions import db
from gridgov.timeutil import utcnow


class Role(str, enum.Enum):
    grid_worker = "grid_worker"
    dispatcher = "dispatcher"
    handler = "handler"
    supervisor = "supervisor"
    admin = "admin"


ROLES = tuple(r.value for r in Role)


class Department(db.Model):
    __tablename__ = "departments"
    __table_args__ = (CheckConstraint("level IN ('county','township')", name="level"),)

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    level: Mapped[str] = mapped_column(String(10), default="county")
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('grid_worker','dispatcher','handler','supervisor','admin')", name="role"
        ),
        CheckConstraint("role <> 'handler' OR department_code IS NOT NULL", name="handler_department"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code"), index=True)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    area = relationship("Area", lazy="joined")
    department = relationship("Department", lazy="joined")

    def set_password(self, password: str) -> None:
        # werkzeug's default is scrypt, a memory-hard KDF; hashes carry their parameters.
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        """What the session and remember-me cookies hold: the id and a mark of the password hash, so a
        password change or reset ends every session signed in with the old password."""
        return f"{self.id}.{self.session_mark()}"

    def session_mark(self) -> str:
        return hashlib.sha256((self.password_hash or "").encode()).hexdigest()[:16]

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}@{self.area_code}>"
