"""Image datasets: the embedded 8x8 digits and the downloaded MNIST, Fashion-MNIST and CIFAR-10.

Downloaded sets are decoded once into ``decoded.npz`` beside their raw files in the cache (uint8,
loaded with ``allow_pickle=False``), so a later load reads one uncompressed file instead of gunzipping.
The cache is not trusted: it records the sha256 of the raw files it was decoded from, and every array's
header (dtype, shape, count) is checked before the array is read, labels after; a cache that fails a
check is rebuilt from the verified raw files, with a note on stderr.
"""

from __future__ import annotations

import gzip
import sys
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
_SOURCES = "sha256"  # decoded.npz's record of the raw files it came from
IMAGE_SHAPE = {"mnist": (1, 28, 28), "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
COUNTS = {  # (train, test) images of the official files; no other copy may hold more
    "mnist": (60000, 10000),
    "fashion_mnist": (60000, 10000),
    "cifar10": (50000, 10000),
}
_OFFICIAL = {name: dict(files) for name, files in SHA256.items()}  # before any override (tests, other copies)


class _BadCache(ValueError):
    """decoded.npz fails a check; the message says which."""


class _OldCache(_BadCache):
    """decoded.npz as dl-lab wrote it before it recorded its sources: rebuilt without a note."""


def _expected(name: str, key: str) -> tuple[np.dtype, tuple[int, ...], int, bool]:
    """(dtype, shape after the count, largest count, whether the count must equal it) of one array."""
    limit = COUNTS[name][0 if key.endswith("train") else 1]
    official = SHA256[name] == _OFFICIAL.get(name)
    if key.startswith("x"):
        return np.dtype(np.uint8), IMAGE_SHAPE[name], limit, official
    return np.dtype(np.int64), (), limit, official


def check_arrays(name: str, arrays: dict[str, np.ndarray], where: str) -> None:
    """Raise DataError unless ``arrays`` are a well-formed copy of ``name``: dtypes, shapes, counts, labels."""
    try:
        _check_shapes(name, {key: (arrays[key].dtype, arrays[key].shape) for key in _KEYS})
        _check_labels(arrays)
    except _BadCache as error:
        raise DataError(f"{where}: {error}") from None


def _check_shapes(name: str, headers: dict[str, tuple[np.dtype, tuple[int, ...]]]) -> None:
    for split in ("train", "test"):
        counts = []
        for key in (f"x_{split}", f"y_{split}"):
            dtype, shape = headers[key]
            want_dtype, want_shape, limit, exact = _expected(name, key)
            if dtype != want_dtype or tuple(shape[1:]) != want_shape or len(shape) != 1 + len(want_shape):
                raise _BadCache(f"{key} is {dtype} {tuple(shape)}, expected {want_dtype} (N, {want_shape})")
            if shape[0] > limit or (exact and shape[0] != limit) or shape[0] == 0:
                raise _BadCache(f"{key} holds {shape[0]} items, expected {'' if exact else 'at most '}{limit}")
            counts.append(shape[0])
        if counts[0] != counts[1]:
            raise _BadCache(f"{counts[0]} {split} images for {counts[1]} labels")


def _check_labels(arrays: dict[str, np.ndarray]) -> None:
    for key in ("y_train", "y_test"):
        labels = arrays[key]
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise _BadCache(f"{key} holds label {labels.min() if labels.min() < 0 else labels.max()}, expected 0..9")


def _read_decoded(name: str, path: Path) -> dict[str, np.ndarray]:
    """decoded.npz's arrays, each header checked before its array is read (no allocation a header dictates)."""
    with zipfile.ZipFile(path) as archive:
        members = set(archive.namelist())
        wanted = {f"{key}.npy" for key in (*_KEYS, _SOURCES)}
        if members == wanted - {f"{_SOURCES}.npy"}:
            raise _OldCache("written by an earlier version")
        if members != wanted:
            raise _BadCache(f"holds {sorted(members)}, expected {sorted(wanted)}")
        headers = {}
        for key in _KEYS:
            with archive.open(f"{key}.npy") as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
                else:
                    raise _BadCache(f"{key}: .npy format version {version}")
            headers[key] = (dtype, shape)
    _check_shapes(name, headers)
    with np.load(path, allow_pickle=False) as stored:
        sources = stored[_SOURCES]
        if sources.dtype.kind != "U" or sources.tolist() != list(SHA256[name].values()):
            raise _BadCache("was decoded from other files than the ones the cache holds now")
        arrays = {key: stored[key] for key in _KEYS}
    _check_labels(arrays)
    return arrays


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
            return _read_decoded(name, decoded)
        except (_BadCache, OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            if progress is not False and not isinstance(error, _OldCache):
                sys.stderr.write(f"{name}: {decoded} is not a valid cache ({error}); rebuilding it\n")
            decoded.unlink(missing_ok=True)  # damaged or crafted: rebuild it from the verified raw files
    folder = download(name, progress)
    arrays = _decode(name, folder)
    check_arrays(name, arrays, str(folder))
    sources = np.array(list(SHA256[name].values()))
    with atomic_file(decoded) as handle:
        np.savez(handle, **arrays, **{_SOURCES: sources})  # type: ignore[arg-type]  # numpy's stubs: **kwds might hold allow_pickle (bool)
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
