"""Extension objects, created unbound so nothing imports the app at import time."""
import weakref

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DeclaredLimiter(Limiter):
    """Flask-Limiter that spends nothing on requests to routes without a limit.

    Flask-Limiter checks every request in a before_request hook, for application-wide, default and
    blueprint limits; a route's own `@limiter.limit` is checked by that decorator when the route runs.
    gridgov declares only route limits (login, token), so the hook resolved an empty set of limits
    on every request — a seventh of the CPU of an API report. It now returns at once unless some
    app-wide limit exists (configured later, e.g. RATELIMIT_DEFAULT), which it then checks as before.
    """

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if in_middleware and not self.has_app_wide_limits():
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)

    def has_app_wide_limits(self) -> bool:
        manager = self.limit_manager
        return bool(manager._application_limits or manager._default_limits or manager._blueprint_limits
                    or self._meta_limits)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Rate limits (login, token) per client address; counters in Redis when configured, so every
# gunicorn worker shares them, else in process memory.
limiter = DeclaredLimiter(key_func=get_remote_address, default_limits=[])


_database_keys: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def database_key() -> str:
    """The current app's database URL as text (password hidden), rendered once per engine. Per-process
    caches (area version, geofence, county) are keyed by it, as one process may serve several apps on
    different databases (tests do); rendering the URL afresh cost four renders on every report."""
    engine = db.engine
    key = _database_keys.get(engine)
    if key is None:
        key = _database_keys[engine] = str(engine.url)
    return key
