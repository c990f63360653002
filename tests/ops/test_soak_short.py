"""The soak run in short (bench/soak.py --short): a minute of a county's day against a private
production stack — its own PostgreSQL 15 cluster and Redis, gunicorn, rq workers, cron, relay follower —
while a gunicorn worker is killed, PostgreSQL restarts and an rq worker is killed. Every end check must
pass: nothing acknowledged is lost or doubled, no 500, no half-written rows, every outbox job done,
every notification made and delivered once, the audit chains intact."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak_stack import missing_prerequisites

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_short_soak_with_faults_loses_nothing(tmp_path):
    missing = missing_prerequisites()
    if missing:
        pytest.skip("the soak run needs " + ", ".join(missing))
    summary_file = tmp_path / "soak.json"
    process = subprocess.Popen([sys.executable, "bench/soak.py", "--short", "--json-out", str(summary_file)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=420)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)  # soak.py stops its cluster, Redis and workers on SIGTERM
        output, _ = process.communicate(timeout=90)
        pytest.fail(f"the short soak run did not finish in 7 minutes:\n{output[-6000:]}")
    print(output)  # the run's own report, shown by pytest when the test fails
    summary = json.loads(summary_file.read_text())
    failed = [f"{c['name']}: {c['detail']}" for c in summary["checks"] if not c["ok"]]
    assert process.returncode == 0 and summary["passed"] and not failed, "\n".join(failed) or output[-4000:]

    # The run did what it claims: faults made, a real load, and the end checks it reports.
    faults = "\n".join(summary["faults"])
    assert "pg_ctl restart" in faults and "PostgreSQL is back" in faults
    assert "kill -9 gunicorn worker" in faults and "kill -9 rq worker" in faults
    assert summary["acked"] >= 60 and summary["failed"] == 0
    assert not any(status.startswith("5") and status != "503 Retry-After" for status in summary["statuses"])
    names = {c["name"] for c in summary["checks"]}
    for must in ("flask audit verify", "acknowledged reports stored exactly once (by client UUID)",
                 "every outbox row sent", "no duplicate notification per dedupe key"):
        assert must in names
