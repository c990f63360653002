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
