"""Writes a run directory as the contract describes: session.yaml, metrics.jsonl, checkpoints/, summary.json."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import socket
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from dl_lab.core.backend import import_cupy
from dl_lab.sessions.events import EpochEnded, RunCancelled, RunEnded, RunFailed, RunStarted, to_record
from dl_lab.sessions.runs.directory import read_summary
from dl_lab.sessions.runs.resume import save_resume

RESUME_DIR = "resume"


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

    metrics.jsonl is appended and flushed line by line, so a crash loses at most the line being written.
    ``resume=True`` continues a stopped run (Ctrl-C, the app's stop key) in the same directory.
    """

    def __init__(self, run_dir, trainer, *, resume: bool = False):
        self.dir = Path(run_dir)
        self.trainer = trainer
        (self.dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        if not resume:
            (self.dir / "session.yaml").write_text(trainer.session.to_yaml(), encoding="utf-8")
            trainer.model.save(self.dir / "checkpoints" / "initial.npz")
        self.metrics = open(self.dir / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run
        # When the run first started (a resumed run keeps it), and which process records it: run lists tell a
        # live run from one whose process died without an end record by asking whether that process exists.
        self.started_at = (read_summary(self.dir).get("started_at") if resume else None) or (
            dt.datetime.now().astimezone().isoformat(timespec="seconds")
        )
        self.process = {"pid": os.getpid(), "host": socket.gethostname()}
        self.started: dict | None = None
        self.status = "running"
        self.summary: dict = {}

    def record(self, event) -> None:
        if isinstance(event, RunStarted):
            self.started = asdict(event)
            self._write_summary({"status": "running"})
            return
        self.metrics.write(dumps(to_record(event)) + "\n")
        self.metrics.flush()
        every = self.trainer.config.training.checkpoint_every
        if isinstance(event, EpochEnded) and every and event.epoch % every == 0:
            self.trainer.model.save(self.dir / "checkpoints" / f"epoch-{event.epoch}.npz")
        elif isinstance(event, RunEnded):
            self.trainer.model.save(self.dir / "checkpoints" / "final.npz")
            shutil.rmtree(self.dir / RESUME_DIR, ignore_errors=True)
            self._finish(event.status, asdict(event))
        elif isinstance(event, RunCancelled):
            self.trainer.model.save(self.dir / "checkpoints" / "last.npz")
            save_resume(self.trainer, self.dir / RESUME_DIR)
            self._finish("cancelled", asdict(event))
        elif isinstance(event, RunFailed):
            self._finish("failed", asdict(event))

    def _finish(self, status: str, data: dict) -> None:
        self.status = status
        p = self.trainer.progress
        samples = self.trainer._samples_done()
        self._write_summary(
            {
                "status": status,
                "final": self.trainer.last_epoch or {},
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
        }
        tmp = self.dir / "summary.json.tmp"
        tmp.write_text(json.dumps(self.summary, indent=1, default=_json_default), encoding="utf-8")
        tmp.replace(self.dir / "summary.json")

    def close(self) -> None:
        self.metrics.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
