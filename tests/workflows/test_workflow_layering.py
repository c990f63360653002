"""workflows/ is plain Python: no web framework, database, job queue or app imports (DESIGN.md)."""

import ast
import pathlib

FORBIDDEN = {"flask", "gridgov", "sqlalchemy", "flask_sqlalchemy", "rq", "redis", "werkzeug", "geo"}
PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "workflows"


def imported_roots(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            yield str(node.args[0].value).split(".")[0], node.lineno


def test_workflows_imports_no_framework():
    files = sorted(PACKAGE.rglob("*.py"))
    assert files
    bad = [f"{p.relative_to(PACKAGE.parent)}:{line} imports {root}"
           for p in files for root, line in imported_roots(p) if root in FORBIDDEN]
    assert bad == []
