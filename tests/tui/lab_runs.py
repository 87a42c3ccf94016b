"""Helpers for the app's tests: a tiny session, a recorded run with frozen times, waiting on the pilot."""

from __future__ import annotations

import json
import time
from pathlib import Path

from recorded import record
from textual import events

from dl_lab.sessions import Trainer, session_from_text

TINY = """\
name: tiny
seed: 5
dtype: float64
data: {dataset: circle, samples: 120, noise: 0.1}
model:
  - dense: {units: 6, activation: relu}
  - dense: {units: 6, activation: tanh}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.03}
training: {epochs: 3, batch_size: 16}
monitor: {every_steps: 4, boundary_resolution: 16}
"""


def tiny_session(**overrides):
    """The tiny session (two classes on a plane, float64 so that recorded numbers repeat across machines)."""
    session = session_from_text(TINY)
    return session.with_overrides([f"{k.replace('__', '.')}={v}" for k, v in overrides.items()])


def record_run(run_dir: Path, session=None) -> Path:
    """Train ``session`` headless into ``run_dir`` and freeze its clock readings (times, speeds) so that
    pictures of its replay are the same on every machine."""
    record(run_dir, session or tiny_session())
    metrics = run_dir / "metrics.jsonl"
    lines = []
    for line in metrics.read_text().splitlines():
        line_record = json.loads(line)
        frozen = round(line_record.get("step", 0) * 0.01, 4)
        for key in ("time", "wall_time", "train_time"):
            if key in line_record:
                line_record[key] = frozen
        if "train_samples_per_s" in line_record:
            line_record["train_samples_per_s"] = 1000.0
        lines.append(json.dumps(line_record))
    metrics.write_text("\n".join(lines) + "\n")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary.update(train_samples_per_s=1000.0, wall_time=1.0, train_time=1.0)
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


def recorded_steps(run_dir: Path) -> int:
    """How many batches the run's record accounts for: a step line stands for ``span`` steps (one without it). The
    record keeps every one of a run's first 256 steps (sessions/runs/thinning.py; the app paces a tiny run at 120
    steps a second, so the tests pause well before), then holds some back."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return 0
    return sum(json.loads(line).get("span", 1) for line in path.open() if '"event":"step"' in line)


class CrashingTrainer(Trainer):
    """A trainer that breaks once its run has started (a bug in the engine, say); importable by the worker
    process, where a test cannot patch a trainer."""

    def run(self, should_stop=None):
        yield self.started()
        raise RuntimeError("the GPU caught fire")


async def wait_for(pilot, predicate, timeout: float = 10.0, what: str = "the condition") -> None:
    """Let the app run until ``predicate()`` holds (training happens in another thread)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


async def tap(pilot, *keys: str) -> None:
    """Press keys as Pilot.press does, without its wait for the whole process to go idle: while a training
    thread runs, the process never is, and each press would cost a second."""
    for key in keys:
        pilot.app.post_message(events.Key(key, " " if key == "space" else (key if len(key) == 1 else None)))
        await pilot.pause(0.05)
