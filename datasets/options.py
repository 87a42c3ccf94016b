"""The `data:` options of a session, declared (DATA_OPTIONS), and their checks: each returns the cleaned value or
raises DataError."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable, Mapping
from typing import cast

import numpy as np
from numpy.typing import DTypeLike

from dl_lab.core.spec import Option

from .errors import DataError, shown, unknown_name
from .features import check_features

NORMALIZE_METHODS = ("none", "standard", "minmax")
TASKS = ("classification", "regression")
DTYPES = ("float32", "float64")
# Generated sets are float64 in memory; the cap stops a typo (an extra zero or three) from filling RAM.
MAX_SAMPLES = 1_000_000

# Every option a session's `data:` may hold: its kind, bounds and help (the Build screen's form is made from these).
# Which options a dataset takes, and their defaults, are the dataset's own (registry.py); None stands in here.
DATA_OPTIONS: dict[str, Option] = {
    "samples": Option(
        "int", None, min=2, max=MAX_SAMPLES, help="how many points to generate (images: how many to use; empty: all)"
    ),
    "noise": Option("float", None, min=0.0, help="noise added to the generated points"),
    "seed": Option("int", None, min=0, help="seeds the generated points and the split (default: the session's seed)"),
    "val_fraction": Option("float", None, min=0.0, help="share of the data held out for validation"),  # < 1 too
    "normalize": Option("choice", None, choices=NORMALIZE_METHODS, help="input scaling, fitted on train"),
    "pca": Option(
        "int", None, min=0, help="keep the first k principal components (after normalize; fitted on train; 0: off)"
    ),
    "features": Option("list", None, help="Playground's input features, e.g. [x1, x2, x1^2]"),
    "train": Option("str", None, help="training CSV file, relative to the session file"),
    "val": Option("str", None, help="validation CSV file (empty: split from train)"),
    "target": Option("any", None, help="the target column (or a list of them)"),
    "task": Option("choice", None, choices=TASKS, help="classification or regression"),
    "inputs": Option("any", None, help="points typed into the session: a list of rows, e.g. [[3]]"),
    "targets": Option("any", None, help="each row's target: a class id or a value (a list for several outputs)"),
    "shape": Option("any", None, help="image shape [C, H, W] of each row (empty: a flat table)"),
}


def check_int(where: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """An integer in ``[minimum, maximum]``; integral floats (YAML ``1e3`` read as 1000.0) are accepted."""
    number = value
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(number, numbers.Integral) and not isinstance(number, bool):
        whole = int(number)
        if whole >= minimum and (maximum is None or whole <= maximum):
            return whole
    bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    raise DataError(f"{where}: expected an integer {bound}, got {shown(value)}")


def check_number(where: str, value: object, minimum: float, below: float | None = None) -> float:
    """A finite number ``>= minimum`` (and ``< below`` when given)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and number >= minimum and (below is None or number < below):
            return number
    bound = f">= {minimum:g}" if below is None else f"in [{minimum:g}, {below:g})"
    raise DataError(f"{where}: expected a number {bound}, got {shown(value)}")


def check_choice(where: str, value: object, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (case-insensitive)."""
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    raise unknown_name(where, "value", value, choices)


def check_dtype(value: object) -> str:
    """The float type of model inputs: ``float32`` or ``float64`` (a NumPy dtype is accepted)."""
    try:
        # np.dtype interprets any object, raising TypeError for one that names no type; its stubs take DTypeLike only
        name = np.dtype(cast("DTypeLike", value)).name
    except TypeError:
        name = None
    if name in DTYPES:
        return name
    raise DataError(f"dtype: expected float32 or float64, got {shown(value)}")


def check_path(where: str, value: object) -> str:
    """A non-empty file path, kept as written so messages show what the user wrote."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise DataError(f"{where}: expected a file path, got {shown(value)}")


def check_target(where: str, value: object) -> str | list[str]:
    """A column name, or a list of names (several regression outputs)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v.strip() for v in value):
        names = [v.strip() for v in value]
        if len(set(names)) == len(names):
            return names if len(names) > 1 else names[0]
    raise DataError(f"{where}: expected a column name or a list of distinct names, got {shown(value)}")


def _positive_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) > 0


def check_shape(where: str, value: object) -> list[int]:
    """An image shape ``[channels, height, width]`` of positive integers."""
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(_positive_int(v) for v in value):
        return [int(v) for v in value]
    hint = ""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        hint = f" (for one channel write [1, {value[0]}, {value[1]}])"
    raise DataError(f"{where}: expected [channels, height, width] of positive integers, got {shown(value)}{hint}")


def check_rows(where: str, value: object) -> list:
    """Typed-in inputs: a non-empty list of rows of numbers, every row as long as the first (one number: a row of 1)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [[value]]  # one number: one row of one input (a form shows [[3]] as 3)
    if not isinstance(value, list) or not value:
        raise DataError(
            f"{where}: expected a non-empty list of rows of numbers, e.g. [[0, 1], [1, 0]], got {shown(value)}"
        )
    rows = [row if isinstance(row, list) else [row] for row in value]
    for i, row in enumerate(rows):
        if len(row) != len(rows[0]) or not row:
            raise DataError(f"{where}[{i}]: expected {len(rows[0])} numbers like the first row, got {shown(value[i])}")
        for v in row:
            check_number(f"{where}[{i}]", v, float("-inf"))
    return rows


def check_targets(where: str, value: object) -> list:
    """Typed-in targets: a list of numbers (or of equal-length lists of numbers, for several outputs)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]  # one number: the one row's target
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: expected a non-empty list of targets, e.g. [0, 1, 1, 0], got {shown(value)}")
    for i, v in enumerate(value):
        for x in v if isinstance(v, list) else [v]:
            check_number(f"{where}[{i}]", x, float("-inf"))
    return list(value)


def _minimum(option: Option) -> float:
    """The lower bound of a number option (every int and float option in DATA_OPTIONS declares one)."""
    if option.min is None:
        raise TypeError(f"a data option of kind {option.kind!r} needs a min")
    return option.min


def _declared_check(option: Option) -> Callable[[str, object], object]:
    """The check of a number or a choice, with the bounds or the choices its declaration gives."""
    if option.kind == "int":
        bottom = int(_minimum(option))
        top = None if option.max is None else int(option.max)
        return lambda where, v: check_int(where, v, bottom, top)
    if option.kind == "float":
        low = _minimum(option)
        return lambda where, v: check_number(where, v, low)
    if option.kind == "choice":
        return lambda where, v: check_choice(where, v, option.choices)
    raise TypeError(f"no check for a data option of kind {option.kind!r}")


_OWN_CHECKS: dict[str, Callable[[str, object], object]] = {
    # below 1: some of the data must be left to train on
    "val_fraction": lambda where, v: check_number(where, v, _minimum(DATA_OPTIONS["val_fraction"]), below=1.0),
    "features": check_features,
    "train": check_path,
    "val": check_path,
    "target": check_target,
    "shape": check_shape,
    "inputs": check_rows,
    "targets": check_targets,
}
CHECKS: dict[str, Callable[[str, object], object]] = {
    key: _OWN_CHECKS.get(key) or _declared_check(option) for key, option in DATA_OPTIONS.items()
}


def resolve_options(dataset: str, defaults: Mapping[str, object], given: Mapping[str, object]) -> dict:
    """Defaults overlaid with the checked ``given`` options; unknown keys are errors.

    An option whose default is None (e.g. ``val`` for csv) may also be given as None.
    """
    resolved = {key: list(value) if isinstance(value, tuple) else value for key, value in defaults.items()}
    for key, value in given.items():
        if key not in defaults:
            close = difflib.get_close_matches(str(key), list(defaults), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            valid = ", ".join(defaults)
            raise DataError(f"data.{key}: unknown option for dataset '{dataset}'{hint}; valid options: {valid}")
        if value is None and defaults[key] is None:
            resolved[key] = None
            continue
        resolved[key] = CHECKS[key](f"data.{key}", value)
    return resolved
