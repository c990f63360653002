"""Run every benchmark in bench/ against this machine's PostgreSQL and Redis and print one table.

Each benchmark prints its own figures, the baseline measured in the same run, the ratio and a
PASS/FAIL verdict per target, and ends with one TABLE-ROW line (bench/table.py); this script runs them
one after another (they would disturb each other's timings in parallel), keeps their full output
under bench/out/, and prints those rows as the table the README's performance section copies:
benchmark, figure, target, baseline, ratio, verdict. A benchmark that ends without its row (it
crashed or timed out) shows its last lines and FAIL.

Run: python bench/run_all.py [--only geofence,sweep] [--timeout 1800]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.table import parse_rows  # noqa: E402

BENCHES = ["geofence", "workflow", "sweep", "stats", "ingest", "soak"]


def run(name: str, timeout: float) -> tuple[str, float, list[dict], int]:
    script = HERE / f"{name}.py"
    if not script.exists():
        return name, 0.0, [{"benchmark": name, "figure": "(no benchmark file)", "target": "", "baseline": "",
                            "ratio": "", "verdict": "FAIL"}], -1
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout)
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        output, code = (exc.stdout or "") if isinstance(exc.stdout, str) else "", -9
        output += f"\n(timed out after {timeout:.0f} s)"
    elapsed = time.monotonic() - started
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / f"{name}.txt").write_text(output)
    rows = parse_rows(output)
    if not rows:
        tail = " / ".join(line.strip() for line in output.strip().splitlines()[-3:])
        rows = [{"benchmark": name, "figure": tail or "(no output)", "target": "", "baseline": "", "ratio": "",
                 "verdict": "FAIL"}]
    return name, elapsed, rows, code


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    names = [n for n in BENCHES if not args.only or n in args.only.split(",")]
    results = [run(name, args.timeout) for name in names]
    print("| benchmark | target | measured | baseline in the same run | ratio | verdict | run |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, elapsed, rows, code in results:
        for row in rows:
            cells = [row["benchmark"], row["target"], row["figure"], row["baseline"], row["ratio"], row["verdict"],
                     f"{elapsed:.0f} s"]
            print("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return 0 if all(code == 0 for *_, code in results) else 1


if __name__ == "__main__":
    sys.exit(main())
