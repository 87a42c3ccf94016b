#!/usr/bin/env python3
"""What monitoring costs: seconds spent taking and recording snapshots against seconds of training steps.

    python bench/monitor_overhead.py [--default] [PRESET ...]   (default: spiral digits_mlp digits_cnn sine)

Each preset is trained as `dl-lab run` does (Trainer + Recorder into a temporary run directory). The
monitoring cost is the time in Monitor.snapshot plus the time the recorder spends writing snapshot lines;
training time is the time in training steps (forward, backward, update), as summary.json counts it.
``--default`` replaces each preset's own monitor.every_steps by the schema's default.
"""

from __future__ import annotations

import sys
import tempfile
import time

from dl_lab.sessions import Recorder, SnapshotTaken, Trainer, preset_session
from dl_lab.sessions.config.schema import MONITOR


def timed_run(session, run_dir):
    trainer = Trainer(session)
    spent = {"snapshot": 0.0, "record": 0.0, "count": 0}
    if trainer.monitor:
        take = trainer.monitor.snapshot

        def snapshot(*args):
            start = time.perf_counter()
            try:
                return take(*args)
            finally:
                spent["snapshot"] += time.perf_counter() - start
                spent["count"] += 1

        trainer.monitor.snapshot = snapshot
    start = time.perf_counter()
    with Recorder(run_dir, trainer) as recorder:
        for event in trainer.run():
            t = time.perf_counter()
            recorder.record(event)
            if isinstance(event, SnapshotTaken):
                spent["record"] += time.perf_counter() - t
    return trainer.progress.train_time, spent, time.perf_counter() - start


def main(names, default_every: bool = False):
    print("| session | every_steps | snapshots | snapshot s | recording s | training-step s | overhead | wall |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        extra = [f"monitor.every_steps={MONITOR['every_steps'].default}"] if default_every else []
        session = preset_session(name, extra)
        with tempfile.TemporaryDirectory() as tmp:
            train_s, spent, wall = timed_run(session, tmp)
        cost = spent["snapshot"] + spent["record"]
        print(
            f"| {name} | {session.config.monitor.every_steps} | {spent['count']} | {spent['snapshot']:.3f} | "
            f"{spent['record']:.3f} | {train_s:.3f} | {cost / train_s:.1%} | {wall:.2f} |"
        )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--default"]
    main(args or ["spiral", "digits_mlp", "digits_cnn", "sine"], default_every="--default" in sys.argv)
