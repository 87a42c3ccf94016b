"""What the run shows of the network's inside: activation, weight and gradient statistics, decision maps."""

from __future__ import annotations

from typing import Any

import numpy as np

from dl_lab.sessions.config.typed import MonitorConfig
from dl_lab.sessions.events import ActivationStats, Boundary, LayerSnapshot, SnapshotTaken
from dl_lab.sessions.training.stats import _round, describe_segments

# Fixed histogram ranges for bounded activations, so that pictures compare across time.
_RANGES = {
    "sigmoid": (0.0, 1.0),
    "tanh": (-1.0, 1.0),
    "softmax": (0.0, 1.0),
    "step": (0.0, 1.0),
    "gaussian": (0.0, 1.0),
}
ACTIVATION_VALUES = 8192  # at most about this many values per layer go into its activation statistics
SATURATION = 0.99  # |tanh| or 2|sigmoid - 0.5| above this counts as saturated


def _activation_name(layer) -> str:
    act = layer.activation_function()
    return act.name if act is not None else "identity"


class Monitor:
    """Takes snapshots of a model: activations on a fixed validation sample, parameters and gradients."""

    def __init__(self, model, loss, dataset, config: MonitorConfig):
        self.model, self.loss, self.cfg = model, loss, config
        be = model.backend
        x_src = dataset.x_val if len(dataset.y_val) else dataset.x_train
        self.sample = be.asarray(x_src[: config.sample_size], dtype=model.dtype)
        self.grid = None
        self.bounds: list[list[float]] = []
        pts = dataset.points_2d
        if pts is not None:
            self.grid = self._make_grid(dataset, pts, config.boundary_resolution)
        elif tuple(dataset.input_shape) == (1,):
            self.grid = self._make_line(dataset, config.boundary_resolution * 4)
        # Layers with a weight (dense, conv2d, batchnorm's scale): where their values sit in the flat buffers.
        weights = [(i, layer.weight_parameter()) for i, layer in enumerate(model.layers)]
        self.weighted = [(i, w) for i, w in weights if w is not None]
        self.weight_index = (
            np.concatenate([np.arange(p.offset, p.offset + p.size) for _, p in self.weighted])
            if self.weighted
            else None
        )
        # One forward pass serves both the activation statistics and the decision map.
        self.n_sample = len(self.sample)
        self.probe = self.sample if self.grid is None else be.xp.concatenate([self.sample, self.grid])

    def _make_grid(self, dataset, pts, res):
        inputs, bounds = plane_inputs(dataset, res)
        if inputs is None:
            return None
        self.bounds = bounds
        return self.model.backend.asarray(inputs, dtype=self.model.dtype)

    def _make_line(self, dataset, n):
        """For 1-D inputs (the sine task): the model's curve over the inputs' range."""
        inputs, self.bounds = line_inputs(dataset, n)
        return self.model.backend.asarray(inputs, dtype=self.model.dtype)

    def snapshot(self, epoch: int, step: int, before: np.ndarray | None) -> SnapshotTaken:
        """Statistics of every layer now; ``before`` (the flat parameters before the last step, or None)
        gives the update-to-weight ratios."""
        model, be, bins = self.model, self.model.backend, self.cfg.bins
        final = model.forward(self.probe, training=False, keep=True)
        outputs = [be.to_host(o[: self.n_sample]) for o in model.outputs]
        model.outputs = None
        rows = [
            LayerSnapshot(index=i, kind=layer.kind, activation=stats)
            for i, (layer, stats) in enumerate(zip(model.layers, self._activation_stats(outputs, bins), strict=True))
        ]
        self._param_stats(rows, bins, before)
        return SnapshotTaken(epoch=epoch, step=step, layers=rows, boundary=self._boundary(final[self.n_sample :]))

    def _activation_stats(self, outputs, bins) -> list[ActivationStats]:
        names = [_activation_name(layer) for layer in self.model.layers]
        # Histograms and moments need a few thousand values, not every pixel of every feature map.
        parts = [o.reshape(-1)[:: max(1, o.size // ACTIVATION_VALUES)] for o in outputs]
        described: list[Any] = describe_segments(
            np.concatenate(parts), [p.size for p in parts], bins, [_RANGES.get(n) for n in names]
        )
        for layer, name, out, stats in zip(self.model.layers, names, outputs, described, strict=True):
            del stats["norm"]
            stats["function"] = name
            act = layer.activation_function()
            if act is not None and act.dies:
                # a unit (a channel for images) is dead when it is zero on every sample and position
                per_unit = np.moveaxis(out, 1, 0).reshape(out.shape[1], -1)
                stats["dead_fraction"] = _round((per_unit <= 0).all(axis=1).mean(), 4)
            if name == "tanh":
                stats["saturated_fraction"] = _round((np.abs(out) > SATURATION).mean(), 4)
            elif name == "sigmoid":
                stats["saturated_fraction"] = _round((np.abs(2 * out - 1) > SATURATION).mean(), 4)
        return described

    def _param_stats(self, rows, bins, before) -> None:
        """Weights and gradients of every layer that has a weight, gathered from the flat buffers at once."""
        if not self.weighted:
            return
        be = self.model.backend
        params, grads = be.to_host(self.model.params), be.to_host(self.model.grads)
        w, g = params[self.weight_index], grads[self.weight_index]
        sizes = [p.size for _, p in self.weighted]
        for (i, _), ws, gs in zip(
            self.weighted, describe_segments(w, sizes, bins), describe_segments(g, sizes, bins), strict=True
        ):
            rows[i].update(weight=ws, grad=gs)
        if before is not None:
            delta = w - before[self.weight_index]
            starts = np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.intp)
            moved = np.sqrt(np.add.reduceat(np.square(delta, dtype=np.float64), starts))
            for (i, _), step in zip(self.weighted, moved, strict=True):
                norm = rows[i]["weight"]["norm"]
                rows[i]["update_ratio"] = _round(step / norm if norm > 0 and np.isfinite(step) else 0.0)

    def _boundary(self, out) -> Boundary | None:
        if self.grid is None:
            return None
        be = self.model.backend
        xs = be.to_host(self.grid[:, 0]) if len(self.bounds) == 1 else None
        return describe_boundary(be, out, self.loss, self.bounds, self.cfg.boundary_resolution, xs)


def plane_inputs(dataset, res: int) -> tuple[np.ndarray | None, list[list[float]]]:
    """The model's inputs at ``res`` x ``res`` points over the data's plane (top row first, as a picture; the
    dataset's features computed from x1, x2) and the plane's bounds; (None, []) when they cannot be computed."""
    pts = dataset.points_2d or {}
    x0, x1, y0, y1 = pts.get("bounds") or (-6.0, 6.0, -6.0, 6.0)
    xs = np.linspace(x0, x1, res)
    ys = np.linspace(y1, y0, res)  # top row first, as a picture
    gx, gy = np.meshgrid(xs, ys)
    raw = np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1)
    try:
        inputs = dataset.featurize(raw)
    except Exception:
        return None, []
    return np.asarray(inputs), [[float(x0), float(x1)], [float(y0), float(y1)]]


def line_inputs(dataset, n: int) -> tuple[np.ndarray, list[list[float]]]:
    """For 1-D inputs: ``n`` points over the training inputs' range, and that range."""
    x = dataset.x_train[:, 0]
    lo, hi = float(x.min()), float(x.max())
    return np.linspace(lo, hi, n)[:, None], [[lo, hi]]


def describe_boundary(be, out, loss, bounds, res: int, xs=None) -> Boundary:
    """The model's outputs ``out`` on a plane's ``res`` x ``res`` grid (or along a line at ``xs``) as a Boundary.

    Values are rounded as float64: a float32 0.05 prints as 0.05000000074505806, which made a 32 x 32 map four
    times as long in metrics.jsonl."""
    if len(bounds) == 1:
        ys = be.to_host(out[:, 0]) if not loss.classification else be.to_host(loss.probabilities(out))[:, -1]
        return Boundary(kind="curve", bounds=bounds, x=np.round(xs, 4).tolist(), values=_rounded(ys, 4))
    info = Boundary(resolution=res, bounds=bounds)
    if not loss.classification:
        info["kind"], info["values"] = "value", _rounded(be.to_host(out[:, 0]), 4)
    elif out.shape[1] <= 2:
        # two classes: the probability of class 1 says it all (one logit, or the softmax of two)
        prob = be.to_host(loss.probabilities(out))[:, -1]
        info["kind"], info["values"] = "probability", _rounded(prob, 2)
    else:
        prob = be.to_host(loss.probabilities(out))
        info["kind"], info["classes"] = "classes", prob.argmax(axis=1).tolist()
        info["values"] = _rounded(prob.max(axis=1), 3)
    return info


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()
