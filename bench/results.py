#!/usr/bin/env python3
"""The results we promise: trains the offline example sessions with a target and checks each one.

    python bench/results.py [--out DIR] [--only PRESET ...] [--skip-repeat]

Each preset is trained on NumPy as `dl-lab run PRESET` would (its own seed, epochs and monitor), recorded
into a run directory, and its last epoch compared with the target. Then one session is trained a second
time with the same seed on NumPy: its metrics.jsonl must match line for line apart from the time fields,
and its checkpoints must hold byte-identical arrays. Prints a Markdown table (bench/RESULTS.md keeps one)
and exits with status 1 if a target is missed or the repeat differs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dl_lab.sessions import Recorder, RunFailed, Trainer, preset_session


@dataclass(frozen=True)
class Target:
    """A promise about a preset's last epoch: ``metric`` compared with ``value``."""

    preset: str
    metric: str
    op: str  # ">=" (accuracy) or "<=" (loss)
    value: float
    label: str = ""

    def met(self, reached: float | None) -> bool:
        if reached is None:
            return False
        return reached >= self.value if self.op == ">=" else reached <= self.value


TARGETS = (
    Target("xor", "val_acc", ">=", 1.0),
    Target("spiral", "val_acc", ">=", 0.98),
    Target("digits_mlp", "val_acc", ">=", 0.97),
    Target("digits_cnn", "val_acc", ">=", 0.98),
    Target("sine", "val_loss", "<=", 0.005, label="val MSE"),
)
REPEATED = "digits_mlp"  # shuffling, dropout and monitor snapshots: every source of randomness in one run
TIME_FIELDS = frozenset({"time", "train_samples_per_s", "wall_time", "train_time"})


@dataclass
class Result:
    target: Target
    run_dir: Path
    reached: float | None
    epochs: int
    first_hit: int | None  # the first epoch that met the target
    wall_time: float
    samples_per_s: float
    failure: str = ""

    @property
    def ok(self) -> bool:
        return not self.failure and self.target.met(self.reached)


def train(preset: str, run_dir: Path) -> tuple[list[dict], dict, float, str]:
    """Train a preset into ``run_dir`` as the CLI does; (epoch records, summary, wall seconds, failure)."""
    start = time.perf_counter()
    session = preset_session(preset)
    trainer = Trainer(session, backend="numpy")
    failure = ""
    with Recorder(run_dir, trainer) as recorder:
        for event in trainer.run():
            recorder.record(event)
            if isinstance(event, RunFailed):
                failure = event.message
    wall = time.perf_counter() - start
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    return epoch_records(run_dir), summary, wall, failure


def epoch_records(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.jsonl", encoding="utf-8") as f:
        return [r for r in map(json.loads, f) if r.get("event") == "epoch"]


def check_target(target: Target, run_dir: Path) -> Result:
    session = preset_session(target.preset)
    if target.label == "val MSE" and session.config.loss != "mse":
        raise SystemExit(f"bench: {target.preset} must train with loss mse, not {session.config.loss}")
    epochs, summary, wall, failure = train(target.preset, run_dir)
    reached = epochs[-1].get(target.metric) if epochs else None
    first_hit = next((e["epoch"] for e in epochs if target.met(e.get(target.metric))), None)
    return Result(
        target, run_dir, reached, len(epochs), first_hit, wall, summary.get("train_samples_per_s", 0.0), failure
    )


def without_times(value):
    """``value`` with the time fields dropped from every mapping in it (the end event nests the last epoch)."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in TIME_FIELDS}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def comparable_lines(path: Path) -> list[str]:
    """metrics.jsonl with the time fields dropped, each record re-serialized with sorted keys."""
    with open(path, encoding="utf-8") as f:
        return [json.dumps(without_times(json.loads(line)), sort_keys=True, allow_nan=True) for line in f]


def checkpoint_differences(a: Path, b: Path) -> list[str]:
    """Arrays that differ between two .npz checkpoints (keys, dtype, shape or bytes)."""
    with np.load(a, allow_pickle=False) as fa, np.load(b, allow_pickle=False) as fb:
        if sorted(fa.files) != sorted(fb.files):
            return [f"{a.name}: keys {sorted(fa.files)} != {sorted(fb.files)}"]
        return [f"{a.name}: {key} differs" for key in fa.files if not same_array(fa[key], fb[key])]


def same_array(x: np.ndarray, y: np.ndarray) -> bool:
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def repeat_differences(preset: str, first: Path, second: Path) -> list[str]:
    """Train ``preset`` again into ``second``; what differs from the run in ``first``."""
    train(preset, second)
    problems = []
    lines_a, lines_b = comparable_lines(first / "metrics.jsonl"), comparable_lines(second / "metrics.jsonl")
    if len(lines_a) != len(lines_b):
        problems.append(f"metrics.jsonl: {len(lines_a)} lines, then {len(lines_b)}")
    for i, (x, y) in enumerate(zip(lines_a, lines_b, strict=False), start=1):
        if x != y:
            problems.append(f"metrics.jsonl line {i} differs: {x[:120]} ... vs {y[:120]} ...")
            break
    for name in ("initial.npz", "final.npz"):
        problems += checkpoint_differences(first / "checkpoints" / name, second / "checkpoints" / name)
    return problems


def fmt_value(target: Target, value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if target.metric.endswith("acc") else f"{value:.5f}"


def table(results: list[Result]) -> str:
    rows = [
        "| session | metric | target | reached | epochs (target met at) | wall time | train samples/s | result |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        t = r.target
        metric = f"{t.metric} ({t.label})" if t.label else t.metric
        hit = f" ({r.first_hit})" if r.first_hit else ""
        verdict = "ok" if r.ok else ("FAILED: " + r.failure if r.failure else "MISSED")
        rows.append(
            f"| {t.preset} | {metric} | {t.op} {fmt_value(t, t.value)} | {fmt_value(t, r.reached)} "
            f"| {r.epochs}{hit} | {r.wall_time:.1f} s | {r.samples_per_s:,.0f} | {verdict} |"
        )
    return "\n".join(rows)


def machine() -> str:
    """Date, machine and versions; the load average, as other work on the machine slows every run down."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} CPUs (load average {load}), "
        f"Python {platform.python_version()}, NumPy {np.__version__}"
    )


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="keep the run directories here (default: a temporary folder)")
    ap.add_argument("--only", nargs="+", metavar="PRESET", help="check only these presets")
    ap.add_argument("--skip-repeat", action="store_true", help="skip the same-seed repeat")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    targets = [t for t in TARGETS if not args.only or t.preset in args.only]
    with tempfile.TemporaryDirectory(prefix="dl-lab-results-") as tmp:
        root = args.out or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        print(f"dl-lab results: {machine()}", flush=True)
        results = []
        for target in targets:
            results.append(check_target(target, root / target.preset))
            print(f"  trained {target.preset} in {results[-1].wall_time:.1f} s", file=sys.stderr, flush=True)
        print()
        print(table(results))
        ok = all(r.ok for r in results)
        first = next((r.run_dir for r in results if r.target.preset == REPEATED), None)
        if not args.skip_repeat:
            if first is None:
                first = root / REPEATED
                train(REPEATED, first)
            problems = repeat_differences(REPEATED, first, root / f"{REPEATED}-repeat")
            print()
            if problems:
                print(f"same seed, twice ({REPEATED}, numpy): DIFFERENT")
                print("\n".join(f"  {p}" for p in problems))
            else:
                print(
                    f"same seed, twice ({REPEATED}, numpy): metrics.jsonl identical apart from "
                    f"{', '.join(sorted(TIME_FIELDS))}; initial and final checkpoints byte-identical"
                )
            ok = ok and not problems
    print()
    print("all targets met" if ok else "TARGETS MISSED or runs not reproducible")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
