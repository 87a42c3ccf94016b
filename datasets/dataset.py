"""A loaded dataset: its splits as host NumPy arrays, metadata, mini-batches and the input transform."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from functools import cached_property

import numpy as np

from .errors import DataError, shown
from .normalization import apply_normalization
from .pca import PCAFit

SPLITS = ("train", "val")


class Dataset:
    """A dataset ready to train on.

    ``x_*`` are model inputs: features computed, normalization applied, ``dtype`` floats, images NCHW; with
    ``pca`` (``data.pca: k``) the normalized inputs are then projected on their first k principal components,
    flat ``(N, k)`` (``data_shape`` keeps the shape before the projection).
    ``y_*`` are int64 class ids (classification) or floats of shape ``(N, output_dim)`` (regression).
    Inputs stay in their stored form (uint8 for images) until ``x_train``/``x_val`` is first read, and
    ``batches`` converts uint8 images batch by batch, so CIFAR-10 never needs all its floats at once.
    When ``val_is_train`` is true (``val_fraction: 0``), the val split *is* the training split.
    """

    def __init__(
        self,
        *,
        name: str,
        task: str,
        inputs: dict[str, np.ndarray],
        targets: dict[str, np.ndarray],
        normalization: dict,
        dtype: str,
        options: dict,
        source: str,
        class_names: list[str] | None = None,
        feature_names: list[str] | None = None,
        to_inputs: Callable[[np.ndarray], np.ndarray] | None = None,
        points_2d: dict | None = None,
        pca: PCAFit | None = None,
    ):
        self.name, self.task, self.source, self.dtype = name, task, source, dtype
        self.val_is_train = inputs["val"] is inputs["train"]
        self._inputs, self._targets = inputs, targets
        self._normalization = normalization
        self.options = options
        self.class_names = list(class_names) if class_names is not None else None
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.points_2d = points_2d
        self._pca = pca
        self.data_shape = tuple(int(d) for d in inputs["train"].shape[1:])  # before PCA
        self.input_shape = (pca.components,) if pca is not None else self.data_shape
        self._to_inputs = to_inputs
        # Used only when the caller shuffles without its own generator; seeded so runs repeat.
        self._shuffle_rng = np.random.default_rng([options.get("seed", 0), 1])

    # -- metadata ------------------------------------------------------------------------------------
    @property
    def _classes(self) -> list[str]:
        """The class names of a classification dataset (its loader gives them: Prepared.class_names)."""
        if self.class_names is None:
            raise TypeError(f"dataset {self.name!r}: a classification dataset needs class_names")
        return self.class_names

    @property
    def num_classes(self) -> int | None:
        return len(self._classes) if self.task == "classification" else None

    @property
    def output_dim(self) -> int:
        """Outputs the model needs: one logit per class, or the number of regression targets."""
        if self.task == "classification":
            return len(self._classes)
        return int(self._targets["train"].shape[1])

    @property
    def normalization(self) -> dict:
        """The fitted normalization record (a copy: JSON-serialisable, safe to store in a run)."""
        return copy.deepcopy(self._normalization)

    @property
    def pca(self) -> dict | None:
        """The fitted PCA (``data.pca``) as a plain JSON record (mean, components, variance), or None."""
        return self._pca.record() if self._pca is not None else None

    @property
    def pca_fit(self) -> PCAFit | None:
        return self._pca

    def __len__(self) -> int:
        return len(self._targets["train"])

    def __repr__(self) -> str:
        sizes = f"train={len(self.y_train)}, val={len(self.y_val)}"
        return f"Dataset({self.name!r}, {self.task}, input_shape={self.input_shape}, {sizes})"

    # -- arrays --------------------------------------------------------------------------------------
    def normalize(self, inputs: np.ndarray) -> np.ndarray:
        """Stored inputs -> normalized ``dtype`` floats, before any PCA."""
        return apply_normalization(inputs, self._normalization, self.dtype)

    def _encode(self, inputs: np.ndarray) -> np.ndarray:
        normalized = self.normalize(inputs)
        encoded = normalized if self._pca is None else self._pca.apply(normalized, self.dtype)
        return np.ascontiguousarray(encoded)  # row-major whatever the source: batches gather whole rows

    def stored_inputs(self, split: str) -> np.ndarray:
        """A split's inputs as stored: features computed, not normalized (uint8 for images)."""
        return self._inputs[self._check_split(split)]

    @cached_property
    def x_train(self) -> np.ndarray:
        return self._encode(self._inputs["train"])

    @cached_property
    def x_val(self) -> np.ndarray:
        return self.x_train if self.val_is_train else self._encode(self._inputs["val"])

    @property
    def y_train(self) -> np.ndarray:
        return self._targets["train"]

    @property
    def y_val(self) -> np.ndarray:
        return self._targets["val"]

    def featurize(self, raw: np.ndarray) -> np.ndarray:
        """Raw data -> model inputs, with this dataset's features and recorded normalization.

        Raw means: points ``(M, 2)`` for the 2-D sets (e.g. a grid for a decision-boundary map), rows of
        feature columns for tables, pixel values ``(M, C, H, W)`` for images.
        """
        raw = np.asarray(raw)
        try:
            inputs = self._to_inputs(raw) if self._to_inputs else raw
        except ValueError:  # a reshape that cannot fit: report it like any other shape mismatch
            inputs = raw
        if inputs.ndim == 0 or inputs.shape[1:] != self.data_shape:
            raise DataError(f"featurize: expected raw data giving inputs {self.data_shape}, got {raw.shape}")
        return self._encode(inputs)

    # -- batches -------------------------------------------------------------------------------------
    def _check_split(self, split: str) -> str:
        if split not in SPLITS:
            raise DataError(f"split: expected 'train' or 'val', got {shown(split)}")
        return split

    def num_batches(self, split: str, batch_size: int, drop_last: bool = False) -> int:
        """Batches per pass over ``split``, the last partial batch included (left out with ``drop_last``)."""
        n = len(self._targets[self._check_split(split)])
        size = _check_batch_size(batch_size)
        return n // size if drop_last else math.ceil(n / size)

    def batches(
        self,
        split: str,
        batch_size: int,
        shuffle: bool = False,
        rng: np.random.Generator | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Mini-batches ``(x, y)`` covering every row of ``split`` once, the last one possibly smaller.

        With ``drop_last`` a last batch smaller than ``batch_size`` is left out (as PyTorch's DataLoader does);
        the order is drawn the same way, so the batches before it are the same.

        Unshuffled, batch k is rows ``k*B .. k*B+B-1`` in the split's order (file order for CSV data).
        Shuffled, the order is drawn from ``rng`` now, at the call (the dataset's own seeded generator
        when ``rng`` is None, advancing from one call to the next).
        """
        split = self._check_split(split)
        size = _check_batch_size(batch_size)
        n = len(self._targets[split])
        order = (rng if rng is not None else self._shuffle_rng).permutation(n) if shuffle else None
        return self._iterate(split, size, order, n - n % size if drop_last else n)

    def _iterate(self, split: str, size: int, order: np.ndarray | None, end: int) -> Iterator:
        inputs, targets = self._inputs[split], self._targets[split]
        attribute = "x_train" if split == "train" or self.val_is_train else "x_val"
        ready = self.__dict__.get(attribute)
        if ready is None and inputs.dtype != np.uint8:
            ready = getattr(self, attribute)  # tables are small: convert once, slice after
        for start in range(0, end, size):
            rows = slice(start, start + size) if order is None else order[start : start + size]
            x = ready[rows] if ready is not None else self._encode(inputs[rows])
            yield x, targets[rows]

    # -- summary -------------------------------------------------------------------------------------
    def describe(self) -> dict:
        """Metadata for summaries and run records (plain Python values)."""
        info = {
            "name": self.name,
            "task": self.task,
            "source": self.source,
            "input_shape": list(self.input_shape),
            "output_dim": self.output_dim,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
            "feature_names": self.feature_names,
            "train_size": len(self.y_train),
            "val_size": len(self.y_val),
            "val_is_train": self.val_is_train,
            "dtype": self.dtype,
            "normalize": self._normalization["method"],
            "pca": self._pca.summary() if self._pca is not None else None,
            "options": copy.deepcopy(self.options),
        }
        if self.task == "classification":
            count = lambda y: np.bincount(y, minlength=len(self._classes)).tolist()  # noqa: E731
            info["class_counts"] = {"train": count(self.y_train), "val": count(self.y_val)}
        return info


def _check_batch_size(batch_size: object) -> int:
    if isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool) and batch_size > 0:
        return int(batch_size)
    raise DataError(f"training.batch_size: expected a positive integer, got {shown(batch_size)}")
