"""Looking inside a model (core/inspect.py): input gradients against float64 central differences of the
evaluation function, the model left untouched, FGSM and PGD within their max-norm ball, the loss at other weights."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.core import Sequential, get_backend, get_loss
from dl_lab.core.inspect import (
    class_score_gradient,
    fgsm,
    layer_output,
    loss_at,
    loss_gradient,
    pgd,
)

MLP = [
    {"dense": {"units": 7, "activation": "tanh"}},
    {"batchnorm": {}},
    {"dropout": {"p": 0.5}},
    {"dense": {"units": 5, "activation": "sigmoid"}},
    {"dense": {"units": 3}},
]
CNN = [
    {"conv2d": {"filters": 3, "kernel": 3, "padding": 1, "activation": "tanh"}},
    {"batchnorm": {}},
    {"maxpool2d": {"size": 2}},
    {"flatten": {}},
    {"dropout": {"p": 0.3}},
    {"dense": {"units": 4}},
]


def trained_like(spec, shape, seed=0):
    """A float64 model whose batchnorm has running statistics of its own (as after training)."""
    model = Sequential(spec, shape, backend=get_backend("numpy"), dtype="float64", seed=seed)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for name, value in layer.buffers():
            fresh = rng.uniform(0.5, 1.5, value.shape) if name == "running_var" else rng.normal(0, 0.3, value.shape)
            layer.set_buffer(name, fresh)
    return model


def numeric_input_gradient(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (f(up) - f(down)) / (2 * eps)
    return grad


def state_of(model):
    return (
        model.params.copy(),
        model.grads.copy(),
        [value.copy() for layer in model.layers for _, value in layer.buffers()],
    )


@pytest.mark.parametrize(("spec", "shape"), [(MLP, (4,)), (CNN, (2, 4, 4))], ids=["mlp", "cnn"])
def test_a_class_score_gradient_is_the_central_difference_of_the_evaluation_function(spec, shape):
    model = trained_like(spec, shape)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, *shape))
    classes = np.array([0, 2, 1])
    model.grads[...] = rng.normal(size=model.grads.shape)  # a training step's gradients: they must survive
    before = state_of(model)
    out, dx = class_score_gradient(model, x, classes)
    np.testing.assert_allclose(out, model.forward(x, training=False), rtol=1e-12)
    for i in range(len(x)):

        def score(xi, i=i):
            return float(model.forward(xi[None], training=False)[0, classes[i]])

        np.testing.assert_allclose(dx[i], numeric_input_gradient(score, x[i]), rtol=1e-5, atol=1e-8)
    after = state_of(model)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    for a, b in zip(after[2], before[2], strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.layers[0].needs_input_grad is False and not any(layer.frozen for layer in model.layers)


def test_each_samples_loss_gradient_is_its_own():
    model = trained_like(MLP, (4,))
    loss = get_loss("cross_entropy")
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 4)), np.array([0, 1, 2, 1, 0])
    _, mean, dx = loss_gradient(model, loss, x, y)
    for i in range(len(x)):

        def own(xi, i=i):
            value, _ = loss(model.forward(xi[None], training=False), y[i : i + 1])
            return float(value)

        np.testing.assert_allclose(dx[i], numeric_input_gradient(own, x[i]), rtol=1e-5, atol=1e-8)
    assert mean == pytest.approx(float(loss(model.forward(x, training=False), y)[0]))


def test_fgsm_moves_each_input_by_eps_in_max_norm_and_raises_the_loss():
    model = trained_like(MLP, (4,))
    loss = get_loss("cross_entropy")
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0.2, 0.8, size=(64, 4)), rng.integers(0, 3, size=64)
    adv = fgsm(model, loss, x, y, eps=0.1)
    np.testing.assert_allclose(np.abs(adv - x).max(axis=1), 0.1, rtol=1e-12)
    clean = float(loss(model.forward(x, training=False), y)[0])
    assert float(loss(model.forward(adv, training=False), y)[0]) > clean
    clipped = fgsm(model, loss, x, y, eps=0.5, lo=0.0, hi=1.0)  # the data's range wins over eps
    assert clipped.min() >= 0.0 and clipped.max() <= 1.0 and np.abs(clipped - x).max() <= 0.5 + 1e-12
    np.testing.assert_array_equal(fgsm(model, loss, x, y, eps=0.0), x)  # eps 0: the clean inputs


def test_pgd_stays_in_its_ball_and_the_data_range_and_beats_the_clean_loss():
    model = trained_like(CNN, (2, 4, 4))
    loss = get_loss("cross_entropy")
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 1, size=(16, 2, 4, 4)), rng.integers(0, 4, size=16)
    adv = pgd(model, loss, x, y, eps=0.05, steps=5, lo=0.0, hi=1.0)
    assert np.abs(adv - x).max() <= 0.05 + 1e-12 and adv.min() >= 0.0 and adv.max() <= 1.0
    clean = float(loss(model.forward(x, training=False), y)[0])
    assert float(loss(model.forward(adv, training=False), y)[0]) > clean


def test_the_loss_at_other_weights_equals_a_model_holding_them_and_the_model_keeps_its_own():
    model = trained_like(MLP, (4,))
    other = trained_like(MLP, (4,), seed=9)
    loss = get_loss("cross_entropy")
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)
    own = model.params.copy()
    for layer, theirs in zip(model.layers, other.layers, strict=True):  # the same statistics: only weights differ
        for name, value in theirs.buffers():
            layer.set_buffer(name, value.copy())
    expected = float(loss(other.forward(x, training=False), y)[0])
    assert loss_at(model, loss, other.params, x, y, batch=16) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(model.params, own)


def test_a_layer_output_is_the_forward_pass_up_to_that_layer():
    model = trained_like(CNN, (2, 4, 4))
    x = np.random.default_rng(6).normal(size=(3, 2, 4, 4))
    model.forward(x, training=False, keep=True)
    kept = model.outputs
    for i in range(len(model.layers)):
        np.testing.assert_allclose(layer_output(model, x, i), kept[i], rtol=1e-12)
