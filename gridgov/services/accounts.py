"""Creating and changing users, with the checks a role and jurisdiction need; each change is audited
(gridgov.services.admin_audit) in the transaction that makes it. `actor` is who asked: a User, the CLI, or None."""
from __future__ import annotations

from gridgov.errors import AppError
from gridgov.extensions import db
from gridgov.models import ROLES, ApiToken, Area, Department, User
from gridgov.services import admin_audit
from gridgov.timeutil import utcnow

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


USER_FIELDS = ("role", "area_code", "department_code", "display_name", "active")


def _fields(user: User) -> dict:
    return {name: getattr(user, name) for name in USER_FIELDS}


def create_user(*, username: str, password: str, role: str, area_code: str,
                department_code: str | None = None, display_name: str = "", commit: bool = True,
                actor=None) -> User:
    validate_user_fields(username=username, password=password, role=role, area_code=area_code,
                         department_code=department_code)
    if db.session.scalar(db.select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"用户名已存在：{username}", f"Username already exists: {username}")
    # The name is cut to its column as update_user does (PostgreSQL refuses a longer one: a 500).
    user = User(username=username, role=role, area_code=area_code, department_code=department_code,
                display_name=(display_name or username)[:100], active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()  # the audit row names the new id
    admin_audit.record("user.create", actor=actor, target_type="user", target_id=user.id,
                       data={"username": username, **_fields(user)})
    if commit:
        db.session.commit()
    return user


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise AccountError("找不到该用户", "No such user", status=404, code="not_found")
    return user


def update_user(user_id: int, *, role: str, area_code: str, department_code: str | None, display_name: str,
                active: bool, acting: User | None = None) -> User:
    """Change a user's role, jurisdiction, department, name and whether they may log in."""
    user = _user(user_id)
    department_code = department_code or None
    validate_user_fields(username=user.username, password=None, role=role, area_code=area_code,
                         department_code=department_code)
    if acting is not None and acting.id == user.id and (not active or role != "admin"):
        raise AccountError("不能停用自己或取消自己的管理员角色", "You cannot deactivate yourself or drop your own admin role")
    before = _fields(user)
    user.role, user.area_code, user.department_code = role, area_code, department_code
    user.display_name = (display_name or user.username)[:100]
    user.active = bool(active)
    data = {"username": user.username, "changes": admin_audit.changes(before, _fields(user))}
    if not user.active:  # a deactivated account also loses its API tokens
        data["tokens_revoked"] = db.session.execute(
            db.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())).rowcount
    admin_audit.record(_update_action(before, user), actor=acting, target_type="user", target_id=user.id, data=data)
    db.session.commit()
    return user


def _update_action(before: dict, user: User) -> str:
    """One name per save, the weightiest change first; `changes` in the row lists them all."""
    if before["active"] and not user.active:
        return "user.deactivate"
    if not before["active"] and user.active:
        return "user.activate"
    if before["role"] != user.role:
        return "user.role_change"
    return "user.update"


def reset_password(user_id: int, password: str, *, actor=None) -> User:
    user = _user(user_id)
    if not password or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少 {MIN_PASSWORD_LENGTH} 位", f"Password needs at least {MIN_PASSWORD_LENGTH} characters")
    was_locked = bool(user.locked_until and user.locked_until > utcnow())
    user.set_password(password)
    user.failed_logins = 0
    user.locked_until = None
    admin_audit.record("user.password_reset", actor=actor, target_type="user", target_id=user.id,
                       data={"username": user.username, "unlocked": was_locked})
    db.session.commit()
    return user


def unlock_user(user_id: int, *, actor=None) -> User:
    """Lift a lock-out after repeated wrong passwords (and forget the count of wrong ones)."""
    user = _user(user_id)
    data = {"username": user.username, "locked_until": user.locked_until, "failed_logins": user.failed_logins or 0}
    user.failed_logins, user.locked_until = 0, None
    admin_audit.record("user.unlock", actor=actor, target_type="user", target_id=user.id, data=data)
    db.session.commit()
    return user


def revoke_tokens(user_id: int, *, token_id: int | None = None, actor=None) -> int:
    """Revoke one live API token of the user (a lost phone), or all of them; returns how many."""
    user = _user(user_id)
    query = db.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if token_id is not None:
        query = query.where(ApiToken.id == token_id)
    rows = list(db.session.scalars(query.order_by(ApiToken.id)))
    if not rows:
        raise AccountError("没有可撤销的有效令牌", "No live token to revoke", status=404, code="not_found")
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    admin_audit.record("token.revoke", actor=actor, target_type="user", target_id=user.id,
                       data={"username": user.username, "token_ids": [r.id for r in rows],
                             "labels": [r.label for r in rows]})
    db.session.commit()
    return len(rows)
