"""What the Build screen needs to know about a session's data: input shape, task, classes, a few samples.

Generated sets and the built-in digits load in milliseconds, so they are loaded for the preview; a set that
would need a download is never fetched from here (the preview says it downloads on first run).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dl_lab.core.errors import DLLabError
from dl_lab.datasets import DATASETS, DataError, Dataset, list_datasets, load_config
from dl_lab.datasets.registry import DatasetInfo, lookup

_CACHE: OrderedDict[str, DataProbe] = OrderedDict()
_CACHE_SIZE = 6


@dataclass
class DataProbe:
    """A dataset as far as the Build screen is concerned (``dataset`` is None when it was not loaded)."""

    name: str
    task: str | None
    input_shape: tuple | None
    num_classes: int | None
    output_dim: int | None
    offline: bool
    dataset: Dataset | None = None
    error: str | None = None

    @property
    def note(self) -> str:
        """One line: task, shape, classes, and whether it is here or downloads on first run."""
        if self.error:
            return self.error
        parts = [self.task or "?", f"input {self.input_shape}" if self.input_shape else "input: from the files"]
        if self.num_classes:
            parts.append(f"{self.num_classes} classes")
        if self.dataset is not None:
            parts.append(f"{len(self.dataset.y_train)} train / {len(self.dataset.y_val)} val")
        parts.append("offline" if self.offline else "downloads on first run")
        return " · ".join(parts)


def declared_shape(info: DatasetInfo, data: Mapping) -> tuple | None:
    """The input shape known without loading: PCA's components, the chosen features' count, else the registry's
    (None for CSV)."""
    if data.get("pca"):
        return (int(data["pca"]),)
    if data.get("features"):
        return (len(data["features"]),)
    return info.input_shape


def input_shape(data: Mapping, base_dir=".") -> tuple:
    """The model's input shape for a ``data:`` mapping without downloading anything: the declared shape for
    Playground features and for a set that is downloaded (cached or not), else the loaded data's (generated sets,
    the built-in digits and CSV files load in milliseconds)."""
    info = lookup(data["dataset"])
    shape = declared_shape(info, data)
    if shape is not None and ((data.get("features") and not data.get("pca")) or not info.offline):
        return shape
    return load_config(data, base_dir=base_dir, progress=False).input_shape


def probe_data(data: dict, base_dir=".") -> DataProbe:
    """The probe for a session's ``data:`` mapping (the last few are kept, so model edits reload nothing)."""
    key = f"{Path(base_dir).resolve()}|{sorted(data.items(), key=lambda kv: kv[0])!r}"
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    probe = _probe(data, base_dir)
    _CACHE[key] = probe
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return probe


def _probe(data: dict, base_dir) -> DataProbe:
    name = data.get("dataset")
    if not isinstance(name, str) or name not in DATASETS:
        return DataProbe(str(name), None, None, None, None, False, error=f"data.dataset: unknown dataset {name!r}")
    info = DATASETS[name]
    offline = {row.name: row.offline for row in list_datasets()}[name]
    probe = DataProbe(name, data.get("task", info.task), declared_shape(info, data), info.num_classes, 1, offline)
    if not offline:
        return probe
    try:
        dataset = load_config(data, base_dir=base_dir, progress=False)
    except (DataError, DLLabError, OSError) as exc:
        probe.error = str(exc)
        return probe
    probe.dataset, probe.input_shape, probe.task = dataset, dataset.input_shape, dataset.task
    probe.num_classes, probe.output_dim = dataset.num_classes, dataset.output_dim
    return probe


def sample_images(dataset: Dataset, count: int = 8) -> tuple[np.ndarray, list[str]]:
    """The first ``count`` training images scaled to 0..1 for display, with their class names as captions (the
    images themselves with ``data.pca`` too: normalized, not projected)."""
    x, y = dataset.normalize(dataset.stored_inputs("train")[:count]), dataset.y_train[:count]
    images = np.asarray(x, dtype=np.float64)
    low = images.min(axis=(1, 2, 3), keepdims=True)
    span = images.max(axis=(1, 2, 3), keepdims=True) - low
    images = (images - low) / np.where(span > 0, span, 1.0)
    names = dataset.class_names or []
    captions = [names[int(label)] if int(label) < len(names) else str(label) for label in y]
    return images, captions


def sample_points(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, list, bool] | None:
    """Training points, labels (or values), bounds and whether it is a regression, for a scatter plot."""
    pts = dataset.points_2d
    if pts is not None:
        labels = np.asarray(pts["train_labels"])
        regression = dataset.task == "regression"
        return np.asarray(pts["train_points"]), labels.reshape(len(labels), -1)[:, 0], list(pts["bounds"]), regression
    if dataset.input_shape == (1,) and dataset.task == "regression":  # sine: plot y against x
        x = np.asarray(dataset.x_train, dtype=np.float64)[:, 0]
        y = np.asarray(dataset.y_train, dtype=np.float64).reshape(len(x), -1)[:, 0]
        pad = 0.1 * (float(np.ptp(y)) or 1.0)
        bounds = [float(x.min()), float(x.max()), float(y.min()) - pad, float(y.max()) + pad]
        return np.stack([x, y], axis=1), y, bounds, True
    return None
