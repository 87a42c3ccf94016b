"""Saving and restoring everything a run needs to continue exactly where it was interrupted."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from dl_lab.sessions.errors import RunDirError


def _rng_state(rng) -> dict | None:
    """NumPy's generator state (JSON-ready); CuPy's generators expose none, so a CuPy resume redraws dropout."""
    try:
        return rng.bit_generator.state
    except AttributeError:
        return None


def save_resume(trainer, folder: Path) -> None:
    """Progress (JSON), optimizer state and the dropout generator's state; weights go to checkpoints/last.npz."""
    folder.mkdir(parents=True, exist_ok=True)
    p = trainer.progress
    p.rng_state = _rng_state(trainer.model.ctx.rng)
    opt = trainer.optimizer
    be = trainer.model.backend
    arrays = {f"state.{k}": be.to_host(v) for k, v in opt.state.items()}
    with open(folder / "optimizer.npz", "wb") as f:
        np.savez(f, **arrays)
    state = {"progress": asdict(p), "optimizer_t": opt.t, "optimizer_lr": opt.lr}
    (folder / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")


def load_resume(trainer, run_dir: Path) -> None:
    """Restore a trainer built from the run's session.yaml to the interrupted point."""
    folder = Path(run_dir) / "resume"
    last = Path(run_dir) / "checkpoints" / "last.npz"
    if not (folder / "state.json").exists() or not last.exists():
        raise RunDirError(
            f"{run_dir}: nothing to resume (no resume/state.json and checkpoints/last.npz; "
            "only a stopped run can be resumed)"
        )
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    trainer.model.load(last)
    opt, be = trainer.optimizer, trainer.model.backend
    opt.t = state["optimizer_t"]
    with np.load(folder / "optimizer.npz", allow_pickle=False) as data:
        for key in data.files:
            opt.state[key.split(".", 1)[1]][...] = be.asarray(data[key])
    for key, value in state["progress"].items():
        setattr(trainer.progress, key, value)
    if trainer.progress.rng_state and _rng_state(trainer.model.ctx.rng) is not None:
        trainer.model.ctx.rng.bit_generator.state = trainer.progress.rng_state
