"""One settings object built from environment variables; the app factory takes it as a mapping."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, asdict
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-insecure-change-me"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _ints(value: str | None, default: list[int]) -> list[int]:
    if not value:
        return list(default)
    return [int(part) for part in value.split(",") if part.strip()]


@dataclass
class Settings:
    """Flask config keys are the upper-case field names."""

    ENV: str = "development"
    SECRET_KEY: str = DEFAULT_SECRET_KEY
    SQLALCHEMY_DATABASE_URI: str = ""
    REDIS_URL: str | None = None
    GRIDGOV_TIMEZONE: str = "Asia/Shanghai"
    INSTANCE_DIR: str = str(PROJECT_ROOT / "instance")
    UPLOAD_DIR: str = ""
    MAX_PHOTO_BYTES: int = 10 * 1024 * 1024
    MAX_PHOTO_PIXELS: int = 40_000_000
    MAX_PHOTOS_PER_REPORT: int = 9
    MAX_CONTENT_LENGTH: int = 100 * 1024 * 1024
    DEADLINE_WARNING_SHARE: float = 0.8
    GEOFENCE_TOLERANCE_M: float = 50.0
    DUPLICATE_RADIUS_M: float = 50.0
    DUPLICATE_WINDOW_HOURS: float = 24.0
    ESCALATE_AFTER_OVERDUE_HOURS: float = 24.0
    API_TOKEN_TTL_HOURS: float = 24.0 * 30
    # Background jobs (gridgov/jobs): the rq queue, retries, and the deadline sweep's reminders.
    RQ_QUEUE: str = "gridgov"
    JOB_TIMEOUT_SECONDS: int = 300
    JOB_RETRY_MAX: int = 3
    JOB_RETRY_INTERVALS: list = field(default_factory=lambda: [10, 60, 300])
    OUTBOX_MAX_INLINE_ATTEMPTS: int = 5
    VERIFY_REMINDER_HOURS: float = 24.0
    # Notification channels: SMTP for e-mail, an HTTP JSON endpoint for the SMS gateway.
    SMTP_HOST: str = ""
    SMTP_PORT: int = 25
    SMTP_USER: str = ""
    SMTP_PASSWORD: str = ""
    SMTP_STARTTLS: bool = False
    MAIL_FROM: str = "gridgov@localhost"
    SMS_GATEWAY_URL: str = ""
    SMS_GATEWAY_TOKEN: str = ""
    NOTIFY_TIMEOUT_SECONDS: float = 10.0
    MAP_TILE_URL: str = ""
    # Open311 GeoReport v2: keys that may POST requests (GRIDGOV_OPEN311_API_KEYS, comma-separated).
    OPEN311_API_KEYS: list = field(default_factory=list)
    OPEN311_CONTACT: str = ""
    WTF_CSRF_ENABLED: bool = True
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    SESSION_COOKIE_SECURE: bool = False
    REMEMBER_COOKIE_HTTPONLY: bool = True
    REMEMBER_COOKIE_SAMESITE: str = "Lax"
    REMEMBER_COOKIE_SECURE: bool = False
    BABEL_DEFAULT_LOCALE: str = "zh_CN"
    BABEL_DEFAULT_TIMEZONE: str = "Asia/Shanghai"
    SQLALCHEMY_ENGINE_OPTIONS: dict = field(default_factory=dict)
    TESTING: bool = False
    # Major category classes never listed back through Open311 (矛盾纠纷, 治安隐患, 信访).
    OPEN311_PRIVATE_CLASSES: tuple = ("06", "07", "10")
    # Login and token requests per client address (Flask-Limiter syntax).
    LOGIN_RATE_LIMIT: str = "20 per minute"
    # Relay outbox rows right after each commit (default); off leaves them to the periodic relay.
    OUTBOX_RELAY_AFTER_COMMIT: bool = True
    # A phone's plain JSON report answered in front of Flask's dispatch (gridgov/api/report_fastpath.py);
    # GRIDGOV_API_FASTPATH=0 sends every request through Flask, should one ever need to rule it out.
    API_FASTPATH: bool = True
    # Reports that meet in a process while the database is busy are committed together
    # (gridgov/services/group_commit.py); GRIDGOV_REPORT_GROUP_COMMIT=0 commits each alone.
    REPORT_GROUP_COMMIT: bool = True

    def as_config(self) -> dict:
        return {k: v for k, v in asdict(self).items()}


def _default_sqlite_url(instance_dir: str) -> str:
    return f"sqlite:///{Path(instance_dir) / 'gridgov.sqlite3'}"


def load_settings(environ: os._Environ | dict | None = None) -> Settings:
    env = os.environ if environ is None else environ
    instance_dir = env.get("GRIDGOV_INSTANCE_DIR", str(PROJECT_ROOT / "instance"))
    database_url = normalize_database_url(env.get("DATABASE_URL") or _default_sqlite_url(instance_dir))
    production = env.get("GRIDGOV_ENV", env.get("FLASK_ENV", "development")) == "production"
    settings = Settings(
        ENV="production" if production else "development",
        SECRET_KEY=env.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=env.get("REDIS_URL") or None,
        GRIDGOV_TIMEZONE=env.get("GRIDGOV_TIMEZONE", "Asia/Shanghai"),
        INSTANCE_DIR=instance_dir,
        UPLOAD_DIR=env.get("GRIDGOV_UPLOAD_DIR", str(Path(instance_dir) / "uploads")),
        SESSION_COOKIE_SECURE=_bool(env.get("GRIDGOV_SECURE_COOKIES"), production),
        MAP_TILE_URL=env.get("GRIDGOV_MAP_TILE_URL", ""),
        OPEN311_API_KEYS=[k.strip() for k in env.get("GRIDGOV_OPEN311_API_KEYS", "").split(",") if k.strip()],
        OPEN311_CONTACT=env.get("GRIDGOV_OPEN311_CONTACT", ""),
        RQ_QUEUE=env.get("GRIDGOV_RQ_QUEUE", "gridgov"),
        JOB_RETRY_INTERVALS=_ints(env.get("GRIDGOV_JOB_RETRY_INTERVALS"), [10, 60, 300]),
        SMTP_HOST=env.get("SMTP_HOST", ""),
        SMTP_PORT=int(env.get("SMTP_PORT", "25")),
        SMTP_USER=env.get("SMTP_USER", ""),
        SMTP_PASSWORD=env.get("SMTP_PASSWORD", ""),
        SMTP_STARTTLS=_bool(env.get("SMTP_STARTTLS")),
        MAIL_FROM=env.get("MAIL_FROM", "gridgov@localhost"),
        SMS_GATEWAY_URL=env.get("SMS_GATEWAY_URL", ""),
        SMS_GATEWAY_TOKEN=env.get("SMS_GATEWAY_TOKEN", ""),
        API_FASTPATH=_bool(env.get("GRIDGOV_API_FASTPATH"), True),
        REPORT_GROUP_COMMIT=_bool(env.get("GRIDGOV_REPORT_GROUP_COMMIT"), True),
    )
    settings.REMEMBER_COOKIE_SECURE = settings.SESSION_COOKIE_SECURE
    settings.BABEL_DEFAULT_TIMEZONE = settings.GRIDGOV_TIMEZONE
    settings.SQLALCHEMY_ENGINE_OPTIONS = engine_options_for(database_url)
    return settings


def normalize_database_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we pin; SQLAlchemy's bare postgresql:// means psycopg2.
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def engine_options_for(url: str) -> dict:
    if url.startswith("sqlite"):
        # Several threads (the dev server, inline jobs) share the file; wait instead of failing.
        return {"connect_args": {"timeout": 30}}
    # No pool_pre_ping: it costs a round trip on every checkout, i.e. on every request and every
    # transaction of a job. A connection that died with a database restart fails its first statement
    # instead; SQLAlchemy then invalidates the whole pool, the request answers 503 with Retry-After
    # (gridgov/errors.py) and the next one connects afresh. pool_recycle retires idle connections
    # before a firewall or server timeout cuts them silently.
    return {"pool_size": 10, "max_overflow": 10, "pool_recycle": 1800}
