#!/usr/bin/env python3
"""What a sweep costs: trials per minute with 1 and 2 workers on a spiral sweep, and a trial's overhead against
the same run done with `dl-lab run`.

    python bench/sweep_bench.py [--trials 8] [--epochs 30] [--out bench/results/sweep-STAMP.json]

The sweep is a grid over the spiral preset (optimizer.lr x the first layer's units, `--trials` points), so that
the 1-worker and 2-worker sweeps train exactly the same sessions. For the overhead, the same sessions are run
one by one with `dl-lab run --set ...` in fresh processes, and the two sums of wall time are compared:

- end to end: the 1-worker sweep's wall time against the sum of the `dl-lab run` commands' wall times (both
  start Python and dl-lab: the sweep once, the runs once each);
- per trial: in one process, taking turns, each session trained by dl-lab's run loop alone (run_recorded, as
  `dl-lab run` does) and as a trial of a study on a journal file (ask, the same run loop with a report to the
  study each epoch, tell): what Optuna adds to a trial.

Goal (issue 15): the per-trial overhead under 10%.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from itertools import product
from pathlib import Path

LRS = [0.003, 0.01, 0.03, 0.1]
UNITS = [16, 32, 64, 8]


def dl_lab(*args: str, cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "dl_lab.cli.main", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"dl-lab {' '.join(args)} failed:\n{result.stderr}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    points = list(product(LRS, UNITS))[: args.trials]
    lrs = sorted({lr for lr, _ in points})
    units = sorted({u for _, u in points})
    points = list(product(lrs, units))  # a full grid
    work = Path(tempfile.mkdtemp(prefix="dl-lab-sweep-bench-"))
    (work / "base.yaml").write_text(
        (Path(__file__).resolve().parents[1] / "sessions" / "presets" / "spiral.yaml")
        .read_text()
        .replace("epochs: 60", f"epochs: {args.epochs}")
    )
    sweep = (
        "session: base.yaml\nmetric: {name: val_acc, goal: max}\nsampler: grid\npruner: none\nspace:\n"
        f"  optimizer.lr: {{choice: {lrs}}}\n  model[0].dense.units: {{choice: {units}}}\n"
    )
    (work / "grid.yaml").write_text(sweep)
    env_threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"{len(points)} trials of spiral ({args.epochs} epochs), OMP_NUM_THREADS={env_threads}, in {work}")

    result: dict = {"trials": len(points), "epochs": args.epochs, "cpus": os.cpu_count()}
    for k in (1, 2):
        wall = dl_lab("sweep", "grid.yaml", "--workers", str(k), "--out", f"s{k}", cwd=work)
        result[f"sweep_{k}_worker_s"] = wall
        result[f"trials_per_min_{k}_worker"] = 60 * len(points) / wall
        print(f"{k} worker(s): {wall:.1f} s, {60 * len(points) / wall:.1f} trials/min")

    # the overhead of a trial: the same sessions trained in this process by dl-lab's run loop alone and as
    # trials of a study (ask, a report each epoch, tell), in turns, so that both see the same machine
    import optuna

    from dl_lab.sessions.sweeps import study as sweeps
    from dl_lab.sessions.sweeps.config import load_sweep
    from dl_lab.sessions.training.loop import run_recorded
    from dl_lab.sessions.training.trainer import Trainer

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    config = load_sweep(work / "grid.yaml")
    (work / "inproc").mkdir()
    study = sweeps.open_study(config, sweeps.storage(work / "inproc", None))
    per_trial, alone_s, trial_s = [], 0.0, 0.0
    for i, (lr, u) in enumerate(points):
        params = {"optimizer.lr": lr, "model[0].dense.units": u}
        session = config.trial_session(params)
        start = time.perf_counter()
        run_recorded(Trainer(session), work / "alone" / f"r{i}", lambda: False, lambda event: None)
        alone = time.perf_counter() - start
        study.enqueue_trial(params)
        start = time.perf_counter()
        trial = study.ask(config.distributions())
        sweeps.run_trial(config, study, trial, work / "inproc" / f"t{i}", lambda: False)
        as_trial = time.perf_counter() - start
        alone_s, trial_s = alone_s + alone, trial_s + as_trial
        per_trial.append(as_trial / alone - 1)
    runs_wall = 0.0
    for i, (lr, u) in enumerate(points):
        runs_wall += dl_lab(
            "run", "base.yaml", "--quiet", "--out", f"runs/r{i}", "--set", f"optimizer.lr={lr}",
            "--set", f"model[0].dense.units={u}", cwd=work,
        )  # fmt: skip
    result.update(
        runs_wall_s=runs_wall,
        end_to_end_overhead=result["sweep_1_worker_s"] / runs_wall - 1,
        alone_s=alone_s,
        as_trials_s=trial_s,
        trial_overhead=trial_s / alone_s - 1,
        trial_overhead_each=per_trial,
    )
    print(f"dl-lab run, one process a run: {runs_wall:.1f} s in all")
    print(f"end to end: the 1-worker sweep takes {100 * result['end_to_end_overhead']:+.1f}% against those runs")
    print(
        f"per trial, in one process: {alone_s:.1f} s as plain runs, {trial_s:.1f} s as trials: "
        f"{100 * result['trial_overhead']:+.1f}% (each: {', '.join(f'{100 * x:+.0f}%' for x in per_trial)})"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
