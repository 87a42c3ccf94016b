"""The sweep folders under a root, read from their files alone (no Optuna here): the app's runs screen lists
each sweep with its trials, and starts without importing Optuna.

A sweep folder (``dl-lab sweep --out``, default ``./sweeps/NAME/``) holds ``sweep.yaml`` (the sweep file as
first run), ``journal.log`` (the study) and ``trials/trial-NNNN/`` (each a recorded run). A trial's state and
value here come from its run: the state the study told it (summary.json's ``sweep``, written when it ended),
else the run's own state; its value is the best epoch's metric for the sweep's goal, as the study records it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from dl_lab.core.errors import DLLabError
from dl_lab.sessions.config.yamlio import read_yaml_file
from dl_lab.sessions.runs.directory import Run, list_runs
from dl_lab.sessions.sweeps.config import KINDS

SWEEPS_ENV = "DL_LAB_SWEEPS"
# A sweep folder's layout (study.py writes it, the app reads it here)
JOURNAL = "journal.log"  # the study, on Optuna's journal file (no --storage)
TRIALS_DIR = "trials"  # each trial's recorded run: trials/trial-NNNN/
SWEEP_FILE = "sweep.yaml"  # the sweep file as first run, kept in the sweep folder
MARKERS = (SWEEP_FILE, JOURNAL)  # a folder with either is a sweep folder


def trial_dir(sweep_dir: Path, number: int) -> Path:
    """Where trial ``number`` of the sweep in ``sweep_dir`` records its run."""
    return Path(sweep_dir) / TRIALS_DIR / f"trial-{number:04d}"


def sweeps_root() -> Path:
    """Where the app looks for sweep folders: $DL_LAB_SWEEPS, else ./sweeps (dl-lab sweep's default --out)."""
    return Path(os.environ.get(SWEEPS_ENV) or "sweeps")


@dataclass
class Param:
    """One searched key path as the sweep file gives it: ``kind`` loguniform, uniform, int or choice."""

    path: str
    kind: str
    log: bool = False
    choices: tuple = ()


@dataclass
class Sweep:
    """A sweep folder: its name, the metric and goal it optimizes, its space and its trials' runs."""

    path: Path
    name: str
    metric: str | None = None
    goal: str = "max"  # max | min
    params: list[Param] = field(default_factory=list)
    trials: list[Run] = field(default_factory=list)
    problem: str | None = None  # why sweep.yaml could not be read (the trials still list)

    def trial_state(self, run: Run) -> str:
        """The study's word for the trial (COMPLETE, PRUNED, FAIL) once told, else the run's state."""
        noted = run.summary.get("sweep") if isinstance(run.summary, dict) else None
        if isinstance(noted, dict) and isinstance(noted.get("state"), str):
            return str(noted["state"])
        return run.state

    def trial_value(self, run: Run) -> float | None:
        """The best epoch's metric for the goal (what the study records as the trial's value); None without."""
        if self.metric is None:
            return None
        values = [e.get(self.metric) for e in run.epochs()]
        finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if not finite:
            return None
        return max(finite) if self.goal == "max" else min(finite)

    def best(self) -> tuple[Run, float] | None:
        """The complete trial with the best value, and that value (None before one completes)."""
        scored = [
            (run, value)
            for run in self.trials
            if self.trial_state(run) == "COMPLETE" and (value := self.trial_value(run)) is not None
        ]
        if not scored:
            return None
        pick = max if self.goal == "max" else min
        return pick(scored, key=lambda rv: rv[1])


def is_sweep_folder(path: Path) -> bool:
    return path.is_dir() and any((path / marker).is_file() for marker in MARKERS)


def read_sweep(path: Path, with_trials: bool = True) -> Sweep:
    """One sweep folder: what its sweep.yaml says (metric, goal, space) and, ``with_trials``, its trials' runs
    (damaged ones listed)."""
    path = Path(path)
    sweep = Sweep(path, path.name)
    file = path / SWEEP_FILE
    if file.is_file():
        try:
            data, _ = read_yaml_file(file)
        except (DLLabError, OSError) as exc:
            sweep.problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        else:
            _read_spec(sweep, data)
    if with_trials:
        sweep.trials = sorted(list_runs(path / TRIALS_DIR, include_damaged=True), key=lambda r: r.path.name)
    return sweep


def _read_spec(sweep: Sweep, data: object) -> None:
    if not isinstance(data, dict):
        sweep.problem = "sweep.yaml is not a mapping"
        return
    metric = data.get("metric")
    if isinstance(metric, dict) and isinstance(metric.get("name"), str):
        sweep.metric = metric["name"]
        sweep.goal = "min" if metric.get("goal") == "min" else "max"
    space = data.get("space")
    if isinstance(space, dict):
        for key, spec in space.items():
            if not isinstance(spec, dict) or len(spec) < 1:
                continue
            kind = next((k for k in KINDS if k in spec), "")
            choices = tuple(spec["choice"]) if kind == "choice" and isinstance(spec["choice"], list) else ()
            log = kind == "loguniform" or (kind == "int" and spec.get("log") is True)
            sweep.params.append(Param(str(key), kind, log, choices))


def find_sweeps(root: Path | None = None) -> list[Sweep]:
    """The sweep folders directly under ``root`` (default: sweeps_root()), by name; ``root`` itself when it is
    one (the app pointed at a single sweep's folder)."""
    root = Path(root) if root is not None else sweeps_root()
    if not root.is_dir():
        return []
    if is_sweep_folder(root):
        return [read_sweep(root)]
    try:
        children = sorted(child for child in root.iterdir() if is_sweep_folder(child))
    except OSError:
        return []
    return [read_sweep(child) for child in children]
