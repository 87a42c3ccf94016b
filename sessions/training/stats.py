"""Summary statistics of many tensors at once: mean, std, norm and a fixed-bin histogram per segment.

The monitor describes every layer's activations, weights and gradients at each snapshot; doing it segment by
segment would cost a dozen NumPy calls per tensor, so the tensors are laid end to end and described together.
"""

from __future__ import annotations

import numpy as np


def _round(x: float, digits: int = 6) -> float:
    return float(f"{float(x):.{digits}g}")


def describe_segments(flat: np.ndarray, sizes: list[int], bins: int, ranges=None) -> list[dict]:
    """For consecutive segments of ``flat`` (lengths ``sizes``, each > 0): norm, mean, std and a histogram of
    ``bins`` equal bins over the segment's range, or over ``ranges[i] = (lo, hi)`` where given (bounded
    activations, so that pictures compare across time). Non-finite values are left out of every figure.
    """
    flat = flat.reshape(-1)
    if not np.isfinite(flat).all():
        return [
            _describe_finite(part, bins, r)
            for part, r in zip(_split(flat, sizes), ranges or [None] * len(sizes), strict=True)
        ]
    n = len(sizes)
    starts = np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.intp)
    counts = np.asarray(sizes, dtype=np.float64)
    sums = np.add.reduceat(flat, starts, dtype=np.float64)
    with np.errstate(over="ignore"):
        squares = np.add.reduceat(flat * flat, starts, dtype=np.float64)
    if not np.isfinite(squares).all():  # float32 squares overflowed: values beyond 1e19
        squares = np.add.reduceat(np.square(flat, dtype=np.float64), starts)
    lo = np.minimum.reduceat(flat, starts).astype(np.float64)
    hi = np.maximum.reduceat(flat, starts).astype(np.float64)
    for i, fixed in enumerate(ranges or ()):
        if fixed is not None:
            lo[i], hi[i] = fixed
    width = hi - lo
    width = np.where(width > 0, width, np.maximum(np.abs(lo) * 1e-6, 1e-6))
    # Bin indices in float32, one affine map per segment (a loop over segments, not over values), then one
    # bincount for all segments: segment i's bins are i*bins .. i*bins + bins - 1.
    pos = np.empty(flat.shape, dtype=np.float32)
    for i, (a, size) in enumerate(zip(starts.tolist(), sizes, strict=True)):
        np.subtract(flat[a : a + size], lo[i], out=pos[a : a + size], casting="unsafe")
        pos[a : a + size] *= bins / width[i]
    np.clip(pos, 0, bins - 1, out=pos)
    codes = pos.astype(np.intp)
    for i, (a, size) in enumerate(zip(starts.tolist(), sizes, strict=True)):
        if i:
            codes[a : a + size] += i * bins
    hist = np.bincount(codes, minlength=n * bins).reshape(n, bins).tolist()
    mean = sums / counts
    std = np.sqrt(np.maximum(squares / counts - mean * mean, 0.0))
    norm = np.sqrt(squares)
    return [
        {
            "norm": _round(norm[i]),
            "mean": _round(mean[i]),
            "std": _round(std[i]),
            "histogram": {"counts": hist[i], "lo": _round(lo[i]), "hi": _round(hi[i])},
        }
        for i in range(n)
    ]


def _split(flat, sizes):
    out, start = [], 0
    for size in sizes:
        out.append(flat[start : start + size])
        start += size
    return out


def _describe_finite(values: np.ndarray, bins: int, fixed=None) -> dict:
    """One segment that holds NaN or infinities (a diverging run): its finite values, in float64."""
    v = values[np.isfinite(values)].astype(np.float64)
    if v.size == 0:
        return {"norm": 0.0, "mean": 0.0, "std": 0.0, "histogram": {"counts": [0] * bins, "lo": 0.0, "hi": 0.0}}
    return describe_segments(v, [v.size], bins, [fixed])[0]


def describe(values: np.ndarray, bins: int, lo: float | None = None, hi: float | None = None) -> dict:
    """norm, mean, std and histogram of one array (``lo``/``hi``: a fixed histogram range)."""
    v = values.reshape(-1)
    if v.size == 0:
        return {"norm": 0.0, "mean": 0.0, "std": 0.0, "histogram": {"counts": [0] * bins, "lo": 0.0, "hi": 0.0}}
    return describe_segments(v, [v.size], bins, [None if lo is None else (lo, hi)])[0]
