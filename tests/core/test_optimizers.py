"""Optimizer steps against values derived by hand from torch.optim's update rules; schedules and clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dl_lab.core import ConfigError, Schedule, make_optimizer
from dl_lab.core.optimizers import apply_penalty, clip_grad_norm


def _run(config, grads, p0=1.0):
    opt = make_optimizer(config)
    opt.bind(np, 1, np.float64)
    p = np.array([p0])
    trace = []
    for g in grads:
        opt.step(p, np.array([g]))
        trace.append(float(p[0]))
    return trace


def test_plain_sgd_subtracts_lr_times_gradient():
    assert _run({"name": "sgd", "lr": 0.1}, [2.0, -1.0]) == pytest.approx([0.8, 0.9])


def test_sgd_momentum_accumulates_a_velocity():
    # buf1 = 2 -> p = 1 - 0.1*2 = 0.8; buf2 = 0.9*2 + 1 = 2.8 -> p = 0.8 - 0.28 = 0.52
    assert _run({"name": "sgd", "lr": 0.1, "momentum": 0.9}, [2.0, 1.0]) == pytest.approx([0.8, 0.52])


def test_nesterov_looks_ahead_along_the_velocity():
    # step1: buf = 2, step = 2 + 0.9*2 = 3.8 -> 0.62; step2: buf = 2.8, step = 1 + 2.52 = 3.52 -> 0.268
    trace = _run({"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True}, [2.0, 1.0])
    assert trace == pytest.approx([0.62, 0.268])


def test_adagrad_divides_by_the_root_of_the_summed_squares():
    # sum = 4 -> p = 1 - 0.1 * 2/2 = 0.9; sum = 5 -> p = 0.9 - 0.1 * 1/sqrt(5)
    trace = _run({"name": "adagrad", "lr": 0.1, "eps": 0.0}, [2.0, 1.0])
    assert trace == pytest.approx([0.9, 0.9 - 0.1 / math.sqrt(5)])


def test_rmsprop_divides_by_the_root_of_a_decaying_average():
    # avg = 0.1*4 = 0.4 -> p = 1 - 0.01*2/sqrt(0.4); avg = 0.9*0.4 + 0.1*1 = 0.46
    trace = _run({"name": "rmsprop", "lr": 0.01, "decay": 0.9, "eps": 0.0}, [2.0, 1.0])
    p1 = 1 - 0.01 * 2 / math.sqrt(0.4)
    assert trace == pytest.approx([p1, p1 - 0.01 / math.sqrt(0.46)])


def test_adam_first_steps_follow_the_bias_corrected_rule():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    m = v = 0.0
    expected, p = [], 1.0
    for t, g in enumerate([2.0, -1.0, 0.5], start=1):
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        p -= lr / (1 - b1**t) * m / (math.sqrt(v) / math.sqrt(1 - b2**t) + eps)
        expected.append(p)
    assert _run({"name": "adam", "lr": lr}, [2.0, -1.0, 0.5]) == pytest.approx(expected, rel=1e-12)
    # the first Adam step moves by lr whatever the gradient's size
    assert _run({"name": "adam", "lr": lr}, [1234.0]) == pytest.approx([0.9])


def test_l2_and_l1_add_their_gradients_to_weights():
    p, g = np.array([2.0, -3.0]), np.zeros(2)
    apply_penalty(np, p, g, l1=0.5, l2=0.1)
    assert g.tolist() == pytest.approx([0.1 * 2 + 0.5, 0.1 * -3 - 0.5])


def test_regularization_never_touches_biases():
    from dl_lab.core import Sequential, TrainStep, get_loss

    model = Sequential([{"dense": {"units": 2, "bias_init": {"name": "constant", "value": 1.0}}}], (3,), seed=0)
    step = TrainStep(model, get_loss("mse"), make_optimizer({"name": "sgd", "lr": 0.5}), l2=1.0, l1=1.0)
    x = np.zeros((4, 3), dtype=np.float32)
    y = model.forward(x)  # targets equal to the outputs: the data gradient is zero
    w_before = model.layers[0].weight.data.copy()
    step(x, y)
    assert model.layers[0].bias.data.tolist() == [1.0, 1.0]
    assert np.allclose(model.layers[0].weight.data, w_before - 0.5 * (w_before + np.sign(w_before)))


def test_gradient_clipping_rescales_to_the_maximum_norm():
    g = np.array([3.0, 4.0])
    assert clip_grad_norm(np, g, 1.0) == 5.0
    assert np.linalg.norm(g) == pytest.approx(1.0, rel=1e-5)
    small = np.array([0.3, 0.4])
    clip_grad_norm(np, small, 1.0)
    assert small.tolist() == [0.3, 0.4]


@pytest.mark.parametrize(
    "config,epoch,expected",
    [
        ("constant", 7, 0.1),
        ({"name": "step", "step_size": 3, "gamma": 0.5}, 7, 0.1 * 0.25),
        ({"name": "exponential", "gamma": 0.9}, 2, 0.1 * 0.81),
        ({"name": "inverse_time", "decay_rate": 1.0, "decay_steps": 2}, 4, 0.1 / 3),
        ({"name": "cosine"}, 5, 0.05),
        ({"name": "cosine", "eta_min": 0.01}, 10, 0.01),
    ],
)
def test_learning_rate_schedules(config, epoch, expected):
    assert Schedule(0.1, config, epochs=10).lr_at(epoch) == pytest.approx(expected)


def test_optimizer_options_are_checked_with_their_path():
    with pytest.raises(ConfigError, match=r"optimizer\.lr: expected a number > 0, got -1"):
        make_optimizer({"name": "sgd", "lr": -1})
    with pytest.raises(ConfigError, match=r"unknown option 'betas'.*valid options: lr, beta1, beta2, eps"):
        make_optimizer({"name": "adam", "betas": [0.9, 0.99]})
    with pytest.raises(ConfigError, match=r"did you mean 'adam'"):
        make_optimizer({"name": "adma"})
