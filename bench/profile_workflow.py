"""Where a workflow action's time goes: wall and this process's CPU per action, against the bare pair.

In one run, on the scratch database of bench/workflow.py: reported events, then `register, dispatch,
accept, return, redispatch` fired through `fire_action` with the relay deferred (so only the action's
own transaction counts), and the same number of bare UPDATE + INSERT transactions. Prints wall ms and
CPU ms (time.process_time, this process only) per action for both; wall minus CPU is mostly waiting
for PostgreSQL. `--profile N` adds a cProfile (CPU time) of N events' actions.

Run: python bench/profile_workflow.py [--events 300] [--profile 0]
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import workflow as wf  # noqa: E402


def timed(run) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--profile", type=int, default=0, help="events whose actions are profiled")
    args = parser.parse_args()
    actions = args.events * len(wf.PATH)
    wf.SCRATCH.recreate()
    try:
        from flask_migrate import upgrade

        app = wf.make_app(wf.REDIS_URL)
        app.config["OUTBOX_RELAY_AFTER_COMMIT"] = False
        with app.app_context():
            upgrade(directory=str(ROOT / "gridgov" / "migrations"))
            from gridgov.demo.load import load_demo

            load_demo(seed=5, password="bench-pass-1", event_count=0)
        warm = wf.seed_events(app, 20, "w")
        wf.run_service(app, warm)
        wf.run_bare(warm)
        service_ids = wf.seed_events(app, args.events, "s")
        bare_ids = wf.seed_events(app, args.events, "b")
        bare_wall, bare_cpu = timed(lambda: wf.run_bare(bare_ids))
        service_wall, service_cpu = timed(lambda: wf.run_service(app, service_ids))
        if args.profile:
            profiled = wf.seed_events(app, args.profile, "p")
            profile = cProfile.Profile(time.process_time)
            profile.runcall(wf.run_service, app, profiled)
            pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        wf.drop_queue(app)
    finally:
        wf.SCRATCH.drop()
    per = lambda seconds: seconds / actions * 1000  # noqa: E731
    print(f"{actions:,} actions ({args.events:,} events × {len(wf.PATH)}), relay deferred, PostgreSQL")
    print(f"service: wall {per(service_wall):.3f} ms/action, CPU in this process {per(service_cpu):.3f} ms, "
          f"the rest (mostly PostgreSQL) {per(service_wall - service_cpu):.3f} ms")
    print(f"bare UPDATE + INSERT: wall {per(bare_wall):.3f} ms/action, CPU in this process {per(bare_cpu):.3f} ms")
    print(f"wall ratio {service_wall / bare_wall:.2f}×; without our CPU the service would be "
          f"{(service_wall - service_cpu) / bare_wall:.2f}× the bare pair")
    return 0


if __name__ == "__main__":
    sys.exit(main())
