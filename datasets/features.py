"""TensorFlow Playground's input features: the columns a model sees, computed from raw 2-D points."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import DataError, shown, unknown_name

FEATURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "x1": lambda p: p[:, 0],
    "x2": lambda p: p[:, 1],
    "x1^2": lambda p: p[:, 0] ** 2,
    "x2^2": lambda p: p[:, 1] ** 2,
    "x1*x2": lambda p: p[:, 0] * p[:, 1],
    "sin(x1)": lambda p: np.sin(p[:, 0]),
    "sin(x2)": lambda p: np.sin(p[:, 1]),
}
DEFAULT_FEATURES = ("x1", "x2")

# Spellings people type for the same feature (Python's power operator, Playground's "X1X2" label).
_ALIASES = {
    "x1**2": "x1^2",
    "x2**2": "x2^2",
    "x1x1": "x1^2",
    "x2x2": "x2^2",
    "x1x2": "x1*x2",
    "x1_x2": "x1*x2",
    "sinx1": "sin(x1)",
    "sinx2": "sin(x2)",
}


def check_features(where: str, value: object) -> list[str]:
    """Validate a feature list (or a comma-separated string) and return canonical names."""
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not value:
        raise DataError(f"{where}: expected a non-empty list of features like [x1, x2], got {shown(value)}")
    names: list[str] = []
    for item in value:
        key = str(item).replace(" ", "").lower()
        name = _ALIASES.get(key, key)
        if name not in FEATURES:
            raise unknown_name(where, "feature", item, FEATURES)
        if name in names:
            raise DataError(f"{where}: feature {shown(name)} is listed twice")
        names.append(name)
    return names


def make_features(points: np.ndarray, names: list[str] | tuple[str, ...]) -> np.ndarray:
    """Raw points ``(M, 2)`` -> feature columns ``(M, len(names))``, float64, in the order of ``names``."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise DataError(f"featurize: expected raw points of shape (M, 2), got {points.shape}")
    return np.stack([FEATURES[name](points) for name in names], axis=1)
