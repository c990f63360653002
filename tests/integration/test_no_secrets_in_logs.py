"""Passwords and API tokens never reach a log: every logger at DEBUG (SQLAlchemy's statements and parameters
included) and the access lines of a real HTTP server, werkzeug's in this process and gunicorn's in its own,
through login success and failure, lock-out, user creation, password reset, token creation, use and revocation,
and the CLI's `users create`."""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

import pytest
from werkzeug.serving import make_server

from gridgov.extensions import db
from gridgov.models import ApiToken, User
from tests.conftest import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]


class Browser:
    """A cookie-keeping HTTP client over a real socket (urllib follows redirects like a browser)."""

    def __init__(self, base: str):
        self.base = base
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()))

    def call(self, method: str, path: str, *, form: dict | None = None, body: dict | None = None,
             headers: dict | None = None) -> tuple[int, str]:
        data, headers = None, dict(headers or {})
        if form is not None:
            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def csrf(self, path: str) -> dict:
        _, page = self.call("GET", path)
        found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
        return {"csrf_token": found.group(1)} if found else {}


@pytest.fixture
def served(app_ctx):
    """The test app behind werkzeug's real server (its access lines go to the `werkzeug` logger)."""
    server = make_server("127.0.0.1", 0, app_ctx, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def every_logger_at_debug(caplog):
    """Every logger on, at DEBUG, into caplog. Alembic's fileConfig (run by the migrations in this process)
    disables the loggers that existed then and sets sqlalchemy to WARN; a web process never runs it."""
    saved = {}
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            saved[name] = (logger.disabled, logger.level)
            logger.disabled = False
            logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    yield caplog
    for name, (disabled, level) in saved.items():
        logger = logging.getLogger(name)
        logger.disabled, logger.level = disabled, level


def everything_logged(caplog) -> str:
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(record.exc_text or "")
    return caplog.text + "\n".join(parts)


def test_no_password_or_token_in_any_log_line(served, every_logger_at_debug, app_ctx):
    caplog = every_logger_at_debug  # SQLAlchemy at DEBUG logs every statement with its parameters
    secrets = {"new user's first password": f"Pw1-{uuid.uuid4().hex}", "reset password": f"Pw2-{uuid.uuid4().hex}",
               "wrong password": f"Wrong-{uuid.uuid4().hex}", "demo password": DEMO_PASSWORD}
    name = f"logtest_{uuid.uuid4().hex[:6]}"

    admin = Browser(served)
    assert admin.call("POST", "/login", form={"username": "demo_admin", "password": secrets["wrong password"]})[0] == 401
    status, page = admin.call("POST", "/login", form={"username": "demo_admin", "password": DEMO_PASSWORD})
    assert status == 200 and 'data-role="admin"' in page
    admin.call("POST", "/admin/users", form={"username": name, "password": secrets["new user's first password"],
                                             "role": "dispatcher", "area_code": "330521"})
    user = db.session.scalar(db.select(User).where(User.username == name))
    assert user is not None
    try:
        admin.call("POST", f"/admin/users/{user.id}/password", form={"password": secrets["reset password"]})

        person = Browser(served)
        assert person.call("POST", "/login", form={"username": name,
                                                   "password": secrets["new user's first password"]})[0] == 401
        assert person.call("POST", "/login", form={"username": name, "password": secrets["reset password"]})[0] == 200

        phone = Browser(served)
        status, answer = phone.call("POST", "/api/v1/auth/token", body={"username": name,
                                                                        "password": secrets["reset password"],
                                                                        "label": "phone"})
        assert status == 201
        token = json.loads(answer)["token"]
        secrets["API token"] = token
        bearer = {"Authorization": f"Bearer {token}"}
        assert phone.call("GET", "/api/v1/events?per_page=1", headers=bearer)[0] == 200
        assert phone.call("POST", "/api/v1/auth/token", body={"username": name, "password": "x" * 300})[0] == 422
        assert phone.call("POST", "/api/v1/auth/token", body={"username": name,
                                                              "password": secrets["wrong password"]})[0] == 401
        assert phone.call("DELETE", "/api/v1/auth/token", headers=bearer)[0] == 204
        assert phone.call("GET", "/api/v1/events", headers=bearer)[0] == 401

        for _ in range(5):  # into the lock-out and through it
            person_again = Browser(served)
            person_again.call("POST", "/login", form={"username": name, "password": secrets["wrong password"]})
        assert Browser(served).call("POST", "/login", form={"username": name,
                                                            "password": secrets["reset password"]})[0] == 401

        cli_password = f"Pw3-{uuid.uuid4().hex}"
        secrets["CLI password"] = cli_password
        cli_name = f"{name}_cli"
        result = app_ctx.test_cli_runner().invoke(args=["users", "create", "--username", cli_name, "--role",
                                                        "supervisor", "--area", "330521", "--password-stdin"],
                                                  input=cli_password + "\n")
        assert result.exit_code == 0 and cli_password not in result.output
    finally:
        db.session.rollback()
        for username in (name, f"{name}_cli"):
            leftover = db.session.scalar(db.select(User).where(User.username == username))
            if leftover is not None:
                db.session.execute(db.delete(ApiToken).where(ApiToken.user_id == leftover.id))
                db.session.delete(leftover)
        db.session.commit()

    logged = everything_logged(caplog)
    # The capture really saw the traffic: werkzeug's access lines and SQLAlchemy's parameters.
    assert re.search(r'"POST /login HTTP/1\.1" 401', logged) and '"POST /api/v1/auth/token HTTP/1.1" 201' in logged
    assert "INSERT INTO users" in logged and "INSERT INTO admin_audit" in logged and name in logged
    leaked = [what for what, secret in secrets.items() if secret in logged]
    assert leaked == [], f"found in the logs: {leaked}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_access_and_error_logs_hold_no_password_or_token(app_ctx, tmp_path):
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": app_ctx.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "gunicorn-test",
           "GRIDGOV_INSTANCE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    command = [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "--access-logfile", "-",
               "--error-logfile", "-", "--log-level", "debug", "wsgi:app"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        wrong = f"Wrong-{uuid.uuid4().hex}"
        browser = Browser(base)
        assert browser.call("POST", "/login", form={"username": "demo_supervisor", "password": wrong,
                                                    **browser.csrf("/login")})[0] == 401
        assert browser.call("POST", "/login", form={"username": "demo_supervisor", "password": DEMO_PASSWORD,
                                                    **browser.csrf("/login")})[0] == 200
        status, answer = Browser(base).call("POST", "/api/v1/auth/token",
                                            body={"username": "demo_supervisor", "password": DEMO_PASSWORD})
        assert status == 201
        token = json.loads(answer)["token"]
        assert Browser(base).call("GET", "/api/v1/events?per_page=1",
                                  headers={"Authorization": f"Bearer {token}"})[0] == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode("utf-8", "replace")
    assert '"POST /login HTTP/1.1" 401' in output and '"POST /api/v1/auth/token HTTP/1.1" 201' in output, output[-2000:]
    for secret in (wrong, DEMO_PASSWORD, token):
        assert secret not in output
