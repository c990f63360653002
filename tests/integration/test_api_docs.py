"""The API docs page lists every operation of the OpenAPI document; /api/v1/stats is documented."""
import re

METHODS = ("get", "post", "put", "patch", "delete")


def test_docs_page_lists_every_operation_with_parameters_body_and_responses(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    operations = [(m.upper(), p) for p, item in spec["paths"].items() for m in METHODS if m in item]
    assert len(operations) >= 8
    for method, path in operations:
        assert f'data-method="{method}" data-path="{path}"' in html, (method, path)
    assert "<script" not in html.split("<main", 1)[1]  # rendered on the server, no Swagger UI
    report = html.split('data-method="POST" data-path="/api/v1/events"', 1)[1].split("</section>", 1)[0]
    for field in ("category", "description", "lon", "lat", "client_uuid", "Idempotency-Key", "multipart/form-data"):
        assert field in report, field
    assert re.search(r"<code>201</code>", report) and re.search(r"<code>200</code>", report)


def test_stats_is_part_of_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"] for p in spec["paths"]["/api/v1/stats"]["get"]["parameters"]}
    assert {"group_by", "from", "to", "area", "category", "department"} <= params
    assert "api_stats" in {t["name"] for t in spec["tags"]}
