"""The one run loop: train, record each event to the run directory, hand it on. Every front end calls it.

`dl-lab run` (with a progress bar), the app's child process and the app's thread worker all drive a run
through ``run_recorded``, so a fix to how a run is driven and recorded lands once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from dl_lab.sessions.config.session import Session, session_from_dict
from dl_lab.sessions.events import Event
from dl_lab.sessions.runs.directory import RunLock, open_run
from dl_lab.sessions.runs.files import settle_resume
from dl_lab.sessions.runs.recorder import Recorder
from dl_lab.sessions.runs.resume import load_resume
from dl_lab.sessions.training.trainer import Trainer


def run_recorded(
    trainer: Trainer,
    run_dir: Path | str | None,
    should_stop: Callable[[], bool],
    on_event: Callable[[Event], None],
    *,
    resume: bool = False,
    lock: RunLock | None = None,
    saving: Callable[[], AbstractContextManager] = nullcontext,
) -> Event | None:
    """Drive ``trainer`` to its end: each event is recorded to ``run_dir`` (None: nothing is recorded), then
    given to ``on_event``. ``should_stop`` is polled between batches. Returns the last event.

    The recorder writes first, so that whatever ``on_event`` does (draw, send to another process, raise), the
    run directory already holds the event; the metrics file is closed however the loop ends. The recorder
    holds the run folder's lock (``lock`` when the caller took it already) while the run lasts; ``saving``
    wraps the save of a stopped run's checkpoint. A file that cannot be written raises RunWriteError.
    """
    recorder = Recorder(run_dir, trainer, resume=resume, lock=lock, saving=saving) if run_dir is not None else None
    last: Event | None = None
    try:
        for event in trainer.run(should_stop):
            if recorder is not None:
                recorder.record(event)
            last = event
            on_event(event)
    finally:
        if recorder is not None:
            recorder.close()
    return last


def resumed_session(run_dir: Path | str) -> Session:
    """The session a stopped run in ``run_dir`` was recorded with (its session.yaml), as `dl-lab run --resume`
    reads it."""
    run_dir = Path(run_dir)
    run = open_run(run_dir, with_records=False)
    return session_from_dict(run.session, base_dir=run_dir, source=run_dir / "session.yaml")


def resume_trainer(
    run_dir: Path | str, trainer_factory: Callable[..., Trainer] = Trainer, **trainer_kwargs
) -> tuple[Trainer, RunLock]:
    """A trainer restored to where the stopped run in ``run_dir`` stopped, and the folder's lock (held by the
    caller until the run ends; pass it to ``run_recorded(..., resume=True, lock=lock)``). The steps of
    `dl-lab run --resume` (cli/runner.py prepare): lock, settle an interrupted save, rebuild, load."""
    run_dir = Path(run_dir)
    session = resumed_session(run_dir)
    lock = RunLock(run_dir)
    try:
        settle_resume(run_dir)  # a save a crash interrupted: the last complete resume state
        trainer = trainer_factory(session, **trainer_kwargs)
        load_resume(trainer, run_dir)
    except BaseException:
        lock.release()
        raise
    return trainer, lock
