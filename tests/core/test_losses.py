"""Losses: closed-form values, finite-difference gradients, stability on huge logits, fused output activations."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from gradient_helper import assert_close_gradient, numeric_gradient

from dl_lab.core import LOSS_NAMES, ConfigError, Sequential, TrainStep, get_loss, make_optimizer

RNG = np.random.default_rng(0)
TARGETS = {
    "mse": RNG.standard_normal((4, 3)),
    "mae": RNG.standard_normal((4, 3)),
    "cross_entropy": np.array([0, 2, 1, 2]),
    "bce": np.array([0, 1, 1, 0]),
    "hinge": np.array([0, 2, 1, 2]),
    "perceptron": np.array([0, 1, 1, 0]),
    "lms": np.array([-1, 1, 1, -1]),
}


def _outputs(name):
    cols = 1 if name in ("bce", "perceptron", "lms") else 3
    return np.random.default_rng(1).standard_normal((4, cols)) * 2.0


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_gradient_matches_finite_differences(name):
    loss, target = get_loss(name), TARGETS[name]
    out = _outputs(name)
    _, analytic = loss(out, target)
    numeric = numeric_gradient(lambda o: float(loss(o, target)[0]), out.copy())
    assert_close_gradient(analytic, numeric)


def test_binary_hinge_gradient_matches_finite_differences():
    loss, out, t = get_loss("hinge"), np.array([[0.3], [-2.0], [0.7], [1.5]]), np.array([1, 0, 0, 1])
    _, analytic = loss(out, t)
    assert_close_gradient(analytic, numeric_gradient(lambda o: float(loss(o, t)[0]), out.copy()))


def test_cross_entropy_accepts_one_hot_targets_with_the_same_result():
    out, ids = _outputs("cross_entropy"), TARGETS["cross_entropy"]
    a, ga = get_loss("cross_entropy")(out, ids)
    b, gb = get_loss("cross_entropy")(out, np.eye(3)[ids])
    assert float(a) == pytest.approx(float(b)) and np.allclose(ga, gb)


def test_closed_form_values():
    assert float(get_loss("cross_entropy")(np.zeros((2, 4)), np.array([1, 3]))[0]) == pytest.approx(math.log(4))
    assert float(get_loss("bce")(np.zeros((3, 1)), np.array([0, 1, 1]))[0]) == pytest.approx(math.log(2))
    assert float(get_loss("mse")(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]]))[0]) == pytest.approx(5.0)
    assert float(get_loss("mae")(np.array([[1.0, -3.0]]), np.array([[0.0, 0.0]]))[0]) == pytest.approx(2.0)
    # binary hinge: labels 1, 0 -> +1, -1: max(0, 1 - 0.5) and max(0, 1 - 2) -> mean 0.25
    assert float(get_loss("hinge")(np.array([[0.5], [-2.0]]), np.array([1, 0]))[0]) == pytest.approx(0.25)
    # perceptron: only the wrong-side point counts: max(0, -(+1)(-3)) = 3, mean over 2 -> 1.5
    assert float(get_loss("perceptron")(np.array([[-3.0], [-1.0]]), np.array([1, 0]))[0]) == pytest.approx(1.5)


def test_mse_on_class_ids_compares_against_one_hot_rows():
    loss, grad = get_loss("mse")(np.array([[1.0, 0.0, 0.0]]), np.array([0]))
    assert float(loss) == 0.0 and not grad.any()


@pytest.mark.parametrize("name", ["cross_entropy", "bce"])
def test_huge_logits_give_finite_losses_without_warnings(name):
    out = np.array([[1e4, -1e4, 0.0]], dtype=np.float32) if name == "cross_entropy" else np.array([[1e4], [-1e4]])
    target = np.array([1]) if name == "cross_entropy" else np.array([0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, grad = get_loss(name)(out, target)
    assert np.isfinite(float(loss)) and float(loss) == pytest.approx(2e4 if name == "cross_entropy" else 1e4)
    assert np.isfinite(grad).all()


@pytest.mark.parametrize("loss_name,act", [("cross_entropy", "softmax"), ("bce", "sigmoid")])
def test_a_softmax_or_sigmoid_last_layer_gives_the_same_numbers_as_logits(loss_name, act):
    units = 3 if loss_name == "cross_entropy" else 1
    loss = get_loss(loss_name)
    plain = Sequential([{"dense": {"units": units}}], (4,), dtype="float64", seed=2, loss=loss)
    fused = Sequential([{"dense": {"units": units, "activation": act}}], (4,), dtype="float64", seed=2, loss=loss)
    x = np.random.default_rng(0).standard_normal((5, 4)) * 100
    t = np.array([0, 1, 2, 1, 0]) % (3 if units == 3 else 2)
    assert fused.fused == act
    assert float(loss(fused.forward(x), t)[0]) == float(loss(plain.forward(x), t)[0])
    assert fused.config() == [{"dense": {**plain.config()[0]["dense"], "activation": act}}]


def test_unknown_loss_names_suggest_the_closest():
    with pytest.raises(ConfigError, match=r"did you mean 'cross_entropy'"):
        get_loss("crossentropy")


def test_lms_is_half_the_mean_squared_error_against_plus_minus_one_labels():
    out, labels = np.array([[0.5], [-2.0], [3.0]]), np.array([1, 0, -1])  # 0 and -1 both read as -1
    value, grad = get_loss("lms")(out, labels)
    t = np.array([[1.0], [-1.0], [-1.0]])
    assert float(value) == pytest.approx(0.5 * np.mean((out - t) ** 2)) == pytest.approx((0.25 + 1 + 16) / 6)
    assert np.allclose(grad, (out - t) / 3)
    assert np.allclose(grad, numeric_gradient(lambda o: float(get_loss("lms")(o, labels)[0]), out.copy()))
    assert get_loss("lms").predict(out).tolist() == [1, 0, 1]
    with pytest.raises(ConfigError, match="lms: binary targets"):
        get_loss("lms")(out, np.array([1, 2, 0]))


def test_sgd_with_batch_one_on_lms_is_exactly_the_widrow_hoff_rule():
    rng = np.random.default_rng(3)
    model = Sequential([{"dense": {"units": 1}}], (3,), dtype="float64", seed=1)
    step = TrainStep(model, get_loss("lms"), make_optimizer({"name": "sgd", "lr": 0.05}))
    for x, t in zip(rng.standard_normal((5, 1, 3)), [1, 0, 0, 1, 1], strict=True):
        w, b = model.layers[0].weight.data.copy(), model.layers[0].bias.data.copy()
        s = float(x[0] @ w[0] + b[0])
        target = 1.0 if t == 1 else -1.0
        step(x, np.array([t]))
        # w <- w + eta (t - s) x, b <- b + eta (t - s): every point moves the line, even a correctly classified one
        assert np.allclose(model.layers[0].weight.data, w + 0.05 * (target - s) * x)
        assert np.allclose(model.layers[0].bias.data, b + 0.05 * (target - s))
