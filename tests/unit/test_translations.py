"""The English catalog covers every Chinese msgid in the templates and Python code, and the committed .mo
matches the .po (no build step: the app reads the .mo as committed)."""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "gridgov" / "translations" / "en" / "LC_MESSAGES"
METHODS = [("gridgov/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def extracted_ids() -> set[str]:
    ids = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_message_has_an_english_translation():
    with open(CATALOG / "messages.po", "rb") as handle:
        po = read_po(handle, locale="en")
    missing = sorted(i for i in extracted_ids() if not (po.get(i) and po.get(i).string))
    assert missing == [], "run: pybabel extract/update (see README), then translate: " + ", ".join(missing[:20])


def test_compiled_catalog_matches_the_po_file():
    with open(CATALOG / "messages.po", "rb") as handle:
        po = {m.id: m.string for m in read_po(handle, locale="en") if m.id and m.string and not m.fuzzy}
    with open(CATALOG / "messages.mo", "rb") as handle:
        mo = {m.id: m.string for m in read_mo(handle) if m.id}
    assert mo == po, "run: pybabel compile -d gridgov/translations"
