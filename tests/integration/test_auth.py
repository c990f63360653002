"""Login and logout through the real pages, on SQLite and PostgreSQL."""
import re

import pytest

from gridgov.extensions import db
from gridgov.models import User
from tests.conftest import DEMO_PASSWORD, login


@pytest.mark.parametrize("username", ["demo_worker", "demo_dispatcher", "demo_handler", "demo_supervisor", "demo_admin"])
def test_each_demo_role_logs_in_and_sees_who_and_where(client, username):
    response = login(client, username)
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    user = db.session.scalar(db.select(User).where(User.username == username))
    assert f'data-role="{user.role}"' in page
    assert f'data-area="{user.area_code}"' in page


def test_wrong_password_is_refused_with_a_message(client):
    response = login(client, "demo_worker", "not-the-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still anonymous: sent to /login


def test_inactive_user_cannot_log_in(client):
    user = db.session.scalar(db.select(User).where(User.username == "demo_supervisor"))
    user.active = False
    db.session.commit()
    try:
        assert login(client, "demo_supervisor").status_code == 401
    finally:
        user.active = True
        db.session.commit()


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"])
def test_open_redirect_in_next_is_refused(client, target):
    response = client.post(f"/login?next={target}", data={"username": "demo_worker", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_safe_next_is_followed(client):
    response = client.post("/login?next=/?tab=2", data={"username": "demo_worker", "password": DEMO_PASSWORD})
    assert response.headers["Location"] == "/?tab=2"


def test_logout_ends_the_session(client):
    login(client, "demo_admin")
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_login_form_without_csrf_token_is_refused(app_ctx):
    app_ctx.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app_ctx.test_client()
        response = client.post("/login", data={"username": "demo_worker", "password": DEMO_PASSWORD})
        assert response.status_code in (400, 401)
        assert client.get("/").status_code == 302
        # With the token from the form, the same login works.
        form = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        ok = client.post("/login", data={"username": "demo_worker", "password": DEMO_PASSWORD, "csrf_token": token})
        assert ok.status_code == 302
    finally:
        app_ctx.config["WTF_CSRF_ENABLED"] = False


def test_remember_me_sets_a_persistent_cookie(client):
    response = client.post("/login", data={"username": "demo_worker", "password": DEMO_PASSWORD, "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith("remember_token=") and "HttpOnly" in c for c in cookies)


def test_five_wrong_passwords_lock_the_account_until_unlocked(client):
    from gridgov.auth import unlock

    for _ in range(5):
        assert login(client, "demo_handler", "wrong-password").status_code == 401
    locked = login(client, "demo_handler")  # even the right password is refused now
    assert locked.status_code == 401 and "锁定" in locked.get_data(as_text=True)
    user = db.session.scalar(db.select(User).where(User.username == "demo_handler"))
    unlock(user)
    db.session.commit()
    assert login(client, "demo_handler").status_code == 302


def test_login_attempts_are_rate_limited_per_address(app_ctx):
    from gridgov.extensions import limiter

    app_ctx.config["LOGIN_RATE_LIMIT"] = "20 per minute"
    try:
        client = app_ctx.test_client()
        statuses = [client.post("/login", data={"username": "nobody", "password": "x"}).status_code
                    for _ in range(25)]
        assert statuses[:20] == [401] * 20 and statuses[20:] == [429] * 5
    finally:
        app_ctx.config["LOGIN_RATE_LIMIT"] = "100000 per minute"
        limiter.reset()


def test_a_password_reset_ends_the_sessions_and_remember_me_cookies_signed_in_before(app_ctx):
    from gridgov.services.accounts import create_user, reset_password

    worker = db.session.scalar(db.select(User).where(User.username == "demo_worker"))
    user = create_user(username="reset_me", password="first-secret-pw-1", role="grid_worker",
                       area_code=worker.area_code)
    session_client, remembered_client = app_ctx.test_client(), app_ctx.test_client()
    assert login(session_client, "reset_me", "first-secret-pw-1").status_code == 302
    remembered = remembered_client.post("/login", data={"username": "reset_me", "password": "first-secret-pw-1",
                                                        "remember": "y"})
    assert remembered.status_code == 302
    remembered_client.delete_cookie("session")  # only the remember-me cookie is left to sign it in
    assert session_client.get("/").status_code == 200 and remembered_client.get("/").status_code == 200

    reset_password(user.id, "second-secret-pw-2")
    for client in (session_client, remembered_client):
        answer = client.get("/")
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    fresh = app_ctx.test_client()
    assert login(fresh, "reset_me", "second-secret-pw-2").status_code == 302 and fresh.get("/").status_code == 200
