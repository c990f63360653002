"""GeoReport v2 documents in JSON or XML: the same Python values, two renderings.

XML is the spec's required format; each list has its own root and item element names
(`services/service`, `service_requests/request`, `errors/error`…), values are text, None is an
empty element and booleans are `true`/`false`.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from flask import Response

FORMATS = ("json", "xml")
MIMETYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


# Characters XML 1.0 cannot carry, even escaped: C0 controls but tab, LF and CR, and U+FFFE/U+FFFF. Stored text
# may hold them (a citizen's description, a code echoed in an error); written raw they make the whole
# document unparseable for every client, so each becomes U+FFFD.
NOT_IN_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_IN_XML.sub("\ufffd", str(value))


def _append(parent: ET.Element, tag: str, value, item_tags: dict) -> None:
    element = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, inner in value.items():
            _append(element, key, inner, item_tags)
    elif isinstance(value, list):
        child = item_tags.get(tag, tag.rstrip("s"))
        for inner in value:
            _append(element, child, inner, item_tags)
    else:
        element.text = _text(value)


def to_xml(root: str, item: str | None, value, item_tags: dict | None = None) -> bytes:
    """`value` is a list of dicts (rendered as <root><item>…</item>…</root>) or one dict (<root>…</root>)."""
    tags = dict(item_tags or {})
    element = ET.Element(root)
    if isinstance(value, list):
        for entry in value:
            _append(element, item, entry, tags) if not isinstance(entry, dict) else _dict_into(
                ET.SubElement(element, item), entry, tags)
    else:
        _dict_into(element, value, tags)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8", xml_declaration=False)


def _dict_into(element: ET.Element, value: dict, tags: dict) -> None:
    for key, inner in value.items():
        _append(element, key, inner, tags)


def render(fmt: str, value, *, root: str, item: str | None = None, status: int = 200,
           item_tags: dict | None = None) -> Response:
    if fmt == "xml":
        body = to_xml(root, item, value, item_tags)
    else:
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return Response(body, status=status, mimetype=MIMETYPES[fmt].split(";")[0],
                    content_type=MIMETYPES[fmt])


def errors(fmt: str, status: int, *descriptions: str) -> Response:
    body = [{"code": status, "description": d} for d in descriptions]
    return render(fmt, body, root="errors", item="error", status=status)
