"""Hostile input for the HTML forms and Open311 (test_form_fuzz.py, test_open311_fuzz.py): what to send, how to
put it on the wire byte for byte, and how to read the forms of a rendered page.

Values come in families by the kind of field they go to (any field, numbers, dates, codes, coordinates,
flags, redirect targets, files). Text that a test client would refuse to encode (a lone surrogate, invalid
UTF-8) is sent as the bytes a hostile client would send: `Escaped` percent-encodes them, `Raw` puts them in
the body unescaped. `Twice` repeats a key (duplicate keys), `Upload` is a file part of a multipart body.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote_plus, urlsplit

from sqlalchemy import text

MISSING = object()  # the field is left out


@dataclass(frozen=True)
class Escaped:
    """Bytes percent-encoded as they are (invalid UTF-8 stays invalid)."""
    data: bytes


@dataclass(frozen=True)
class Raw:
    """Bytes put into a urlencoded body unescaped."""
    data: bytes


@dataclass(frozen=True)
class Twice:
    """The key sent twice, with these two values in this order."""
    first: object
    second: object


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    mimetype: str = "application/octet-stream"


BIG = 2**70
LONG_TEXT = "长x" * 5000  # 10 000 characters, 20 000 bytes of UTF-8

# Every field gets these; the kind of the field adds its own below. (name, value); a callable value is given
# the field's valid value (a duplicate repeats it).
ANY = (
    ("missing", MISSING),
    ("empty", ""),
    ("blank", " \t\r\n "),
    ("nul", "a\x00b"),
    ("control", "a\x01\x0b\x1b[2Jb"),  # storable, but XML 1.0 and spreadsheets have no place for it
    ("surrogate", Escaped("\ud800".encode("utf-8", "surrogatepass"))),
    ("invalid_utf8", Escaped(b"\xff\xfe\xc3")),
    ("long", LONG_TEXT),
    ("duplicate", lambda valid: Twice(valid, "重复 duplicate")),  # a view reading .get() and .getlist() sees both
)
NUMBER = (
    ("negative", "-1"), ("zero", "0"), ("int32_max_plus_1", str(2**31)), ("huge", str(BIG)), ("e308", "1e308"),
    ("nan", "NaN"), ("inf", "inf"), ("minus_inf", "-inf"),
    ("superscript_digit", "²"),  # str.isdigit() says yes, int() says no
    ("fullwidth_digits", "１２"), ("fraction", "1.5"), ("word", "abc"),
    ("many_digits", "9" * 5000),  # more digits than int() converts
)
DATE = (
    ("month_13", "2026-13-45"), ("year_0", "0000-01-01"), ("year_1", "0001-01-01"), ("year_9999", "9999-12-31"),
    ("year_1_time", "0001-01-01T00:00"), ("year_9999_time", "9999-12-31T23:59"),
    ("offset", "2026-01-05T08:00:00+08:00"),
    ("year_9999_west", "9999-12-31T23:59:59-14:00"), ("year_1_east", "0001-01-01T00:00:00+14:00"),
    ("space", "2026-01-05 08:00"), ("compact", "20260105"), ("huge", str(BIG)),
)
CODE = (
    ("unknown", "ZZZZ"), ("unknown_digits", "9999"), ("zero", "0"), ("path", "../../etc/passwd"),
    ("like_wildcards", "%_%"), ("huge", str(BIG)), ("negative", "-1"),
)
COORDINATE = (
    ("nan", "NaN"), ("inf", "inf"), ("minus_inf", "-inf"), ("e308", "1e308"), ("minus_e308", "-1e308"),
    ("lat_range", "91"), ("lat_range_negative", "-91"), ("lon_range", "181"), ("lon_range_negative", "-181"),
    ("denormal", "1e-320"), ("comma", "120,30"), ("superscript_digit", "²"), ("huge", str(BIG)), ("word", "east"),
)
FLAG = (("two", "2"), ("on_padded", " on"), ("word", "maybe"))
REDIRECT = (
    ("other_site", "//evil.example/"), ("absolute", "https://evil.example/"), ("backslash", "/\\evil.example"),
    ("script", "javascript:alert(1)"), ("header_split", "/dispatch\r\nSet-Cookie: a=b"),
    ("tab", "/dispatch\t/x"), ("encoded_newline", "/dispatch%0d%0aX: y"),
)


def _zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


FILE = (
    ("empty_file", Upload("empty.jpg", b"", "image/jpeg")),
    ("text_as_image", Upload("note.jpg", b"not an image at all", "image/jpeg")),
    ("no_filename", Upload("", b"\xff\xd8\xff\xe0", "image/jpeg")),
    ("long_filename", Upload("长" * 300 + ".jpg", b"\xff\xd8\xff\xe0", "image/jpeg")),
    ("path_filename", Upload("../../../etc/passwd", b"root:x:0:0", "text/plain")),
    ("broken_zip", Upload("areas.zip", b"PK\x03\x04 this is no zip", "application/zip")),
    ("odd_zip_members", Upload("areas.zip", _zip_of({".": b"x", "../up.shp": b"x", "/abs.shp": b"x", "dir/": b"",
                                                    "original-name.txt": b"x", "a/b/c.dbf": b"x"}), "application/zip")),
    ("broken_json", Upload("areas.geojson", b'{"type": "FeatureCollection", "features": [', "application/json")),
    ("json_scalar", Upload("areas.geojson", b"1e999", "application/json")),
    ("binary", Upload("areas.geojson", bytes(range(256)), "application/octet-stream")),
)

# The values whose fate the database decides: numbers past a column's range, text past a column's length,
# instants PostgreSQL or Python cannot hold, NUL (PostgreSQL refuses it), codes that match no row or hold LIKE
# wildcards, floats SQLite and PostgreSQL store differently. The others are refused or accepted in Python
# before any query, alike on both databases.
DATABASE_BOUND = frozenset({
    "long", "nul", "control", "int32_max_plus_1", "huge", "many_digits", "e308", "minus_e308", "nan", "inf",
    "minus_inf", "year_1", "year_9999", "year_1_time", "year_9999_time", "year_9999_west", "year_1_east", "unknown",
    "like_wildcards", "lat_range", "lon_range", "denormal", "swapped", "out_of_range",
})

FAMILIES = {"number": NUMBER, "date": DATE, "code": CODE, "coordinate": COORDINATE, "flag": FLAG,
            "redirect": REDIRECT, "file": FILE, "text": ()}


@dataclass
class Case:
    """One request; `label` says what is hostile in it ("field=name of the value" for a field's value)."""
    label: str
    pairs: list[tuple[str, object]] | None = None  # the form (or query) sent; None: `body` as it is
    body: bytes = b""
    content_type: str | None = None
    path: str | None = None                         # another path than the route's usual one


def database_bound(case: Case) -> bool:
    """Whether the case's hostile value is one whose fate the database decides (DATABASE_BOUND)."""
    return "=" in case.label and case.label.rpartition("=")[2] in DATABASE_BOUND


def values_for(kind: str) -> list[tuple[str, object]]:
    if kind == "file":  # a text value in a file field is the "any" family's business
        return list(FILE) + [("missing", MISSING), ("text_instead", "not a file")]
    return list(ANY) + list(FAMILIES[kind])


# --- putting it on the wire --------------------------------------------------------------------------

def _pieces(value) -> list:
    return [value.first, value.second] if isinstance(value, Twice) else [value]


def _escape(value) -> str:
    if isinstance(value, Escaped):
        return quote_plus(value.data)
    if isinstance(value, Raw):
        return value.data.decode("latin-1")  # re-encoded as latin-1 below: the bytes as they are
    return quote_plus(str(value).encode("utf-8", "surrogatepass"))


def urlencoded(pairs: list[tuple[str, object]]) -> bytes:
    """An application/x-www-form-urlencoded body (or query string) of these pairs, MISSING ones left out."""
    parts = []
    for key, value in pairs:
        for piece in _pieces(value):
            if piece is not MISSING and not isinstance(piece, Upload):
                parts.append(f"{_escape(key)}={_escape(piece)}")
    return "&".join(parts).encode("latin-1")


def multipart(pairs: list[tuple[str, object]]) -> tuple[bytes, str]:
    boundary = "gridgov-fuzz-boundary-7f3a"  # fixed: the run is the same every time
    out = []
    for key, value in pairs:
        for piece in _pieces(value):
            if piece is MISSING:
                continue
            name = key.data if isinstance(key, Escaped) else key.encode("utf-8", "surrogatepass")
            if isinstance(piece, Upload):
                head = (b'--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                        b"Content-Type: %s\r\n\r\n") % (boundary.encode(), name,
                                                        piece.filename.encode("utf-8", "surrogatepass"),
                                                        piece.mimetype.encode())
                out.append(head + piece.data + b"\r\n")
            else:
                data = piece.data if isinstance(piece, (Escaped, Raw)) else str(piece).encode("utf-8", "surrogatepass")
                out.append(b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n' % (boundary.encode(), name)
                           + data + b"\r\n")
    out.append(b"--%s--\r\n" % boundary.encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def encode_body(pairs: list[tuple[str, object]], *, as_multipart: bool) -> tuple[bytes, str]:
    if as_multipart or any(isinstance(p, Upload) for _, v in pairs for p in _pieces(v)):
        return multipart(pairs)
    return urlencoded(pairs), "application/x-www-form-urlencoded"


# --- what a request may change -----------------------------------------------------------------------

WATCHED = ("events", "event_log", "tasks", "outbox", "users", "api_tokens", "admin_audit")


def row_counts(session) -> dict[str, int]:
    """How many rows each table holds (the event and account tables first), in one statement."""
    from gridgov.extensions import db

    names = list(WATCHED) + sorted(t.name for t in db.metadata.sorted_tables if t.name not in WATCHED)
    row = session.execute(text("SELECT " + ", ".join(f'(SELECT count(*) FROM "{n}")' for n in names))).one()
    return dict(zip(names, row))


def changed_counts(before: dict, after: dict) -> dict:
    return {name: (before[name], after[name]) for name in before if before[name] != after[name]}


# --- the forms of a page -----------------------------------------------------------------------------

@dataclass
class Control:
    name: str
    kind: str          # an input's type (text, hidden, number, date, checkbox, file…), select, textarea or button
    value: str         # what the page would send (the selected option, the checked box's value, the text)
    checked: bool = True
    numeric: bool = False  # a text box for a number: inputmode numeric/decimal, or a number in it already


@dataclass
class Form:
    method: str
    action: str        # a path
    multipart: bool
    controls: list[Control] = field(default_factory=list)
    scripted: bool = False  # no method: a script sends it elsewhere (the phone's report form, to the JSON API)

    def fields(self) -> dict[str, Control]:
        """One control per name (the first), csrf_token aside: it is always sent right."""
        out: dict[str, Control] = {}
        for control in self.controls:
            if control.name and control.name != "csrf_token":
                out.setdefault(control.name, control)
        return out

    def valid_pairs(self) -> dict[str, str]:
        return {name: c.value for name, c in self.fields().items() if c.checked and c.kind != "file"}


class _FormParser(HTMLParser):
    def __init__(self, page_path: str):
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[tuple[str | None, Form]] = []
        self.pending: list[tuple[str | None, int | None, Control]] = []  # (form id, open form index, control)
        self.open_form: int | None = None
        self.select: Control | None = None
        self.select_first: str | None = None
        self.textarea: Control | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            action = urlsplit(a.get("action") or self.page_path)
            path = action.path + (f"?{action.query}" if action.query else "")
            self.forms.append((a.get("id"), Form((a.get("method") or "get").lower(), path,
                                                 "multipart" in a.get("enctype", ""), scripted="method" not in a)))
            self.open_form = len(self.forms) - 1
        elif tag in ("input", "select", "textarea", "button") and a.get("name"):
            kind = a.get("type", "text").lower() if tag == "input" else tag
            if kind in ("submit", "reset", "image"):
                return
            control = Control(a["name"], kind, a.get("value", ""),
                              checked=kind not in ("checkbox", "radio") or "checked" in a,
                              numeric=kind == "text" and (a.get("inputmode") in ("numeric", "decimal")
                                                          or _is_number(a.get("value", ""))))
            if kind in ("checkbox", "radio") and not a.get("value"):
                control.value = "on"
            self.pending.append((a.get("form"), self.open_form, control))
            if tag == "select":
                self.select, self.select_first = control, None
            if tag == "textarea":
                self.textarea = control
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            if self.select_first is None:
                self.select_first = value
                self.select.value = value
            if "selected" in a:
                self.select.value = value

    def handle_endtag(self, tag):
        if tag == "form":
            self.open_form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea.value += data

    def result(self) -> list[Form]:
        by_id = {form_id: form for form_id, form in self.forms if form_id}
        for form_id, index, control in self.pending:
            form = by_id.get(form_id) if form_id else (self.forms[index][1] if index is not None else None)
            if form is not None:
                form.controls.append(control)
        return [form for _, form in self.forms]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def forms_of(html: str, page_path: str) -> list[Form]:
    parser = _FormParser(page_path)
    parser.feed(html)
    parser.close()
    return parser.result()


COORDINATE_NAMES = ("lon", "lat", "long")
DATE_NAMES = ("day", "deadline", "from", "to", "start_date", "end_date")
REDIRECT_NAMES = ("next", "back")


def kind_of(control: Control) -> str:
    """Which family of values suits a control: by its name where that says more than its type."""
    name, kind = control.name, control.kind
    if name in COORDINATE_NAMES:
        return "coordinate"
    if name in REDIRECT_NAMES:
        return "redirect"
    if name in DATE_NAMES or kind in ("date", "datetime-local"):
        return "date"
    if kind == "file":
        return "file"
    if kind == "number" or control.numeric or name in ("id", "version", "page") or name.endswith("_id") or \
            (kind == "hidden" and control.value.isdigit()):
        return "number"
    if kind in ("checkbox", "radio"):
        return "flag"
    if kind == "select":
        return "code"
    return "text"
