"""What the run shows of the network's inside: activation, weight and gradient statistics, decision maps."""

from __future__ import annotations

import math

import numpy as np

from .events import SnapshotTaken

# Fixed histogram ranges for bounded activations, so that pictures compare across time.
_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "softmax": (0.0, 1.0), "step": (0.0, 1.0),
           "gaussian": (0.0, 1.0)}  # fmt: skip
SATURATION = 0.99  # |tanh| or 2|sigmoid - 0.5| above this counts as saturated


def histogram(values: np.ndarray, bins: int, lo: float | None = None, hi: float | None = None) -> dict:
    """Counts over ``bins`` equal bins (``lo``..``hi``, else the data's range), via one bincount."""
    v = values.reshape(-1)
    if v.size == 0:
        return {"counts": [0] * bins, "lo": 0.0, "hi": 0.0}
    if lo is None:
        lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        hi = lo + max(abs(lo) * 1e-6, 1e-6)
    idx = (v - lo) * (bins / (hi - lo))
    np.clip(idx, 0, bins - 1, out=idx)
    return {"counts": np.bincount(idx.astype(np.intp), minlength=bins).tolist(), "lo": _round(lo), "hi": _round(hi)}


def describe(values: np.ndarray, bins: int, lo: float | None = None, hi: float | None = None) -> dict:
    """norm, mean, std and histogram of an array from a few passes (the monitor runs inside training)."""
    v = values.reshape(-1)
    total = float(v.sum(dtype=np.float64))
    with np.errstate(over="ignore", invalid="ignore"):
        squares = float(np.dot(v, v))
    if not math.isfinite(total + squares):  # a diverging run: describe the finite values in float64
        v = v[np.isfinite(v)].astype(np.float64)
        total, squares = float(v.sum()), float(np.dot(v, v))
    n = max(v.size, 1)
    mean = total / n
    std = max(squares / n - mean * mean, 0.0) ** 0.5
    hist = histogram(v, bins, lo, hi)
    return {"norm": _round(squares**0.5), "mean": _round(mean), "std": _round(std), "histogram": hist}


def _round(x: float, digits: int = 6) -> float:
    return float(f"{float(x):.{digits}g}")


def _activation_name(layer) -> str:
    act = getattr(layer, "act", None)
    return act.name if act is not None else "identity"


class Monitor:
    """Takes snapshots of a model: activations on a fixed validation sample, parameters and gradients."""

    def __init__(self, model, loss, dataset, config: dict):
        self.model, self.loss, self.cfg = model, loss, config
        be = model.backend
        x_src = dataset.x_val if len(dataset.y_val) else dataset.x_train
        self.sample = be.asarray(x_src[: config["sample_size"]], dtype=model.dtype)
        self.grid = None
        self.bounds = None
        pts = getattr(dataset, "points_2d", None)
        if pts is not None:
            self.grid = self._make_grid(dataset, pts, config["boundary_resolution"])
        elif tuple(dataset.input_shape) == (1,):
            self.grid = self._make_line(dataset, config["boundary_resolution"] * 4)
        # One forward pass serves both the activation statistics and the decision map.
        self.n_sample = len(self.sample)
        self.probe = self.sample if self.grid is None else be.xp.concatenate([self.sample, self.grid])

    def _make_grid(self, dataset, pts, res):
        x0, x1, y0, y1 = pts.get("bounds") or (-6.0, 6.0, -6.0, 6.0)
        xs = np.linspace(x0, x1, res)
        ys = np.linspace(y1, y0, res)  # top row first, as a picture
        gx, gy = np.meshgrid(xs, ys)
        raw = np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1)
        try:
            inputs = dataset.featurize(raw)
        except Exception:
            return None
        self.bounds = [[float(x0), float(x1)], [float(y0), float(y1)]]
        return self.model.backend.asarray(inputs, dtype=self.model.dtype)

    def _make_line(self, dataset, n):
        """For 1-D inputs (the sine task): the model's curve over the inputs' range."""
        x = dataset.x_train[:, 0]
        lo, hi = float(x.min()), float(x.max())
        self.bounds = [[lo, hi]]
        return self.model.backend.asarray(np.linspace(lo, hi, n)[:, None], dtype=self.model.dtype)

    def snapshot(self, epoch: int, step: int, before: np.ndarray | None) -> SnapshotTaken:
        model, be, bins = self.model, self.model.backend, self.cfg["bins"]
        final = model.forward(self.probe, training=False, keep=True)
        outputs = [be.to_host(o[: self.n_sample]) for o in model.outputs]
        model.outputs = None
        params = be.to_host(model.params) if before is not None else None
        rows = []
        for i, (layer, out) in enumerate(zip(model.layers, outputs, strict=True)):
            row = {"index": i, "kind": layer.kind, "activation": self._activation_stats(layer, out, bins)}
            row.update(self._param_stats(layer, bins, before, params))
            rows.append(row)
        return SnapshotTaken(epoch=epoch, step=step, layers=rows, boundary=self._boundary(final[self.n_sample :]))

    def _activation_stats(self, layer, out, bins):
        name = _activation_name(layer)
        lo, hi = _RANGES.get(name, (None, None))
        stats = describe(out, bins, lo, hi)
        del stats["norm"]
        stats["function"] = name
        act = getattr(layer, "act", None)
        if act is not None and act.dies:
            # a unit (a channel for images) is dead when it is zero on every sample and position
            per_unit = np.moveaxis(out, 1, 0).reshape(out.shape[1], -1)
            stats["dead_fraction"] = _round((per_unit <= 0).all(axis=1).mean(), 4)
        if name == "tanh":
            stats["saturated_fraction"] = _round((np.abs(out) > SATURATION).mean(), 4)
        elif name == "sigmoid":
            stats["saturated_fraction"] = _round((np.abs(2 * out - 1) > SATURATION).mean(), 4)
        return stats

    def _param_stats(self, layer, bins, before, params):
        weight = getattr(layer, "weight", None)
        if weight is None or weight.data is None:
            return {}
        be = self.model.backend
        w, g = be.to_host(weight.data), be.to_host(weight.grad)
        stats = {"weight": describe(w, bins), "grad": describe(g, bins)}
        if before is not None:
            start = weight.offset
            delta = params[start : start + weight.size] - before[start : start + weight.size]
            norm = stats["weight"]["norm"]
            stats["update_ratio"] = _round(float(np.dot(delta, delta)) ** 0.5 / norm if norm > 0 else 0.0)
        return stats

    def _boundary(self, out) -> dict | None:
        if self.grid is None:
            return None
        be = self.model.backend
        res = self.cfg["boundary_resolution"]
        info = {"resolution": res, "bounds": self.bounds}
        if len(self.bounds) == 1:
            xs = be.to_host(self.grid[:, 0])
            ys = (
                be.to_host(out[:, 0])
                if not self.loss.classification
                else be.to_host(self.loss.probabilities(out))[:, -1]
            )
            return {
                "kind": "curve",
                "bounds": self.bounds,
                "x": np.round(xs, 4).tolist(),
                "values": np.round(ys, 4).tolist(),
            }
        if not self.loss.classification:
            info.update(kind="value", values=np.round(be.to_host(out[:, 0]), 4).tolist())
        elif out.shape[1] <= 2:
            # two classes: the probability of class 1 says it all (one logit, or the softmax of two)
            prob = be.to_host(self.loss.probabilities(out))[:, -1]
            info.update(kind="probability", values=np.round(prob, 3).tolist())
        else:
            prob = be.to_host(self.loss.probabilities(out))
            info.update(kind="classes", classes=prob.argmax(axis=1).tolist(),
                        values=np.round(prob.max(axis=1), 3).tolist())  # fmt: skip
        return info
