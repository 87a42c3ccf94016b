"""Training in a background thread with pause, single-step, stop and live learning-rate changes.

The app drives a run through this controller; events reach ``on_event`` from the training thread. Step
events are throttled (about ten a second); every other event is always delivered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from dl_lab.sessions.events import RunCancelled, RunEnded, RunFailed, StepEnded
from dl_lab.sessions.runs.directory import new_run_dir
from dl_lab.sessions.runs.recorder import Recorder
from dl_lab.sessions.training.trainer import Trainer

STEP_INTERVAL = 0.1  # seconds between delivered step events
FINAL = (RunEnded, RunFailed, RunCancelled)


class StepThrottle:
    """Which events reach the UI: a step at most every ``interval`` while running (the latest one held back),
    every other event always, and a held-back step before whatever comes next (shared by both workers)."""

    def __init__(self, interval: float = STEP_INTERVAL) -> None:
        self.interval = interval
        self.pending = None  # the latest step event held back
        self._last_sent = 0.0

    def admit(self, event, running: bool) -> list:
        """The events to deliver now that ``event`` happened (none, it, or the held-back step and it)."""
        if isinstance(event, StepEnded):
            now = time.monotonic()
            if running and now - self._last_sent < self.interval:
                self.pending = event
                return []
            self._last_sent, self.pending = now, None
            return [event]
        return [*self.take(), event]  # a snapshot or an epoch: its step goes first

    def take(self) -> list:
        """The held-back step, if any: on pausing or stopping the UI gets the step the run is really at."""
        held, self.pending = self.pending, None
        return [] if held is None else [held]


class TrainingController:
    """Runs ``Trainer(session)`` in a daemon thread, recording to ``run_dir`` (a new runs/ folder by default).

    States: ``idle`` -> ``running`` <-> ``paused`` -> ``finished``. ``step()`` from paused trains one batch.
    """

    def __init__(
        self,
        session,
        on_event: Callable,
        *,
        run_dir: Path | None = None,
        dataset=None,
        record: bool = True,
        step_interval: float = STEP_INTERVAL,
    ):
        self.session = session
        self.on_event = on_event
        self.trainer = Trainer(session, dataset=dataset)
        self.run_dir = Path(run_dir) if run_dir else (new_run_dir(session.name) if record else None)
        self.step_interval = step_interval
        self.state = "idle"
        self._go = threading.Event()
        self._stop = False
        self._single_step = False
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self._throttle = StepThrottle(step_interval)  # the training thread's only
        self.last_event = None

    # --- what the screen shows before and during the run (the same as ProcessController's) ----
    @property
    def lr(self) -> float:
        return self.trainer.lr

    @property
    def dataset(self):
        return self.trainer.dataset

    def started(self):
        """The RunStarted event the run will begin with: the panes are laid out from it before training."""
        return self.trainer.started()

    # --- controls (called from the UI thread) ----------------------------------------------------
    def start(self, paused: bool = False) -> None:
        if self._thread is not None:
            return
        self.state = "paused" if paused else "running"
        if not paused:
            self._go.set()
        self._thread = threading.Thread(target=self._run, name="dl-lab-training", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        if self.state == "running":
            self.state = "paused"
            self._go.clear()

    def resume(self) -> None:
        if self.state == "paused":
            self.state = "running"
            self._single_step = False
            self._go.set()

    def step(self) -> None:
        """Train exactly one batch, then pause (starts a paused run if needed)."""
        if self._thread is None:
            self.start(paused=True)
        if self.state == "paused":
            self._single_step = True
            self._go.set()

    def stop(self) -> None:
        """Stop after the current batch; the recorder saves a checkpoint (the run can be resumed)."""
        self._stop = True
        self._go.set()

    def set_lr(self, lr: float) -> None:
        self.trainer.set_lr(lr)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the training thread ---------------------------------------------------------------------
    def _should_stop(self) -> bool:
        if self._stop or not self._go.is_set():
            for held in self._throttle.take():
                self.on_event(held)
        self._go.wait()
        return self._stop

    def _run(self) -> None:
        recorder = Recorder(self.run_dir, self.trainer) if self.run_dir else None
        try:
            for event in self.trainer.run(self._should_stop):
                if recorder:
                    recorder.record(event)
                self.last_event = event
                if isinstance(event, StepEnded) and self._single_step:
                    self._single_step = False
                    self.state = "paused"
                    self._go.clear()
                for delivered in self._throttle.admit(event, running=self.state == "running"):
                    if delivered is event and isinstance(event, FINAL):
                        self.state = "finished"
                    self.on_event(delivered)
        except BaseException as exc:
            self.error = exc
            self.state = "finished"
            self.on_event(exc)
        finally:
            self.state = "finished"
            if recorder:
                recorder.close()
