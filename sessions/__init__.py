"""Sessions and runs: the session file's schema, the trainer's event stream, and recorded run directories.

Depends on the engine and the datasets, never on a user interface.
"""

from dl_lab.sessions.config.presets import PRESETS, default_session, preset_path, preset_session
from dl_lab.sessions.config.session import Session, apply_overrides, load_session, session_from_dict, session_from_text
from dl_lab.sessions.errors import RunDirError, SessionError
from dl_lab.sessions.events import EpochEnded, RunCancelled, RunEnded, RunFailed, RunStarted, SnapshotTaken, StepEnded
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
