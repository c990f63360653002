"""What the benchmarks take from the deployment's own files, so that "as deployed" means the same thing.

The relay follower's CPU priority is its systemd unit's `Nice=` (config/systemd/gridgov-relay.service):
a benchmark that starts a follower starts it at that priority, as systemd would.
"""
from __future__ import annotations

import configparser
import os
from pathlib import Path

UNITS = Path(__file__).resolve().parents[1] / "config" / "systemd"


def unit_nice(unit: str) -> int:
    """The `Nice=` of a shipped unit (0 when it sets none)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(UNITS / unit)
    return int(parser["Service"].get("Nice", "0"))


def niced_as(unit: str):
    """A `preexec_fn` for subprocess.Popen that lowers the child's priority as the unit does."""
    nice = unit_nice(unit)

    def lower_priority() -> None:
        if nice:
            os.nice(nice)
    return lower_priority
