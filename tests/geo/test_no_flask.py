"""geo/ stays a plain package: no module in it imports Flask, SQLAlchemy or gridgov."""
import ast
from pathlib import Path

FORBIDDEN = {"flask", "gridgov", "sqlalchemy", "flask_sqlalchemy"}
GEO = Path(__file__).resolve().parents[2] / "geo"


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_geo_imports_no_web_or_database_framework():
    modules = sorted(GEO.glob("*.py"))
    assert len(modules) >= 8
    offenders = {p.name: imported_roots(p) & FORBIDDEN for p in modules if imported_roots(p) & FORBIDDEN}
    assert offenders == {}
