"""Readers for the downloaded file formats: gzipped IDX (MNIST family) and CIFAR-10's binary tarball.

Both read bytes straight into NumPy. The tarball's members are read in memory by name and never
extracted, so a crafted archive cannot write outside the cache (no path traversal, no pickle).
``read_regular`` reads a user's file (a CSV, a session) only if it is a regular file of bounded size.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from .errors import DataError

_IDX_UBYTE = 0x08
_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFSOCK: "a socket",
}


class NotRegularFile(OSError):
    """A path that names a folder, a FIFO, a device or a socket: never read (it may block or never end)."""


class TooLarge(OSError):
    """A file over the size limit it is read with; ``size`` is its size (or the limit + 1 if it grew)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Raises NotRegularFile (message: "not a regular file (a FIFO)"), TooLarge, or the OSError of opening.
    The file is opened non-blocking and checked with fstat on the open descriptor: a FIFO is refused
    without waiting for a writer, and a file swapped after a check is still the file that was checked.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "a special file")
            raise NotRegularFile(f"not a regular file ({kind})")
        if info.st_size > limit:
            raise TooLarge(info.st_size)
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as handle:
        data = handle.read(limit + 1)  # bounded even if the file grows while it is read
    if len(data) > limit:
        raise TooLarge(len(data))
    return data


CIFAR_RECORD = 1 + 3 * 32 * 32  # one label byte, then 1024 red, 1024 green, 1024 blue pixel bytes
CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR_TEST = "test_batch.bin"


def parse_idx(data: bytes, where: str) -> np.ndarray:
    """An IDX array of unsigned bytes (the only type the MNIST family uses), shaped as its header says."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _IDX_UBYTE:
        raise DataError(f"{where}: not an IDX file of unsigned bytes (header {data[:4].hex()})")
    ndim = data[3]
    offset = 4 + 4 * ndim
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4)) if ndim else ()
    if len(data) != offset + int(np.prod(dims)):
        raise DataError(f"{where}: IDX header says {dims} bytes of data, file holds {len(data) - offset}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def read_idx_gz(path: Path) -> np.ndarray:
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot decompress ({error})") from None
    return parse_idx(data, str(path))


def parse_cifar_batches(blobs: list[bytes], where: str) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR binary batches -> (images uint8 (N, 3, 32, 32), labels int64 (N,))."""
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    if data.size % CIFAR_RECORD:
        raise DataError(f"{where}: {data.size} bytes is not a whole number of {CIFAR_RECORD}-byte records")
    records = data.reshape(-1, CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.size and labels.max() > 9:
        raise DataError(f"{where}: label {labels.max()} out of range 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def read_cifar_tar(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``cifar-10-binary.tar.gz`` -> {"train": (images, labels), "test": (images, labels)}."""
    wanted = (*CIFAR_TRAIN, CIFAR_TEST)
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                name = PurePosixPath(member.name).name
                if member.isfile() and name in wanted:
                    contents = archive.extractfile(member)
                    assert contents is not None  # extractfile gives None only for a member that is not a file
                    blobs[name] = contents.read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read the archive ({error})") from None
    missing = [name for name in wanted if name not in blobs]
    if missing:
        raise DataError(f"{path}: archive lacks {', '.join(missing)}")
    return {
        "train": parse_cifar_batches([blobs[name] for name in CIFAR_TRAIN], f"{path} (training batches)"),
        "test": parse_cifar_batches([blobs[CIFAR_TEST]], f"{path} ({CIFAR_TEST})"),
    }
