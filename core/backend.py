"""Array backends: NumPy on the host or CuPy on a GPU, behind one explicit object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import BackendError

BACKENDS = ("numpy", "cupy", "auto")
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Backend:
    """The array module (``xp``) a model computes with, and how to move data to and from it.

    NumPy and CuPy share one code path: layers only ever call ``backend.xp``.
    """

    name: str
    xp: Any = field(repr=False)

    def asarray(self, a, dtype=None):
        """Move a host array (or scalar) to this backend."""
        return self.xp.asarray(a, dtype=dtype)

    def to_host(self, a) -> np.ndarray:
        """A NumPy copy of a backend array (no-op on NumPy)."""
        if self.name == "cupy":
            return self.xp.asnumpy(a)
        return np.asarray(a)

    def sync(self) -> None:
        """Wait for queued device work, so that timings are honest."""
        if self.name == "cupy":
            self.xp.cuda.Stream.null.synchronize()

    def rng(self, seed: int):
        """A random generator living on this backend, seeded deterministically."""
        if self.name == "cupy":
            return self.xp.random.default_rng(seed)
        return np.random.default_rng(seed)


NUMPY = Backend("numpy", np)


def import_cupy() -> Any:
    """CuPy, imported on first use: the one place dl-lab imports it (``import dl_lab.core`` never does)."""
    import cupy

    return cupy


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        return import_cupy().cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def get_backend(name: Backend | str = "numpy") -> Backend:
    """``numpy``, ``cupy`` (fails clearly without a GPU) or ``auto`` (CuPy when usable); a Backend is returned as is."""
    if isinstance(name, Backend):
        return name
    if name == "numpy":
        return NUMPY
    if name == "auto":
        return get_backend("cupy") if cupy_available() else NUMPY
    if name == "cupy":
        if not cupy_available():
            raise BackendError(
                "backend: cupy was asked for, but CuPy is not installed or sees no GPU "
                "(install it with `pip install 'dl-lab[gpu]'`, or use backend: numpy)"
            )
        return Backend("cupy", import_cupy())
    raise BackendError(f"backend: expected one of {', '.join(BACKENDS)}, got {name!r}")


def resolve_dtype(dtype) -> np.dtype:
    """float32 (the default) or float64 (gradient checks, exact comparisons)."""
    dt = np.dtype(dtype)
    if dt.name not in DTYPES:
        raise BackendError(f"dtype: expected one of {', '.join(DTYPES)}, got {dt.name!r}")
    return dt
