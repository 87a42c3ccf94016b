"""Fixtures for the dataset tests: an isolated offline cache, a local HTTP mirror, files in real formats."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import socket
import tarfile
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from dl_lab.datasets import SHA256


def closed_port() -> int:
    """A localhost port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """Every test gets an empty cache, and any download it did not ask for fails at once, offline."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("DL_LAB_CACHE", str(cache))
    monkeypatch.setenv("DL_LAB_MIRROR", f"http://127.0.0.1:{closed_port()}")
    return cache


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@dataclass
class Mirror:
    root: Path
    url: str
    monkeypatch: pytest.MonkeyPatch

    def publish(self, dataset: str, filename: str, data: bytes, sha256: str | None = None) -> None:
        """Serve ``data`` as ``<mirror>/<dataset>/<filename>`` and make it the file's expected hash."""
        folder = self.root / dataset
        folder.mkdir(exist_ok=True)
        (folder / filename).write_bytes(data)
        self.monkeypatch.setitem(SHA256[dataset], filename, sha256 or hashlib.sha256(data).hexdigest())


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A plain-HTTP server on 127.0.0.1 that DL_LAB_MIRROR points at."""
    root = tmp_path / "mirror"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("DL_LAB_MIRROR", url)
    yield Mirror(root, url, monkeypatch)
    server.shutdown()
    server.server_close()


def _idx_gz(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file, gzipped, as MNIST ships them."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return gzip.compress(header + array.tobytes())


def _cifar_tar_gz(batches: dict[str, tuple[np.ndarray, np.ndarray]], extra: dict[str, bytes] | None = None) -> bytes:
    """A ``cifar-10-binary.tar.gz`` with the given batch files (name -> (images (N,3,32,32), labels))."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        members = {
            f"cifar-10-batches-bin/{name}": np.concatenate(
                [labels.astype(np.uint8)[:, None], images.reshape(len(images), -1).astype(np.uint8)], axis=1
            ).tobytes()
            for name, (images, labels) in batches.items()
        }
        members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
        members.update(extra or {})
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def idx_gz():
    """Builds gzipped IDX files (the MNIST format) from arrays."""
    return _idx_gz


@pytest.fixture
def cifar_tar_gz():
    """Builds CIFAR-10 binary tarballs from {batch file name: (images, labels)}."""
    return _cifar_tar_gz


@pytest.fixture
def go_offline(monkeypatch):
    """Call it to point DL_LAB_MIRROR at a port nothing listens on."""
    return lambda: monkeypatch.setenv("DL_LAB_MIRROR", f"http://127.0.0.1:{closed_port()}")


@pytest.fixture
def tiny_mnist(mirror):
    """Publish a 40-image train set and a 10-image test set in MNIST's IDX format; returns the arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "y_train": np.tile(np.arange(10), 4).astype(np.uint8),
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": np.arange(10, dtype=np.uint8),
    }
    arrays["x_train"][0, 0, 0], arrays["x_train"][0, 0, 1] = 0, 255  # so minmax is exactly x / 255
    names = {
        "x_train": "train-images-idx3-ubyte.gz",
        "y_train": "train-labels-idx1-ubyte.gz",
        "x_test": "t10k-images-idx3-ubyte.gz",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    for key, filename in names.items():
        mirror.publish("mnist", filename, _idx_gz(arrays[key]))
    return arrays
