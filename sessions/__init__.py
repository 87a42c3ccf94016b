"""Sessions and runs: the session file's schema, the trainer's event stream, and recorded run directories.

Depends on the engine and the datasets, never on a user interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dl_lab.core.lazy import lazy_names

# What the package offers, by the module that defines it, imported when first read (PEP 562): listing runs
# (dl-lab runs) does not import the engine, the datasets and NumPy.
WHERE = {
    "EpochEnded": "dl_lab.sessions.events",
    "PRESETS": "dl_lab.sessions.config.presets",
    "Recorder": "dl_lab.sessions.runs.recorder",
    "Run": "dl_lab.sessions.runs.directory",
    "RunCancelled": "dl_lab.sessions.events",
    "RunDirError": "dl_lab.sessions.errors",
    "RunEnded": "dl_lab.sessions.events",
    "RunFailed": "dl_lab.sessions.events",
    "RunStarted": "dl_lab.sessions.events",
    "Session": "dl_lab.sessions.config.session",
    "SessionError": "dl_lab.sessions.errors",
    "SnapshotTaken": "dl_lab.sessions.events",
    "StepEnded": "dl_lab.sessions.events",
    "Trainer": "dl_lab.sessions.training.trainer",
    "apply_overrides": "dl_lab.sessions.config.session",
    "default_session": "dl_lab.sessions.config.presets",
    "list_runs": "dl_lab.sessions.runs.directory",
    "load_resume": "dl_lab.sessions.runs.resume",
    "load_session": "dl_lab.sessions.config.session",
    "new_run_dir": "dl_lab.sessions.runs.directory",
    "open_run": "dl_lab.sessions.runs.directory",
    "preset_path": "dl_lab.sessions.config.presets",
    "preset_session": "dl_lab.sessions.config.presets",
    "runs_root": "dl_lab.sessions.runs.directory",
    "session_from_dict": "dl_lab.sessions.config.session",
    "session_from_text": "dl_lab.sessions.config.session",
}


__getattr__ = lazy_names(__name__, WHERE)

if TYPE_CHECKING:
    from dl_lab.sessions.config.presets import PRESETS, default_session, preset_path, preset_session
    from dl_lab.sessions.config.session import (
        Session,
        apply_overrides,
        load_session,
        session_from_dict,
        session_from_text,
    )
    from dl_lab.sessions.errors import RunDirError, SessionError
    from dl_lab.sessions.events import (
        EpochEnded,
        RunCancelled,
        RunEnded,
        RunFailed,
        RunStarted,
        SnapshotTaken,
        StepEnded,
    )
    from dl_lab.sessions.runs.directory import Run, list_runs, new_run_dir, open_run, runs_root
    from dl_lab.sessions.runs.recorder import Recorder
    from dl_lab.sessions.runs.resume import load_resume
    from dl_lab.sessions.training.trainer import Trainer

__all__ = [
    "PRESETS",
    "EpochEnded",
    "Recorder",
    "Run",
    "RunCancelled",
    "RunDirError",
    "RunEnded",
    "RunFailed",
    "RunStarted",
    "Session",
    "SessionError",
    "SnapshotTaken",
    "StepEnded",
    "Trainer",
    "apply_overrides",
    "default_session",
    "list_runs",
    "load_resume",
    "load_session",
    "new_run_dir",
    "open_run",
    "preset_path",
    "preset_session",
    "runs_root",
    "session_from_dict",
    "session_from_text",
]
