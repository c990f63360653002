"""GET /api/v1/docs: the OpenAPI document as a plain server-rendered page (no CDN, no script)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")

METHODS = ("get", "post", "put", "patch", "delete")


def _resolve(spec: dict, schema: dict | None, depth: int = 0) -> dict:
    """Follow a $ref (and allOf) into a flat {name, properties, required} view of a schema."""
    if not schema or depth > 5:
        return {"name": None, "properties": {}, "required": [], "type": None}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        target = spec.get("components", {}).get("schemas", {}).get(name, {})
        resolved = _resolve(spec, target, depth + 1)
        resolved["name"] = name
        return resolved
    if "allOf" in schema:
        merged = {"name": None, "properties": {}, "required": [], "type": "object"}
        for part in schema["allOf"]:
            inner = _resolve(spec, part, depth + 1)
            merged["name"] = merged["name"] or inner["name"]
            merged["properties"].update(inner["properties"])
            merged["required"] += inner["required"]
        return merged
    if schema.get("type") == "array":
        inner = _resolve(spec, schema.get("items"), depth + 1)
        inner["type"] = f"array of {inner['name'] or schema.get('items', {}).get('type', 'object')}"
        return inner
    return {"name": None, "properties": schema.get("properties", {}), "required": schema.get("required", []),
            "type": schema.get("type")}


def _type(prop: dict) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[1]
    kind = prop.get("type", "")
    if kind == "array":
        return f"array[{_type(prop.get('items', {}))}]"
    return kind + (f" ({prop['format']})" if prop.get("format") else "")


def operations(spec: dict) -> list[dict]:
    ops = []
    for path, item in sorted(spec.get("paths", {}).items()):
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = []
            for content_type, media in (op.get("requestBody", {}).get("content") or {}).items():
                body.append({"content_type": content_type, "schema": _resolve(spec, media.get("schema"))})
            responses = []
            for status, answer in sorted(op.get("responses", {}).items()):
                if "$ref" in answer:
                    answer = spec.get("components", {}).get("responses", {}).get(answer["$ref"].rsplit("/", 1)[1], {})
                schema = next(iter((answer.get("content") or {}).values()), {}).get("schema")
                responses.append({"status": status, "description": answer.get("description", ""),
                                  "schema": _resolve(spec, schema) if schema else None})
            ops.append({
                "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "").replace("<", ""),
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""), "tags": op.get("tags", []),
                "parameters": [p for p in shared + op.get("parameters", []) if "$ref" not in p],
                "body": body, "responses": responses,
                "security": op.get("security", spec.get("security", [])),
            })
    return ops


@bp.get("/docs")
def docs():
    spec = current_app.extensions["gridgov_api"].spec.to_dict()
    return render_template("api/docs.html", spec=spec, ops=operations(spec), type_of=_type)
