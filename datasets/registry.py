"""The registry of datasets: what each one is, which options it takes, and `load` / `list_datasets`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from .assembly import LoadContext
from .csvfile import load_csv
from .dataset import Dataset
from .errors import DataError, unknown_name
from .features import DEFAULT_FEATURES
from .generated import load_gate, load_playground, load_points, load_sine
from .images import is_cached, load_digits, load_downloaded
from .options import check_dtype, resolve_options

Loader = Callable[[str, dict, LoadContext], Dataset]


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry. ``options`` maps each accepted option to its default (None: see the docs)."""

    name: str
    task: str  # "classification" | "regression"
    input_shape: tuple[int, ...] | None  # with default options; None when it depends on the files
    num_classes: int | None
    size: int | None  # rows in all, with default options
    offline: bool  # False: downloaded on first use
    description: str
    options: Mapping[str, object]
    loader: Loader = field(repr=False, compare=False)


# Defaults, and why. Generated 2-D sets are standardized: a feature like x1^2 reaches 36 while sin(x1)
# stays in [-1, 1], and unit scale lets one learning rate suit every feature (Playground's own ranges
# are kept in ``points_2d`` for plots). Gates keep their 0/1 inputs; images are scaled to [0, 1] by
# minmax (MNIST's 0..255 becomes x / 255); a CSV file's values are kept as written. No set applies PCA unless
# asked (``pca: k``, fitted after the normalization).
_PLAYGROUND = {
    "samples": 500,
    "noise": 0.0,
    "seed": 0,
    "val_fraction": 0.2,
    "normalize": "standard",
    "features": DEFAULT_FEATURES,
    "pca": None,
}
_SINE = {"samples": 500, "noise": 0.0, "seed": 0, "val_fraction": 0.2, "normalize": "standard", "pca": None}
_GATE = {
    "seed": 0,
    "val_fraction": 0.0,
    "normalize": "none",
    "features": DEFAULT_FEATURES,
    "task": "classification",
    "pca": None,
}
# points: typed in; by default seed 003's one sample (x = 3, y = -12)
_POINTS = {
    "inputs": [[3]],
    "targets": [-12],
    "task": "regression",
    "seed": 0,
    "val_fraction": 0.0,
    "normalize": "none",
    "pca": None,
}
_DIGITS = {"samples": None, "seed": 0, "val_fraction": 0.2, "normalize": "minmax", "pca": None}
_DOWNLOADED = {"samples": None, "seed": 0, "val_fraction": None, "normalize": "minmax", "pca": None}
_CSV = {
    "train": None,
    "val": None,
    "target": "target",
    "task": "classification",
    "shape": None,
    "seed": 0,
    "val_fraction": None,
    "normalize": "none",
    "pca": None,
}


# fmt: off  (kept: a table, one dataset a row, its columns aligned for reading)
_TABLE = (
    # name            task              input shape  classes  size   offline options      loader
    ("circle", "classification", (2,), 2, 500, True, _PLAYGROUND, load_playground),
    ("xor", "classification", (2,), 2, 500, True, _PLAYGROUND, load_playground),
    ("gaussian", "classification", (2,), 2, 500, True, _PLAYGROUND, load_playground),
    ("spiral", "classification", (2,), 2, 500, True, _PLAYGROUND, load_playground),
    ("moons", "classification", (2,), 2, 500, True, _PLAYGROUND, load_playground),
    ("plane", "regression", (2,), None, 500, True, _PLAYGROUND, load_playground),
    ("multi_gaussian", "regression", (2,), None, 500, True, _PLAYGROUND, load_playground),
    ("sine", "regression", (1,), None, 500, True, _SINE, load_sine),
    ("gate_and", "classification", (2,), 2, 4, True, _GATE, load_gate),
    ("gate_or", "classification", (2,), 2, 4, True, _GATE, load_gate),
    ("gate_xor", "classification", (2,), 2, 4, True, _GATE, load_gate),
    ("points", "regression", (1,), None, 1, True, _POINTS, load_points),
    ("digits", "classification", (1, 8, 8), 10, 1797, True, _DIGITS, load_digits),
    ("mnist", "classification", (1, 28, 28), 10, 70000, False, _DOWNLOADED, load_downloaded),
    ("fashion_mnist", "classification", (1, 28, 28), 10, 70000, False, _DOWNLOADED, load_downloaded),
    ("cifar10", "classification", (3, 32, 32), 10, 60000, False, _DOWNLOADED, load_downloaded),
    ("csv", "classification", None, None, None, True, _CSV, load_csv),
)
# fmt: on
_DESCRIPTIONS = {
    "circle": "Playground: a disc of one class inside a ring of the other",
    "xor": "Playground: opposite quadrants share a class",
    "gaussian": "Playground: two Gaussian blobs, linearly separable",
    "spiral": "Playground: two interleaved spirals",
    "moons": "two interleaved half circles (scikit-learn's make_moons)",
    "plane": "Playground regression: y = (x1 + x2) / 10",
    "multi_gaussian": "Playground regression: six bumps of alternating sign",
    "sine": "1-D regression: y = sin(x) on [-pi, pi]",
    "points": "rows typed into the session (data.inputs, data.targets): a worked example",
    "gate_and": "logic gate AND: the 4 rows of its truth table",
    "gate_or": "logic gate OR: the 4 rows of its truth table",
    "gate_xor": "logic gate XOR: the 4 rows of its truth table",
    "digits": "8x8 handwritten digits (UCI), built in",
    "mnist": "28x28 handwritten digits, 60k train + 10k test (11 MB download)",
    "fashion_mnist": "28x28 photos of clothing, 60k + 10k (30 MB download)",
    "cifar10": "32x32 colour photos, 50k + 10k (163 MB download)",
    "csv": "your own CSV files: a target column, optional image shape",
}
DATASETS: dict[str, DatasetInfo] = {
    name: DatasetInfo(name, task, shape, classes, size, offline, _DESCRIPTIONS[name], MappingProxyType(opts), loader)
    for name, task, shape, classes, size, offline, opts, loader in _TABLE
}


def lookup(name: object) -> DatasetInfo:
    """The registry entry for ``name`` (case and -/_ forgiven), or a DataError suggesting one."""
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    if key not in DATASETS:
        raise unknown_name("data.dataset", "dataset", name, DATASETS)
    return DATASETS[key]


def load(
    name: str, *, base_dir: str | Path = ".", progress: object = None, dtype: object = "float32", **options
) -> Dataset:
    """Load dataset ``name`` with its options checked and every default filled in (``ds.options``).

    ``base_dir``: the folder CSV paths are relative to (the session file's). ``progress``: for downloads,
    None draws a bar on stderr, False shows nothing, or a callable ``(done_bytes, total_bytes | None)``.
    ``dtype``: float32 or float64 model inputs (and regression targets).
    """
    info = lookup(name)
    resolved = resolve_options(info.name, info.options, options)
    context = LoadContext(dtype=check_dtype(dtype), base_dir=Path(base_dir), progress=progress)
    return info.loader(info.name, resolved, context)


def load_config(config: Mapping, **kwargs) -> Dataset:
    """``load`` from a session's ``data:`` mapping (``dataset`` plus that dataset's options)."""
    if not isinstance(config, Mapping) or "dataset" not in config:
        raise DataError(f"data.dataset: expected a mapping with a 'dataset' key, got {config!r}")
    options = {key: value for key, value in config.items() if key != "dataset"}
    return load(config["dataset"], **options, **kwargs)


class DatasetRow(NamedTuple):
    """One line of ``dl-lab datasets``."""

    name: str
    task: str
    input_shape: tuple[int, ...] | None
    classes: int | None
    size: int | None
    offline: bool  # usable right now without network
    description: str


def list_datasets() -> list[DatasetRow]:
    """Every dataset, in registry order; ``offline`` checks the cache for the downloadable ones."""
    return [
        DatasetRow(
            info.name,
            info.task,
            info.input_shape,
            info.num_classes,
            info.size,
            info.offline or is_cached(info.name),
            info.description,
        )
        for info in DATASETS.values()
    ]
