#!/usr/bin/env python3
"""What monitoring costs: each session trained with its monitor on (default frequency) and off.

    python bench/monitor_overhead.py [PRESET ...]   (default: spiral digits_mlp digits_cnn)

Reports, per session, the seconds spent in snapshots against the seconds spent in training steps
(forward, backward, update), and the whole run's wall time with and without monitoring.
"""

from __future__ import annotations

import sys
import time

from dl_lab.session import Trainer, preset_session


def timed_run(session):
    trainer = Trainer(session)
    spent = [0.0, 0]
    if trainer.monitor:
        take = trainer.monitor.snapshot

        def snapshot(*args):
            start = time.perf_counter()
            try:
                return take(*args)
            finally:
                spent[0] += time.perf_counter() - start
                spent[1] += 1

        trainer.monitor.snapshot = snapshot
    start = time.perf_counter()
    for _ in trainer.run():
        pass
    return trainer.progress.train_time, spent[0], spent[1], time.perf_counter() - start


def main(names):
    print("| session | every_steps | snapshots | snapshot s | training-step s | overhead | wall on | wall off |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        on = preset_session(name)
        off = preset_session(name, ["monitor.every_steps=0"])
        train_s, snap_s, n, wall_on = timed_run(on)
        _, _, _, wall_off = timed_run(off)
        every = on.spec["monitor"]["every_steps"]
        print(f"| {name} | {every} | {n} | {snap_s:.3f} | {train_s:.3f} | {snap_s / train_s:.1%} | "
              f"{wall_on:.2f} | {wall_off:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:] or ["spiral", "digits_mlp", "digits_cnn"])
