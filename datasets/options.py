"""Checks for the `data:` options of a session: each returns the cleaned value or raises DataError."""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable, Mapping

import numpy as np

from .errors import DataError, shown, unknown_name
from .features import check_features

NORMALIZE_METHODS = ("none", "standard", "minmax")
TASKS = ("classification", "regression")
DTYPES = ("float32", "float64")
# Generated sets are float64 in memory; the cap stops a typo (an extra zero or three) from filling RAM.
MAX_SAMPLES = 1_000_000


def check_int(where: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """An integer in ``[minimum, maximum]``; integral floats (YAML ``1e3`` read as 1000.0) are accepted."""
    number = value
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    integral = isinstance(number, numbers.Integral) and not isinstance(number, bool)
    if integral and number >= minimum and (maximum is None or number <= maximum):
        return int(number)
    bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    raise DataError(f"{where}: expected an integer {bound}, got {shown(value)}")


def check_number(where: str, value: object, minimum: float, below: float | None = None) -> float:
    """A finite number ``>= minimum`` (and ``< below`` when given)."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if real and value >= minimum and (below is None or value < below):
        return float(value)
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
        name = np.dtype(value).name
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


def check_shape(where: str, value: object) -> list[int]:
    """An image shape ``[channels, height, width]`` of positive integers."""
    ok = isinstance(value, (list, tuple)) and len(value) == 3
    if ok and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value):
        return [int(v) for v in value]
    hint = ""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        hint = f" (for one channel write [1, {value[0]}, {value[1]}])"
    raise DataError(f"{where}: expected [channels, height, width] of positive integers, got {shown(value)}{hint}")


CHECKS: dict[str, Callable[[str, object], object]] = {
    "samples": lambda where, v: check_int(where, v, 2, MAX_SAMPLES),
    "noise": lambda where, v: check_number(where, v, 0.0),
    "seed": lambda where, v: check_int(where, v, 0),
    "val_fraction": lambda where, v: check_number(where, v, 0.0, below=1.0),
    "normalize": lambda where, v: check_choice(where, v, NORMALIZE_METHODS),
    "features": check_features,
    "train": check_path,
    "val": check_path,
    "target": check_target,
    "task": lambda where, v: check_choice(where, v, TASKS),
    "shape": check_shape,
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
