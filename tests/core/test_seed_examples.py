"""The course's worked examples, computed by the engine: seed 003's backprop numbers, seed 002's XOR and perceptron."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.core import Sequential, TrainStep, get_loss, make_optimizer


def _seed003_network():
    """F(x) = w2 relu(w1 x + b1) + b2 as three layers, so that u, v and z are each a layer's output."""
    model = Sequential(
        [{"dense": {"units": 1}}, {"activation": {"name": "relu"}}, {"dense": {"units": 1}}], (1,), dtype="float64"
    )
    model.load_state_dict(
        {
            "0.weight": np.array([[5.0]]),
            "0.bias": np.array([0.0]),
            "2.weight": np.array([[-1.0]]),
            "2.bias": np.array([1.0]),
        }
    )
    return model


def test_seed003_forward_pass_gives_u15_v15_z_minus14_and_loss_4():
    model = _seed003_network()
    z = model.forward(np.array([[3.0]]), training=True, keep=True)
    u, v, _ = (float(o[0, 0]) for o in model.outputs)
    loss, dz = get_loss("mse")(z, np.array([[-12.0]]))
    assert (u, v, float(z[0, 0])) == (15.0, 15.0, -14.0)
    assert float(loss) == 4.0
    assert float(dz[0, 0]) == -4.0  # dl/dz = 2 (z - y)


def test_seed003_backward_pass_gives_every_gradient_of_the_slides():
    model = _seed003_network()
    z = model.forward(np.array([[3.0]]), training=True)
    _, dz = get_loss("mse")(z, np.array([[-12.0]]))
    model.layers[0].needs_input_grad = True
    dx = model.backward(dz)
    grads = {k: float(p.grad.reshape(-1)[0]) for k, p in model.named_parameters()}
    assert grads == {"0.weight": 12.0, "0.bias": 4.0, "2.weight": -60.0, "2.bias": -4.0}
    assert float(dx[0, 0]) == 20.0  # dl/dx = dl/du * w1 = 4 * 5


def test_seed002_xor_weights_give_0_1_1_0():
    # h = relu(W^T x + c), y = w^T h + b with W = [[1, 1], [1, 1]], c = [0, -1], w = [1, -2], b = 0.
    model = Sequential([{"dense": {"units": 2, "activation": "relu"}}, {"dense": {"units": 1}}], (2,), dtype="float64")
    model.load_state_dict(
        {
            "0.weight": np.array([[1.0, 1.0], [1.0, 1.0]]),
            "0.bias": np.array([0.0, -1.0]),
            "1.weight": np.array([[1.0, -2.0]]),
            "1.bias": np.array([0.0]),
        }
    )
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    assert model.forward(x).reshape(-1).tolist() == [0.0, 1.0, 1.0, 0.0]


def _perceptron(lr=1.0):
    model = Sequential([{"dense": {"units": 1, "init": "zeros"}}], (2,), dtype="float64")
    return model, TrainStep(model, get_loss("perceptron"), make_optimizer({"name": "sgd", "lr": lr}))


def test_sgd_on_the_perceptron_criterion_is_exactly_the_perceptron_rule():
    model, step = _perceptron(lr=0.5)
    w0 = model.params.copy()
    x, t = np.array([[2.0, -1.0]]), np.array([1])  # misclassified: score 0 counts as a mistake
    step(x, t)
    # w += lr t x, b += lr t (t = +1)
    assert model.layers[0].weight.data.tolist() == [[1.0, -0.5]]
    assert model.layers[0].bias.data.tolist() == [0.5]
    w1 = model.params.copy()
    step(x, t)  # now correctly classified: nothing moves
    assert np.array_equal(model.params, w1) and not np.array_equal(w0, w1)


def test_the_perceptron_converges_on_a_linearly_separable_set():
    rng = np.random.default_rng(4)
    x = rng.uniform(-1, 1, size=(60, 2))
    x = x[np.abs(x[:, 0] + 0.5 * x[:, 1] - 0.1) > 0.1]  # keep a margin
    t = (x[:, 0] + 0.5 * x[:, 1] - 0.1 > 0).astype(np.int64)
    model, step = _perceptron()
    for _epoch in range(100):
        for i in range(len(x)):
            step(x[i : i + 1], t[i : i + 1])
        if np.array_equal(get_loss("perceptron").predict(model.forward(x)), t):
            break
    else:
        pytest.fail("the perceptron did not separate a separable set in 100 epochs")
