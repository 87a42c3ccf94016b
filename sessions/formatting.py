"""Numbers and times as plain text, written the same way by `dl-lab` and by the app (no UI library here).

Chart axes and legends label numbers their own, shorter way (dl_lab.tui.widgets.ticks): a different purpose.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers

MISSING = "-"  # a value a run (or a model) does not have


def fixed(value, digits: int = 4) -> str:
    """A metric with ``digits`` decimals (``0.6755``), a huge one with 3 significant digits (``1.23e+05``);
    anything but a float as written (an epoch: ``12``), ``nan`` and ``inf`` as such, None as ``-``."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.{digits}f}" if abs(value) < 1e5 else f"{value:.3g}"
    return str(value)


def significant(value, digits: int = 4) -> str:
    """A number with ``digits`` significant digits (``0.6755``, ``1.822``, ``1.235e+05``) for narrow places;
    integers as written (an epoch: ``12``), None as ``-``."""
    if value is None:
        return MISSING
    if isinstance(value, numbers.Integral):
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{value:.{digits}g}"
    return str(value)


def count(value) -> str:
    """A rate or count rounded to a whole number, with thousands separators (``60,064``); None as ``-``."""
    return MISSING if value is None else f"{value:,.0f}"


def human(n: float) -> str:
    """A large count in k (thousands), M or G with one decimal (``235.2k``, ``1.5M``); below 1000 whole."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def minute(at: dt.datetime | None) -> str:
    """A moment to the minute, as its clock read then (``2025-03-04 10:00``); None as ``-``."""
    return MISSING if at is None else at.strftime("%Y-%m-%d %H:%M")
