"""Direct calls into the BLAS library NumPy loaded (OpenBLAS, as NumPy's wheels bundle it), through ctypes.

Three things NumPy does not offer: a thread's own BLAS thread count (``threads_local``, for the split steps of
core/parallel.py); the vector updates ``y += a x`` and ``y *= a`` on the BLAS's threads (``axpy``, ``scal``),
which the optimizers and the split steps make over every parameter at each step (NumPy runs them on one core,
and ``y += a x`` takes it two passes and a scratch array: SGD with momentum on W1's 235,000 parameters, 0.16 ms
with NumPy, 0.094 ms through OpenBLAS); and a GEMM that adds to its output (``gemm_bias``: a dense layer's bias
goes in before the product instead of in a pass over it).

Everything here is optional: where the library or a routine is missing (another BLAS, CuPy arrays, an odd layout)
the functions say so (None, False) and the callers do the same maths with the array module.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Iterator

import numpy as np

# Vectors shorter than this are updated by NumPy: below it a pass stays in the core's cache and takes a few
# microseconds, which the ctypes call and the BLAS's threads cost too (the MNIST CNN's 9,000 parameters, the
# Playground's hundred).
MIN_SIZE = 32768
# A product with fewer multiply-adds than this adds its bias with NumPy (a ctypes call costs a few microseconds).
GEMM_BIAS_MIN = 1_000_000
# The symbol names of a CBLAS routine, by build: NumPy 2's scipy-openblas (64-bit integers, prefixed and suffixed),
# the openblas64_ of NumPy 1.2x, then 32-bit integer builds.
NAMES = (
    ("scipy_cblas_{}64_", ctypes.c_int64),
    ("cblas_{}64_", ctypes.c_int64),
    ("scipy_cblas_{}", ctypes.c_int),
    ("cblas_{}", ctypes.c_int),
)
_LETTER = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}
_SCALAR = {"s": ctypes.c_float, "d": ctypes.c_double}


@functools.cache
def library() -> ctypes.CDLL | None:
    """The OpenBLAS library NumPy loaded (found in this process's memory map), or None (not OpenBLAS, not Linux)."""
    np.dot(np.ones((2, 2)), np.ones((2, 2)))  # make sure NumPy's BLAS library is loaded and mapped
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


@functools.cache
def _threads_setter():
    """OpenBLAS's ``openblas_set_num_threads_local`` (0.3.27 and later), or None."""
    lib = library()
    fn = getattr(lib, "openblas_set_num_threads_local", None) if lib is not None else None
    if fn is not None:
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    return fn


def has_threads_local() -> bool:
    """Can each thread set its own BLAS thread count (``threads_local``)?"""
    return _threads_setter() is not None


def threads_local(n: int) -> int | None:
    """Set this thread's BLAS thread count to ``n``; the count it had, or None when it cannot be set."""
    setter = _threads_setter()
    return None if setter is None else int(setter(int(n)))


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """This thread's BLAS calls on one BLAS thread while the block runs (where the count can be set), then back."""
    before = threads_local(1)
    try:
        yield
    finally:
        if before is not None:
            threads_local(before)


def _find(routine: str):
    """CBLAS ``routine`` (``sgemm``, ``daxpy`` ...) in the library, under the first of NAMES it has, as (function,
    integer type), or None."""
    lib = library()
    if lib is None:
        return None
    for pattern, integer in NAMES:
        fn = getattr(lib, pattern.format(routine), None)
        if fn is not None:
            return fn, integer
    return None


@functools.cache
def _gemm(letter: str):
    """CBLAS ``?gemm`` for ``letter`` as (function, integer type), or None."""
    found = _find(letter + "gemm")
    if found is not None:
        fn, integer = found
        enum, ptr, scalar = ctypes.c_int, ctypes.c_void_p, _SCALAR[letter]  # order, transpositions: C enums
        fn.argtypes = [enum, enum, enum, integer, integer, integer, scalar, ptr, integer, ptr, integer, scalar]
        fn.argtypes += [ptr, integer]
        fn.restype = None
    return found


ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def gemm_bias(x, w, b):
    """``x @ w + b`` as a new array, the bias added by the GEMM itself: the output starts as ``b`` on every row and
    the product is added to it (beta 1), so no pass over the product follows it. ``x`` (M, K) row- or
    column-major, ``w`` (K, N) row-major, ``b`` (N,): NumPy arrays of one float dtype. None, with nothing done,
    where it cannot be (another layout, CuPy, a missing routine) or is not worth a call (under GEMM_BIAS_MIN
    multiply-adds); the caller then uses its array module.

    W1's first two layers (128 x 784 x 256, 128 x 256 x 128): 293 -> 277 and 76 -> 68 us with their ReLU, in a step.
    """
    if type(x) is not np.ndarray or type(w) is not np.ndarray or type(b) is not np.ndarray:
        return None
    if x.ndim != 2 or w.ndim != 2 or b.ndim != 1:
        return None
    (m, k), n = x.shape, w.shape[1]
    if m * n * k < GEMM_BIAS_MIN or w.shape[0] != k or b.shape[0] != n:
        return None
    letter = _LETTER.get(x.dtype)
    if letter is None or w.dtype != x.dtype or b.dtype != x.dtype or not w.flags.c_contiguous:
        return None
    if x.flags.c_contiguous:
        trans, lda = NO_TRANS, k
    elif x.flags.f_contiguous:
        trans, lda = TRANS, m
    else:
        return None
    found = _gemm(letter)
    if found is None or (found[1] is ctypes.c_int and max(m, n, k) >= 2**31):
        return None
    z = np.empty((m, n), dtype=x.dtype)
    z[...] = b
    found[0](ROW_MAJOR, trans, NO_TRANS, m, n, k, 1.0, x.ctypes.data, lda, w.ctypes.data, n, 1.0, z.ctypes.data, n)
    return z


@functools.cache
def _routine(name: str, letter: str):
    """CBLAS ``?axpy`` or ``?scal`` for ``letter`` (s: float32, d: float64) as (function, integer type), or None."""
    found = _find(letter + name)
    if found is not None:
        fn, integer = found
        vectors = [ctypes.c_void_p, integer] * (2 if name == "axpy" else 1)
        fn.argtypes, fn.restype = [integer, _SCALAR[letter], *vectors], None
    return found


def _usable(name: str, *arrays):
    """The routine ``name`` for ``arrays`` (contiguous NumPy vectors of one float dtype and size, at least
    MIN_SIZE long, the last writeable), or None. A short vector leaves at the first test: a small network's
    step calls this for each update."""
    y = arrays[-1]
    if type(y) is not np.ndarray or y.size < MIN_SIZE:
        return None
    for v in arrays:
        if type(v) is not np.ndarray or v.dtype != y.dtype or v.size != y.size or not v.flags.c_contiguous:
            return None
    letter = _LETTER.get(y.dtype)
    if letter is None or not y.flags.writeable:
        return None
    found = _routine(name, letter)
    if found is None or (found[1] is ctypes.c_int and y.size >= 2**31):
        return None
    return found[0]


def axpy(a: float, x, y) -> bool:
    """``y += a x`` in one pass of the BLAS (on its threads); False, with nothing done, where it cannot be (see
    ``_usable``): the caller then does it with its array module."""
    fn = _usable("axpy", x, y)
    if fn is None:
        return False
    fn(y.size, a, x.ctypes.data, 1, y.ctypes.data, 1)
    return True


def scal(a: float, y) -> bool:
    """``y *= a`` through the BLAS (on its threads); False, with nothing done, where it cannot be."""
    fn = _usable("scal", y)
    if fn is None:
        return False
    fn(y.size, a, y.ctypes.data, 1)
    return True
