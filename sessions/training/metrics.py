"""Epoch metrics: running training averages, and validation loss, accuracy, confusion matrix, MAE and R^2."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SAMPLE_COUNT = 48  # validation samples listed with their predicted and true labels: mistakes first, then right ones


@dataclass
class EpochTotals:
    """Sums over the batches of an epoch, so that metrics are means over samples (batch sizes may differ)."""

    n: int = 0
    loss: float = 0.0
    correct: int = 0
    abs_err: float = 0.0
    sq_err: float = 0.0
    count: int = 0  # regression elements

    @classmethod
    def from_dict(cls, d: dict) -> EpochTotals:
        return cls(**d) if d else cls()

    def to_dict(self) -> dict:
        return asdict(self)

    def add(self, loss, out, y, value: float, n: int) -> None:
        self.n += n
        self.loss += value * n
        if loss.classification:
            self.correct += int((loss.predict(out) == y).sum())
        else:
            diff = out - y.reshape(out.shape)
            self.abs_err += float(abs(diff).sum())
            self.sq_err += float((diff * diff).sum())
            self.count += diff.size

    def result(self, loss, dataset) -> dict:
        n = max(self.n, 1)
        out = {"loss": self.loss / n}
        if loss.classification:
            out["acc"] = self.correct / n
        else:
            out["mae"] = self.abs_err / max(self.count, 1)
            out["r2"] = _r2(self.sq_err, dataset.y_train)
        return out


def _r2(sq_err: float, y: np.ndarray) -> float:
    """1 - SS_res / SS_tot (per output column variance, summed)."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    total = float(((y - y.mean(axis=0)) ** 2).sum())
    return 1.0 - sq_err / total if total > 0 else 0.0


def confusion_matrix(pred: np.ndarray, true: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


def evaluate(loss, out, y, backend, dataset) -> dict:
    """Validation metrics from the model's outputs ``out`` on the whole validation split."""
    value = float(loss(out, y)[0])
    if not loss.classification:
        o = backend.to_host(out).astype(np.float64)
        t = np.asarray(dataset.y_val, dtype=np.float64).reshape(o.shape)
        diff = o - t
        total = float(((t - t.mean(axis=0)) ** 2).sum())
        r2 = 1.0 - float((diff * diff).sum()) / total if total > 0 else 0.0
        return {"val_loss": value, "val_mae": float(np.abs(diff).mean()), "val_r2": r2}
    pred = backend.to_host(loss.predict(out)).astype(np.int64)
    true = np.asarray(dataset.y_val, dtype=np.int64)
    k = dataset.num_classes
    cm = confusion_matrix(pred, true, k)
    predicted, actual, hits = cm.sum(axis=0), cm.sum(axis=1), np.diag(cm)
    precision = np.where(predicted > 0, hits / np.maximum(predicted, 1), 0.0)
    recall = np.where(actual > 0, hits / np.maximum(actual, 1), 0.0)
    # the mistakes first (in validation order), then the right ones: what a student looks at first
    order = np.concatenate([np.flatnonzero(pred != true), np.flatnonzero(pred == true)])[:SAMPLE_COUNT]
    return {
        "val_loss": value,
        "val_acc": float((pred == true).mean()) if len(true) else 0.0,
        "confusion": cm.tolist(),
        "precision": [round(float(v), 4) for v in precision],
        "recall": [round(float(v), 4) for v in recall],
        "samples": {"indices": order.tolist(), "predicted": pred[order].tolist(), "true": true[order].tolist()},
    }
