"""End-to-end learning with the engine alone: XOR, a regression, and a small CNN overfitting a batch."""

from __future__ import annotations

import numpy as np

from dl_lab.core import Sequential, TrainStep, get_loss, make_optimizer

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
XOR_T = np.array([0, 1, 1, 0])


def test_a_two_layer_network_learns_xor(backend):
    model = Sequential(
        [{"dense": {"units": 4, "activation": "tanh"}}, {"dense": {"units": 2}}], (2,), backend=backend, seed=1
    )
    loss = get_loss("cross_entropy")
    step = TrainStep(model, loss, make_optimizer({"name": "adam", "lr": 0.05}))
    x, t = backend.asarray(XOR_X), backend.asarray(XOR_T)
    for _ in range(300):
        step(x, t)
    assert backend.to_host(loss.predict(model.forward(x))).tolist() == [0, 1, 1, 0]


def test_regression_on_a_sine_reaches_a_small_error():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(256, 1)).astype(np.float32)
    y = np.sin(x)
    model = Sequential([{"dense": {"units": 32, "activation": "tanh"}}, {"dense": {"units": 1}}], (1,), seed=0)
    step = TrainStep(model, get_loss("mse"), make_optimizer({"name": "adam", "lr": 0.02}))
    for _ in range(600):
        step(x, y)
    assert float(get_loss("mse")(model.forward(x), y)[0]) < 0.005


def test_a_small_cnn_overfits_one_batch(backend):
    rng = np.random.default_rng(0)
    x = backend.asarray(rng.standard_normal((16, 1, 8, 8)).astype(np.float32))
    t = backend.asarray(rng.integers(0, 3, size=16))
    specs = [
        {"conv2d": {"filters": 4, "kernel": 3, "padding": "same", "activation": "relu"}},
        {"maxpool2d": {"size": 2}},
        {"flatten": {}},
        {"dense": {"units": 3}},
    ]
    model = Sequential(specs, (1, 8, 8), backend=backend, seed=0)
    loss = get_loss("cross_entropy")
    step = TrainStep(model, loss, make_optimizer({"name": "adam", "lr": 0.01}))
    first = float(step(x, t))
    for _ in range(150):
        last = float(step(x, t))
    assert last < 0.1 * first
    assert (backend.to_host(loss.predict(model.forward(x))) == backend.to_host(t)).all()
