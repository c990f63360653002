"""Cost of firing one workflow action: the shared machine (Engine.fire) against building a Machine per
event, the baseline a naive integration would use.  Run: python bench/workflow_engine.py [N]

Also shown: the engine in bind_models mode (add_model/trigger/remove_model under a lock), transitions'
LockedMachine used the same way, the raw Event.trigger floor, SQLAlchemy rows, and 8 threads sharing one
engine.
"""

from __future__ import annotations

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from transitions import Machine  # noqa: E402
from transitions.extensions import LockedMachine  # noqa: E402

from workflows.default import DEFAULT  # noqa: E402
from workflows.engine import Actor, Engine  # noqa: E402

DISPATCHER = Actor("dispatcher", in_area=True)


class Ev:
    def __init__(self, state="reported"):
        self.state = state


def spec(engine):
    return dict(states=list(DEFAULT.state_names),
                transitions=[{"trigger": a.name, "source": list(a.sources), "dest": a.dest,
                              "conditions": [engine._guard(a)]} for a in DEFAULT.actions],
                auto_transitions=False, send_event=True)


def per_op(fn, n):
    fn()  # warm up
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6  # µs


def main(n=20000):
    engine = Engine(DEFAULT)
    bound = Engine(DEFAULT, bind_models=True)
    kw = {"actor": DISPATCHER, "inputs": {}, "flags": frozenset()}

    def shared():
        engine.fire(Ev(), "register", DISPATCHER)

    def shared_bound():
        bound.fire(Ev(), "register", DISPATCHER)

    def per_event():
        ev = Ev()
        Machine(model=ev, initial=ev.state, **spec(engine))
        ev.trigger("register", **kw)

    def floor():
        ev = Ev()
        engine.machine.events["register"].trigger(ev, **kw)

    locked = LockedMachine(model=None, initial=DEFAULT.initial, **spec(engine))

    def locked_shared():
        ev = Ev()
        locked.add_model(ev, initial=ev.state)
        try:
            ev.trigger("register", **kw)
        finally:
            locked.remove_model(ev)

    results = {  # label: µs per fire
        "Machine per event (baseline)": per_op(per_event, max(n // 10, 200)),
        "shared Machine, Engine.fire (default: event.trigger)": per_op(shared, n),
        "shared Machine, Engine(bind_models=True): lock+add/remove": per_op(shared_bound, n),
        "shared LockedMachine, add/trigger/remove": per_op(locked_shared, n),
        "floor: raw Event.trigger, no checks of our own": per_op(floor, n),
    }
    try:
        import sqlalchemy as sa
        from sqlalchemy.orm import DeclarativeBase, mapped_column

        class Base(DeclarativeBase):
            pass

        class Row(Base):
            __tablename__ = "event"
            id = mapped_column(sa.Integer, primary_key=True)
            state = mapped_column(sa.String(20))

        def shared_row():
            engine.fire(Row(id=1, state="reported"), "register", DISPATCHER)

        def bound_row():
            bound.fire(Row(id=1, state="reported"), "register", DISPATCHER)

        def plain_row():  # the cost of creating the transient row alone
            Row(id=1, state="reported")

        make_row = per_op(plain_row, n // 2)
        results["SQLAlchemy row, Engine.fire (minus row creation)"] = per_op(shared_row, n // 2) - make_row
        results["SQLAlchemy row, bind_models=True (minus row creation)"] = per_op(bound_row, n // 2) - make_row
    except ImportError:
        pass

    base = results["Machine per event (baseline)"]
    print(f"workflow engine: cost of one fire (best of 3, {n} fires), transitions Machine per event = baseline")
    for name, us in results.items():
        print(f"  {name:<62} {us:8.1f} µs   ratio {us / base:5.3f} (baseline / this = {base / us:5.1f}×)")

    # contention: 8 threads share the engine
    per_thread = n // 8

    for label, eng, single in (("Engine.fire", engine, results["shared Machine, Engine.fire (default: event.trigger)"]),
                               ("bind_models=True", bound,
                                results["shared Machine, Engine(bind_models=True): lock+add/remove"])):
        def work(eng=eng):
            for _ in range(per_thread):
                eng.fire(Ev(), "register", DISPATCHER)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        print(f"  8 threads sharing one engine, {label:<17} {elapsed / (per_thread * 8) * 1e6:8.1f} µs per fire "
              f"(one thread {single:.1f} µs; the GIL serialises pure Python either way)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
