"""Loaders for the generated sets: draw the points, compute the features, hand over to assembly."""

from __future__ import annotations

from functools import partial

import numpy as np

from . import synthetic
from .assembly import GENERATE_STREAM, LoadContext, Prepared, finish, rng_for
from .dataset import Dataset
from .errors import DataError
from .features import make_features


def _from_points(name, task, points, targets, options, ctx, class_names=None, bounds=None) -> Dataset:
    names = options["features"]
    prepared = Prepared(
        name=name,
        task=task,
        source="generated",
        inputs=make_features(points, names),
        targets=targets,
        class_names=class_names,
        feature_names=names,
        to_inputs=partial(make_features, names=names),
        points=points,
        bounds=bounds or synthetic.PLAYGROUND_BOUNDS,
    )
    return finish(prepared, options, ctx.dtype)


def _drawn(generator, options: dict) -> tuple[np.ndarray, np.ndarray]:
    """Generate, then shuffle once: Playground does too, and it makes unshuffled batches mixed."""
    rng = rng_for(options["seed"], GENERATE_STREAM)
    points, targets = generator(options["samples"], options["noise"], rng)
    order = rng.permutation(len(points))
    return points[order], targets[order]


def load_playground(name: str, options: dict, ctx: LoadContext) -> Dataset:
    """circle, xor, gaussian, spiral, moons (classification); plane, multi_gaussian (regression)."""
    if name in synthetic.CLASSIFIERS:
        points, labels = _drawn(synthetic.CLASSIFIERS[name], options)
        classes = ["upper", "lower"] if name == "moons" else synthetic.PLAYGROUND_CLASSES
        return _from_points(name, "classification", points, labels, options, ctx, classes)
    points, values = _drawn(synthetic.REGRESSORS[name], options)
    return _from_points(name, "regression", points, values, options, ctx)


def load_gate(name: str, options: dict, ctx: LoadContext) -> Dataset:
    """A logic gate's truth table (4 rows, in table order); val_fraction 0 validates on those rows.

    ``task: regression`` makes the 0/1 outputs numbers to fit (seed 002 fits XOR with mean squared error)."""
    points, labels = synthetic.gate(name)
    if options.get("task") == "regression":
        return _from_points(
            name, "regression", points, labels.astype(np.float64), options, ctx, None, synthetic.GATE_BOUNDS
        )
    return _from_points(name, "classification", points, labels, options, ctx, ["0", "1"], synthetic.GATE_BOUNDS)


def load_points(name: str, options: dict, ctx: LoadContext) -> Dataset:
    """Rows typed into the session (``inputs``, ``targets``): seed 003's one-sample example, a hand-made table."""
    inputs, targets = options["inputs"], options["targets"]
    if inputs is None or targets is None:
        raise DataError(
            "data.inputs and data.targets: the points dataset needs both, e.g. inputs: [[3]], targets: [-12]"
        )
    if len(inputs) != len(targets):
        raise DataError(f"data.targets: {len(targets)} targets for {len(inputs)} rows of data.inputs")
    x = np.asarray(inputs, dtype=np.float64)
    task = options.get("task") or "regression"
    if task == "classification":
        y = np.asarray(targets)
        if y.ndim != 1 or not np.all(y == np.round(y)) or y.min() < 0:
            raise DataError(f"data.targets: a classification needs class ids 0, 1, ..., got {targets!r}")
        y = y.astype(np.int64)
        names = [str(c) for c in range(int(y.max()) + 1 if y.max() >= 1 else 2)]
    else:
        y, names = np.asarray(targets, dtype=np.float64), None
    features = ["x"] if x.shape[1] == 1 else [f"x{k + 1}" for k in range(x.shape[1])]
    prepared = Prepared(
        name=name, task=task, source="typed", inputs=x, targets=y, class_names=names, feature_names=features
    )
    return finish(prepared, options, ctx.dtype)


def load_sine(name: str, options: dict, ctx: LoadContext) -> Dataset:
    """1-D regression y = sin(x); its one input is named ``x``."""
    x, y = _drawn(synthetic.sine, options)
    prepared = Prepared(name=name, task="regression", source="generated", inputs=x, targets=y, feature_names=["x"])
    return finish(prepared, options, ctx.dtype)
