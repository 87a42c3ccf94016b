"""Writes a run directory as the contract describes: session.yaml, metrics.jsonl, checkpoints/, summary.json."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from dl_lab.core.backend import import_cupy
from dl_lab.sessions.config.weights import RECORDED, uses_files
from dl_lab.sessions.config.yamlio import dump_yaml
from dl_lab.sessions.events import EpochEnded, RunCancelled, RunEnded, RunFailed, RunStarted, SnapshotTaken
from dl_lab.sessions.runs import files
from dl_lab.sessions.runs.directory import LISTED_KEYS, LISTING, SIZED_FILES, RunLock, read_summary
from dl_lab.sessions.runs.files import RESUME_DIR, RunWriteError, write_error
from dl_lab.sessions.runs.resume import save_resume
from dl_lab.sessions.runs.thinning import RecordThinning

__all__ = ["FRAMES_DIR", "RESUME_DIR", "Recorder", "RunWriteError", "dumps", "frame_name", "versions"]

FRAMES_DIR = "frames"  # the weights at each snapshot (checkpoint format), for models up to FRAME_PARAMS
FRAME_PARAMS = 250_000  # as live.LIVE_PARAMS: the models the app draws from their weights
# summary.json is rewritten (and synced) after an epoch at most this often, and always at the end: run lists read
# it for a run still going or killed; a write costs about 10 ms, more than a tiny epoch.
SUMMARY_EVERY_S = 1.0


def frame_name(step: int) -> str:
    return f"step-{step:08d}.npz"


def versions(backend: str) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "numpy": np.__version__}
    try:
        out["dl_lab"] = version("dl-lab")
    except PackageNotFoundError:
        out["dl_lab"] = "unknown"
    if backend == "cupy":
        out["cupy"] = import_cupy().__version__
    return out


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(record: dict) -> str:
    return json.dumps(record, default=_json_default, separators=(",", ":"), allow_nan=True)


class Recorder:
    """Consumes a trainer's events and keeps its run directory up to date.

    metrics.jsonl is appended and flushed line by line, so a crash loses at most the line being written; every
    other file is written to a temporary file and renamed (files.py), so a crash, a kill or a full disk never
    truncates one. ``resume=True`` continues a stopped run (Ctrl-C, the app's stop key, or a run killed after a
    periodic checkpoint) in the same directory. The recorder holds the folder's lock (``lock``, else its own)
    for the life of the run: one writer per run folder. ``saving`` wraps the save of a stopped run's
    checkpoint (`dl-lab run` ignores a second Ctrl-C inside it). A file that cannot be written raises
    RunWriteError naming it.
    """

    _summary_at = float("-inf")  # when summary.json was last written (time.monotonic)

    def __init__(
        self,
        run_dir,
        trainer,
        *,
        resume: bool = False,
        lock: RunLock | None = None,
        saving: Callable[[], AbstractContextManager] = nullcontext,
    ):
        self.dir = Path(run_dir)
        self.trainer = trainer
        self.saving = saving
        self.wrote_resume = False
        self.thinning = RecordThinning(trainer.config.monitor.every_steps, trainer.model.size)  # what is recorded
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(exc, self.dir) from None
        self.lock, self._own_lock = (lock, False) if lock is not None else (RunLock(self.dir), True)
        try:
            self._open(resume)
        except BaseException:
            self._release()
            raise

    def _open(self, resume: bool) -> None:
        try:
            (self.dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(exc, self.dir / "checkpoints") from None
        if not resume:
            files.write_text(self.dir / "session.yaml", _recorded_yaml(self.trainer.session))
            files.save_model(self.trainer.model, self.dir / "checkpoints" / "initial.npz")
        else:
            self._drop_records_after(self.trainer.progress.step)
        try:
            self.metrics = open(self.dir / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - kept open
        except OSError as exc:
            raise write_error(exc, self.dir / "metrics.jsonl") from None
        # When the run first started (a resumed run keeps it), and which process records it: run lists tell a
        # live run from one whose process died without an end record by asking whether that process exists.
        self.started_at = (read_summary(self.dir).get("started_at") if resume else None) or (
            dt.datetime.now().astimezone().isoformat(timespec="seconds")
        )
        self.process = {"pid": os.getpid(), "host": socket.gethostname()}
        self.started: dict | None = None
        self.status = "running"
        self.summary: dict = {}

    def _drop_records_after(self, step: int) -> None:
        """A run killed after a periodic checkpoint recorded steps it now trains again: its metrics lines after
        the checkpoint (and a line cut short) go, so that the record reads as one run."""
        path = self.dir / "metrics.jsonl"
        try:
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise write_error(exc, path) from None
        keep = 0
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                break
            if not line.endswith("\n") or _step_of(record) > step:
                break
            keep += 1
        if keep < len(lines):
            files.write_text(path, "".join(lines[:keep]))

    def record(self, event) -> None:
        try:
            self._record(event)
        except RunWriteError as exc:
            self._give_up(exc)
            raise

    def _give_up(self, exc: RunWriteError) -> None:
        """A file could not be written: summary.json says so if it still can (a smaller file may fit)."""
        data = {"message": str(exc), "cause": "the run's folder cannot be written (a full disk?)", "advice": []}
        try:
            self._finish("failed", data)
        except Exception:  # the disk is full: what was saved stays as it was
            self.status = "failed"

    def _record(self, event) -> None:
        if isinstance(event, RunStarted):
            self.started = asdict(event)
            # a resumed run lists its last recorded epoch until it ends one more
            self._write_summary({"status": "running", "final": _last_epoch(self.dir / "metrics.jsonl")})
            return
        lines = self.thinning.records(event)
        if not lines:
            return  # a step or snapshot the record leaves out (thinning.py); the app had it live all the same
        try:
            self.metrics.write("".join(dumps(line) + "\n" for line in lines))
            self.metrics.flush()
        except OSError as exc:
            raise write_error(exc, self.dir / "metrics.jsonl") from None
        every = self.trainer.config.training.checkpoint_every
        checkpoints = self.dir / "checkpoints"
        if isinstance(event, (EpochEnded, RunEnded, RunCancelled)):
            self._save_extras(checkpoints)
        small = self.trainer.model.size <= FRAME_PARAMS
        if isinstance(event, SnapshotTaken) and small and self.thinning.keeps_frame(event):
            # the weights at a small model's snapshots (thinning.py): a replay draws the network and the maps from them
            frames = self.dir / FRAMES_DIR
            try:
                frames.mkdir(exist_ok=True)
            except OSError as exc:
                raise write_error(exc, frames) from None
            files.save_model(self.trainer.model, frames / frame_name(event.step))
        elif isinstance(event, EpochEnded) and every and event.epoch % every == 0:
            files.save_model(self.trainer.model, checkpoints / f"epoch-{event.epoch}.npz")
            self._save_resume(last=False, progress=self._progress_after(event))  # kill -9 resumes from here
        elif isinstance(event, RunEnded):
            files.save_model(self.trainer.model, checkpoints / "final.npz")
            files.remove_resume(self.dir)
            self._finish(event.status, asdict(event))
        elif isinstance(event, RunCancelled):
            with self.saving():
                self._save_resume(last=True)
                self._finish("cancelled", asdict(event))
        elif isinstance(event, RunFailed):
            self._finish("failed", asdict(event))
        if isinstance(event, EpochEnded) and time.monotonic() - self._summary_at >= SUMMARY_EVERY_S:
            self._write_summary({"status": self.status, "final": self.trainer.last_epoch or {}})

    def _save_extras(self, checkpoints: Path) -> None:
        """Arrays a trainer keeps beside the model's checkpoints (a boosted run's ensemble, checkpoints/boost.npz),
        saved at each epoch and at the end: ``trainer.checkpoint_extras()`` maps file names to arrays."""
        extras = getattr(self.trainer, "checkpoint_extras", None)
        for name, arrays in (extras() if extras is not None else {}).items():
            with files.replacing(checkpoints / name) as tmp, open(tmp, "wb") as f:
                np.savez(f, **arrays)

    def _progress_after(self, event: EpochEnded):
        """The progress a resumed run starts from after ``event``: the trainer updates early stopping's counts
        and the wall time only after the recorder has seen the epoch, so the saved copy does so first."""
        trainer, current = self.trainer, self.trainer.progress
        ahead = replace(current, totals=dict(current.totals), wall_time=event.time)
        trainer.progress = ahead
        try:
            trainer._should_stop_early(event)
        finally:
            trainer.progress = current
        return ahead

    def _save_resume(self, *, last: bool, progress=None) -> None:
        """The weights, optimizer state and progress, as one unit (files.save_resume_state); ``last`` makes
        checkpoints/last.npz those weights, as a stopped run's contract says."""
        trainer = self.trainer

        def write_state(folder: Path) -> None:
            current = trainer.progress
            trainer.progress = progress or current
            try:
                save_resume(trainer, folder)
            finally:
                trainer.progress = current

        files.save_resume_state(self.dir, trainer.model, write_state, last=last)
        self.wrote_resume = True

    def _finish(self, status: str, data: dict) -> None:
        self.status = status
        p = self.trainer.progress
        samples = self.trainer._samples_done()
        self._write_summary(
            {
                "status": status,
                "final": self.trainer.last_epoch or self.summary.get("final") or {},
                "epochs_done": p.epoch,
                "steps": p.step,
                "wall_time": round(p.wall_time or data.get("wall_time", 0.0), 4),
                "train_time": round(p.train_time, 4),
                "train_samples_per_s": samples / p.train_time if p.train_time > 0 else 0.0,
                **({"failure": {k: data[k] for k in ("message", "cause", "advice")}} if status == "failed" else {}),
                **({"message": data["message"]} if data.get("message") and status != "failed" else {}),
            }
        )

    def _write_summary(self, fields: dict) -> None:
        model = self.trainer.model
        spec = self.trainer.session.spec
        data = spec.get("data")
        try:  # what run lists show, and the files' sizes as this summary sees them (directory.open_listed)
            self.metrics.flush()
            sizes = {name: os.stat(self.dir / name).st_size for name in SIZED_FILES}
        except (OSError, ValueError):  # a file gone or closed: lists read the files themselves
            sizes = None
        listed = {**{k: spec.get(k) for k in LISTED_KEYS}, "data": {"dataset": (data or {}).get("dataset")}}
        self.summary = {
            "name": self.trainer.config.name,
            **fields,
            "backend": model.backend.name,
            "dtype": str(model.dtype),
            "param_count": model.param_count,
            "dataset": self.trainer.dataset.describe(),
            "started": self.started,
            "started_at": self.started_at,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "process": self.process,
            "versions": versions(model.backend.name),
            **({LISTING: {"session": listed, "sizes": sizes}} if sizes is not None else {}),
        }
        files.write_text(self.dir / "summary.json", json.dumps(self.summary, indent=1, default=_json_default))
        self._summary_at = time.monotonic()

    def close(self) -> None:
        try:
            self.metrics.close()
        except OSError:
            pass  # a full disk: every line was flushed as it was written, or its write already said so
        finally:
            self._release()

    def _release(self) -> None:
        if self._own_lock:
            self.lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _recorded_yaml(session) -> str:
    """session.yaml as run; weights read from files become the run's own initial checkpoint (the same values)."""
    if not uses_files(session.spec.get("weights")):
        return session.to_yaml()
    return dump_yaml({**session.spec, "weights": RECORDED})


def _last_epoch(metrics: Path) -> dict:
    """The last epoch line of a resumed run's metrics.jsonl, as the trainer's ``last_epoch`` holds one; {} for a
    new run (an empty file) or none."""
    try:
        lines = metrics.read_bytes().splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        if b'"event":"epoch"' in line:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            return {k: v for k, v in record.items() if k not in ("event", "samples")}
    return {}


def _step_of(record) -> int:
    step = record.get("step", record.get("steps", 0)) if isinstance(record, dict) else 0
    return step if isinstance(step, int) else 0
