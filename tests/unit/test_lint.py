"""The code has no unused imports or variables, undefined names or other pyflakes findings (ruff's F rules):
each one is either dead code or a bug waiting (a misspelt name only fails when its line runs)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pyflakes_rules_pass_on_the_whole_tree():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "F", "--output-format", "concise", "--no-cache",
         "gridgov", "workflows", "geo", "config", "bench", "tests", "wsgi.py"],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
