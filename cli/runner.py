"""`dl-lab run`: train a session headless with a progress bar, record the run, and report it."""

from __future__ import annotations

import json
import signal
from contextlib import contextmanager
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from dl_lab.sessions import (
    EpochEnded,
    RunCancelled,
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
from dl_lab.sessions.training.loop import run_recorded

from .render import console, run_curves, summary_table

EXIT_OK, EXIT_INVALID, EXIT_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 130


class StopFlag:
    """Set by the first Ctrl-C (the run stops after the current batch and saves); a second one aborts."""

    def __init__(self):
        self.set = False

    def __call__(self) -> bool:
        return self.set


@contextmanager
def sigint_sets(flag: StopFlag):
    def handler(signum, frame):
        if flag.set:
            raise KeyboardInterrupt
        flag.set = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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


def prepare(session, resume_dir: Path | None, out: Path | None, backend: str | None):
    """The trainer and its run directory: a new one, or a stopped one restored for resuming."""
    if resume_dir is not None:
        run = open_run(resume_dir, with_records=False)
        session = session_from_dict(run.session, base_dir=Path(resume_dir), source=Path(resume_dir) / "session.yaml")
        trainer = Trainer(session, backend=backend)
        load_resume(trainer, resume_dir)
        return trainer, Path(resume_dir)
    trainer = Trainer(session, backend=backend)
    return trainer, Path(out) if out else new_run_dir(session.name)


def train(trainer: Trainer, run_dir: Path, *, resume: bool, quiet: bool) -> tuple[int, object]:
    """Drive the trainer to its end, recording and drawing progress; returns (exit status, last event)."""
    flag = StopFlag()
    bar = _progress(quiet)
    task = None

    def show(event) -> None:
        nonlocal task
        if bar:
            task = _update_bar(bar, task, event, trainer)

    with sigint_sets(flag):
        if bar:
            bar.start()
        try:
            last = run_recorded(trainer, run_dir, flag, show, resume=resume)
        finally:
            if bar:
                bar.stop()
    if isinstance(last, RunFailed):
        return EXIT_FAILED, last
    if isinstance(last, RunCancelled):
        return EXIT_INTERRUPTED, last
    return EXIT_OK, last


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
    if as_json:
        print(json.dumps({"run_dir": str(run_dir), **run.summary}, indent=1, default=str))
        return
    err = console(stderr=True)
    if isinstance(last, RunFailed):
        err.print(f"[bold red]dl-lab: the run failed:[/] {last.message}")
        err.print(f"  likely cause: {last.cause}")
        for tip in last.advice:
            err.print(f"  try: {tip}")
    elif isinstance(last, RunCancelled):
        # "stopped": the word `dl-lab runs` and the app use for this state (summary.json records "cancelled")
        err.print(
            f"dl-lab: stopped at epoch {last.epoch}, step {last.step}; checkpoint saved to "
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
    if isinstance(last, RunEnded) and last.message:
        out.print(f"stopped early: {last.message}")
