"""A sweep file: a base session, the metric to optimize, a search space of session key paths, a sampler,
a pruner and a budget; validated strictly, as a session is.

```yaml
session: spiral                    # a preset name or a session file, relative to this file
metric: {name: val_acc, goal: max} # any epoch metric; goal max | min
sampler: tpe                       # grid | random | tpe
pruner: median                     # none | median | hyperband
trials: 20                         # and/or timeout_s: 600
space:
  optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}
  model[0].dense.units: {choice: [8, 16, 32, 64]}
  training.batch_size: {int: [8, 128], log: true}
  regularization.l2: {uniform: [0.0, 1.0e-3]}
```

A trial's parameters become ``--set`` overrides of the base session (``overrides``). Optuna is imported only
by the methods that build its objects (``distributions``, ``grid``), never when this module loads.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dl_lab.core.errors import DLLabError
from dl_lab.sessions.config.presets import PRESETS, preset_session
from dl_lab.sessions.config.session import Session, load_session, parse_path, session_from_dict
from dl_lab.sessions.config.yamlio import line_of, read_yaml_file

KEYS = ("session", "metric", "sampler", "pruner", "trials", "timeout_s", "space")
SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "hyperband")
GOALS = {"max": "maximize", "min": "minimize"}
# The numbers each epoch records (sessions/events.py EpochEnded) that a sweep can optimize.
METRICS = ("val_acc", "val_loss", "train_acc", "train_loss", "val_mae", "train_mae", "val_r2", "train_r2")
KINDS = ("loguniform", "uniform", "int", "choice")


class SweepError(DLLabError, ValueError):
    """A sweep file is missing, unreadable or invalid, or a sweep folder cannot be used (exit status 2)."""


@dataclass(frozen=True)
class Param:
    """One searched key path and its range: ``kind`` is loguniform, uniform, int (``log`` allowed) or choice."""

    path: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    choices: tuple = ()

    def distribution(self) -> Any:
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "choice":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log)  # type: ignore[arg-type]
        return FloatDistribution(float(self.low), float(self.high), log=self.kind == "loguniform")  # type: ignore[arg-type]

    def grid_values(self, where: str) -> list:
        """The values a grid sampler tries: every choice, or every integer of an int range."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1))  # type: ignore[arg-type]
        raise SweepError(
            f"{where}: space.{self.path}: a {self.kind} range has no grid for the grid sampler; "
            "give its values as choice: [...]"
        )


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep file."""

    source: Path
    session: Session
    metric: str
    goal: str  # max | min
    sampler: str
    pruner: str
    trials: int | None
    timeout_s: float | None
    space: tuple[Param, ...]
    raw: dict

    @property
    def name(self) -> str:
        """The study's name: the sweep file's name without its suffix."""
        return self.source.stem

    @property
    def direction(self) -> str:
        return GOALS[self.goal]

    def distributions(self) -> dict[str, Any]:
        return {p.path: p.distribution() for p in self.space}

    def grid(self) -> dict[str, list]:
        return {p.path: p.grid_values(str(self.source)) for p in self.space}

    def grid_size(self) -> int:
        return math.prod(len(values) for values in self.grid().values())

    def trial_session(self, params: dict) -> Session:
        """The base session with a trial's parameters applied as --set overrides (validated)."""
        return self.session.with_overrides(overrides(params))

    def better(self, a: float, b: float) -> bool:
        """Whether metric value ``a`` beats ``b`` for this sweep's goal."""
        return a > b if self.goal == "max" else a < b


def format_value(value) -> str:
    """A parameter's value as --set writes it, read back as the same value (YAML: 1.0e-05, not 1e-05, which
    PyYAML reads as text; strings quoted)."""
    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    return json.dumps(value)


def overrides(params: dict) -> list[str]:
    """A trial's parameters as --set overrides: ``path=value``."""
    return [f"{path}={format_value(value)}" for path, value in params.items()]


def load_sweep(path) -> SweepConfig:
    """Read and validate a sweep file; errors are SweepErrors naming the file and the key."""
    path = Path(path)
    try:
        raw, lines = read_yaml_file(path)
    except DLLabError as exc:
        raise SweepError(str(exc).replace("session file", "sweep file")) from None
    if not isinstance(raw, dict):
        raise SweepError(f"{path}: a sweep file is a mapping of {', '.join(KEYS)}")
    try:
        return sweep_from_dict(raw, path)
    except SweepError as exc:  # "FILE: space.optimizer.lr: ..." -> "FILE:5: space.optimizer.lr: ..."
        message = str(exc)
        rest = message.removeprefix(f"{path}: ")
        line = line_of(rest, lines) if rest != message else None
        if line is None:
            raise
        raise SweepError(f"{path}:{line}: {rest}") from None


def sweep_from_dict(raw: dict, path: Path) -> SweepConfig:
    """Validate a sweep read from ``path`` (its session file is relative to it; a study's stored sweep: the
    working directory). ``session`` may also be a whole session, inline, as a mapping."""
    where = str(path)
    unknown = [str(k) for k in raw if k not in KEYS]
    if unknown:
        raise SweepError(f"{where}: unknown key {unknown[0]!r} (a sweep file has {', '.join(KEYS)})")
    for key in ("session", "metric", "space"):
        if key not in raw:
            raise SweepError(f"{where}: {key}: missing")
    session = _session(raw["session"], path)
    metric, goal = _metric(raw["metric"], where)
    sampler = _word(raw.get("sampler", "tpe"), "sampler", SAMPLERS, where)
    pruner = _word(raw.get("pruner", "none"), "pruner", PRUNERS, where)
    trials = raw.get("trials")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
        raise SweepError(f"{where}: trials: {trials!r} is not a whole number of at least 1")
    timeout = raw.get("timeout_s")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0
    ):
        raise SweepError(f"{where}: timeout_s: {timeout!r} is not a positive number of seconds")
    space = raw["space"]
    if not isinstance(space, dict) or not space:
        raise SweepError(
            f"{where}: space: a mapping of session key paths to ranges, e.g. optimizer.lr: {{uniform: [0.001, 0.1]}}"
        )
    params = tuple(_param(str(key), value, session, where) for key, value in space.items())
    config = SweepConfig(
        source=path,
        session=session,
        metric=metric,
        goal=goal,
        sampler=sampler,
        pruner=pruner,
        trials=trials,
        timeout_s=float(timeout) if timeout is not None else None,
        space=params,
        raw=raw,
    )
    if sampler == "grid":
        config.grid()  # a float range without a grid: say which key now
    return config


def _session(value, path: Path) -> Session:
    where = f"{path}: session"
    if isinstance(value, dict):  # a session written inline (a study's stored sweep holds its session so)
        try:
            return session_from_dict(value, base_dir=path.parent, source=path)
        except DLLabError as exc:
            raise SweepError(f"{where}: {exc}") from None
    if not isinstance(value, str) or not value.strip():
        raise SweepError(f"{where}: a preset name, a session file (relative to the sweep file) or a session")
    file = path.parent / value
    try:
        if file.exists() or value.endswith((".yaml", ".yml")) or "/" in value:
            return load_session(file)
        if value in PRESETS:
            return preset_session(value)
    except DLLabError as exc:
        raise SweepError(f"{where}: {exc}") from None
    raise SweepError(f"{where}: {value!r}: no such session file (next to the sweep file) or preset")


def _metric(value, where: str) -> tuple[str, str]:
    if not isinstance(value, dict) or set(value) - {"name", "goal"} or "name" not in value:
        raise SweepError(f"{where}: metric: expected {{name: val_acc, goal: max}}")
    name, goal = value["name"], value.get("goal", "max")
    if name not in METRICS:
        raise SweepError(f"{where}: metric.name: {name!r} is not an epoch metric ({', '.join(METRICS)})")
    if goal not in GOALS:
        raise SweepError(f"{where}: metric.goal: {goal!r} is not max or min")
    return name, goal


def _word(value, key: str, allowed: tuple, where: str) -> str:
    if value not in allowed:
        raise SweepError(f"{where}: {key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _param(key: str, value, session: Session, where: str) -> Param:
    here = f"{where}: space.{key}"
    if not isinstance(value, dict):
        raise SweepError(f"{here}: expected one of {{{': [...]}, {'.join(KINDS)}: [...]}}")
    kinds = [k for k in value if k in KINDS]
    extra = [str(k) for k in value if k not in KINDS and k != "log"]
    if len(kinds) != 1 or extra:
        raise SweepError(f"{here}: give exactly one of {', '.join(KINDS)} (and log: true for int)")
    kind = kinds[0]
    log = value.get("log", False)
    if "log" in value and (kind != "int" or not isinstance(log, bool)):
        raise SweepError(f"{here}: log: true | false goes with an int range only")
    spec = value[kind]
    if kind == "choice":
        if not isinstance(spec, list) or not spec:
            raise SweepError(f"{here}: choice: a non-empty list of values")
        for item in spec:
            if item is not None and not isinstance(item, (bool, int, float, str)):
                raise SweepError(f"{here}: choice: {item!r}: choices are numbers, words, true/false or null")
        if len({json.dumps(c) for c in spec}) != len(spec):
            raise SweepError(f"{here}: choice: a value is listed twice")
        param = Param(key, kind, choices=tuple(spec))
        samples = list(spec)
    else:
        if not isinstance(spec, list) or len(spec) != 2 or not all(_number(v) for v in spec):
            raise SweepError(f"{here}: {kind}: expected [low, high]")
        low, high = spec
        if kind == "int" and not all(isinstance(v, int) for v in spec):
            raise SweepError(f"{here}: int: the bounds are whole numbers")
        if not low < high:
            raise SweepError(f"{here}: {kind}: the range [{low}, {high}] is empty (low must be below high)")
        if (kind == "loguniform" or log) and low <= 0:
            raise SweepError(f"{here}: a log range starts above 0 (low is {low})")
        if kind != "int":
            low, high = float(low), float(high)
        param = Param(key, kind, low, high, log=bool(log))
        samples = [low, high]
    _check_path(key, session, here)
    for sample in samples:
        try:
            session.with_overrides(overrides({key: sample}))
        except DLLabError as exc:
            raise SweepError(f"{here}: {sample!r} does not fit the session: {exc}") from None
    return param


def _check_path(key: str, session: Session, here: str) -> None:
    """The key path must name a value the base session has (every default is filled in), as --set reads it."""
    try:
        parts = parse_path(key)
    except DLLabError:
        raise SweepError(f"{here}: not a key path like optimizer.lr or model[0].dense.units") from None
    node: Any = session.spec
    for i, part in enumerate(parts):
        done = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts[:i]).lstrip(".")
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                size = f"has {len(node)} entries" if isinstance(node, list) else "is not a list"
                raise SweepError(f"{here}: the base session's {done or 'top level'} {size}; no [{part}]")
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                raise SweepError(f"{here}: the base session has no {part!r} in {done or 'its top level'}")
            node = node[part]
