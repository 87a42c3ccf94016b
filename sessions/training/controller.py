"""What drives a run for a user interface: the Controller protocol both workers (a thread, a process) follow.

The app only ever talks to a ``Controller``; ``make_controller`` picks the worker ($DL_LAB_WORKER, else the one
that measured better in bench/TUI.md). Both call the one run loop (``loop.run_recorded``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from dl_lab.datasets import Dataset
from dl_lab.sessions.events import RunStarted
from dl_lab.sessions.training.live import LiveWeights
from dl_lab.sessions.training.process_worker import ProcessController
from dl_lab.sessions.training.thread_worker import TrainingController

WORKER_ENV = "DL_LAB_WORKER"  # thread | process: which worker the app trains in
DEFAULT_WORKER = "process"  # measured in bench/TUI.md

State = Literal["idle", "running", "paused", "finished"]


@runtime_checkable
class Controller(Protocol):
    """A run of one session, driven from a user interface.

    States: ``idle`` -> ``running`` <-> ``paused`` -> ``finished``. Events (and, last, an exception if the run
    crashed) reach the ``on_event`` the controller was made with, from another thread; step events are
    throttled (``throttle.StepThrottle``), every other event is always delivered.
    """

    state: str  # a State
    error: BaseException | None
    run_dir: Path | None
    resume_dir: Path | None  # a stopped run continued in its own folder (then run_dir is it), else None

    @property
    def dataset(self) -> Dataset:
        """The run's data (the parent's copy, for the panes)."""
        ...

    @property
    def lr(self) -> float | None:
        """The learning rate the run trains with now."""
        ...

    @property
    def alive(self) -> bool:
        """A run was started and has not finished delivering its events."""
        ...

    @property
    def pace(self) -> float | None:
        """Steps a second the run keeps (None: full speed; live.Pace)."""
        ...

    def set_pace(self, rate: float | None) -> None: ...

    def initial_weights(self) -> LiveWeights | None:
        """The weights the run starts from, None for a model too large to watch live (live.LIVE_PARAMS); while it
        trains, LiveWeights events follow the step events."""
        ...

    def started(self) -> RunStarted:
        """The RunStarted event the run begins with: the panes are laid out from it before training."""
        ...

    def start(self, paused: bool = False) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def step(self) -> None:
        """Train exactly one batch, then pause (starts a paused run if needed)."""
        ...

    def stop(self) -> None:
        """Stop after the current batch; a checkpoint is recorded (the run can be resumed)."""
        ...

    def set_lr(self, lr: float) -> None: ...

    def set_parameter(self, index: int, value: float, name: str = "") -> None:
        """Set the model's flat parameter ``index`` (a weight or bias) by hand in a paused or idle run, recorded in
        the run folder's edits.jsonl; the new weights follow as a LiveWeights event."""
        ...

    def join(self, timeout: float | None = None) -> None: ...


def make_controller(session, on_event: Callable, *, worker: str | None = None, **kwargs) -> Controller:
    """A ProcessController or a TrainingController, as ``worker`` (default: $DL_LAB_WORKER, else the one that
    measured better) says. ``resume_dir=RUN_DIR`` (with ``session`` the run's, loop.resumed_session) continues that
    stopped run in its own folder, as `dl-lab run --resume` does."""
    worker = worker or os.environ.get(WORKER_ENV) or DEFAULT_WORKER
    if worker == "process":
        return ProcessController(session, on_event, **kwargs)
    if worker == "thread":
        return TrainingController(session, on_event, **kwargs)
    raise ValueError(f"{WORKER_ENV}: expected thread or process, got {worker!r}")
