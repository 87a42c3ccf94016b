"""A run recorded for a test: a session (or its YAML text) trained headless into a run folder, as `dl-lab run`
records it (importable from every test folder: pyproject's pythonpath holds tests/)."""

from __future__ import annotations

from pathlib import Path

from dl_lab.sessions import Recorder, Trainer, session_from_text

# An image MLP on the offline digits (float64, so that numbers repeat across machines), snapshots every 5 steps.
DIGITS_MLP = """\
name: digits
seed: 0
dtype: float64
data: {dataset: digits, samples: 200, normalize: standard}
model:
  - flatten
  - dense: {units: 16, activation: relu}
  - dense: {units: 10}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 2, batch_size: 16}
monitor: {every_steps: 5}
"""

# AdaBoost of 3 perceptrons on 100 circle points: a boosted run in a fraction of a second (rounds changed by --set)
BOOSTED = """\
name: boosted
seed: 3
dtype: float64
data: {dataset: circle, samples: 100, noise: 0.0}
model:
  - dense: {units: 1}
loss: perceptron
optimizer: {name: sgd, lr: 0.1}
training: {epochs: 2, batch_size: 10}
boost: {rounds: 3}
monitor: {every_steps: 4, boundary_resolution: 8}
"""


def record(run_dir: Path, session) -> Path:
    """Train ``session`` (a Session, or YAML text) to its end, recorded into ``run_dir``; returns ``run_dir``."""
    session = session_from_text(session) if isinstance(session, str) else session
    trainer = Trainer(session)
    with Recorder(run_dir, trainer) as recorder:
        for event in trainer.run():
            recorder.record(event)
    return run_dir
