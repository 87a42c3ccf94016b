"""Training in a background thread with pause, single-step, stop and live learning-rate changes.

The app drives a run through this controller; events reach ``on_event`` from the training thread. Step
events are throttled (about ten a second); every other event is always delivered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from dl_lab.sessions.events import FINAL, StepEnded
from dl_lab.sessions.runs.directory import new_run_dir
from dl_lab.sessions.training.live import LiveFeed, LiveWeights, Pace, edit_parameter, throttle_interval
from dl_lab.sessions.training.loop import resume_trainer, run_recorded
from dl_lab.sessions.training.throttle import STEP_INTERVAL, StepThrottle
from dl_lab.sessions.training.trainer import Trainer


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
        resume_dir: Path | None = None,
    ):
        self.session = session
        self.on_event = on_event
        # a stopped run to continue in its own folder, holding its lock (``session`` is the run's)
        self.resume_dir = Path(resume_dir) if resume_dir else None
        self._lock = None
        if self.resume_dir is not None:
            self.trainer, self._lock = resume_trainer(self.resume_dir, Trainer, dataset=dataset)
        else:
            self.trainer = Trainer(session, dataset=dataset)
        # the run's folder is made when the run starts (a controller prepared and dropped leaves none behind)
        self.run_dir = self.resume_dir or (Path(run_dir) if run_dir else None)
        self.record = record
        self.step_interval = step_interval
        self.state = "idle"
        self._go = threading.Event()
        self._stop = False
        self._single_step = False
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self._throttle = StepThrottle(step_interval)  # the training thread's only
        self.last_event = None
        self._pace = Pace()
        self._nudge = threading.Event()  # ends a paced wait early: a pause, a stop, another pace
        self._feed = LiveFeed(self.trainer, self._pace)

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

    def initial_weights(self) -> LiveWeights | None:
        """The weights the run starts from (None for models too large to watch live)."""
        return self._feed.initial()

    @property
    def pace(self) -> float | None:
        """Steps a second the run keeps (None: full speed)."""
        return self._pace.rate

    def set_pace(self, rate: float | None) -> None:
        self._pace.set(rate)
        self._throttle.interval = throttle_interval(self._pace.rate, self.step_interval)
        self._nudge.set()

    # --- controls (called from the UI thread) ----------------------------------------------------
    def start(self, paused: bool = False) -> None:
        if self._thread is not None:
            return
        if self.run_dir is None and self.record:
            self.run_dir = new_run_dir(self.session.name)
        self.state = "paused" if paused else "running"
        if not paused:
            self._go.set()
        self._thread = threading.Thread(target=self._run, name="dl-lab-training", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        if self.state == "running":
            self.state = "paused"
            self._go.clear()
            self._nudge.set()

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
        self._nudge.set()
        if self._thread is None:  # nothing ran: a resumed run's folder is let go
            self._release_lock()

    def set_lr(self, lr: float) -> None:
        self.trainer.set_lr(lr)

    def set_parameter(self, index: int, value: float, name: str = "") -> None:
        """A weight or bias set by hand in a paused (or not yet started) run; its new weights are sent at once."""
        if self.state not in ("paused", "idle"):
            raise RuntimeError("pause the run before editing a weight")
        edit_parameter(self.trainer, self.run_dir, index, value, name)
        live = self._feed.weights(self.trainer.progress.epoch, self.trainer.progress.step)
        self.on_event(live)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the training thread ---------------------------------------------------------------------
    def _should_stop(self) -> bool:
        self._nudge.clear()
        if self._stop or not self._go.is_set():
            held = self._throttle.take()
            for event in held:
                self.on_event(event)
            live = self._feed.after(held[-1], running=False) if held else None
            if live is not None:  # a paused run shows the weights it paused with
                self.on_event(live)
        self._go.wait()
        delay = 0.0 if self._stop or self._single_step else self._pace.delay()
        if delay > 0:
            self._nudge.wait(delay)
            if not self._go.is_set():  # paused while waiting
                return self._should_stop()
        return self._stop

    def _run(self) -> None:
        try:
            resume = self._lock is not None
            run_recorded(self.trainer, self.run_dir, self._should_stop, self._deliver, resume=resume, lock=self._lock)
        except BaseException as exc:
            self.error = exc
            self.state = "finished"
            self.on_event(exc)
        finally:
            self._release_lock()
            self.state = "finished"

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _deliver(self, event) -> None:
        self.last_event = event
        if isinstance(event, StepEnded) and self._single_step:
            self._single_step = False
            self.state = "paused"
            self._go.clear()
        running = self.state == "running"
        delivered = self._throttle.admit(event, running=running)
        live = self._feed.after(delivered[-1], running) if delivered else None
        for each in delivered:
            if each is event and isinstance(event, FINAL):
                if live is not None:  # the final weights before the end
                    self.on_event(live)
                    live = None
                self.state = "finished"
            self.on_event(each)
        if live is not None:
            self.on_event(live)
