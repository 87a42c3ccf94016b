"""Engine fixes where dl-lab parted from PyTorch (or from itself): binary labels, checkpoint buffers, Nesterov
without momentum, one-sample batchnorm batches (training.drop_last), leaky_relu at 0, float32 tails of sigmoid,
softplus and elu, and a NaN validation loss. Each test failed before its fix."""

from __future__ import annotations

import copy
from dataclasses import fields

import numpy as np
import pytest

from dl_lab.core import ACTIVATIONS, ConfigError, Sequential, get_loss, make_optimizer
from dl_lab.sessions import RunEnded, RunFailed, RunStarted, SessionError, Trainer, session_from_dict
from dl_lab.sessions.config import schema
from dl_lab.sessions.config.typed import TrainingConfig
from dl_lab.sessions.training.diagnosis import explain

SCORES = np.array([[0.3], [-0.2], [1.5], [0.4]])


# --- 1. hinge and perceptron: labels 0/1 or -1/+1 -------------------------------------------------------------
def test_binary_hinge_reads_minus_one_plus_one_labels_as_keras_does():
    # Keras: mean(max(0, 1 - y s)) with y in {-1, +1}: (0.7 + 0.8 + 0 + 1.4) / 4
    value, grad = get_loss("hinge")(SCORES, np.array([1, -1, 1, -1]))
    assert float(value) == pytest.approx(0.725, abs=1e-12)
    np.testing.assert_allclose(grad.ravel(), [-0.25, 0.25, 0.0, 0.25])


@pytest.mark.parametrize("name", ["hinge", "perceptron"])
def test_zero_one_and_signed_labels_give_the_same_loss_and_gradient(name):
    loss = get_loss(name)
    a, ga = loss(SCORES, np.array([1, 0, 1, 0]))
    b, gb = loss(SCORES, np.array([1.0, -1.0, 1.0, -1.0]))
    assert float(a) == float(b)
    np.testing.assert_array_equal(ga, gb)


@pytest.mark.parametrize("name", ["hinge", "perceptron"])
@pytest.mark.parametrize("labels", [[1, 2, 0, 1], [0.5, 1, 0, 1], [-2, 1, 0, 1]])
def test_other_binary_labels_are_refused_with_a_clear_error(name, labels):
    with pytest.raises(ConfigError, match=rf"^{name}: binary targets must be 0/1 or -1/\+1, got "):
        get_loss(name)(SCORES, np.array(labels))


# --- 2. load_state_dict copies batchnorm's running statistics ---------------------------------------------------
BN_SPECS = [{"dense": {"units": 3}}, {"batchnorm": {}}, {"dense": {"units": 2}}]


def test_load_state_dict_copies_running_statistics():
    state = Sequential(BN_SPECS, (4,), dtype="float64", seed=0).state_dict()
    before = copy.deepcopy(state)
    a = Sequential(BN_SPECS, (4,), dtype="float64", seed=1)
    b = Sequential(BN_SPECS, (4,), dtype="float64", seed=2)
    a.load_state_dict(state)
    b.load_state_dict(state)
    a.forward(np.random.default_rng(0).standard_normal((8, 4)) * 5 + 3, training=True)
    for key in ("1.running_mean", "1.running_var"):
        np.testing.assert_array_equal(state[key], before[key])  # the caller's dict is untouched
        np.testing.assert_array_equal(dict(b.named_buffers())[key], before[key])  # and so is the other model
        assert not np.array_equal(dict(a.named_buffers())[key], before[key])  # the trained one moved


# --- 3. Nesterov needs momentum ----------------------------------------------------------------------------------
def test_nesterov_without_momentum_is_refused():
    with pytest.raises(ConfigError, match=r"^optimizer\.nesterov: .*momentum"):
        make_optimizer({"name": "sgd", "nesterov": True})
    make_optimizer({"name": "sgd", "nesterov": True, "momentum": 0.9})  # fine


def test_a_session_with_nesterov_and_no_momentum_names_the_key():
    with pytest.raises(SessionError, match=r"optimizer\.nesterov"):
        session_from_dict({**TINY, "optimizer": {"name": "sgd", "lr": 0.1, "nesterov": True}})


# --- 4. one-sample batchnorm batches: training.drop_last and a warning ------------------------------------------
TINY = {
    "name": "tiny",
    "seed": 3,
    "data": {"dataset": "circle", "samples": 120, "noise": 0.1},  # 96 training samples
    "model": [{"dense": {"units": 8}}, {"batchnorm": {}}, {"activation": {"name": "relu"}}, {"dense": {"units": 2}}],
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 1, "batch_size": 19},  # 96 = 5 * 19 + 1: the last batch holds one sample
    "monitor": {"every_steps": 0},
}


def tiny(**training):
    spec = copy.deepcopy(TINY)
    spec["training"].update(training)
    return session_from_dict(spec)


def test_drop_last_is_a_training_option_of_the_schema_and_the_typed_session():
    assert schema.TRAINING["drop_last"].default is False and schema.TRAINING["drop_last"].help
    assert "drop_last" in {f.name for f in fields(TrainingConfig)}
    assert tiny().config.training.drop_last is False
    assert tiny(drop_last=True).config.training.drop_last is True


def test_a_one_sample_last_batch_under_batchnorm_warns_naming_the_sizes_and_drop_last():
    started = Trainer(tiny()).started()
    assert isinstance(started, RunStarted) and len(started.warnings) == 1
    warning = started.warnings[0]
    assert "model[1]" in warning and "96 samples" in warning and "batch_size is 19" in warning
    assert "training.drop_last" in warning


def test_drop_last_drops_the_one_sample_batch_and_silences_the_warning():
    trainer = Trainer(tiny(drop_last=True))
    assert trainer.steps_per_epoch == 5 and trainer.started().warnings == []
    sizes = [len(y) for _, y in trainer._batches(0, 0)]
    assert sizes == [19] * 5
    events = list(trainer.run())
    assert isinstance(events[-1], RunEnded) and events[-1].steps == 5


def test_no_warning_without_batchnorm_or_with_a_full_last_batch():
    assert Trainer(tiny(batch_size=16)).started().warnings == []
    spec = copy.deepcopy(TINY)
    spec["model"] = [{"dense": {"units": 8, "activation": "relu"}}, {"dense": {"units": 2}}]
    assert Trainer(session_from_dict(spec)).started().warnings == []


def test_batches_with_drop_last():
    trainer = Trainer(tiny())
    ds = trainer.dataset
    assert ds.num_batches("train", 19) == 6 and ds.num_batches("train", 19, drop_last=True) == 5
    rng = np.random.default_rng
    kept = [y for _, y in ds.batches("train", 19, shuffle=True, rng=rng(4), drop_last=True)]
    every = [y for _, y in ds.batches("train", 19, shuffle=True, rng=rng(4))]
    assert len(kept) == 5 and len(every) == 6 and len(every[-1]) == 1
    for a, b in zip(kept, every[:5], strict=True):
        np.testing.assert_array_equal(a, b)


def test_drop_last_with_fewer_samples_than_a_batch_is_refused():
    with pytest.raises(ConfigError, match=r"training\.drop_last"):
        Trainer(tiny(batch_size=200, drop_last=True))


def test_batchnorm_keeps_its_running_statistics_on_a_one_sample_batch():
    model = Sequential([{"batchnorm": {}}], (3,), dtype="float64")
    model.forward(np.array([[1.0, -2.0, 5.0]]), training=True)
    buffers = dict(model.named_buffers())
    np.testing.assert_array_equal(buffers["0.running_var"], np.ones(3))
    np.testing.assert_array_equal(buffers["0.running_mean"], np.zeros(3))


# --- 5. leaky_relu's derivative at 0 -------------------------------------------------------------------------
def test_leaky_relu_derivative_at_zero_is_the_negative_slope_as_in_pytorch():
    act = ACTIVATIONS["leaky_relu"]
    x = np.array([-1.0, 0.0, 1.0])
    d = act.backward(np.ones(3), x, act.forward(x, alpha=0.2), alpha=0.2)
    np.testing.assert_array_equal(d, [0.2, 0.2, 1.0])


# --- 6. float32 precision in the negative tail -------------------------------------------------------------------
def _reference(name, x):
    x = x.astype(np.float64)
    sig = np.exp(-np.logaddexp(0.0, -x))
    if name == "sigmoid":
        return sig, sig * np.exp(-np.logaddexp(0.0, x))  # s (1 - s), 1 - s = sigmoid(-x)
    if name == "softplus":
        return np.logaddexp(0.0, x), sig
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0))), np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)))


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "elu"])
def test_float32_values_and_derivatives_keep_relative_precision_in_the_negative_tail(name):
    act = ACTIVATIONS[name]
    x = np.linspace(-30.0, -0.01, 3000).astype(np.float32)
    y = act.forward(x)
    d = act.backward(np.ones_like(x), x, y)
    assert y.dtype == d.dtype == np.float32
    ry, rd = _reference(name, x)
    assert np.max(np.abs(y - ry) / np.abs(ry)) <= 1e-6
    assert np.max(np.abs(d - rd) / np.abs(rd)) <= 1e-6


def test_sigmoid_is_exact_at_the_ends_and_silent_on_huge_inputs():
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = ACTIVATIONS["sigmoid"].forward(np.array([-1e4, -800.0, 0.0, 800.0, 1e4]))
    np.testing.assert_array_equal(y, [0.0, 0.0, 0.5, 1.0, 1.0])


# --- 7. a NaN validation loss fails the run; the divergence advice knows about clip_norm -----------------------
def test_a_nan_validation_loss_ends_the_run_with_run_failed():
    trainer = Trainer(tiny(batch_size=16))
    trainer.dataset.x_val[0, 0] = np.nan  # the training split stays finite
    events = list(trainer.run())
    assert not any(isinstance(e, RunEnded) for e in events)
    failed = events[-1]
    assert isinstance(failed, RunFailed) and failed.epoch == 1
    assert failed.message.startswith("the validation loss became NaN at the end of epoch 1")
    assert failed.advice


def test_the_advice_suggests_a_smaller_clip_norm_when_one_is_set():
    trainer = Trainer(tiny(batch_size=16, clip_norm=0.5))
    _, _, advice = explain(trainer.config, trainer.model, [0.7, 0.6], float("nan"), 1, 3, 3, 6)
    assert not any("clip_norm=1.0" in tip for tip in advice)
    assert any("training.clip_norm=0.05" in tip for tip in advice)
    _, _, advice = explain(Trainer(tiny()).config, trainer.model, [0.7, 0.6], float("nan"), 1, 3, 3, 6)
    assert any("training.clip_norm=1.0" in tip for tip in advice)
