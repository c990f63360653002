"""/healthz tells whether the database and Redis answer."""


def test_healthz_reports_database_and_inline_jobs(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"]["ok"] is True
    assert body["redis"] == {"ok": True, "configured": False, "mode": "inline jobs"}
    assert body["status"] == "ok"


def test_healthz_reports_redis_down_as_degraded(app_ctx):
    app_ctx.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        body = app_ctx.test_client().get("/healthz").get_json()
        assert body["redis"]["ok"] is False and body["status"] == "degraded"
    finally:
        app_ctx.config["REDIS_URL"] = None


def test_healthz_with_real_redis(app_ctx, redis_url):
    app_ctx.config["REDIS_URL"] = redis_url
    try:
        body = app_ctx.test_client().get("/healthz").get_json()
        assert body["redis"]["ok"] is True and body["redis"]["configured"] is True
    finally:
        app_ctx.config["REDIS_URL"] = None


def test_database_outage_answers_503_with_retry_hint(app_ctx, tmp_path):
    """A request while the database cannot be reached: 503 and Retry-After, never a 500."""
    from gridgov.extensions import db

    from tests.conftest import build_app

    broken = build_app("postgresql://postgres@127.0.0.1:1/nowhere", tmp_path)  # nothing listens on port 1
    client = broken.test_client()
    response = client.post("/api/v1/auth/token", json={"username": "demo_worker", "password": "x" * 8})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"]["code"] == "database_unavailable"
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["database"]["ok"] is False
    with broken.app_context():
        db.engine.dispose()
