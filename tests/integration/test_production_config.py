"""Production configuration from the environment: cookies are Secure, HttpOnly and SameSite=Lax (session and
remember-me), the development SECRET_KEY is refused, and SQL parameters stay out of error logs."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import DEFAULT_SECRET_KEY
from gridgov import create_app
from gridgov.extensions import db
from tests.conftest import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "a" * 24 + "-production-test-key"
HTTPS = "https://gridgov.example"  # behind the county's TLS proxy


@pytest.fixture
def environment(monkeypatch, app_ctx, tmp_path):
    """The variables a deployment sets, on the test database; each test adds or removes the ones it is about."""
    for name in ("GRIDGOV_ENV", "FLASK_ENV", "GRIDGOV_SECURE_COOKIES", "SECRET_KEY", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", app_ctx.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("GRIDGOV_INSTANCE_DIR", str(tmp_path))
    return monkeypatch


def _app_from_environment():
    # Only what a test harness needs: the rate limit, which is per process and shared with other tests.
    return create_app({"LOGIN_RATE_LIMIT": "100000 per minute", "RATELIMIT_STORAGE_URI": "memory://"})


def _cookies_after_login(app) -> dict[str, str]:
    client = app.test_client()
    form = client.get("/login", base_url=HTTPS).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    response = client.post("/login", data={"username": "demo_worker", "password": DEMO_PASSWORD,
                                           "remember": "y", "csrf_token": token}, base_url=HTTPS,
                           headers={"Referer": f"{HTTPS}/login"})  # Flask-WTF checks it over HTTPS
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    cookies = {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}
    assert {"session", "remember_token"} <= set(cookies), cookies
    with app.app_context():
        db.engine.dispose()
    return cookies


@pytest.mark.parametrize("secure_cookies", [None, "1"])
def test_production_cookies_are_secure_httponly_and_samesite_lax(environment, secure_cookies):
    environment.setenv("GRIDGOV_ENV", "production")
    environment.setenv("SECRET_KEY", STRONG_KEY)
    if secure_cookies is not None:
        environment.setenv("GRIDGOV_SECURE_COOKIES", secure_cookies)
    app = _app_from_environment()
    assert app.config["ENV"] == "production" and not app.config["TESTING"]
    for name, header in _cookies_after_login(app).items():
        if name not in ("session", "remember_token"):
            continue
        assert "; Secure" in header, header
        assert "; HttpOnly" in header, header
        assert "; SameSite=Lax" in header, header
    response = app.test_client().get("/login", base_url=HTTPS)
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_development_cookies_are_httponly_and_lax_and_secure_only_when_asked(environment):
    environment.setenv("SECRET_KEY", STRONG_KEY)
    cookies = _cookies_after_login(_app_from_environment())
    for name in ("session", "remember_token"):
        assert "; HttpOnly" in cookies[name] and "; SameSite=Lax" in cookies[name]
        assert "; Secure" not in cookies[name]  # plain http://127.0.0.1 during development
    environment.setenv("GRIDGOV_SECURE_COOKIES", "1")
    cookies = _cookies_after_login(_app_from_environment())
    assert all("; Secure" in cookies[name] for name in ("session", "remember_token"))


@pytest.mark.parametrize("key", [None, "", DEFAULT_SECRET_KEY])
@pytest.mark.parametrize("variable", ["GRIDGOV_ENV", "FLASK_ENV"])
def test_production_refuses_the_default_or_an_empty_secret_key(environment, key, variable):
    environment.setenv(variable, "production")
    if key is not None:
        environment.setenv("SECRET_KEY", key)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        _app_from_environment()


def test_the_command_line_refuses_to_start_in_production_with_the_default_key(environment):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"GRIDGOV_ENV": "production", "PYTHONPATH": str(ROOT)})
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "audit", "verify"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr + result.stdout


def test_production_keeps_sql_parameters_out_of_error_messages(environment):
    """A failed statement's message would otherwise carry its values (a caller's phone, a description) into logs."""
    environment.setenv("GRIDGOV_ENV", "production")
    environment.setenv("SECRET_KEY", STRONG_KEY)
    app = _app_from_environment()
    with app.app_context():
        assert db.engine.hide_parameters
        with pytest.raises(Exception) as raised:
            db.session.execute(db.text("SELECT * FROM no_such_table WHERE x = :phone"), {"phone": "13987654321"})
        db.session.rollback()
        assert "13987654321" not in str(raised.value)
        db.engine.dispose()
    environment.delenv("GRIDGOV_ENV")
    with _app_from_environment().app_context():
        assert not db.engine.hide_parameters  # development keeps them, for debugging
        db.engine.dispose()
