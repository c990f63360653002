"""One row of the performance table, printed by each benchmark and collected by bench/run_all.py.

A benchmark prints its full figures as it likes; at the end it calls `table_row(...)`, which prints one
line `TABLE-ROW {json}` holding what the README's table shows: the figure, the target, the baseline
measured in the same run, the ratio and the verdict.
"""
from __future__ import annotations

import json

MARK = "TABLE-ROW "


def table_row(benchmark: str, *, figure: str, target: str, baseline: str, ratio: str, verdict: bool) -> None:
    print(MARK + json.dumps({"benchmark": benchmark, "figure": figure, "target": target, "baseline": baseline,
                             "ratio": ratio, "verdict": "PASS" if verdict else "FAIL"}, ensure_ascii=False),
          flush=True)


def parse_rows(output: str) -> list[dict]:
    return [json.loads(line[len(MARK):]) for line in output.splitlines() if line.startswith(MARK)]
