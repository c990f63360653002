"""The systemd units shipped in config/systemd/ start commands that exist, and come back when they die."""
from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "config" / "systemd").glob("*.service"))
VENV_BIN = Path(sys.executable).parent


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(path)
    return parser


def test_every_process_of_the_deployment_has_a_unit():
    commands = {" ".join(shlex.split(unit(p)["Service"]["ExecStart"])[1:]) for p in UNITS}
    assert {"-c config/gunicorn.conf.py wsgi:app", "--app wsgi jobs worker", "--app wsgi jobs cron",
            "--app wsgi jobs relay --follow"} == commands


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_unit_restarts_and_its_command_runs(path, tmp_path):
    service = unit(path)["Service"]
    assert service["Restart"] == "always" and float(service["RestartSec"]) > 0
    assert service["WorkingDirectory"] == "/opt/gridgov" and service["EnvironmentFile"] == "/etc/gridgov/env"
    argv = shlex.split(service["ExecStart"])
    assert argv[0].startswith("/opt/gridgov/.venv/bin/")
    program = VENV_BIN / Path(argv[0]).name
    env = {"PATH": str(VENV_BIN), "GRIDGOV_INSTANCE_DIR": str(tmp_path), "HOME": str(tmp_path)}
    if program.name == "gunicorn":  # loads the config and the app, serves nothing
        check = [str(program), "--check-config", *argv[1:]]
    else:
        check = [str(program), *argv[1:], "--help"]
    result = subprocess.run(check, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_relay_follower_yields_the_cpu_to_the_web_workers():
    """Relaying may wait a moment, a report may not: the follower's unit runs it at a lower priority,
    and the benchmarks start their follower at the unit's priority (bench/deployed.py)."""
    from bench.deployed import niced_as, unit_nice

    assert unit_nice("gridgov-relay.service") == 10
    assert unit_nice("gridgov-web.service") == 0
    niced = subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"], capture_output=True, text=True,
                           preexec_fn=niced_as("gridgov-relay.service"), check=True)
    assert int(niced.stdout) == os.nice(0) + 10
