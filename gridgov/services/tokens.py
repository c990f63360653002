"""Bearer tokens for mobile clients: issued for a password, stored only as a hash, revocable."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from gridgov.extensions import db
from gridgov.models import ApiToken, User
from gridgov.timeutil import utcnow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, ttl_hours: float, label: str = "") -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_digest(token), label=label[:100],
                   expires_at=utcnow() + timedelta(hours=ttl_hours))
    db.session.add(row)
    db.session.commit()
    return token, row


def user_for_token(token: str) -> User | None:
    """The active owner of a live token, in one query (it runs on every API request)."""
    return db.session.scalar(
        db.select(User).join(ApiToken, ApiToken.user_id == User.id).where(
            ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None), ApiToken.expires_at > utcnow(),
            User.active.is_(True))
    )


def revoke_token(token: str) -> bool:
    row = db.session.scalar(db.select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    db.session.commit()
    return True
