"""Element-wise activation functions and their derivatives, numerically stable on large inputs.

Each activation is a pair ``forward(x) -> y`` and ``backward(dy, x, y) -> dx``; the backward may
use the input ``x``, the output ``y`` or both, whichever is cheaper and exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy

from .backend import import_cupy
from .spec import unknown_name


def _xp(a):
    """The array module of ``a`` (NumPy or CuPy) without importing CuPy.

    Called several times per layer and step: the NumPy case is one type check (tiny networks are
    bound by such per-call costs).
    """
    if type(a) is numpy.ndarray:
        return numpy
    mod = type(a).__module__
    if mod.startswith("cupy"):
        return import_cupy()
    return numpy


@dataclass(frozen=True)
class ActivationFn:
    """A named activation: y = forward(x); dL/dx = backward(dL/dy, x, y).

    ``needs_input`` tells a layer whether backward reads ``x`` (otherwise only ``y`` is kept).
    ``saturates`` marks functions whose units can saturate (sigmoid, tanh) for monitoring;
    ``dies`` marks ReLU-like functions whose units can die (zero output on every sample).
    """

    name: str
    forward: Callable
    backward: Callable
    needs_input: bool = False
    saturates: bool = False
    dies: bool = False
    formula: str = ""


def _identity_f(x, **_):
    return x


def _identity_b(dy, x, y, **_):
    return dy


def _sigmoid_f(x, **_):
    # 1/(1+e) for x >= 0 and e/(1+e) for x < 0, with e = e^-|x| in (0, 1]: never overflows and keeps full
    # relative precision in the negative tail (0.5 + 0.5 tanh(x/2) cancels there: 6e-2 at x = -16 in float32).
    # The numerator is picked arithmetically, not with where(), which is slow on mixed signs.
    xp = _xp(x)
    e = xp.abs(x)
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    y = xp.subtract(1.0, e)
    y *= x >= 0  # x >= 0: 1 - e; x < 0: 0
    y += e  # x >= 0: 1; x < 0: e
    e += 1.0
    y /= e
    return y


def _sigmoid_b(dy, x, y, **_):
    return dy * y * (1.0 - y)


def _tanh_f(x, **_):
    return _xp(x).tanh(x)


def _tanh_b(dy, x, y, **_):
    xp = _xp(y)
    d = xp.multiply(y, y)
    xp.subtract(1.0, d, out=d)
    d *= dy
    return d


def _relu_f(x, **_):
    return _xp(x).maximum(x, 0.0)


def _relu_b(dy, x, y, **_):
    # y > 0 exactly where x > 0; the derivative at 0 is taken as 0, as in PyTorch.
    return dy * (y > 0)


def _leaky_relu_f(x, alpha=0.01, **_):
    xp = _xp(x)
    return xp.where(x >= 0, x, x * alpha)


def _leaky_relu_b(dy, x, y, alpha=0.01, **_):
    # The derivative at exactly 0 is taken as the negative slope, as in PyTorch (ReLU's is 0 there).
    xp = _xp(x)
    return dy * xp.where(x > 0, 1.0, alpha).astype(dy.dtype, copy=False)


def _elu_f(x, alpha=1.0, **_):
    xp = _xp(x)
    # expm1 of min(x, 0): exact near zero and never overflows for large positive x.
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0.0)))


def _elu_b(dy, x, y, alpha=1.0, **_):
    # alpha e^x for x <= 0, from the input as in PyTorch (y + alpha cancels in the negative tail), 1 for x > 0;
    # the branch is chosen arithmetically (where() is slow on mixed signs): alpha e^min(x,0) + (1 - alpha)[x > 0].
    xp = _xp(x)
    d = xp.minimum(x, 0.0)
    xp.exp(d, out=d)
    if alpha != 1.0:
        d *= alpha
        d += (1.0 - alpha) * (x > 0)
    d *= dy
    return d


def _softplus_f(x, **_):
    xp = _xp(x)
    return xp.logaddexp(0.0, x).astype(x.dtype, copy=False)


def _softplus_b(dy, x, y, **_):
    # d/dx log(1 + e^x) = sigmoid(x), computed from x (not 1 - e^-y, which cancels in the negative tail).
    return dy * _sigmoid_f(x)


def _gaussian_f(x, **_):
    xp = _xp(x)
    return xp.exp(-(x * x))


def _gaussian_b(dy, x, y, **_):
    return dy * (-2.0 * x * y)


def _step_f(x, **_):
    return (x >= 0).astype(x.dtype)


def _step_b(dy, x, y, **_):
    # The Heaviside step is flat everywhere it is differentiable: no gradient flows through it.
    return dy * 0.0


def _softmax_f(x, **_):
    """Softmax over the feature axis (axis 1), shifted by the maximum so that exp never overflows."""
    xp = _xp(x)
    z = x - x.max(axis=1, keepdims=True)
    xp.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _softmax_b(dy, x, y, **_):
    return y * (dy - (dy * y).sum(axis=1, keepdims=True))


ACTIVATIONS: dict[str, ActivationFn] = {
    fn.name: fn
    for fn in (
        ActivationFn("identity", _identity_f, _identity_b, formula="g(x) = x"),
        ActivationFn("sigmoid", _sigmoid_f, _sigmoid_b, saturates=True, formula="g(x) = 1 / (1 + e^-x)"),
        ActivationFn("tanh", _tanh_f, _tanh_b, saturates=True, formula="g(x) = tanh(x)"),
        ActivationFn("relu", _relu_f, _relu_b, dies=True, formula="g(x) = max(x, 0)"),
        ActivationFn(
            "leaky_relu", _leaky_relu_f, _leaky_relu_b, needs_input=True, formula="g(x) = x if x >= 0 else a*x"
        ),
        ActivationFn("elu", _elu_f, _elu_b, needs_input=True, formula="g(x) = x if x > 0 else a*(e^x - 1)"),
        ActivationFn("softplus", _softplus_f, _softplus_b, needs_input=True, formula="g(x) = log(1 + e^x)"),
        ActivationFn("gaussian", _gaussian_f, _gaussian_b, needs_input=True, formula="g(x) = e^(-x^2)"),
        ActivationFn("step", _step_f, _step_b, dies=True, formula="g(x) = 1 if x >= 0 else 0 (zero gradient)"),
        ActivationFn("softmax", _softmax_f, _softmax_b, formula="g(x)_i = e^x_i / sum_j e^x_j"),
    )
}
ACTIVATION_NAMES = tuple(ACTIVATIONS)


def forward_in_place(act: ActivationFn, z):
    """``act.forward(z)``, overwriting ``z`` when that is exact (identity, ReLU).

    For a layer's fresh pre-activation: one pass and no second array. Activations whose backward reads
    their input (``needs_input``) are never computed in place, so a layer may keep ``z`` for them.
    """
    if act.name == "identity":
        return z
    if act.name == "relu":
        return _xp(z).maximum(z, 0.0, out=z)
    return act.forward(z)


def get_activation(name: str, where: str = "activation") -> ActivationFn:
    """The activation called ``name``; unknown names list the valid ones."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise unknown_name(where, "activation", name, ACTIVATION_NAMES) from None
