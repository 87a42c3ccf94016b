"""The one helper every gradient test goes through: float64 central differences against backprop."""

from __future__ import annotations

import numpy as np

from dl_lab.core.gradcheck import check_layer

TOLERANCE = 1e-6


def assert_layer_gradients(spec: dict, input_shape, backend="numpy", batch: int = 3, seed: int = 0) -> dict:
    """Check input and parameter gradients of one layer; fail naming the tensor that disagrees."""
    errors = check_layer(spec, input_shape, batch=batch, seed=seed, backend=backend)
    bad = {k: v for k, v in errors.items() if not v < TOLERANCE}
    assert not bad, f"{spec}: relative gradient errors above {TOLERANCE}: {bad}"
    return errors


def numeric_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar function f at every entry of float64 array x."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        up = f(x)
        flat[i] = orig - eps
        down = f(x)
        flat[i] = orig
        gflat[i] = (up - down) / (2 * eps)
    return g


def assert_close_gradient(analytic, numeric, tol: float = TOLERANCE) -> None:
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    err = 0.0 if denom < 1e-12 else np.linalg.norm(analytic - numeric) / denom
    assert err < tol, f"relative gradient error {err:.2e} >= {tol:.0e}"
