"""Run every benchmark in bench/ against this machine's PostgreSQL and Redis and print one table.

Each benchmark prints its own figures, the baseline measured in the same run, the ratio and a
PASS/FAIL verdict per target; this script runs them one after another (they would disturb each
other's timings in parallel), keeps their full output under bench/out/, and prints the lines that
carry a verdict as the table the README's performance section copies.

Run: python bench/run_all.py [--only geofence,sweep] [--timeout 1800]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["geofence", "workflow", "sweep", "stats", "ingest", "soak"]
VERDICT = re.compile(r"\b(PASS|FAIL)\b")


def run(name: str, timeout: float) -> tuple[str, float, list[str], int]:
    script = HERE / f"{name}.py"
    if not script.exists():
        return name, 0.0, ["(no benchmark file)"], -1
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
    lines = [line.strip() for line in output.splitlines() if VERDICT.search(line) or "ratio" in line.lower()]
    return name, elapsed, lines or output.strip().splitlines()[-3:], code


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    names = [n for n in BENCHES if not args.only or n in args.only.split(",")]
    results = [run(name, args.timeout) for name in names]
    print("| benchmark | seconds | figures, ratios and verdicts |")
    print("| --- | --- | --- |")
    for name, elapsed, lines, code in results:
        print(f"| {name} | {elapsed:.0f} | {'<br>'.join(l.replace('|', '/') for l in lines)} |")
    return 0 if all(code == 0 for *_, code in results) else 1


if __name__ == "__main__":
    sys.exit(main())
