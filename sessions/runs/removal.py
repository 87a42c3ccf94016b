"""Deleting recorded runs (`dl-lab runs --delete`, the runs screen's d and D): only folders that are dl-lab runs,
never one that a process is writing, and only after the front end has asked."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from dl_lab.sessions.errors import RunDirError, SessionError
from dl_lab.sessions.runs.directory import Run, RunLock, listed_run, run_folders, sort_by_start

DATE_FORMAT = "YYYY-MM-DD"


def parse_date(text: str, what: str = "--older-than") -> dt.date:
    """``text`` as a calendar date (2026-11-30); SessionError naming ``what`` and the text otherwise."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise SessionError(f"{what}: expected a date as {DATE_FORMAT} (2026-11-30), got {text!r}") from None


def run_to_delete(path) -> Run:
    """The run in ``path``, to be deleted; RunDirError when ``path`` is not a dl-lab run's folder (no
    session.yaml) or the run is being written (refused: see running_reason). A damaged run can be deleted."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        raise RunDirError(f"{path}: not a run folder (a folder that dl-lab recorded a run in)")
    if not os.path.lexists(path / "session.yaml"):
        raise RunDirError(f"{path}: not a dl-lab run folder (no session.yaml); nothing deleted")
    run = listed_run(path, include_damaged=True)
    assert run is not None  # include_damaged: a run that cannot be read is a damaged Run
    reason = running_reason(run)
    if reason:
        raise RunDirError(f"{path}: {reason}; it is not deleted")
    return run


def running_reason(run: Run) -> str | None:
    """Why ``run`` must not be deleted now (a process is writing it), or None."""
    if not run.damage and run.state == "running":
        proc = run.summary.get("process") or {}
        pid = f" (pid {proc['pid']})" if isinstance(proc.get("pid"), int) else ""
        return f"still running{pid}: stop it first"
    return None


def runs_older_than(root: Path | None, date: dt.date) -> tuple[list[Run], list[Run]]:
    """The runs under ``root`` (default: the runs folder) that started before ``date`` (local time), the oldest
    first: those that can be deleted, and those still running (kept). Runs that do not say when they started
    (damaged ones) are left out."""
    old: list[Run] = []
    running: list[Run] = []
    for folder in run_folders(root):
        run = listed_run(folder, include_damaged=True)
        started = run.started_at if run is not None else None
        if run is None or started is None or started.astimezone().date() >= date:
            continue
        (running if running_reason(run) else old).append(run)
    return sort_by_start(old)[::-1], sort_by_start(running)[::-1]


def delete_run(run: Run) -> None:
    """Delete ``run``'s folder and everything in it, holding its lock meanwhile (a process that starts writing
    it in between is refused, and one that started is noticed: RunDirError, nothing deleted)."""
    reason = running_reason(run)
    if reason:
        raise RunDirError(f"{run.path}: {reason}; it is not deleted")
    lock = RunLock(run.path)  # RunDirError naming the process, when one writes it now
    try:
        shutil.rmtree(run.path)
    except OSError as exc:
        raise RunDirError(f"{run.path}: cannot be deleted ({(exc.strerror or str(exc)).lower()})") from None
    finally:
        lock.release()
