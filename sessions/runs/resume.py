"""Saving and restoring everything a run needs to continue exactly where it was interrupted."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import typing
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from dl_lab.sessions.errors import RunDirError
from dl_lab.sessions.runs.directory import (
    DamagedRun,
    _check_fields,
    json_object,
    read_records,
    read_regular_file,
)


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
    # in the plain layout (each parameter row-major, as the checkpoints): the file does not depend on how the
    # engine stores a parameter (a dense weight is kept transposed), and runs stopped by earlier versions resume
    # The buffers as the optimizer keeps them, with the numbers it keeps beside (SGD's momentum scale: the buffer
    # times it is torch.optim's): a resumed run then goes on with exactly the numbers of one that did not stop.
    arrays = {f"state.{k}": trainer.model.to_plain(be.to_host(v)) for k, v in opt.state.items()}
    with open(folder / "optimizer.npz", "wb") as f:
        np.savez(f, **arrays)
    state = {"progress": asdict(p), "optimizer_t": opt.t, "optimizer_lr": opt.lr, "optimizer_scalars": opt.scalars()}
    fingerprint = session_fingerprint(Path(folder).parent)  # load_resume refuses a session edited since
    if fingerprint is not None:
        state["session_sha256"] = fingerprint
    (folder / "state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")


def session_fingerprint(run_dir: Path) -> str | None:
    """The sha256 of RUN_DIR/session.yaml as it is on disk, None when there is none to read."""
    try:
        data = read_regular_file(Path(run_dir) / "session.yaml")
    except RunDirError:
        return None
    return hashlib.sha256(data).hexdigest() if data is not None else None


def load_resume(trainer, run_dir: Path) -> None:
    """Restore a trainer built from the run's session.yaml to the interrupted point.

    Everything is read and checked before anything is applied: state.json (JSON, the progress's fields and
    types, values that the session's epochs and batches allow, the session's fingerprint when one was recorded),
    the optimizer's state (plain arrays of exactly the optimizer's shapes; never pickles) and the weights in
    checkpoints/last.npz (the model's keys and shapes). A damaged file is a RunDirError naming it."""
    run_dir = Path(run_dir)
    folder = run_dir / "resume"
    state_path, opt_path, last = folder / "state.json", folder / "optimizer.npz", run_dir / "checkpoints" / "last.npz"
    if not os.path.lexists(state_path) and not os.path.lexists(last):
        raise RunDirError(
            f"{run_dir}: nothing to resume (no resume/state.json and checkpoints/last.npz; "
            "only a stopped run can be resumed)"
        )
    state = _read_state(state_path)
    recorded = state.get("session_sha256")
    if recorded is not None and recorded != session_fingerprint(run_dir):
        raise RunDirError(
            f"{run_dir / 'session.yaml'} changed since the run stopped; put it back, or start a new run with it"
        )
    progress = _check_progress(state_path, state, trainer)
    if os.path.lexists(run_dir / "metrics.jsonl"):
        read_records(run_dir / "metrics.jsonl")  # the resumed run appends to it: it must read as a record
    opt, model, be = trainer.optimizer, trainer.model, trainer.model.backend
    moments = _read_arrays(
        opt_path, {f"state.{k}": tuple(v.shape) for k, v in opt.state.items()}, "optimizer", "the optimizer's state"
    )
    weights = _read_arrays(last, {k: tuple(v.shape) for k, v in model.state_dict().items()}, "model", "the weights")
    # Everything checked: apply it.
    model.load_state_dict(weights, str(last))
    opt.t = state["optimizer_t"]
    for key, value in moments.items():
        model.from_plain(be.asarray(value, dtype=model.dtype), opt.state[key.split(".", 1)[1]])
    opt.load_scalars(state.get("optimizer_scalars", {}))  # runs stopped by earlier versions have none: plain buffers
    for key, value in progress.items():
        setattr(trainer.progress, key, value)
    if trainer.progress.rng_state and _rng_state(trainer.model.ctx.rng) is not None:
        trainer.model.ctx.rng.bit_generator.state = trainer.progress.rng_state
    restore = getattr(trainer, "restore_extras", None)  # what a trainer keeps besides (a boosted run's rounds)
    if restore is not None:
        restore(run_dir)


def _read_state(path: Path) -> dict:
    data = read_regular_file(path)
    if data is None:
        raise DamagedRun(path, "missing (it is written with checkpoints/last.npz when a run stops)")
    state = json_object(path, data)
    problem = _check_fields(state, _STATE_TYPES)
    if problem:
        raise DamagedRun(path, problem)
    for key in ("progress", "optimizer_t"):
        if key not in state:
            raise DamagedRun(path, f"no '{key}'")
    if state["optimizer_t"] < 0:
        raise DamagedRun(path, f"'optimizer_t' is {state['optimizer_t']}, expected 0 or more")
    for name, value in state.get("optimizer_scalars", {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise DamagedRun(path, f"'optimizer_scalars.{name}' is {value!r}, expected a number above 0")
    return state


_STATE_TYPES: dict[str, object] = {
    "progress": dict,
    "optimizer_t": int,
    "optimizer_lr": float,
    "optimizer_scalars": dict,
    "session_sha256": str,
}


def _field_types(cls) -> dict[str, object]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def _check_progress(path: Path, state: dict, trainer) -> dict:
    """state.json's progress, checked against the Progress dataclass and the trainer's epochs and batches."""
    from dl_lab.sessions.training.metrics import EpochTotals
    from dl_lab.sessions.training.trainer import Progress

    progress = state["progress"]
    types = _field_types(Progress)
    for key in progress:
        if key not in types:
            raise DamagedRun(path, f"'progress.{key}' is not part of a run's progress")
    for key in ("epoch", "batch", "step"):
        if key not in progress:
            raise DamagedRun(path, f"no 'progress.{key}'")
    problem = _check_fields(progress, types, "progress.")
    totals = progress.get("totals") or {}
    totals_types = _field_types(EpochTotals)
    unknown = [k for k in totals if k not in totals_types]
    if not problem and unknown:
        problem = f"'progress.totals.{unknown[0]}' is not part of an epoch's totals"
    problem = problem or _check_fields(totals, totals_types, "progress.totals.")
    if problem:
        raise DamagedRun(path, problem)

    def bad(key: str, why: str) -> DamagedRun:
        return DamagedRun(path, f"'progress.{key}' is {progress[key]!r}, {why}")

    for key in ("epoch", "batch", "step", "bad_epochs"):
        if key in progress and progress[key] < 0:
            raise bad(key, "expected 0 or more")
    for key, value in totals.items():
        if not math.isfinite(value) or value < 0:
            raise DamagedRun(path, f"'progress.totals.{key}' is {value!r}, expected a finite number, 0 or more")
    for key in ("train_time", "wall_time"):
        if key in progress and not (math.isfinite(progress[key]) and progress[key] >= 0):
            raise bad(key, "expected a finite number of seconds, 0 or more")
    manual = progress.get("manual_lr")
    if manual is not None and not (math.isfinite(manual) and manual > 0):
        raise bad("manual_lr", "expected a learning rate above 0")
    epochs, per_epoch = trainer.epochs, trainer.steps_per_epoch
    epoch, batch, step = progress["epoch"], progress["batch"], progress["step"]
    if epoch > epochs:
        raise bad("epoch", f"beyond the session's {epochs} epochs")
    if batch >= per_epoch or (epoch == epochs and batch):
        raise bad(
            "batch", f"beyond the {per_epoch} batches of an epoch" if batch >= per_epoch else "after the last epoch"
        )
    if step != epoch * per_epoch + batch:
        raise bad(
            "step",
            f"but epoch {epoch} and batch {batch} at {per_epoch} batches an epoch make {epoch * per_epoch + batch}",
        )
    rng_state = progress.get("rng_state")
    bit_generator = getattr(trainer.model.ctx.rng, "bit_generator", None)
    if rng_state is not None and bit_generator is not None:
        try:
            type(bit_generator)().state = rng_state
        except (ValueError, TypeError, KeyError) as exc:
            raise DamagedRun(path, f"'progress.rng_state' is not a generator's state ({exc})") from None
    return progress


def _read_arrays(path: Path, expected: dict[str, tuple], owner: str, what: str) -> dict[str, np.ndarray]:
    """The arrays of an .npz, loaded without pickles and checked against ``expected`` (key -> shape)."""
    data = read_regular_file(path)
    if data is None:
        raise DamagedRun(path, f"missing ({what}, saved when the run stopped)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files} if hasattr(npz, "files") else None
    except Exception as exc:  # whatever a damaged file makes numpy or zipfile raise
        if isinstance(exc, ValueError) and "pickle" in str(exc):
            raise DamagedRun(
                path, "holds pickled Python objects, which dl-lab never loads (allow_pickle=False)"
            ) from None
        raise DamagedRun(
            path, f"not a readable .npz ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
    if arrays is None:
        raise DamagedRun(path, "not a readable .npz (a single .npy array)")
    missing = [k for k in expected if k not in arrays]
    extra = [k for k in arrays if k not in expected]
    if missing or extra:
        raise DamagedRun(
            path,
            f"keys do not match the {owner} (missing: {', '.join(missing) or 'none'}; "
            f"unexpected: {', '.join(extra) or 'none'})",
        )
    for key, shape in expected.items():
        array = arrays[key]
        if tuple(array.shape) != tuple(shape):
            raise DamagedRun(path, f"{key} has shape {tuple(array.shape)}, the {owner} expects {tuple(shape)}")
        if array.dtype.kind not in "fiu":
            raise DamagedRun(path, f"{key} holds {array.dtype} values, expected numbers")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise DamagedRun(path, f"{key} holds values that are not finite (NaN or infinite)")
    return arrays
