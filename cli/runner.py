"""`dl-lab run`: train a session headless with a progress bar, record the run, and report it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from contextlib import contextmanager, suppress
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from dl_lab.sessions import (
    EpochEnded,
    RunCancelled,
    RunDirError,
    RunEnded,
    RunFailed,
    RunStarted,
    StepEnded,
    Trainer,
    load_resume,
    new_run_dir,
    open_run,
    session_from_dict,
)
from dl_lab.sessions.events import Diagnosis, from_record, to_record
from dl_lab.sessions.runs.directory import LOCK_FILE, PICTURES_DIR, RunLock, is_locked
from dl_lab.sessions.runs.files import RESUME_DIR, settle_resume
from dl_lab.sessions.runs.recorder import FRAMES_DIR
from dl_lab.sessions.training.live import EDITS_FILE
from dl_lab.sessions.training.loop import run_recorded

from .render import boost_table, console, run_curves, summary_table

EXIT_OK, EXIT_INVALID, EXIT_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 130
EXIT_HANGUP, EXIT_TERMINATED = 129, 143
# Signals that stop a run as Ctrl-C does (checkpoint, end record), and exit with 128 + the signal's number, as
# the shell reports a process a signal ended: 130 Ctrl-C, 143 SIGTERM (kill, systemd, a batch queue), 129 SIGHUP
# (the terminal closed).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
SAVE_DELAY_ENV = "DL_LAB_TEST_SAVE_DELAY"  # seconds added to a stopped run's checkpoint save; only tests set it
START_DELAY_ENV = "DL_LAB_TEST_START_DELAY"  # seconds added before the data loads; only tests set it
# What a run folder holds (directory.py, files.py): `--out DIR --force` replaces a folder holding nothing else.
RUN_ENTRIES = frozenset(
    {"session.yaml", "metrics.jsonl", "summary.json", "checkpoints", FRAMES_DIR, EDITS_FILE, LOCK_FILE, PICTURES_DIR}
    | {RESUME_DIR + tail for tail in ("", ".new", ".old")}
)


class StopFlag:
    """Set by the first Ctrl-C, SIGTERM or SIGHUP: the run stops after the current batch and saves. Later
    signals are ignored (with a line saying so) until the checkpoint is saved."""

    def __init__(self):
        self.set = False
        self.signum: int | None = None
        self.stopping = False  # the trainer has seen the flag: it records the stop and saves the checkpoint
        self.saving = False

    def __call__(self) -> bool:
        if self.set:
            self.stopping = True
        return self.set

    @property
    def exit_status(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    @contextmanager
    def save(self):
        """Around the save of a stopped run's checkpoint (the recorder's): signals wait until it is done."""
        self.saving = True
        try:
            _test_delay(SAVE_DELAY_ENV, "saving")
            yield
        finally:
            self.saving = False


def _test_delay(env: str, what: str) -> None:
    delay = float(os.environ.get(env) or 0)
    if delay > 0:
        _say(f"dl-lab: test delay: {what} for {delay:g} s")
        time.sleep(delay)


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _say(line: str) -> None:
    """A line on stderr from a signal handler: a plain write, which never waits on Rich's lock."""
    with suppress(OSError):  # the terminal is gone (SIGHUP)
        os.write(2, (line + "\n").encode())


@contextmanager
def stop_signals_set(flag: StopFlag):
    def handler(signum, frame):
        # A second signal never aborts: a double-tapped Ctrl-C would otherwise lose the checkpoint of the stop the
        # first one asked for (the batch under way and the save take a moment on a large model).
        if flag.saving:
            _say("dl-lab: saving the checkpoint, one moment")
            return
        if flag.set:
            _say("dl-lab: stopping after this batch and saving the checkpoint, one moment")
            return
        flag.set, flag.signum = True, signum

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


sigint_sets = stop_signals_set  # the name it had when only Ctrl-C stopped a run


def _progress(quiet: bool):
    """One bar for the whole run: it fills over every batch of every epoch, and the ETA is the run's."""
    if quiet:
        return None
    return Progress(
        TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
        BarColumn(),
        TextColumn("batch {task.fields[batch]}/{task.fields[batches]}"),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=False,
    )


def check_out(out: Path, session, force: bool, *, holding_lock: bool = False) -> None:
    """Refuses an --out that is a file, or a folder holding anything but a dl-lab run (never written over, even
    with --force: `dl-lab run exp/session.yaml --out exp`), or a run without --force."""
    if not out.exists():
        if out.is_symlink():
            raise RunDirError(f"--out {out}: a link to nothing; choose another --out")
        return
    if not out.is_dir():
        raise RunDirError(f"--out {out}: not a folder; choose another --out")
    if not holding_lock and is_locked(out):
        RunLock(out).release()  # raises the error naming the process that writes there
    try:
        entries = {p.name for p in out.iterdir()} - {LOCK_FILE}
    except OSError as exc:
        raise RunDirError(f"--out {out}: cannot read the folder ({(exc.strerror or str(exc)).lower()})") from None
    if not entries:
        return
    source = getattr(session, "source", None)
    holds_source = (
        source is not None and Path(str(source)).is_file() and Path(str(source)).resolve().parent == out.resolve()
    )
    is_run = entries <= RUN_ENTRIES and "session.yaml" in entries and bool({"summary.json", "metrics.jsonl"} & entries)
    if not is_run or holds_source:
        what = "the session file being run" if holds_source else "files that are not a dl-lab run's"
        raise RunDirError(f"--out {out}: the folder holds {what}; choose another --out (an empty or new folder)")
    if not force:
        raise RunDirError(
            f"--out {out}: already holds a run; choose another --out, or --resume it, or --force to replace it"
        )


def claim_out(out: Path, session, force: bool) -> RunLock:
    """Creates --out (or takes an empty or replaceable one) and holds its lock; the checks run again under the
    lock, since another process may have written there meanwhile."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RunDirError(f"--out {out}: not a folder; choose another --out") from None
    except OSError as exc:
        raise RunDirError(f"--out {out}: cannot create the folder ({(exc.strerror or str(exc)).lower()})") from None
    lock = RunLock(out)
    try:
        check_out(out, session, force, holding_lock=True)
        for name in RUN_ENTRIES - {LOCK_FILE}:  # --force on a run: its files go, the folder and lock stay
            path = out / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    except OSError as exc:
        lock.release()
        raise RunDirError(f"--out {out}: cannot replace the run ({(exc.strerror or str(exc)).lower()})") from None
    except BaseException:
        lock.release()
        raise
    return lock


def prepare(session, resume_dir: Path | None, out: Path | None, backend: str | None, force: bool = False):
    """The trainer, its run directory and the directory's lock (held by this process for the run): a new
    directory, or a stopped one restored for resuming."""
    if resume_dir is not None:
        resume_dir = Path(resume_dir)
        run = open_run(resume_dir, with_records=False)
        lock = RunLock(resume_dir)
        try:
            settle_resume(resume_dir)  # a save a crash interrupted: the last complete resume state
            session = session_from_dict(run.session, base_dir=resume_dir, source=resume_dir / "session.yaml")
            trainer = Trainer(session, backend=backend)
            load_resume(trainer, resume_dir)
        except BaseException:
            lock.release()
            raise
        return trainer, resume_dir, lock
    if out is not None:
        check_out(Path(out), session, force)  # before the data loads: a mistake is told at once
    _test_delay(START_DELAY_ENV, "starting")
    trainer = Trainer(session, backend=backend)
    if out is not None:
        return trainer, Path(out), claim_out(Path(out), session, force)
    run_dir = new_run_dir(session.name)
    return trainer, run_dir, RunLock(run_dir)


def train(trainer: Trainer, run_dir: Path, *, resume: bool, quiet: bool, lock: RunLock | None = None):
    """Drive the trainer to its end, recording and drawing progress; returns (exit status, last event)."""
    flag = StopFlag()
    bar = _progress(quiet)
    task = None

    def show(event) -> None:
        nonlocal task
        if isinstance(event, Diagnosis):  # as it appears, above the bar (each kind once a run), --quiet or not
            (bar.console if bar else console(stderr=True)).print(diagnosis_text(event), soft_wrap=True)
        if bar:
            task = _update_bar(bar, task, event, trainer)

    with stop_signals_set(flag):
        if bar:
            bar.start()
        try:
            last = run_recorded(trainer, run_dir, flag, show, resume=resume, lock=lock, saving=flag.save)
        finally:
            if bar:
                bar.stop()
    if isinstance(last, RunFailed):
        return EXIT_FAILED, last
    if isinstance(last, RunCancelled):
        return flag.exit_status, last
    return EXIT_OK, last


def diagnosis_text(event: Diagnosis, prefix: str = "dl-lab: ") -> str:
    """A health finding as `dl-lab run` prints it (Rich markup): what was seen at which epoch, and what to try."""
    what = event.kind.replace("_", " ")
    return (
        f"[bold yellow]{prefix}health: {what}[/] (epoch {event.epoch}, step {event.step}): {escape(event.message)}\n"
        f"  try: {escape(event.advice)}"
    )


def recorded_diagnoses(records) -> list[Diagnosis]:
    """The health findings of a run's records, as the app's RunState keeps them: in order, one a kind (a resumed run
    watches afresh: a kind found again replaces the first)."""
    found: list[Diagnosis] = []
    for r in records:
        if r.get("event") == "diagnosis":
            d = from_record(r)
            if isinstance(d, Diagnosis):
                found = [f for f in found if f.kind != d.kind] + [d]
    return found


def _update_bar(bar, task, event, trainer):
    """The bar counts the run's batches (a resumed run starts where it stopped), so that its ETA covers the
    epochs still to come; the text shows the epoch and the batch within it."""
    if isinstance(event, RunStarted):
        task = bar.add_task(
            "train",
            total=event.epochs * event.steps_per_epoch,
            completed=event.start_step,
            epoch=min(event.start_epoch + 1, event.epochs),
            epochs=event.epochs,
            batch=trainer.progress.batch,
            batches=event.steps_per_epoch,
            loss="-",
            rate="",
        )
    elif isinstance(event, StepEnded):
        bar.update(task, completed=event.step, epoch=event.epoch, batch=event.batch, loss=f"{event.loss:.4f}")
    elif isinstance(event, EpochEnded):
        bar.update(task, completed=event.step, rate=f"{event.train_samples_per_s:,.0f} samples/s")
    elif isinstance(event, RunEnded):
        bar.update(task, total=event.steps, completed=event.steps)  # early stopping: the run ends here
    return task


def report(run_dir: Path, status: int, last, *, quiet: bool, as_json: bool) -> None:
    run = open_run(run_dir)
    out = console()
    if as_json:  # with what the health watch found (each kind once, a resumed run's later finding replacing it)
        found = [to_record(d) for d in recorded_diagnoses(run.records)]
        print(json.dumps({"run_dir": str(run_dir), **run.summary, "diagnoses": found}, indent=1, default=str))
        return
    err = console(stderr=True)
    for warning in (run.summary.get("started") or {}).get("warnings") or []:
        err.print(f"[bold yellow]dl-lab: warning:[/] {escape(warning)}")
    if isinstance(last, RunFailed):
        err.print(f"[bold red]dl-lab: the run failed:[/] {last.message}")
        err.print(f"  likely cause: {last.cause}")
        for tip in last.advice:
            err.print(f"  try: {tip}")
    elif isinstance(last, RunCancelled):
        # "stopped": the word `dl-lab runs` and the app use for this state (summary.json records "cancelled")
        by = "" if status == EXIT_INTERRUPTED else f" by {_signal_name(status - 128)}"
        err.print(
            f"dl-lab: stopped{by} at epoch {last.epoch}, step {last.step}; checkpoint saved to "
            f"{run_dir / 'checkpoints' / 'last.npz'}",
            soft_wrap=True,
        )
        err.print(f"  continue with: dl-lab run --resume {run_dir}", soft_wrap=True)
    if quiet:
        return
    if not isinstance(last, RunCancelled):
        out.print(f"run: {run_dir}", soft_wrap=True)  # one line, whatever the width: paths are copied
        out.print(summary_table(run.final(), run.summary, title=run.name))
        for chart in run_curves(run.epochs(), width=min(out.width, 100) - 1):
            out.print(Text.from_ansi(chart), no_wrap=True, crop=False)
        rounds = [r for r in run.records if r.get("event") == "boost"]
        if rounds:  # a boosted session (boost:): each round's eps and alpha
            out.print(boost_table(rounds))
    if isinstance(last, RunEnded) and last.message:
        out.print(f"stopped early: {last.message}")
