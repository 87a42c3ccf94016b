"""Input normalization: fitted on the training split only, recorded as plain JSON, re-applied anywhere.

A record is ``{"method": "standard", "axis": "feature", "mean": [...], "std": [...]}`` (``minmax``
records ``min`` and ``max``; ``none`` only the method). ``axis`` is ``feature`` for tables (one value
per column) and ``channel`` for NCHW images (one value per channel, as torchvision's Normalize does).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import DataError, shown

METHODS = ("none", "standard", "minmax")
AXES = ("feature", "channel")
_CHUNK_VALUES = 1 << 22  # float64 working set per chunk (32 MB): CIFAR-10 stats without a 1.2 GB copy


def _grouped(inputs: np.ndarray, axis: str) -> np.ndarray:
    """A view ``(N, groups, values per group)`` over which the statistics are taken."""
    if axis == "feature":
        return inputs.reshape(len(inputs), -1, 1)
    return inputs.reshape(len(inputs), inputs.shape[1], -1)


def _chunks(grouped: np.ndarray):
    rows = max(1, _CHUNK_VALUES // max(1, grouped[0].size))
    for start in range(0, len(grouped), rows):
        yield grouped[start : start + rows].astype(np.float64)


def _mean_std(grouped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Population mean and std per group, two passes so large offsets do not cancel precision away."""
    if grouped.dtype == np.uint8:
        return _mean_std_of_bytes(grouped)
    count = grouped.shape[0] * grouped.shape[2]
    mean = sum(part.sum(axis=(0, 2)) for part in _chunks(grouped)) / count
    centred = sum(np.square(part - mean[None, :, None]).sum(axis=(0, 2)) for part in _chunks(grouped))
    return mean, _usable_std(np.sqrt(centred / count))


_SQUARES = np.arange(256, dtype=np.uint32) ** 2


def _mean_std_of_bytes(grouped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same statistics for uint8 images from exact integer sums: no rounding, and twice as fast."""
    count = grouped.shape[0] * grouped.shape[2]
    rows = max(1, _CHUNK_VALUES // max(1, grouped[0].size))
    sums = grouped.sum(axis=(0, 2), dtype=np.uint64)
    squares = sum(
        _SQUARES[grouped[start : start + rows]].sum(axis=(0, 2), dtype=np.uint64)
        for start in range(0, len(grouped), rows)
    )
    # Python integers: n * sum(x^2) - sum(x)^2 is exact however large it grows.
    variance = [(count * int(q) - int(s) ** 2) / count**2 for s, q in zip(sums, squares, strict=True)]
    return sums / count, _usable_std(np.sqrt(variance))


def _usable_std(std: np.ndarray) -> np.ndarray:
    return np.where(std > 0, std, 1.0)  # a constant input is left unscaled rather than divided by 0


def fit_normalization(inputs: np.ndarray, method: str, axis: str = "feature") -> dict:
    """Fit ``method`` on ``inputs`` (training rows only) and return the JSON-serialisable record.

    Shape: inputs ``(N, F)`` with axis ``feature``; ``(N, C, H, W)`` with axis ``channel``.
    """
    if method not in METHODS:
        raise DataError(f"normalize: expected one of {', '.join(METHODS)}, got {shown(method)}")
    if axis not in AXES or len(inputs) == 0:
        raise DataError(f"normalize: cannot fit on {len(inputs)} rows along axis {shown(axis)}")
    record: dict = {"method": method, "axis": axis}
    grouped = _grouped(np.asarray(inputs), axis)
    if method == "standard":
        mean, std = _mean_std(grouped)
        record.update(mean=mean.tolist(), std=std.tolist())
    elif method == "minmax":
        low = grouped.min(axis=(0, 2)).astype(np.float64)  # min/max work on uint8 without a float copy
        high = grouped.max(axis=(0, 2)).astype(np.float64)
        record.update(min=low.tolist(), max=high.tolist())
    return record


def _shift_and_scale(record: Mapping) -> tuple[np.ndarray, np.ndarray]:
    try:
        if record["method"] == "standard":
            return np.asarray(record["mean"], np.float64), np.asarray(record["std"], np.float64)
        low, high = np.asarray(record["min"], np.float64), np.asarray(record["max"], np.float64)
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(f"normalization: malformed record {dict(record)!r} ({error})") from None
    return low, np.where(high > low, high - low, 1.0)


def apply_normalization(inputs: np.ndarray, record: Mapping, dtype: str = "float32") -> np.ndarray:
    """Normalize new inputs with a recorded fit; always returns a new array of ``dtype``.

    The arithmetic runs in ``dtype`` so a batch converted on the fly equals the same rows of a split
    converted at once, bit for bit.
    """
    method, axis = record.get("method"), record.get("axis", "feature")
    if method not in METHODS or axis not in AXES:
        raise DataError(f"normalization: unknown method {shown(method)} or axis {shown(axis)}")
    out = np.array(inputs, dtype=dtype, copy=True)
    if method == "none":
        return out
    shift, scale = _shift_and_scale(record)
    groups = out.shape[1] if out.ndim >= 2 else 0
    shape: tuple[int, ...]
    if axis == "feature" and out.ndim == 2 and groups == len(shift):
        shape = (1, groups)
    elif axis == "channel" and out.ndim == 4 and groups == len(shift):
        shape = (1, groups, 1, 1)
    else:
        raise DataError(f"normalization: fitted on {len(shift)} {axis}s, got inputs of shape {out.shape}")
    out -= shift.astype(dtype).reshape(shape)
    out /= scale.astype(dtype).reshape(shape)
    return out
