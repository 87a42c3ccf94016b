"""Looking inside a trained model: gradients with respect to its input, any layer's output, the loss at other
weights, and adversarial examples. Plain functions on a ``Sequential`` (NumPy or CuPy), for the inspect views.

Every function leaves the model as it found it: its parameters, their gradients and batchnorm's running statistics
(the gradients are computed through the evaluation function: dropout off, batchnorm on its running statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from .layers.base import Layer
from .losses import Loss
from .model import Sequential


def _all_layers(layers: list[Layer]) -> Iterator[Layer]:
    for layer in layers:
        yield layer
        yield from _all_layers(layer.children())


@contextmanager
def evaluation_gradients(model: Sequential) -> Iterator[None]:
    """While it lasts, ``model.forward(x, training=True)`` computes the evaluation function and keeps what
    ``model.backward`` needs, and backward returns the gradient with respect to the input. The parameters' gradients
    and batchnorm's running statistics are restored afterwards."""
    layers = list(_all_layers(model.layers))
    saved_grads = model.grads.copy()
    saved_buffers = [(layer, name, value.copy()) for layer in layers for name, value in layer.buffers()]
    first = model.layers[0].needs_input_grad
    try:
        for layer in layers:
            layer.frozen = True
        model.layers[0].needs_input_grad = True
        yield
    finally:
        for layer in layers:
            layer.frozen = False
        model.layers[0].needs_input_grad = first
        model.grads[...] = saved_grads
        for layer, name, value in saved_buffers:
            layer.set_buffer(name, value)


def input_gradient(model: Sequential, x, output_grad: Callable) -> tuple:
    """(the model's output on ``x``, the gradient of a scalar of that output with respect to ``x``), where
    ``output_grad(out)`` gives d(scalar)/d(out). ``x`` is a batch in the model's input shape."""
    xp = model.xp
    x = xp.asarray(x, dtype=model.dtype)
    with evaluation_gradients(model):
        out = model.forward(x, training=True)
        dx = model.backward(xp.asarray(output_grad(out), dtype=model.dtype))
    return out, dx


def class_score_gradient(model: Sequential, x, classes) -> tuple:
    """(output, ∂S_c/∂x) with S_c the unnormalized score (logit) of class ``classes[i]`` for sample ``i``
    (Simonyan et al. 2013): each sample's gradient is its own class score's."""
    xp = model.xp

    def grad(out):
        d = xp.zeros_like(out)
        d[xp.arange(out.shape[0]), xp.asarray(classes)] = 1.0
        return d

    return input_gradient(model, x, grad)


def loss_gradient(model: Sequential, loss: Loss, x, y) -> tuple:
    """(output, per-sample loss, ∂loss_i/∂x_i): the gradient of each sample's own loss with respect to it."""
    xp = model.xp
    y = xp.asarray(y)
    values = {}

    def grad(out):
        value, d = loss(out, y)
        values["mean"] = value
        return d * out.shape[0]  # the loss is a mean over the batch: undo the 1/N to get each sample's own

    out, dx = input_gradient(model, x, grad)
    return out, values["mean"], dx


def layer_output(model: Sequential, x, index: int):
    """The output of layer ``index`` (after its activation) on ``x``, in evaluation mode."""
    xp = model.xp
    h = xp.asarray(x, dtype=model.dtype)
    for layer in model.layers[: index + 1]:
        h = layer.forward(h, False)
    return h


@contextmanager
def weights(model: Sequential, flat) -> Iterator[None]:
    """The model with its flat parameters set to ``flat`` while it lasts, then its own again."""
    saved = model.params.copy()
    try:
        model.params[...] = model.xp.asarray(flat, dtype=model.dtype)
        yield
    finally:
        model.params[...] = saved


def loss_at(model: Sequential, loss: Loss, flat, x, y, batch: int = 512) -> float:
    """The mean loss on (``x``, ``y``) with the parameters set to ``flat`` (evaluation mode); the model keeps its
    own parameters."""
    xp = model.xp
    total, n = 0.0, len(x)
    with weights(model, flat):
        for start in range(0, n, batch):
            xb = xp.asarray(x[start : start + batch], dtype=model.dtype)
            value, _ = loss(model.forward(xb, training=False), xp.asarray(y[start : start + batch]))
            total += float(value) * len(xb)
    return total / max(n, 1)


def fgsm(model: Sequential, loss: Loss, x, y, eps, lo=None, hi=None):
    """Goodfellow et al. 2014: x + eps·sign(∇ₓ loss), clipped to [``lo``, ``hi``] (the data's range) when given.
    ``eps``, ``lo`` and ``hi`` are numbers, or arrays broadcast over a batch (a per-feature scale)."""
    xp = model.xp
    x = xp.asarray(x, dtype=model.dtype)
    _, _, dx = loss_gradient(model, loss, x, y)
    return _clip(xp, x + eps * xp.sign(dx), lo, hi)


def pgd(
    model: Sequential,
    loss: Loss,
    x,
    y,
    eps,
    steps: int = 10,
    step_size=None,
    lo=None,
    hi=None,
):
    """Iterated FGSM (projected gradient descent on the loss, ascending): ``steps`` steps of ``step_size`` (default
    2.5·eps/steps), each projected back into the max-norm ball of radius ``eps`` around ``x`` and the data's range."""
    xp = model.xp
    x = xp.asarray(x, dtype=model.dtype)
    size = 2.5 * eps / max(steps, 1) if step_size is None else step_size
    adv = x.copy()
    for _ in range(steps):
        _, _, dx = loss_gradient(model, loss, adv, y)
        adv = xp.clip(adv + size * xp.sign(dx), x - eps, x + eps)
        adv = _clip(xp, adv, lo, hi)
    return adv


def _clip(xp, x, lo, hi):
    if lo is None and hi is None:
        return x
    return xp.clip(x, -np.inf if lo is None else lo, np.inf if hi is None else hi)
