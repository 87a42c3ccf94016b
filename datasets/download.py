"""Fetching data files into the user's cache: HTTPS mirrors, sha256 checks, atomic writes, a progress bar.

Cache: ``$DL_LAB_CACHE`` if set, else ``$XDG_CACHE_HOME/dl-lab``, else ``~/.cache/dl-lab``; each dataset
gets a folder there. ``$DL_LAB_MIRROR`` replaces the built-in mirrors with ``<mirror>/<dataset>/<file>``.
A download goes to a temporary file beside its destination and is renamed into place only once its
sha256 matches, so the cache never holds a partial or corrupt file; the temporary ``.part`` file is
removed on every error, Ctrl-C and SIGTERM included. Each read waits at most ``TIMEOUT_S``, and a whole
file at most ``$DL_LAB_DOWNLOAD_TIMEOUT`` seconds (default 600), so a trickling mirror cannot hang a load.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import urlsplit

from .errors import DataError

Progress = Callable[[int, "int | None"], None]

# dataset -> file -> sha256. Tests and users with other copies may override entries (or whole datasets).
SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    "cifar10": {
        "cifar-10-binary.tar.gz": "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    },
}

# dataset -> base URLs tried in order (HTTPS only).
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion_mnist": (
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
    ),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}

TIMEOUT_S = 30  # one read (or the connection)
DEADLINE_S = 600.0  # one file from one mirror, unless $DL_LAB_DOWNLOAD_TIMEOUT says otherwise
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def cache_dir() -> Path:
    """The root of dl-lab's data cache (not created here)."""
    if os.environ.get("DL_LAB_CACHE"):
        return Path(os.environ["DL_LAB_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "dl-lab"


def _check_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return url
    raise DataError(f"{where}: expected an https:// URL (plain http only for localhost), got {url!r}")


def mirror_urls(dataset: str, filename: str) -> list[str]:
    """Where ``filename`` of ``dataset`` is fetched from, in order."""
    mirror = os.environ.get("DL_LAB_MIRROR")
    if mirror:
        return [_check_url(f"{mirror.rstrip('/')}/{dataset}/{filename}", "DL_LAB_MIRROR")]
    return [_check_url(base + filename, f"{dataset} mirror") for base in MIRRORS[dataset]]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stderr_bar(label: str) -> Progress:
    """A progress callback drawing ``label [#####.....]  45%  4.5/9.9 MB`` on stderr, ~10 times a second."""
    last = [0.0]

    def draw(done: int, total: int | None) -> None:
        now = time.monotonic()
        finished = total is not None and done >= total
        if not finished and now - last[0] < 0.1:
            return
        last[0] = now
        if total:
            filled = int(30 * min(done / total, 1.0))
            text = f"{label} [{'#' * filled}{'.' * (30 - filled)}] {100 * done / total:3.0f}%  "
            text += f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        else:
            text = f"{label} {done / 1e6:.1f} MB"
        sys.stderr.write("\r" + text + ("\n" if finished else ""))
        sys.stderr.flush()

    return draw


def download_deadline() -> float:
    """Seconds one file may take: ``$DL_LAB_DOWNLOAD_TIMEOUT``, else DEADLINE_S."""
    text = os.environ.get("DL_LAB_DOWNLOAD_TIMEOUT", "").strip()
    if not text:
        return DEADLINE_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise DataError(f"DL_LAB_DOWNLOAD_TIMEOUT: expected a number of seconds above 0, got {text!r}")
    return seconds


def _stream(response, handle, progress: Progress | None, deadline: float | None = None) -> str:
    """Copy the response body to ``handle``; returns its sha256. Ends with ``progress(done, done)``.

    ``deadline`` (a time.monotonic() value): past it, TimeoutError. Blocks are read with ``read1`` (what
    has arrived, up to 64 KiB) so a trickling server cannot keep one read going past the deadline.
    """
    total = int(response.headers.get("Content-Length") or 0) or None
    digest, done = hashlib.sha256(), 0
    read = getattr(response, "read1", response.read)
    while block := read(1 << 16):
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"not complete after {download_deadline():g} s (DL_LAB_DOWNLOAD_TIMEOUT)")
        handle.write(block)
        digest.update(block)
        done += len(block)
        if progress:
            progress(done, total)
    if progress and done != total:  # the server gave no (or a wrong) length: still end on done == total
        progress(done, done)
    return digest.hexdigest()


@contextmanager
def atomic_file(destination: Path) -> Iterator[BinaryIO]:
    """A binary file that appears at ``destination`` only if the ``with`` block completes.

    It is written beside the destination (same file system, so the final rename is atomic) and
    removed on any error, Ctrl-C included.
    """
    # SIGTERM (which _sigterm_raises turns into SystemExit) waits while the file is made and its name kept, so that
    # the ``except`` below always knows what to remove
    blocked = hasattr(signal, "pthread_sigmask")
    if blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        descriptor, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    except BaseException:
        if blocked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        raise
    try:
        if blocked:  # a SIGTERM that waited is raised here, where the file is removed
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM raises SystemExit(143) instead of killing at once, so ``finally``
    blocks (removing a ``.part`` file) run. Only in the main thread, and only over the default action."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def terminate(signum, frame) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _download(url: str, destination: Path, expected: str, progress: Progress | None) -> None:
    """Fetch ``url`` to ``destination``; a checksum mismatch raises and keeps nothing."""
    import urllib.request  # deferred: it pulls in http, email and ssl, which plain imports do not need

    seconds = download_deadline()
    deadline = time.monotonic() + seconds
    with (
        _sigterm_raises(),
        atomic_file(destination) as handle,
        urllib.request.urlopen(url, timeout=min(TIMEOUT_S, seconds)) as response,
    ):
        got = _stream(response, handle, progress, deadline)
        if got != expected:
            raise DataError(
                f"{destination.parent.name}: checksum mismatch for {url}: expected sha256 {expected}, "
                f"got {got}; nothing was saved (a damaged mirror or an interrupted transfer: try again)"
            )


def _manual_hint(dataset: str, folder: Path) -> str:
    names = ", ".join(SHA256[dataset])
    return (
        f"Without network access, download the file(s) elsewhere and put them in {folder}{os.sep} "
        f"({names}), or set DL_LAB_MIRROR to a mirror holding <mirror>/{dataset}/<file>."
    )


def _fetch_file(dataset: str, filename: str, folder: Path, progress: Progress | None) -> None:
    failures = []
    for url in mirror_urls(dataset, filename):
        try:
            _download(url, folder / filename, SHA256[dataset][filename], progress)
            return
        except DataError:
            raise
        except Exception as error:  # urllib raises URLError, HTTPError, TimeoutError, http.client errors
            code = getattr(error, "code", None)  # HTTPError: say "HTTP 404 Not Found", not just the reason
            reason = getattr(error, "reason", None) or error
            failures.append(f"{url} ({f'HTTP {code} ' if code else ''}{reason})")
    tried = "; ".join(failures)
    raise DataError(f"{dataset}: could not download {filename} from {tried}. {_manual_hint(dataset, folder)}")


def download(dataset: str, progress: Progress | Literal[False] | None = None) -> Path:
    """Make sure every file of ``dataset`` is in the cache and intact; returns its cache folder.

    ``progress``: None draws a bar on stderr, False shows nothing, a callable gets ``(done, total)``
    bytes per file (``total`` None when the server does not say), ending with ``done == total``.
    """
    folder = cache_dir() / dataset
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"{dataset}: cannot create the cache folder {folder} ({error.strerror}); "
            "set DL_LAB_CACHE to a writable folder"
        ) from None
    try:
        for filename, expected in SHA256[dataset].items():
            path = folder / filename
            if path.exists():
                if sha256_of(path) != expected:
                    raise DataError(f"{dataset}: {path} does not match its sha256 ({expected}); delete it and retry")
                continue
            report = stderr_bar(f"{dataset}/{filename}") if progress is None else progress or None
            _fetch_file(dataset, filename, folder, report)
    finally:
        if not any(folder.iterdir()):
            folder.rmdir()  # leave no empty folder behind when the first download failed
    return folder
