"""The loss landscape around a recorded run's weights: a 2-D slice along two random, filter-normalized directions
(Li et al., NeurIPS 2018) with the training path drawn on it, or the 1-D line from the initial to the final weights
(Goodfellow et al., ICLR 2015).

``compute(inspected, mode="2d", steps=21, span=1.0, samples=256, seed=0) -> dict``. The loss is always the mean
loss (the run's own loss, evaluation mode) over the first ``samples`` validation samples (the training split for a
run without one), computed with ``core.inspect.loss_at``: the model keeps its weights.

Mode ``"2d"``: ``w`` is the inspected checkpoint's weights (normally ``final``); ``d1``, ``d2`` are two Gaussian
directions drawn from ``seed`` and filter-normalized (``filter_normalized_direction``); the grid is
L(w + a·d1 + b·d2) for a, b on ``steps`` evenly spaced points in [-span, span] (``steps`` is odd, so the centre
a = b = 0 is the inspected weights exactly). The training path is every recorded weight vector w_i
(checkpoints/initial.npz, frames/step-*.npz, checkpoints/epoch-*.npz, checkpoints/final.npz or last.npz; one per
training step, in step order) minus ``w``, projected on (d1, d2) by least squares: (a_i, b_i) minimizes
‖a·d1 + b·d2 - (w_i - w)‖. Random directions in a large model see little of the path (its points crowd near the
centre); ``directions="pca"`` takes instead the path's first two principal directions (Li et al.'s projection.py:
unit vectors, not filter-normalized) and a grid reaching ``span`` x 1.2 x the path's largest coordinate, so that
the path is drawn across the plane it moved in (``variance``: the share of the path's variance in that plane).

Keys (mode 2d):
- ``view``: "landscape"; ``mode``: "2d"; ``checkpoint``: the inspected checkpoint's name;
- ``samples``: how many validation samples the loss averages over (fewer than asked when the split is smaller);
- ``span``, ``steps``, ``seed``, ``directions`` ("random" or "pca"): the options used; ``variance`` (pca only);
- ``a``, ``b``: the grid's coordinates along d1 and d2 (``steps`` values each, from -span to span);
- ``loss``: ``steps`` rows (one per b, ascending) of ``steps`` values (one per a, ascending);
- ``centre_loss``: the loss at the inspected weights (the grid's centre);
- ``min_loss``, ``max_loss``: the grid's smallest and largest finite losses (null if none is finite);
- ``path``: [{"step": int, "a": float, "b": float}] in step order; the inspected checkpoint sits at (0, 0);
- ``seconds``: the wall time the view took.

Keys (mode 1d): ``view``, ``mode`` ("1d"), ``checkpoint``, ``samples``, ``span``, ``steps`` as above, and
- ``alpha``: ``steps`` values of alpha for w(alpha) = w_initial + alpha·(w_checkpoint - w_initial) (w_initial:
  checkpoints/initial.npz); the spacing is 1/m with m even, so that alpha = 0 and alpha = 1 are exact grid points; by
  default (span 1, steps 21) alpha runs from -0.5 to 1.5 in steps of 0.1; in general it covers about
  [-span/2, 1 + span/2] (a wider span widens it, at a coarser spacing);
- ``loss``: the loss at each alpha;
- ``initial_index``, ``final_index``: the indices of alpha = 0 and alpha = 1 in ``alpha``;
- ``initial_loss``, ``final_loss``: the loss there (the initial weights, the inspected checkpoint's);
- ``seconds``.

Numbers are rounded to 6 significant digits; a NaN or infinite loss is null.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from dl_lab.core.inspect import loss_at
from dl_lab.sessions.runs.weights import recorded_weights

from .common import Inspected, InspectError, number

MODES = ("1d", "2d")


def _whole(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _validate(mode, steps, span, samples) -> None:
    if mode not in MODES:
        raise InspectError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 3 <= steps <= 101 or steps % 2 == 0:
        raise InspectError(
            f"steps: expected an odd whole number from 3 to 101 (so the grid has a centre), got {steps!r}"
        )
    if (
        isinstance(span, bool)
        or not isinstance(span, (int, float, np.number))
        or not (math.isfinite(span) and span > 0)
    ):
        raise InspectError(f"span: expected a finite number > 0, got {span!r}")
    if not _whole(samples) or samples < 1:
        raise InspectError(f"samples: expected a whole number >= 1, got {samples!r}")


def _all_layers(layers):
    for layer in layers:
        yield layer
        yield from _all_layers(layer.children())


def filter_normalized_direction(model, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian direction in the model's flat parameter space (host array, ``model.params``' shape and dtype),
    filter-normalized as in Li et al. 2018: for every weight tensor, each filter (the slice [o] along the first
    axis: a dense weight's row, a conv weight's output channel) is rescaled so that its norm equals that filter's
    norm in the model's current weights; biases and batchnorm's parameters (not regularized) get 0."""
    params = np.asarray(model.backend.to_host(model.params), dtype=np.float64)
    direction = np.zeros(params.shape, dtype=np.float64)
    batchnorm = {
        id(p) for layer in _all_layers(model.layers) if layer.kind == "batchnorm" for _, p in layer.parameters()
    }
    for _, p in model.named_parameters():
        if not p.regularized or id(p) in batchnorm:
            continue
        w = p.view(params).reshape(p.shape[0], -1)
        d = rng.standard_normal(w.shape)
        d_norm = np.linalg.norm(d, axis=1, keepdims=True)
        w_norm = np.linalg.norm(w, axis=1, keepdims=True)
        d *= w_norm / np.where(d_norm > 0, d_norm, 1.0)
        p.view(direction)[...] = d.reshape(p.shape)
    return direction.astype(model.dtype)


def _flat(model, path: Path) -> np.ndarray:
    """The flat parameter vector of the checkpoint at ``path`` (host, float64), in the model's layout."""
    flat = np.zeros(model.size, dtype=np.float64)
    with np.load(path, allow_pickle=False) as npz:
        for key, p in model.named_parameters():
            if key not in npz.files or tuple(npz[key].shape) != tuple(p.shape):
                raise InspectError(f"{path}: no parameter {key} of shape {p.shape}; it does not belong to this run")
            p.view(flat)[...] = np.asarray(npz[key], dtype=np.float64)
    return flat


def _project(path_deltas: np.ndarray, d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """Least-squares coordinates (a, b) of each row of ``path_deltas`` on the plane spanned by d1 and d2."""
    basis = np.stack([d1, d2], axis=1)  # (P, 2)
    coords, *_ = np.linalg.lstsq(basis, path_deltas.T, rcond=None)  # (2, N)
    return coords.T


def line_alphas(steps: int, span: float) -> tuple[np.ndarray, int, int]:
    """The 1-D grid of alpha (see the module docstring) and the indices of alpha = 0 and alpha = 1."""
    m = 2 * max(1, min((steps - 1) // 2, round((steps - 1) / (1.0 + span) / 2)))  # even, 2 .. steps-1
    centre = (steps - 1) // 2
    j = np.arange(steps) - centre + m // 2  # alpha·m: integers, so 0 and 1 are exact
    return j / m, centre - m // 2, centre + m // 2


def pca_directions(deltas: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The first two principal directions (unit vectors) of the path ``deltas`` (rows w_i - w), as Li et al.'s
    projection.py draws a trajectory, and the share of the path's variance they hold."""
    moved = deltas[np.linalg.norm(deltas, axis=1) > 0]
    if len(moved) < 2:
        raise InspectError(
            "directions pca: needs at least two recorded weights besides the inspected ones (checkpoints, frames); "
            "use directions random"
        )
    _, sv, vt = np.linalg.svd(moved - moved.mean(axis=0), full_matrices=False)
    total = float((sv**2).sum())
    d2 = vt[1] if len(vt) > 1 else np.zeros_like(vt[0])
    return vt[0], d2, float((sv[:2] ** 2).sum() / total) if total > 0 else 1.0


def compute(
    ins: Inspected,
    *,
    mode: str = "2d",
    steps: int = 21,
    span: float = 1.0,
    samples: int = 256,
    seed: int = 0,
    directions: str = "random",
) -> dict:
    """The loss landscape view (see the module docstring for the options and every key)."""
    _validate(mode, steps, span, samples)
    if directions not in ("random", "pca"):
        raise InspectError(f"directions: expected random or pca, got {directions!r}")
    started = time.perf_counter()
    model, loss = ins.model, ins.loss
    x, y = ins.validation(int(samples))
    w = np.asarray(model.backend.to_host(model.params), dtype=np.float64).copy()

    def at(flat: np.ndarray) -> float:
        return float(loss_at(model, loss, flat, x, y))

    out: dict = {
        "view": "landscape",
        "mode": mode,
        "checkpoint": ins.checkpoint,
        "samples": len(y),
        "span": float(span),
        "steps": int(steps),
    }
    if mode == "1d":
        initial = ins.run_dir / "checkpoints" / "initial.npz"
        if not initial.is_file():
            raise InspectError(f"mode 1d: {ins.run_dir} has no checkpoints/initial.npz to interpolate from")
        w0 = _flat(model, initial)
        alphas, i0, i1 = line_alphas(int(steps), float(span))
        losses = [at(w0 + a * (w - w0)) for a in alphas]
        out.update(
            alpha=[number(a) for a in alphas],
            loss=[number(v) for v in losses],
            initial_index=int(i0),
            final_index=int(i1),
            initial_loss=number(losses[i0]),
            final_loss=number(losses[i1]),
        )
    else:
        recorded = recorded_weights(ins.run_dir)
        deltas = np.stack([_flat(model, p) for _, p in recorded]) - w if recorded else np.zeros((0, w.size))
        reach = float(span)
        if directions == "pca":  # the plane the training path moved in; the grid spans the path (x span, +20%)
            d1, d2, share = pca_directions(deltas)
            extent = float(np.abs(_project(deltas, d1, d2)).max()) if len(deltas) else 1.0
            reach = float(span) * 1.2 * (extent or 1.0)
            out["variance"] = number(share)
        else:
            rng = np.random.default_rng(seed)
            d1 = filter_normalized_direction(model, rng).astype(np.float64)
            d2 = filter_normalized_direction(model, rng).astype(np.float64)
        c = (int(steps) - 1) // 2
        coords = reach * (np.arange(int(steps)) - c) / c  # exact 0 at the centre
        grid = np.empty((int(steps), int(steps)))
        for i, b in enumerate(coords):
            for j, a in enumerate(coords):
                grid[i, j] = at(w + a * d1 + b * d2)
        finite = grid[np.isfinite(grid)]
        path = []
        if recorded:
            ab = _project(deltas, d1, d2)
            path = [
                {"step": int(s), "a": number(pa), "b": number(pb)}
                for (s, _), (pa, pb) in zip(recorded, ab, strict=True)
            ]
        out.update(
            directions=directions,
            seed=int(seed),
            a=[number(v) for v in coords],
            b=[number(v) for v in coords],
            loss=[[number(v) for v in row] for row in grid],
            centre_loss=number(grid[c, c]),
            min_loss=number(finite.min()) if finite.size else None,
            max_loss=number(finite.max()) if finite.size else None,
            path=path,
        )
    out["seconds"] = round(time.perf_counter() - started, 4)
    return out
