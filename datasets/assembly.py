"""The steps every dataset shares after loading its rows: split, fit normalization, wrap in a Dataset."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import numpy as np

from .dataset import Dataset
from .normalization import apply_normalization, fit_normalization
from .pca import fit_pca
from .split import random_split, stratified_split

DEFAULT_VAL_FRACTION = 0.2
# Separate random streams per purpose, so e.g. changing val_fraction does not move the generated points.
GENERATE_STREAM, SPLIT_STREAM, SUBSET_STREAM = 0, 2, 3


@dataclass(frozen=True)
class LoadContext:
    """What a loader needs besides the dataset's own options."""

    dtype: str = "float32"
    base_dir: Path = Path(".")
    progress: object = None  # None: default stderr bar; False: silent; or a callable(done, total)


def rng_for(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


@dataclass
class Prepared:
    """A dataset's rows as a loader produces them, before the split and the normalization.

    ``inputs`` are the model's inputs before normalization (features computed, images NCHW), in source
    order. ``val_inputs``/``val_targets`` hold a validation split that comes with the data (an official
    test set, a val file); otherwise the split is drawn from ``inputs`` with ``val_fraction``.
    """

    name: str
    task: str
    source: str
    inputs: np.ndarray
    targets: np.ndarray
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    val_inputs: np.ndarray | None = None
    val_targets: np.ndarray | None = None
    axis: str = "feature"
    to_inputs: Callable[[np.ndarray], np.ndarray] | None = None
    points: np.ndarray | None = None  # 2-D sets: the raw points behind ``inputs``, for plots
    bounds: tuple[float, float, float, float] | None = None


def _split_rows(prepared: Prepared, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = rng_for(seed, SPLIT_STREAM)
    if prepared.task == "classification":
        return stratified_split(prepared.targets, val_fraction, rng)
    return random_split(len(prepared.targets), val_fraction, rng)


class _Part(TypedDict):
    """One split's rows: model inputs, targets and (2-D sets) the raw points."""

    inputs: np.ndarray
    targets: np.ndarray
    points: np.ndarray | None


def _rows(part: _Part, rows: np.ndarray) -> _Part:
    points = part["points"]
    return {
        "inputs": part["inputs"][rows],
        "targets": part["targets"][rows],
        "points": None if points is None else points[rows],
    }


def _splits(prepared: Prepared, options: dict) -> dict[str, _Part]:
    """{"train"|"val": {"inputs", "targets", "points"}}; val is the same objects when val_fraction is 0."""
    whole: _Part = {"inputs": prepared.inputs, "targets": prepared.targets, "points": prepared.points}
    if prepared.val_inputs is not None:
        if prepared.val_targets is None:
            raise TypeError(f"{prepared.name}: val_inputs given without val_targets")
        given: _Part = {"inputs": prepared.val_inputs, "targets": prepared.val_targets, "points": None}
        return {"train": whole, "val": given}
    fraction = options.get("val_fraction")
    fraction = DEFAULT_VAL_FRACTION if fraction is None else fraction
    if fraction == 0:
        return {"train": whole, "val": whole}
    parts = _split_rows(prepared, fraction, options.get("seed", 0))
    return {split: _rows(whole, rows) for split, rows in zip(("train", "val"), parts, strict=True)}


def _points_2d(prepared: Prepared, splits: dict[str, _Part]) -> dict | None:
    if prepared.points is None:
        return None
    if prepared.bounds is None:
        raise TypeError(f"{prepared.name}: points given without their bounds")
    labels = {
        split: np.asarray(part["targets"]).reshape(len(part["targets"]), -1)[:, 0] for split, part in splits.items()
    }
    return {
        "bounds": list(prepared.bounds),
        "train_points": splits["train"]["points"],
        "train_labels": labels["train"],
        "val_points": splits["val"]["points"],
        "val_labels": labels["val"],
    }


def finish(prepared: Prepared, options: dict, dtype: str) -> Dataset:
    """Split, fit the normalization, then the PCA (``pca: k``), on the training rows only; build the Dataset."""
    splits = _splits(prepared, options)
    if prepared.task == "regression":
        converted: dict[int, np.ndarray] = {}
        for part in splits.values():
            key = id(part["targets"])  # convert a shared train/val array once, keeping it shared
            converted.setdefault(key, np.asarray(part["targets"], dtype).reshape(len(part["targets"]), -1))
            part["targets"] = converted[key]
    record = fit_normalization(splits["train"]["inputs"], options.get("normalize", "none"), prepared.axis)
    components = options.get("pca")
    pca = None
    if components:  # normalize first, then PCA: the components of the inputs the model would otherwise get
        pca = fit_pca(splits["train"]["inputs"], components, lambda rows: apply_normalization(rows, record, "float64"))
    return Dataset(
        name=prepared.name,
        task=prepared.task,
        inputs={split: part["inputs"] for split, part in splits.items()},
        targets={split: part["targets"] for split, part in splits.items()},
        normalization=record,
        dtype=dtype,
        options=options,
        source=prepared.source,
        class_names=prepared.class_names,
        feature_names=prepared.feature_names,
        to_inputs=prepared.to_inputs,
        points_2d=_points_2d(prepared, splits),
        pca=pca,
    )
