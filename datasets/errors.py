"""The one exception dl_lab.datasets raises for bad options, unreadable files and failed downloads."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from dl_lab.core.errors import DLLabError


class DataError(DLLabError, ValueError):
    """Invalid data option, unreadable file or failed download; the message names what and where."""


def shown(value: object) -> str:
    """How a received value appears in a message: strings quoted, everything else as written."""
    return repr(value) if isinstance(value, str) else str(value)


def unknown_name(where: str, kind: str, got: object, valid: Iterable[str]) -> DataError:
    """An error for a name that is not one of ``valid``, suggesting the closest one."""
    valid = list(valid)
    text = str(got).strip().lower()
    # A prefix ("std" for "standard") is the likeliest intent; otherwise the closest spelling.
    close = [name for name in valid if text and name.startswith(text)] or difflib.get_close_matches(
        text, valid, n=1, cutoff=0.5
    )
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return DataError(f"{where}: unknown {kind} {shown(got)}{hint}; valid: {', '.join(valid)}")
