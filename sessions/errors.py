"""Errors of sessions and runs, reported as one message and an exit status."""

from __future__ import annotations

from dl_lab.core.errors import DLLabError


class SessionError(DLLabError, ValueError):
    """A session file is missing, unreadable or invalid (exit status 2)."""


class RunDirError(DLLabError, ValueError):
    """A run directory is missing or not a dl-lab run (exit status 2)."""
