"""Gradient checking: float64 central differences against back-propagation, per parameter tensor."""

from __future__ import annotations

import numpy as np

from .activations import _xp
from .errors import ConfigError
from .losses import Loss
from .model import Sequential


class LinearProbe(Loss):
    """L = sum(out * R) / N for a fixed random R: every output direction gets a gradient to check."""

    name = "probe"

    def __init__(self, shape, seed: int = 0):
        self.r = np.random.default_rng(seed).standard_normal(shape)

    def __call__(self, out, target):
        r = _xp(out).asarray(self.r, dtype=out.dtype)
        n = out.shape[0]
        return (out * r).sum() / n, r * (1.0 / n)


def _rel_error(a: np.ndarray, n: np.ndarray) -> float:
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return 0.0 if denom < 1e-12 else float(np.linalg.norm(a - n) / denom)


def gradcheck(
    model: Sequential,
    loss: Loss,
    x,
    y,
    *,
    eps: float = 1e-6,
    max_entries: int = 48,
    seed: int = 0,
    check_input: bool = True,
) -> dict[str, float]:
    """Relative error ||analytic - numeric|| / (||analytic|| + ||numeric||) per parameter tensor (and
    ``input``), checking up to ``max_entries`` random entries of each. The model must be float64.

    Training mode is used (dropout masks are replayed identically for every evaluation); batchnorm's
    running statistics are restored afterwards.
    """
    if model.dtype != np.float64:
        raise ConfigError(f"gradcheck: the model must be float64, got {model.dtype}")
    be = model.backend
    x = be.asarray(x, dtype=model.dtype)
    saved_buffers = {k: b.copy() for k, b in model.named_buffers()}
    rng_seed = seed + 12345

    def loss_value(inp):
        model.ctx.rng = be.rng(rng_seed)
        return float(loss(model.forward(inp, training=True), y)[0])

    model.ctx.rng = be.rng(rng_seed)
    first = model.layers[0]
    keep_flag, first.needs_input_grad = first.needs_input_grad, check_input
    out = model.forward(x, training=True)
    _, dout = loss(out, y)
    dx = model.backward(dout)
    first.needs_input_grad = keep_flag
    analytic = {k: be.to_host(p.grad).copy() for k, p in model.named_parameters()}
    pick = np.random.default_rng(seed)
    targets = [(k, p.data) for k, p in model.named_parameters()]
    if check_input:
        analytic["input"] = be.to_host(dx)
        targets.append(("input", x))
    errors = {}
    for key, arr in targets:
        idx = pick.choice(arr.size, size=min(max_entries, arr.size), replace=False)
        numeric = np.empty(len(idx))
        for j, i in enumerate(idx):
            # the entry by its index in the array's shape: a parameter may be a transposed view of the flat
            # buffer (a dense weight), where reshape(-1) would be a copy and the perturbation would change nothing
            at = tuple(int(k) for k in np.unravel_index(int(i), arr.shape))
            orig = float(arr[at])
            arr[at] = orig + eps
            up = loss_value(x)
            arr[at] = orig - eps
            down = loss_value(x)
            arr[at] = orig
            numeric[j] = (up - down) / (2 * eps)
        errors[key] = _rel_error(analytic[key].reshape(-1)[idx], numeric)
    for name, value in saved_buffers.items():
        i, rest = name.split(".", 1)
        model.layers[int(i)].set_buffer(rest, value)
    return errors


def check_layer(spec: dict, input_shape, *, batch: int = 3, seed: int = 0, backend="numpy", **kw):
    """Gradient-check one layer on random inputs through a random linear probe; returns gradcheck's dict."""
    model = Sequential([spec], input_shape, backend=backend, dtype="float64", seed=seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((batch, *input_shape))
    probe = LinearProbe((batch, *model.output_shape), seed + 2)
    return gradcheck(model, probe, x, None, seed=seed, **kw)
