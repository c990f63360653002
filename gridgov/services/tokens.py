"""Bearer tokens for mobile clients: issued for a password, stored only as a hash, revocable.

Every API request authenticates, so the answer of the lookup (token → active user) is kept per
process for API_TOKEN_CACHE_SECONDS (default 5). What that costs in revocation, and what bounds it:
- revoking a token, changing or deactivating a user through the app clears this process's cache at
  once (mapper and bulk-statement hooks below), so the process that did it refuses the token on its
  very next request;
- other processes keep their answer at most API_TOKEN_CACHE_SECONDS longer; an expiry time passing is
  noticed at once everywhere (the cached answer carries the token's expires_at);
- a report written with a cached answer re-checks, inside its own INSERT statement, that the token
  is still live and the user active (gridgov/services/report_statement.py), so a revoked token or
  a deactivated account never files a report, whichever process it reaches.
The token is a 256-bit random string, so a plain SHA-256 (not a slow password KDF) is the right
hash: one indexed lookup, and nothing to brute-force.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
import weakref
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, make_transient_to_detached

from gridgov.extensions import db
from gridgov.models import ApiToken, User
from gridgov.timeutil import utcnow

DEFAULT_CACHE_SECONDS = 5.0
MAX_CACHED = 10_000  # a bound, not an expected size: one entry per phone in use

# engine → token digest → (monotonic time the answer was read, token expires_at, detached User)
_cache: "weakref.WeakKeyDictionary[object, dict[str, tuple[float, datetime, User]]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, ttl_hours: float, label: str = "") -> tuple[str, ApiToken]:
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=digest(token), label=label[:100],
                   expires_at=utcnow() + timedelta(hours=ttl_hours))
    db.session.add(row)
    db.session.commit()
    return token, row


_LOOKUP = (db.select(User, ApiToken.expires_at).join(ApiToken, ApiToken.user_id == User.id)
           .where(ApiToken.token_hash == db.bindparam("digest"), ApiToken.revoked_at.is_(None),
                  ApiToken.expires_at > db.bindparam("now"), User.active.is_(True)))


def user_for_token(token: str) -> User | None:
    """The active owner of a live token: from this process's recent answer, else one indexed query."""
    key = digest(token)
    engine = db.engine
    now = utcnow()
    ttl = current_app.config.get("API_TOKEN_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
    entries = _cache.get(engine)
    hit = entries.get(key) if entries is not None else None
    if hit is not None and time.monotonic() - hit[0] < ttl and hit[1] > now:
        # A persistent copy in this request's session, without a query (the cached one is shared).
        return db.session.merge(hit[2], load=False)
    read_at = time.monotonic()
    row = db.session.execute(_LOOKUP, {"digest": key, "now": now}).first()
    if row is None:
        _forget(engine, key)
        return None
    user, expires_at = row
    if ttl > 0:
        _remember(engine, key, read_at, expires_at, user)
    return user


def _remember(engine, key: str, read_at: float, expires_at: datetime, user: User) -> None:
    template = User(**{attr.key: getattr(user, attr.key) for attr in User.__mapper__.column_attrs})
    make_transient_to_detached(template)  # looks loaded to merge(load=False); relationships load lazily
    with _lock:
        entries = _cache.setdefault(engine, {})
        if len(entries) >= MAX_CACHED:
            entries.clear()
        entries[key] = (read_at, expires_at, template)


def _forget(engine, key: str) -> None:
    with _lock:
        entries = _cache.get(engine)
        if entries is not None:
            entries.pop(key, None)


def forget_all() -> None:
    """Drop every cached answer in this process (a user or a token changed)."""
    with _lock:
        _cache.clear()


def revoke_token(token: str) -> bool:
    key = digest(token)
    row = db.session.scalar(db.select(ApiToken).where(ApiToken.token_hash == key))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    db.session.commit()
    forget_all()
    return True


# Any change to a user or a token through this process clears its cache: per row for the ORM's own
# UPDATE/DELETE, and for bulk statements (e.g. deactivating a user revokes all its tokens at once).
for _model in (User, ApiToken):
    event.listen(_model, "after_update", lambda *_: forget_all())
    event.listen(_model, "after_delete", lambda *_: forget_all())


@event.listens_for(Session, "do_orm_execute")
def _bulk_change(state) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None \
            and state.bind_mapper.class_ in (User, ApiToken):
        forget_all()
