"""Principal component analysis of a dataset's inputs: fitted on the training split only, applied anywhere.

``data: {pca: k}`` keeps the first ``k`` principal components of the *normalized* inputs (normalize first, then
PCA): the inputs are flattened to ``(N, F)``, centred with the training mean, and projected on the top ``k``
right singular vectors of the centred training data, so the model's input shape becomes ``(k,)``. The sign of
each component is fixed so that its largest loading (in absolute value) is positive; the same data always gives
the same projection. The fit is a ``PCAFit`` (its ``record()`` is plain JSON, as normalization's), and
``preview`` gives the first two components of any dataset for a scatter plot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .errors import DataError

# The SVD runs on the centred data itself when it is small (digits: 1438 x 64) or thin; otherwise (MNIST,
# CIFAR-10) the same singular vectors and values come from the eigenvectors of the smaller of X^T X (summed chunk
# by chunk, F x F) and X X^T (N x N), a fraction of the time.
SVD_VALUES = 1 << 20
SVD_THIN = 128
_CHUNK_VALUES = 1 << 22
Encode = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PCAFit:
    """A fitted PCA: ``mean`` (F,), ``vectors`` (k, F) (the components, unit rows), ``variance`` (k,) (the
    variance along each, N-1 in the denominator) and ``total`` (the training data's total variance)."""

    mean: np.ndarray
    vectors: np.ndarray
    variance: np.ndarray
    total: float

    @property
    def components(self) -> int:
        return len(self.vectors)

    @property
    def features(self) -> int:
        return len(self.mean)

    @property
    def ratio(self) -> np.ndarray:
        """The share of the total variance each component explains."""
        return self.variance / self.total if self.total > 0 else np.zeros_like(self.variance)

    def summary(self) -> dict:
        """What a run's summary records: the number of components and the variance each explains."""
        return {
            "components": self.components,
            "features": self.features,
            "explained_variance": self.variance.tolist(),
            "explained_variance_ratio": self.ratio.tolist(),
        }

    def record(self) -> dict:
        """The whole fit as plain JSON (the mean and the components too): ``from_record`` reads it back."""
        return {**self.summary(), "mean": self.mean.tolist(), "vectors": self.vectors.tolist(), "total": self.total}

    @classmethod
    def from_record(cls, record: dict) -> PCAFit:
        try:
            mean = np.asarray(record["mean"], np.float64)
            vectors = np.asarray(record["vectors"], np.float64).reshape(-1, len(mean))
            variance = np.asarray(record["explained_variance"], np.float64)
            return cls(mean, vectors, variance, float(record["total"]))
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(f"pca: malformed record ({error})") from None

    def apply(self, inputs: np.ndarray, dtype: str = "float32") -> np.ndarray:
        """Project ``inputs`` (N, ...) flattened to (N, F) on the components: (N, k) of ``dtype``."""
        flat = np.asarray(inputs).reshape(len(inputs), -1)
        if flat.shape[1] != self.features:
            raise DataError(f"pca: fitted on {self.features} features, got inputs of shape {np.shape(inputs)}")
        centred = flat.astype(dtype) - self.mean.astype(dtype)
        return centred @ self.vectors.T.astype(dtype)


def _flat(inputs: np.ndarray, encode: Encode | None, start: int, stop: int) -> np.ndarray:
    part = inputs[start:stop] if encode is None else encode(inputs[start:stop])
    return np.asarray(part, dtype=np.float64).reshape(stop - start, -1)


def _fixed_signs(vectors: np.ndarray) -> np.ndarray:
    """Each row flipped so that its largest entry in absolute value is positive."""
    largest = vectors[np.arange(len(vectors)), np.abs(vectors).argmax(axis=1)]
    return vectors * np.where(largest < 0, -1.0, 1.0)[:, None]


def fit_pca(inputs: np.ndarray, k: int, encode: Encode | None = None, where: str = "data.pca") -> PCAFit:
    """The top ``k`` principal components of ``inputs`` (N, ...) (training rows only), flattened to (N, F).

    ``encode`` maps a chunk of rows to the values to analyse (the normalization), so uint8 images are never
    converted whole. Errors name ``where``.
    """
    n = len(inputs)
    features = int(np.prod(np.shape(inputs)[1:], dtype=np.int64))
    if k < 1 or k > features:
        raise DataError(
            f"{where}: {k} components asked, but the inputs have {features} features "
            f"(shape {tuple(np.shape(inputs)[1:])}); choose from 1 to {features}, or 0 for none"
        )
    if k > n:
        raise DataError(f"{where}: {k} components asked, but the training split has only {n} rows")
    rows = max(1, _CHUNK_VALUES // features)
    chunks = [(start, min(n, start + rows)) for start in range(0, n, rows)]
    mean = sum(_flat(inputs, encode, a, b).sum(axis=0) for a, b in chunks) / n
    dof = max(1, n - 1)
    if n * features <= SVD_VALUES or min(n, features) <= SVD_THIN or n < features:
        centred = np.concatenate([_flat(inputs, encode, a, b) for a, b in chunks]) - mean
        if n * features <= SVD_VALUES or min(n, features) <= SVD_THIN:
            _, singular, vt = np.linalg.svd(centred, full_matrices=False)
            squares, vectors = singular**2, vt
        else:  # fewer rows than features: X X^T = U S^2 U^T, and V = X^T U / S
            values, u = np.linalg.eigh(centred @ centred.T)
            squares, u = np.clip(values[::-1], 0.0, None), u[:, ::-1]
            keep = squares[:k] > 0
            vectors = np.zeros((k, features))
            vectors[keep] = (centred.T @ u[:, :k][:, keep] / np.sqrt(squares[:k][keep])).T
    else:  # X^T X = V S^2 V^T, summed a chunk of rows at a time
        gram = np.zeros((features, features))
        for a, b in chunks:
            part = _flat(inputs, encode, a, b) - mean
            gram += part.T @ part
        values, vecs = np.linalg.eigh(gram)
        squares, vectors = np.clip(values[::-1], 0.0, None), vecs[:, ::-1].T
    total = float(squares.sum()) / dof
    return PCAFit(mean, _fixed_signs(vectors[:k]), squares[:k] / dof, total)


@dataclass(frozen=True)
class Preview:
    """The first two principal components of a training split, for a scatter plot: ``points`` (M, 2),
    ``labels`` (M,) (class ids, or target values for a regression), ``ratio`` (2,) their shares of the variance,
    ``fitted`` of ``rows`` training rows used (a large set is subsampled, evenly)."""

    points: np.ndarray
    labels: np.ndarray
    ratio: np.ndarray
    regression: bool
    class_names: list[str] | None
    fitted: int
    rows: int

    @property
    def bounds(self) -> list[float]:
        """A square box around the points, centred on 0 (where the training mean is), with a margin."""
        reach = float(np.abs(self.points).max()) * 1.05 if self.points.size else 1.0
        reach = reach or 1.0
        return [-reach, reach, -reach, reach]

    @property
    def line(self) -> str:
        """``PC1 12.0% · PC2 9.5% of the variance (1437 training rows)``."""
        of = f"{self.fitted} of {self.rows}" if self.fitted < self.rows else f"{self.rows}"
        return f"PC1 {100 * self.ratio[0]:.1f}% · PC2 {100 * self.ratio[1]:.1f}% of the variance ({of} training rows)"


PREVIEW_ROWS = 1500  # a preview fits on (and plots) at most this many training rows (all of digits')


def preview(dataset, most: int = PREVIEW_ROWS) -> Preview:
    """The first two principal components of ``dataset``'s normalized training inputs (fitted on at most
    ``most`` of its rows, evenly spaced, and drawn for them). A dataset with one input feature has no second
    component: it is 0."""
    inputs = dataset.stored_inputs("train")
    targets = np.asarray(dataset.y_train)
    n = len(inputs)
    rows = np.linspace(0, n - 1, most).round().astype(np.int64) if n > most else np.arange(n)
    sample = inputs[rows]
    features = int(np.prod(sample.shape[1:], dtype=np.int64))
    fit = fit_pca(sample, min(2, features), encode=dataset.normalize, where="pca preview")
    points = fit.apply(dataset.normalize(sample), "float64")
    ratio = fit.ratio
    if fit.components < 2:
        points = np.concatenate([points, np.zeros((len(points), 1))], axis=1)
        ratio = np.concatenate([ratio, [0.0]])
    regression = dataset.task == "regression"
    labels = targets[rows].reshape(len(rows), -1)[:, 0]
    names = None if regression else dataset.class_names
    return Preview(points, labels, ratio, regression, names, len(rows), n)


def flat_input_error(data: Mapping, error: Exception) -> Exception:
    """``error`` from building a model, said in terms of ``data.pca`` when PCA's flat inputs are what an image
    layer (conv2d, pooling) refused; otherwise ``error`` itself."""
    k = data.get("pca")
    message = str(error)
    if not k or "expected an image input" not in message:
        return error
    layer = message.split(":", 1)[0]
    return DataError(
        f"data.pca: PCA gives the model flat inputs of shape ({k},), but {layer} needs images (channels, height, "
        "width); remove data.pca (or set it to 0) to keep the images, or use dense layers"
    )
