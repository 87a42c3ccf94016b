"""Sessions and runs: the session file's schema, the trainer's event stream, and recorded run directories.

Depends on the engine and the datasets, never on a user interface.
"""

from .errors import RunDirError, SessionError
from .events import EpochEnded, RunCancelled, RunEnded, RunFailed, RunStarted, SnapshotTaken, StepEnded
from .presets import PRESETS, default_session, preset_path, preset_session
from .recorder import Recorder
from .resume import load_resume
from .runs import Run, list_runs, new_run_dir, open_run, runs_root
from .session import Session, apply_overrides, load_session, session_from_dict, session_from_text
from .trainer import Trainer

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
