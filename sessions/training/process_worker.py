"""Training in a child process: TrainingController's controls and events, without sharing the GIL with the UI.

The trainer and its Recorder run in a process started with "spawn" (forking a process that has threads can
deadlock); commands go down a pipe, events come back through a queue and reach ``on_event`` from a reader
thread, throttled exactly as the thread worker throttles them. Why a process: bench/TUI.md.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import queue
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing import resource_tracker
from pathlib import Path

from dl_lab.sessions.events import FINAL
from dl_lab.sessions.runs.directory import new_run_dir
from dl_lab.sessions.training.build import load_dataset
from dl_lab.sessions.training.live import LiveFeed, LiveWeights, Pace, edit_parameter, throttle_interval
from dl_lab.sessions.training.loop import resume_trainer, run_recorded
from dl_lab.sessions.training.throttle import STEP_INTERVAL, StepThrottle
from dl_lab.sessions.training.trainer import Trainer

READY_TIMEOUT_S = 120.0  # the child loads the data and builds the model before it is ready
POLL_S = 0.2  # how often the reader thread checks that the child is still there
_TRACKER_LOCK = threading.Lock()
_ENV_LOCK = threading.Lock()  # two controllers starting at once must not mix up the environment they restore


class ChildTraceback(Exception):
    """The traceback of an exception raised in the training process (its ``__cause__`` in the parent)."""


class ProcessController:
    """Runs ``trainer_factory(session)`` (default: Trainer) in a child process, recording to ``run_dir``.

    The child starts at once, loads its own copy of the data and builds the model, so that ``started()`` (the
    RunStarted the panes are laid out from) is known and ``start`` begins at once; construction raises what
    the child raised (a session that does not build) or why it died. ``dataset`` is the parent's copy, for the
    panes (loaded here when not given). States and controls as in TrainingController: ``idle`` ->
    ``running`` <-> ``paused`` -> ``finished``; ``stop()`` while idle ends the child without a run.
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
        trainer_factory: Callable = Trainer,
        ready_timeout: float = READY_TIMEOUT_S,
        resume_dir: Path | None = None,
    ):
        self.session = session
        self.on_event = on_event
        self.dataset = dataset if dataset is not None else load_dataset(session, progress=False)
        # the run's folder is made when the run starts (a controller prepared and dropped leaves none behind)
        self.run_dir = Path(run_dir) if run_dir else None
        # a stopped run to continue in its own folder (the child restores it and holds its lock): ``session`` is
        # the run's (loop.resumed_session)
        self.resume_dir = Path(resume_dir) if resume_dir else None
        if self.resume_dir is not None:
            self.run_dir = self.resume_dir
        self.record = record
        self.state = "idle"
        self.error: BaseException | None = None
        self._lock = threading.Lock()  # state changes (UI thread, reader thread) and command sends
        self._manual_lr: float | None = None
        self._pace: float | None = None
        self._event_lr: float | None = None
        self._reader: threading.Thread | None = None
        _start_resource_tracker()
        ctx = multiprocessing.get_context("spawn")
        child_end, self._commands = ctx.Pipe(duplex=False)
        self._events = ctx.Queue()
        self._process = ctx.Process(
            target=serve,
            args=(session, child_end, self._events, step_interval, trainer_factory, self.resume_dir),
            name=f"dl-lab-training-{session.name}",
            daemon=True,
        )
        with _ENV_LOCK, child_environment(blas_threads()):
            self._process.start()
        child_end.close()  # the child's copy alone: when this process dies, the child reads end-of-file
        self._started, self._event_lr, self._initial = self._await_ready(ready_timeout)

    def _await_ready(self, timeout: float):
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._events.get(timeout=POLL_S)
            except queue.Empty:
                if self._process.is_alive() and time.monotonic() < deadline:
                    continue
                code = self._process.exitcode
                self._process.terminate()
                why = f"exited (code {code})" if code is not None else f"was not ready after {timeout:g} s"
                raise RuntimeError(f"the training process {why} before it was ready") from None
            if message[0] == "ready":
                return message[1], message[2], message[3]
            if message[0] == "crash":
                self._process.join(5)
                raise _with_cause(message[1], message[2])

    # --- what the screen shows before and during the run ---------------------------------------
    def started(self):
        """The RunStarted event the run will begin with (computed by the child)."""
        return self._started

    def initial_weights(self) -> LiveWeights | None:
        """The weights the run starts from (None for models too large to watch live)."""
        return self._initial

    @property
    def pace(self) -> float | None:
        """Steps a second the run keeps (None: full speed)."""
        return self._pace

    def set_pace(self, rate: float | None) -> None:
        with self._lock:
            self._pace = rate
            self._send("pace", rate)

    @property
    def lr(self) -> float | None:
        """The learning rate set by hand, else the latest one the run reported (schedules change it)."""
        return self._manual_lr if self._manual_lr is not None else self._event_lr

    @property
    def alive(self) -> bool:
        """A run was started and its process (or the delivery of its last events) has not ended."""
        return self._reader is not None and (self._process.is_alive() or self._reader.is_alive())

    # --- controls (called from the UI thread) ----------------------------------------------------
    def start(self, paused: bool = False) -> None:
        with self._lock:
            if self.state != "idle":
                return
            if self.run_dir is None and self.record:
                self.run_dir = new_run_dir(self.session.name)
            self.state = "paused" if paused else "running"
            self._reader = threading.Thread(target=self._read, name="dl-lab-training-events", daemon=True)
            self._reader.start()
            self._send("start", str(self.run_dir) if self.run_dir else None, paused)

    def pause(self) -> None:
        self._switch("running", "paused", "pause")

    def resume(self) -> None:
        self._switch("paused", "running", "resume")

    def step(self) -> None:
        """Train exactly one batch, then pause (starts a paused run if needed)."""
        if self.state == "idle":
            self.start(paused=True)
        with self._lock:
            if self.state == "paused":
                self._send("step")

    def stop(self) -> None:
        """Stop after the current batch; the child records a checkpoint (the run can be resumed) and exits."""
        with self._lock:
            if self.state == "idle":
                self.state = "finished"  # nothing ran: the child just ends
            self._send("stop")

    def set_lr(self, lr: float) -> None:
        with self._lock:
            self._manual_lr = float(lr)
            self._send("lr", float(lr))

    def set_parameter(self, index: int, value: float, name: str = "") -> None:
        """A weight or bias set by hand in a paused (or not yet started) run; the child sends its new weights."""
        with self._lock:
            if self.state not in ("paused", "idle"):
                raise RuntimeError("pause the run before editing a weight")
            self._send("parameter", int(index), float(value), name)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the child to end and for its last events to be delivered."""
        if self._reader is None:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        self._process.join(timeout)
        self._reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def _switch(self, before: str, after: str, command: str) -> None:
        with self._lock:
            if self.state == before:
                self.state = after
                self._send(command)

    def _send(self, *command) -> None:
        with contextlib.suppress(OSError):  # the child has ended: nothing left to control
            self._commands.send(command)

    # --- the reader thread -----------------------------------------------------------------------
    def _read(self) -> None:
        try:
            self._read_until_exit()
        except Exception as exc:  # on_event failed: as with the thread worker, the run ends with that error
            self._send("stop")
            self._deliver_error(exc)

    def _read_until_exit(self) -> None:
        while True:
            try:
                message = self._events.get(timeout=POLL_S)
            except queue.Empty:
                if self._process.is_alive():
                    continue
                try:  # a child that has ended has flushed what it sent
                    message = self._events.get(timeout=POLL_S)
                except queue.Empty:
                    self._deliver_error(
                        RuntimeError(f"the training process ended unexpectedly (exit code {self._process.exitcode})")
                    )
                    return
            kind = message[0]
            if kind == "event":
                self._deliver(message[1])
            elif kind == "crash":
                self._deliver_error(_with_cause(message[1], message[2]))
            elif kind == "exit":
                return

    def _deliver(self, event) -> None:
        self._event_lr = getattr(event, "lr", self._event_lr)
        if isinstance(event, FINAL):
            with self._lock:
                self.state = "finished"
        self.on_event(event)

    def _deliver_error(self, error: BaseException) -> None:
        with self._lock:
            self.state = "finished"
        self.error = error
        self.on_event(error)


BLAS_ENV = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads(cpus: int | None = None) -> int | None:
    """BLAS threads for the training process: one core fewer than the machine has, so that the app's own thread
    is not fighting a BLAS thread for a core (OpenBLAS's threads wait for each other: one of them pre-empted
    slows them all; bench/TUI.md). None when the user chose a number already (the child inherits it)."""
    if any(os.environ.get(name) for name in BLAS_ENV):
        return None
    cpus = cpus or os.cpu_count() or 1
    return max(1, cpus - 1)


@contextlib.contextmanager
def child_environment(threads: int | None):
    """The environment a spawned child starts with (it is copied when the child starts, so put back after)."""
    saved = {name: os.environ.get(name) for name in BLAS_ENV}
    if threads is not None:
        os.environ.update({name: str(threads) for name in BLAS_ENV})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker (every spawn needs it) with a usable stderr: it passes
    ``sys.stderr.fileno()`` to its process, and a Textual app's stderr is a capture whose fileno() is -1."""
    with _TRACKER_LOCK:
        stderr = sys.stderr
        try:
            usable = stderr.fileno() >= 0
        except (AttributeError, OSError, ValueError):
            usable = False
        if usable:
            return
        sys.stderr = sys.__stderr__  # for the few milliseconds the tracker takes to start (None: it gets none)
        try:
            resource_tracker.ensure_running()
        finally:
            sys.stderr = stderr


def _with_cause(error: BaseException, trace: str) -> BaseException:
    error.__cause__ = ChildTraceback(trace)
    return error


# --- the child process ---------------------------------------------------------------------------
def serve(
    session, commands, events, step_interval: float, trainer_factory: Callable, resume_dir: Path | None = None
) -> None:
    """The child's entry point: build the trainer, say it is ready, train on command, always say goodbye."""
    # Ctrl-C is the app's: it stops the run with a command. A closed terminal hangs up the whole process group:
    # the app dies of it, this process must not, so that it sees the app gone (end-of-file on the commands),
    # stops and saves the run.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):  # the terminal belongs to the app: a warning printed here would scribble on its screen
        os.dup2(devnull, fd)
    run = None
    try:
        run = _ChildRun(session, commands, events, step_interval, trainer_factory, resume_dir)
        run.serve()
    except BaseException as exc:
        events.put(("crash", _portable(exc), traceback.format_exc()))
    finally:
        if run is not None and run.lock is not None:
            run.lock.release()
        events.put(("exit",))
        if run is not None and run.orphaned:  # nobody reads the queue: exit without waiting for it to drain
            events.cancel_join_thread()
        events.close()
        events.join_thread()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (the queue's feeder thread would drop it silently otherwise)."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


class _ChildRun:
    """The child's side: obeys commands between batches, sends the events the throttle lets through."""

    def __init__(
        self,
        session,
        commands,
        events,
        step_interval: float,
        trainer_factory: Callable,
        resume_dir: Path | None = None,
    ) -> None:
        self.commands, self.events = commands, events
        self.lock = None  # a resumed run's folder lock, held from here to the end of the run
        if resume_dir is not None:  # `dl-lab run --resume`'s steps: the trainer where the run stopped
            self.trainer, self.lock = resume_trainer(resume_dir, trainer_factory)
        else:
            self.trainer = trainer_factory(session)
        self.throttle = StepThrottle(step_interval)
        self.step_interval = step_interval
        self.pace = Pace()
        self.feed = LiveFeed(self.trainer, self.pace)
        self.paused = self.stopping = self.one_step = False
        self.run_dir = None
        self.orphaned = False  # the parent is gone (its end of the command pipe closed with it)
        # Connection.poll builds a selector at every call (about 10 us, 5% of a small MLP's batch): a poll
        # object made once answers in about 1 us.
        self.waiting = select.poll()
        self.waiting.register(commands.fileno(), select.POLLIN)

    def serve(self) -> None:
        self.events.put(("ready", self.trainer.started(), self.trainer.lr, self.feed.initial()))
        while True:  # until start or stop; a learning rate may be set before the run starts
            command = self._receive()
            if command[0] == "stop":
                return
            if command[0] == "start":
                break
            self._obey(command)
        _, run_dir, self.paused = command
        self.run_dir = run_dir
        resume = self.lock is not None
        run_recorded(self.trainer, run_dir, self._should_stop, self._send_event, resume=resume, lock=self.lock)

    def _send_event(self, event) -> None:
        running = not self.paused
        delivered = self.throttle.admit(event, running=running)
        live = self.feed.after(delivered[-1], running) if delivered else None
        if live is not None and isinstance(delivered[-1], FINAL):  # the final weights before the end
            self.events.put(("event", live))
            live = None
        for each in delivered:
            self.events.put(("event", each))
        if live is not None:
            self.events.put(("event", live))

    def _should_stop(self) -> bool:
        """Polled between batches: a cheap check of the pipe while running, a blocking wait while paused."""
        self._obey_waiting()
        while True:
            if self.stopping or self.paused:
                held = self.throttle.take()
                for event in held:
                    self.events.put(("event", event))
                live = self.feed.after(held[-1], running=False) if held else None
                if live is not None:  # a paused run shows the weights it paused with
                    self.events.put(("event", live))
            if not self.stopping and not self.paused and not self.one_step:
                delay = self.pace.delay()
                if delay > 0 and self.waiting.poll(delay * 1000.0):  # a command came: obey it, then look again
                    self._obey_waiting()
                    continue
            if self.stopping or not self.paused:
                return self.stopping
            if self.one_step:
                self.one_step = False
                return False
            self._obey(self._receive())

    def _obey_waiting(self) -> None:
        try:
            while self.waiting.poll(0):
                self._obey(self.commands.recv())
        except (EOFError, OSError):
            self._obey(self._orphan())

    def _receive(self) -> tuple:
        try:
            return self.commands.recv()
        except (EOFError, OSError):
            return self._orphan()

    def _orphan(self) -> tuple:
        """The parent is gone: stop, saving the checkpoint, and end."""
        self.orphaned = True
        return ("stop",)

    def _obey(self, command: tuple) -> None:
        kind = command[0]
        if kind == "pause":
            self.paused = True
        elif kind == "resume":
            self.paused = self.one_step = False
        elif kind == "step" and self.paused:
            self.one_step = True
        elif kind == "stop":
            self.stopping = True
        elif kind == "lr":
            self.trainer.set_lr(command[1])
        elif kind == "parameter":
            _, index, value, name = command
            with contextlib.suppress(ValueError):  # an index the parent checked against its own copy
                edit_parameter(self.trainer, self.run_dir, index, value, name)
            progress = self.trainer.progress
            self.events.put(("event", self.feed.weights(progress.epoch, progress.step)))
        elif kind == "pace":
            self.pace.set(command[1])
            self.throttle.interval = throttle_interval(self.pace.rate, self.step_interval)
