"""Image datasets: the embedded 8x8 digits and the downloaded MNIST, Fashion-MNIST and CIFAR-10.

Downloaded sets are decoded once into ``decoded.npz`` beside their raw files in the cache (uint8,
loaded with ``allow_pickle=False``), so a later load reads one uncompressed file instead of gunzipping.
"""

from __future__ import annotations

import gzip
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

from .assembly import SUBSET_STREAM, LoadContext, Prepared, finish, rng_for
from .dataset import Dataset
from .download import SHA256, atomic_file, cache_dir, download
from .errors import DataError
from .formats import read_cifar_tar, read_idx_gz
from .split import stratified_pick

DIGIT_CLASSES = [str(d) for d in range(10)]
CLASS_NAMES = {
    "digits": DIGIT_CLASSES,
    "mnist": DIGIT_CLASSES,
    "fashion_mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}
_IDX = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
DECODED = "decoded.npz"
_KEYS = ("x_train", "y_train", "x_test", "y_test")


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """The embedded digits: images uint8 ``(1797, 1, 8, 8)`` with values 0..16, labels int64."""
    packed = resources.files("dl_lab.datasets.data").joinpath("digits.csv.gz").read_bytes()
    table = np.loadtxt(gzip.decompress(packed).decode("ascii").splitlines(), delimiter=",", dtype=np.uint8)
    return table[:, :64].reshape(-1, 1, 8, 8), table[:, 64].astype(np.int64)


def _decode(name: str, folder: Path) -> dict[str, np.ndarray]:
    """Raw files -> uint8 NCHW images and int64 labels for the official train and test splits."""
    if name == "cifar10":
        parts = read_cifar_tar(folder / "cifar-10-binary.tar.gz")
    else:
        parts = {}
        for split, (images_file, labels_file) in _IDX.items():
            images, labels = read_idx_gz(folder / images_file), read_idx_gz(folder / labels_file)
            if images.ndim != 3 or labels.shape != images.shape[:1]:
                raise DataError(f"{folder / images_file}: {images.shape} images for {labels.shape} labels")
            parts[split] = images[:, None], labels.astype(np.int64)
    (x_train, y_train), (x_test, y_test) = parts["train"], parts["test"]
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def downloaded_arrays(name: str, progress=None) -> dict[str, np.ndarray]:
    """The decoded arrays of a downloadable set, downloading and decoding on first use."""
    decoded = cache_dir() / name / DECODED
    if decoded.exists():
        try:
            with np.load(decoded, allow_pickle=False) as stored:
                return {key: stored[key] for key in _KEYS}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            decoded.unlink(missing_ok=True)  # damaged: rebuild it from the verified raw files
    arrays = _decode(name, download(name, progress))
    with atomic_file(decoded) as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy's stubs: **kwds might hold allow_pickle (bool)
    return arrays


def is_cached(name: str) -> bool:
    """Whether a downloadable set can load without network (decoded or raw files present)."""
    folder = cache_dir() / name
    return (folder / DECODED).exists() or all((folder / file).exists() for file in SHA256[name])


Images = tuple[np.ndarray, np.ndarray]  # (uint8 images NCHW, int64 labels)


def _subset(images: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator) -> Images:
    keep = stratified_pick(labels, size, rng)
    return images[keep], labels[keep]


def _image_dataset(
    name: str, source: str, train: Images, test: Images | None, options: dict, ctx: LoadContext
) -> Dataset:
    """``train``/``test``: (uint8 images, labels); ``test`` None draws val from train by val_fraction."""
    samples = options.get("samples")
    if samples is not None and samples < len(train[1]):
        rng = rng_for(options["seed"], SUBSET_STREAM)
        if test is not None:  # keep the official train:test ratio
            test = _subset(*test, max(1, round(samples * len(test[1]) / len(train[1]))), rng)
        train = _subset(*train, samples, rng)
    elif samples is not None and samples > len(train[1]):
        raise DataError(f"data.samples: {name} has {len(train[1])} training images, got {samples}")
    prepared = Prepared(
        name=name,
        task="classification",
        source=source,
        inputs=train[0],
        targets=train[1],
        class_names=CLASS_NAMES[name],
        val_inputs=None if test is None else test[0],
        val_targets=None if test is None else test[1],
        axis="channel",
        to_inputs=lambda raw: np.asarray(raw).reshape(len(raw), *train[0].shape[1:]),
    )
    return finish(prepared, options, ctx.dtype)


def load_digits(name: str, options: dict, ctx: LoadContext) -> Dataset:
    return _image_dataset(name, "embedded", read_digits(), None, options, ctx)


def load_downloaded(name: str, options: dict, ctx: LoadContext) -> Dataset:
    """mnist, fashion_mnist, cifar10: val is the official test set unless val_fraction is given."""
    arrays = downloaded_arrays(name, ctx.progress)
    test = (arrays["x_test"], arrays["y_test"]) if options.get("val_fraction") is None else None
    return _image_dataset(name, "downloaded", (arrays["x_train"], arrays["y_train"]), test, options, ctx)
