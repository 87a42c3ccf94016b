"""The one run loop: train, record each event to the run directory, hand it on. Every front end calls it.

`dl-lab run` (with a progress bar), the app's child process and the app's thread worker all drive a run
through ``run_recorded``, so a fix to how a run is driven and recorded lands once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from dl_lab.sessions.events import Event
from dl_lab.sessions.runs.directory import RunLock
from dl_lab.sessions.runs.recorder import Recorder
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
