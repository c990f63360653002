"""Creating and changing users, with the checks a role and jurisdiction need."""
from __future__ import annotations

from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.models import ROLES, Area, Department, User

MIN_PASSWORD_LENGTH = 8


class AccountError(AppError):
    status, code = 400, "invalid_account"


def validate_user_fields(*, username: str, password: str | None, role: str, area_code: str,
                         department_code: str | None) -> None:
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").isalnum():
        raise AccountError("用户名只能包含字母、数字、下划线和点", "Username may hold letters, digits, _ and . only")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少 {MIN_PASSWORD_LENGTH} 位", f"Password needs at least {MIN_PASSWORD_LENGTH} characters")
    if role not in ROLES:
        raise AccountError(f"未知角色：{role}", f"Unknown role: {role}")
    if db.session.get(Area, area_code) is None:
        raise AccountError(f"未知辖区编码：{area_code}", f"Unknown area code: {area_code}")
    if role == "handler" and not department_code:
        raise AccountError("处置人员必须属于一个部门", "A handler must belong to a department")
    if department_code and db.session.get(Department, department_code) is None:
        raise AccountError(f"未知部门编码：{department_code}", f"Unknown department code: {department_code}")


def create_user(*, username: str, password: str, role: str, area_code: str,
                department_code: str | None = None, display_name: str = "", commit: bool = True) -> User:
    validate_user_fields(username=username, password=password, role=role, area_code=area_code,
                         department_code=department_code)
    if db.session.scalar(db.select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"用户名已存在：{username}", f"Username already exists: {username}")
    user = User(username=username, role=role, area_code=area_code, department_code=department_code,
                display_name=display_name or username, active=True)
    user.set_password(password)
    db.session.add(user)
    if commit:
        db.session.commit()
    return user
