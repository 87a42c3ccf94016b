"""Loaders for the generated sets: draw the points, compute the features, hand over to assembly."""

from __future__ import annotations

from functools import partial

import numpy as np

from . import synthetic
from .assembly import GENERATE_STREAM, LoadContext, Prepared, finish, rng_for
from .dataset import Dataset
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
    """A logic gate's truth table (4 rows, in table order); val_fraction 0 validates on those rows."""
    points, labels = synthetic.gate(name)
    return _from_points(name, "classification", points, labels, options, ctx, ["0", "1"], synthetic.GATE_BOUNDS)


def load_sine(name: str, options: dict, ctx: LoadContext) -> Dataset:
    """1-D regression y = sin(x); its one input is named ``x``."""
    x, y = _drawn(synthetic.sine, options)
    prepared = Prepared(name=name, task="regression", source="generated", inputs=x, targets=y, feature_names=["x"])
    return finish(prepared, options, ctx.dtype)
