"""Writing a run's files so that a crash, a kill or a full disk never leaves a truncated one behind.

Every file is written to a temporary file in the same folder, flushed to disk and renamed over its name
(``os.replace`` is atomic on one filesystem): a reader sees the previous good file or the new one, never half.
The resume state (the weights, the optimizer's state and the progress) is written into a new folder that is
swapped in whole; ``settle_resume`` finishes a swap a crash interrupted, before a run is resumed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from dl_lab.sessions.errors import RunDirError

RESUME_DIR = "resume"
RESUME_WEIGHTS = "model.npz"  # the weights the resume state goes with; checkpoints/last.npz is a link to it
RESUME_MARK = "state.json"  # written last into a new resume folder: the folder is complete when it is there
_NEW, _OLD = ".new", ".old"


class RunWriteError(RunDirError):
    """A run's file could not be written (a full disk, a read-only folder): exit status 2, naming the file."""


def write_error(exc: OSError, path) -> RunWriteError:
    """``exc`` as one message naming the file: "cannot write the run: <file>: No space left on device"."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return RunWriteError(f"cannot write the run: {path}: {reason}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be synced
        _fsync(path)


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def replacing(path) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; when the block ends, that file replaces ``path`` at once.

    If the block raises (an OSError, an interrupt), ``path`` keeps its previous content and the temporary file
    is removed. An OSError becomes a RunWriteError naming ``path``."""
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise write_error(exc, path) from None
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(path.parent)


def write_text(path, text: str) -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_model(model, path) -> None:
    """``model.save(path)``, atomically."""
    with replacing(path) as tmp:
        model.save(tmp)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def link_or_copy(src: Path, dst: Path) -> None:
    """``dst`` becomes the content of ``src`` at once: a hard link when the filesystem allows, else a copy."""
    tmp = _tmp_name(dst)
    _remove(tmp)
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
            _fsync(tmp)
        os.replace(tmp, dst)
    except OSError as exc:
        _remove(tmp)
        raise write_error(exc, dst) from None
    except BaseException:
        _remove(tmp)
        raise


def save_resume_state(run_dir, model, write_state: Callable[[Path], None], *, last: bool) -> None:
    """Writes the resume state of a run as one unit: RUN_DIR/resume/ (``write_state(folder)`` writes the
    optimizer's state and state.json into it, state.json last) with the weights beside it as model.npz; with
    ``last`` checkpoints/last.npz then becomes those weights too.

    The new state is written into resume.new/ and swapped in by two renames; a crash at any point leaves either
    the previous complete state or the new one, which ``settle_resume`` finds and completes."""
    run_dir = Path(run_dir)
    folder, new, old = run_dir / RESUME_DIR, run_dir / (RESUME_DIR + _NEW), run_dir / (RESUME_DIR + _OLD)
    settle_resume(run_dir, last=False)
    _remove(new)
    try:
        new.mkdir()
        with replacing(new / RESUME_WEIGHTS) as tmp:
            model.save(tmp)
        write_state(new)  # state.json last: the mark that the folder is complete
        for name in os.listdir(new):
            _fsync(new / name)
        _fsync_dir(new)
    except OSError as exc:
        _remove(new)
        raise write_error(exc, getattr(exc, "filename", None) or new) from None
    except BaseException:
        _remove(new)
        raise
    _swap(folder, new, old)
    if last:
        link_or_copy(folder / RESUME_WEIGHTS, run_dir / "checkpoints" / "last.npz")


def _swap(folder: Path, new: Path, old: Path) -> None:
    try:
        if folder.exists():
            os.replace(folder, old)  # settle_resume has removed any previous resume.old
        os.replace(new, folder)
        _fsync_dir(folder.parent)
    except OSError as exc:
        raise write_error(exc, folder) from None
    _remove(old)


def settle_resume(run_dir, *, last: bool = True) -> None:
    """Completes a resume-state swap that a crash interrupted, and makes checkpoints/last.npz the weights of
    the resume state (``last``), so that resume/state.json and last.npz always go together."""
    run_dir = Path(run_dir)
    folder, new, old = run_dir / RESUME_DIR, run_dir / (RESUME_DIR + _NEW), run_dir / (RESUME_DIR + _OLD)
    try:
        if not (folder / RESUME_MARK).exists():
            if (new / RESUME_MARK).exists():  # written whole, not yet swapped in
                _remove(folder)
                os.replace(new, folder)
            elif (old / RESUME_MARK).exists():  # the new one was unfinished: the previous state stands
                _remove(folder)
                os.replace(old, folder)
        for leftover in (new, old):
            if leftover.exists():
                _remove(leftover)
        weights, checkpoint = folder / RESUME_WEIGHTS, run_dir / "checkpoints" / "last.npz"
        if last and (folder / RESUME_MARK).exists() and weights.exists() and not _same_file(weights, checkpoint):
            link_or_copy(weights, checkpoint)
    except RunWriteError:
        raise
    except OSError as exc:
        raise write_error(exc, folder) from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    if sa.st_size != sb.st_size:
        return False
    return a.read_bytes() == b.read_bytes()  # a copy (no hard links on this filesystem)


def remove_resume(run_dir) -> None:
    run_dir = Path(run_dir)
    for name in (RESUME_DIR, RESUME_DIR + _NEW, RESUME_DIR + _OLD):
        _remove(run_dir / name)
