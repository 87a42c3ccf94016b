"""Numbers for axes and legends: compact formatting and "nice" tick positions."""

from __future__ import annotations

import itertools
import math

_SUFFIXES = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def compact(value: float | None, digits: int = 3) -> str:
    """A short label: ``0.123``, ``12.3``, ``1234``, ``12.3k``, ``4e-05`` -> ``4e-5``, ``nan``."""
    if value is None:
        return "-"
    v = float(value)
    if not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1e4:
        for scale, suffix in _SUFFIXES:
            if a >= scale:
                return f"{v / scale:.{digits}g}{suffix}"
    if a >= 1e3:
        return f"{v:.0f}"
    if a < 1e-3:
        mantissa, exponent = f"{v:.{max(digits - 2, 0)}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{v:.{digits}g}"


def nice_step(span: float, count: int) -> float:
    """A step of 1, 2, 2.5 or 5 times a power of ten giving about ``count`` intervals over ``span``."""
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _ticks_with_step(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [0.0 if i == 0 else i * step for i in range(first, min(last, first + 50) + 1)]


def nice_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Round tick values inside [lo, hi], as close to ``count`` of them as round steps allow (at least two)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    power = 10 ** math.floor(math.log10((hi - lo) / max(count, 1)))
    best: list[float] = []
    for factor in (0.5, 1, 2, 2.5, 5, 10, 20):
        ticks = _ticks_with_step(lo, hi, factor * power)
        if len(ticks) <= count and len(ticks) > len(best):
            best = ticks
    return best if len(best) >= 2 else [lo, hi]


def tick_labels(ticks: list[float]) -> list[str]:
    """Labels for ticks, with as many decimals as their spacing needs (``0.25 0.5 0.75``, ``0 50 100``)."""
    if not ticks:
        return []
    big = max(abs(t) for t in ticks)
    if len(ticks) < 2 or big >= 1e4 or big < 1e-3:
        return [compact(t) for t in ticks]
    step = min(abs(b - a) for a, b in itertools.pairwise(ticks)) or big
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if round(step * 10**decimals, 6) % 1:
        decimals += 1
    labels = [f"{t:.{decimals}f}" for t in ticks]
    return ["0" if lab.strip("-0.") == "" else lab for lab in labels]


def log_ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    """Tick values for a log axis over [lo, hi] (positive): powers of ten when the range spans them."""
    a, b = math.log10(lo), math.log10(hi)
    first, last = math.ceil(a - 1e-9), math.floor(b + 1e-9)
    if last - first >= 1:
        every = max(1, math.ceil((last - first + 1) / count))
        return [10.0**e for e in range(first, last + 1, every)]
    return [t for t in nice_ticks(lo, hi, count) if t > 0]
