"""Each module a process may import first imports on its own: no circular import hides behind the order
the app happens to load things in. An rq worker imports `gridgov.jobs.tasks` first (jobs are named by
dotted path), a script or a bench may start from a job module or the workflow service, and these import
each other's modules (outbox handlers fire workflow actions, actions relay outbox rows)."""
from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import gridgov.jobs

ROOT = Path(__file__).resolve().parents[2]


def first_imports() -> list[str]:
    jobs = [f"gridgov.jobs.{info.name}" for info in pkgutil.iter_modules(gridgov.jobs.__path__)]
    return sorted(jobs + ["gridgov.services.workflow", "gridgov.services.reporting"])


def test_every_jobs_module_and_the_action_services_import_first():
    modules = first_imports()
    assert "gridgov.jobs.tasks" in modules and "gridgov.services.workflow" in modules
    # One fresh interpreter per module, a few at a time (each pays for importing the app).
    failures = {}
    for start in range(0, len(modules), 8):
        batch = modules[start:start + 8]
        procs = {name: subprocess.Popen([sys.executable, "-c", f"import {name}"], cwd=ROOT,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for name in batch}
        for name, proc in procs.items():
            _, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                failures[name] = err.strip().splitlines()[-1]
    assert not failures, failures
