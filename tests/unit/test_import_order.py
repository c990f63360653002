"""Each module a process may import first imports on its own: no circular import hides behind the order
the app happens to load things in. An rq worker imports `gridgov.jobs.tasks` first (jobs are named by
dotted path), a script or a bench may start from a job module or the workflow service, and these import
each other's modules (outbox handlers fire workflow actions, actions relay outbox rows)."""
from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import gridgov.jobs

ROOT = Path(__file__).resolve().parents[2]

# One fresh interpreter; before each module, the project's own modules are forgotten (third-party ones
# stay loaded, which keeps this to a few seconds), so each import starts from nothing of ours.
IMPORT_EACH_FIRST = r"""
import importlib, json, sys
failures = {}
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("gridgov", "workflows", "geo")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failures[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(failures))
"""


def first_imports() -> list[str]:
    jobs = [f"gridgov.jobs.{info.name}" for info in pkgutil.iter_modules(gridgov.jobs.__path__)]
    return sorted(jobs + ["gridgov.services.workflow", "gridgov.services.reporting"])


def test_every_jobs_module_and_the_action_services_import_first():
    modules = first_imports()
    assert "gridgov.jobs.tasks" in modules and "gridgov.services.workflow" in modules
    result = subprocess.run([sys.executable, "-c", IMPORT_EACH_FIRST, *modules], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}
