"""Bearer tokens for phones: issue, use, revoke, expire."""
from datetime import timedelta

from gridgov.extensions import db
from gridgov.models import ApiToken
from gridgov.timeutil import utcnow
from tests.conftest import DEMO_PASSWORD


def _token(client, username="demo_worker", password=DEMO_PASSWORD):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_token_for_good_credentials_and_it_authenticates(client):
    response = _token(client)
    assert response.status_code == 201
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["user"]["role"] == "grid_worker"
    stored = db.session.scalar(db.select(ApiToken))
    assert stored.token_hash != body["token"]  # only a hash is kept
    health = client.get("/", headers={"Authorization": f"Bearer {body['token']}"})
    assert health.status_code == 200


def test_bad_credentials_get_a_bilingual_401(client):
    response = _token(client, password="wrong-password")
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "bad_credentials" and error["message_zh"] and error["message_en"]


def test_missing_fields_get_422_with_field_details(client):
    response = client.post("/api/v1/auth/token", json={"username": "demo_worker"})
    assert response.status_code == 422
    assert "password" in str(response.get_json()["error"]["details"])


def test_revoked_token_no_longer_works(client):
    token = _token(client).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 401


def test_expired_token_is_refused(client):
    token = _token(client).get_json()["token"]
    row = db.session.scalar(db.select(ApiToken))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_openapi_document_lists_the_token_route(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/auth/token" in spec["paths"]


def test_token_requests_are_rate_limited_per_address(client):
    """The route's own limit holds although no before_request hook checks limits any more
    (gridgov.extensions.DeclaredLimiter): the decorator checks it when the route runs."""
    from gridgov.extensions import limiter

    app = client.application
    previous = app.config["LOGIN_RATE_LIMIT"]
    app.config["LOGIN_RATE_LIMIT"] = "5 per minute"
    try:
        statuses = [_token(client, username="nobody", password="wrong-password").status_code for _ in range(7)]
        assert statuses == [401] * 5 + [429] * 2
    finally:
        app.config["LOGIN_RATE_LIMIT"] = previous
        limiter.reset()


def test_an_app_wide_limit_is_still_checked_on_every_route():
    """DeclaredLimiter skips its per-request hook only while no app-wide limit exists."""
    from flask import Flask

    from gridgov.extensions import DeclaredLimiter

    app = Flask("limited")
    app.config.update(RATELIMIT_STORAGE_URI="memory://")
    own = DeclaredLimiter(key_func=lambda: "one-client", default_limits=["2 per minute"])
    own.init_app(app)
    app.add_url_rule("/ping", "ping", lambda: "pong")
    client = app.test_client()
    assert [client.get("/ping").status_code for _ in range(3)] == [200, 200, 429]

    free = Flask("free")
    free.config.update(RATELIMIT_STORAGE_URI="memory://")
    DeclaredLimiter(key_func=lambda: "one-client").init_app(free)
    free.add_url_rule("/ping", "ping", lambda: "pong")
    assert {free.test_client().get("/ping").status_code for _ in range(5)} == {200}
