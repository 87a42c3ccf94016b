"""What every inspect view starts from: a recorded run's model at one of its checkpoints, its data and its loss.

``open_inspected(run_dir, checkpoint)`` rebuilds the run's model from its session.yaml (NumPy, the run's dtype),
loads the chosen checkpoint (``final``, ``initial``, ``last``, ``epoch-N``, or a frame ``step-N``) and loads the
data the run trained on. Views are plain functions ``compute(inspected, **options) -> dict`` of JSON-ready numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dl_lab.core.errors import DLLabError
from dl_lab.core.losses import Loss
from dl_lab.core.model import Sequential
from dl_lab.datasets import Dataset
from dl_lab.sessions.config.session import Session


def number(value) -> float | None:
    """A number for a view's JSON: 6 significant digits, None for a NaN, an infinity or None."""
    if value is None:
        return None
    v = float(value)
    return float(f"{v:.6g}") if np.isfinite(v) else None


class InspectError(DLLabError):
    """A view that cannot be computed for this run, or bad options: the message says why and what works instead."""


@dataclass
class Inspected:
    run_dir: Path
    session: Session
    dataset: Dataset
    model: Sequential  # holding the checkpoint's weights
    loss: Loss
    checkpoint: str  # the checkpoint's name ("final", "epoch-3", ...)

    @property
    def is_image(self) -> bool:
        return len(self.dataset.input_shape) == 3

    def validation(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` validation samples (the training split when the run has none) and their targets."""
        ds = self.dataset
        x, y = (ds.x_val, ds.y_val) if len(ds.y_val) else (ds.x_train, ds.y_train)
        return (x, y) if n is None else (x[:n], y[:n])

    def raw_scale(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        """How raw input units map to the model's inputs: (shift, scale) broadcastable to a batch (model input =
        (raw - shift) / scale) and the raw training data's range (lo, hi)."""
        from dl_lab.datasets.normalization import _shift_and_scale

        ds = self.dataset
        raw = np.asarray(ds._inputs["train"], dtype=np.float64)
        record = ds.normalization
        shape = (1, -1) + (1,) * (raw.ndim - 2)
        if ds.pca_fit is not None:  # data.pca: the model's inputs are principal components, their own units
            x = np.asarray(ds.x_train, dtype=np.float64)
            return np.zeros((1, 1)), np.ones((1, 1)), float(x.min()), float(x.max())
        if record.get("method", "none") == "none":
            shift, scale = np.zeros(1), np.ones(1)
        else:
            shift, scale = _shift_and_scale(record)
        return shift.reshape(shape), scale.reshape(shape), float(raw.min()), float(raw.max())


CHECKPOINT_HELP = "final, initial, last (a stopped run), epoch-N or step-N (a recorded frame)"


def checkpoint_path(run_dir: Path, name: str | None) -> tuple[str, Path]:
    """The file of checkpoint ``name`` in ``run_dir`` (default: final, else last for a stopped run)."""
    if name is None:
        for default in ("final", "last"):
            if (run_dir / "checkpoints" / f"{default}.npz").is_file():
                return default, run_dir / "checkpoints" / f"{default}.npz"
        raise InspectError(
            f"{run_dir}: no final or last checkpoint (a run that did not end or stop); --checkpoint {CHECKPOINT_HELP}"
        )
    path = (run_dir / "frames" / f"{name}.npz") if name.startswith("step-") else run_dir / "checkpoints" / f"{name}.npz"
    if name.startswith("step-") and name[5:].isdigit():
        path = run_dir / "frames" / f"step-{int(name[5:]):08d}.npz"
    if not path.is_file():
        have = sorted(p.stem for p in (run_dir / "checkpoints").glob("*.npz"))
        have += sorted(f"step-{int(p.stem[5:])}" for p in (run_dir / "frames").glob("step-*.npz"))
        raise InspectError(f"--checkpoint {name}: not in {run_dir} (it has: {', '.join(have) or 'none'})")
    return name, path


def open_inspected(run_dir, checkpoint: str | None = None) -> Inspected:
    """The run in ``run_dir`` at ``checkpoint`` (see CHECKPOINT_HELP), ready for any view."""
    from dl_lab.sessions.config.session import session_from_dict
    from dl_lab.sessions.runs.directory import open_run
    from dl_lab.sessions.training.build import build

    run_dir = Path(run_dir)
    run = open_run(run_dir, with_records=False)
    name, path = checkpoint_path(run_dir, checkpoint)
    session = session_from_dict(run.session, base_dir=run_dir, source=run_dir / "session.yaml")
    built = build(session, backend="numpy")
    with np.load(path, allow_pickle=False) as npz:
        built.model.load_state_dict({k: npz[k] for k in npz.files}, source=str(path))
    return Inspected(run_dir, session, built.dataset, built.model, built.loss, name)
