"""Seeded train/val splits and subsets: stratified by class for classification, random for regression.

Returned indices are sorted, so both parts keep the source's row order (file order for CSV files).
"""

from __future__ import annotations

import numpy as np

from .errors import DataError


def val_count(n: int, val_fraction: float) -> int:
    """Rows held out for validation: ``round(n * fraction)``, at least 1 and leaving at least 1."""
    if n < 2:
        raise DataError(f"data.val_fraction: cannot split {n} row(s) into train and val; use val_fraction 0")
    return int(min(max(round(n * val_fraction), 1), n - 1))


def stratified_pick(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``count`` rows drawn at random with the class proportions of ``labels``.

    Each class gets the floor of its share; the rows left over go to the largest remainders.
    """
    _, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    quota = count * sizes / len(labels)
    take = np.floor(quota).astype(np.int64)
    take[np.argsort(-(quota - take), kind="stable")[: count - int(take.sum())]] += 1
    order = rng.permutation(len(labels))
    order = order[np.argsort(inverse[order], kind="stable")]  # grouped by class, random within a class
    starts = np.cumsum(sizes) - sizes
    rank = np.arange(len(labels)) - np.repeat(starts, sizes)
    return np.sort(order[rank < np.repeat(take, sizes)])


def _complement(n: int, chosen: np.ndarray) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    keep[chosen] = False
    return np.flatnonzero(keep)


def stratified_split(
    labels: np.ndarray, val_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, val indices), each class split in the same proportion."""
    val = stratified_pick(labels, val_count(len(labels), val_fraction), rng)
    return _complement(len(labels), val), val


def random_split(n: int, val_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, val indices) for regression: a plain random draw."""
    val = np.sort(rng.permutation(n)[: val_count(n, val_fraction)])
    return _complement(n, val), val
