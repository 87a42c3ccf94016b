"""Why a run diverged (dl_lab.sessions.training.diagnosis): where the numbers first broke, the likely cause, and
what to try, on real tiny models and on real diverging runs."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from dl_lab.sessions import RunFailed, StepEnded, Trainer, session_from_dict
from dl_lab.sessions.training.diagnosis import explain

TINY = {
    "name": "tiny",
    "seed": 3,
    "data": {"dataset": "circle", "samples": 120, "noise": 0.1},
    "model": [{"dense": {"units": 8, "activation": "relu"}}, {"dropout": {"p": 0.2}}, {"dense": {"units": 2}}],
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 2, "batch_size": 16},  # 96 training samples -> 6 batches per epoch
    "monitor": {"every_steps": 0},
}


def session(**changes):
    spec = copy.deepcopy(TINY)
    spec.update(changes)
    return session_from_dict(spec)


def trainer(**changes) -> Trainer:
    return Trainer(session(**changes))


def param(model, key):
    return dict(model.named_parameters())[key]


def diagnose(t: Trainer, recent=(0.7, 0.6), loss_value=float("nan")):
    """explain() as the trainer calls it, for a failure at epoch 2, step 9, batch 3 of 6."""
    return explain(t.config, t.model, list(recent), loss_value, 2, 9, 3, t.steps_per_epoch)


# --- where the numbers broke ---------------------------------------------------------------------


def test_a_nan_in_a_layers_weights_is_named_by_index_kind_and_parameter():
    t = trainer()
    param(t.model, "2.weight").data[1, 3] = np.nan  # model[2] is the output dense layer
    message, _, _ = diagnose(t)
    assert message.endswith("; the first non-finite values are in model[2].dense weight weights")


def test_an_infinite_bias_gradient_is_named_as_a_gradient():
    t = trainer()
    param(t.model, "0.bias").grad[5] = np.inf
    message, _, _ = diagnose(t)
    assert message.endswith("the first non-finite values are in model[0].dense bias gradients")


def test_the_earliest_broken_layer_in_model_order_is_the_one_named():
    t = trainer()
    param(t.model, "2.weight").data[0, 0] = np.nan
    param(t.model, "0.bias").grad[0] = -np.inf
    message, _, _ = diagnose(t)
    assert "model[0].dense bias gradients" in message and "model[2]" not in message


def test_a_layers_weights_are_named_before_its_own_gradients():
    t = trainer()
    p = param(t.model, "2.bias")
    p.data[0], p.grad[1] = np.inf, np.nan
    message, _, _ = diagnose(t)
    assert message.endswith("model[2].dense bias weights")


def test_a_broken_layer_inside_a_residual_block_is_named_by_its_block():
    block = {"residual": {"layers": [{"dense": {"units": 8, "activation": "relu"}}, {"dense": {"units": 8}}]}}
    t = trainer(model=[{"dense": {"units": 8}}, block, {"dense": {"units": 2}}])
    param(t.model, "1.1.weight").data[0, 0] = np.nan  # the second dense layer of the block at model[1]
    message, _, _ = diagnose(t)
    where = message.split("the first non-finite values are in ")[1]
    assert where.startswith("model[1.1]") and "residual" in where and where.endswith("weight weights")


def test_a_model_with_finite_numbers_gets_no_location():
    t = trainer()
    message, _, _ = diagnose(t, loss_value=3.14e10)
    assert message == "the loss became 3.14e+10 (exploded) at epoch 2, step 9 (batch 3 of 6)"


@pytest.mark.parametrize(
    ("value", "said"),
    [(float("nan"), "NaN"), (float("inf"), "infinite"), (float("-inf"), "infinite"), (2.53e11, "2.53e+11 (exploded)")],
)
def test_the_message_says_what_the_loss_became_and_when(value, said):
    message, _, _ = diagnose(trainer(), loss_value=value)
    assert message == f"the loss became {said} at epoch 2, step 9 (batch 3 of 6)"


# --- the likely cause ----------------------------------------------------------------------------


def test_a_loss_that_grew_tenfold_is_blamed_on_the_learning_rate():
    # finite losses 0.8, 0.5, 6: the last (6) is more than 10 x the smallest (0.5 -> 5); the NaN is skipped
    _, cause, _ = diagnose(trainer(), recent=[0.8, 0.5, 6.0, float("nan")])
    assert cause.startswith("the loss grew from 0.5 to 6 over the last 3 steps: the learning rate 0.1 is too high")
    assert "for sgd" in cause


def test_a_loss_that_grew_exactly_tenfold_does_not_count_as_growing():
    # 5 is not more than 10 x 0.5, so the fall-back cause applies; 5.01 is
    _, cause, _ = diagnose(trainer(), recent=[0.5, 5.0])
    assert not cause.startswith("the loss grew")
    _, cause, _ = diagnose(trainer(), recent=[0.5, 5.01])
    assert cause.startswith("the loss grew from 0.5 to 5.01 over the last 2 steps")


def test_one_finite_loss_is_not_enough_to_call_it_growth():
    _, cause, _ = diagnose(trainer(), recent=[0.5, float("inf"), float("nan")])
    assert cause.startswith("the updates overflowed")


def test_unnormalized_inputs_are_blamed_when_the_loss_did_not_grow():
    t = trainer(data={**TINY["data"], "normalize": "none"})
    _, cause, advice = diagnose(t, recent=[0.7, 0.65, 0.6])
    assert cause.startswith("the inputs are not normalized (data.normalize: none)")
    assert "normalize the inputs: --set data.normalize=standard" in advice


def test_growth_is_blamed_before_unnormalized_inputs_but_normalizing_is_still_advised():
    t = trainer(data={**TINY["data"], "normalize": "none"})
    _, cause, advice = diagnose(t, recent=[0.7, 9.0])
    assert cause.startswith("the loss grew from 0.7 to 9")
    assert "normalize the inputs: --set data.normalize=standard" in advice


def test_without_growth_or_raw_inputs_the_cause_is_an_overflowing_update():
    _, cause, _ = diagnose(trainer(), recent=[0.7, 0.69, 0.71])
    assert cause == "the updates overflowed: the learning rate 0.1 is likely too high for sgd, or a gradient spiked"


# --- what to try ---------------------------------------------------------------------------------


def test_the_advice_for_sgd_is_a_tenth_of_the_rate_clipping_and_adam():
    _, _, advice = diagnose(trainer(optimizer={"name": "sgd", "lr": 0.5}))
    assert advice == [
        "lower optimizer.lr to 0.05 (dl-lab run ... --set optimizer.lr=0.05)",  # 0.5 / 10
        "clip the gradient: --set training.clip_norm=1.0",
        "an adaptive optimizer: --set 'optimizer={name: adam, lr: 0.001}'",
    ]


def test_the_advice_for_adam_does_not_suggest_adam():
    _, cause, advice = diagnose(trainer(optimizer={"name": "adam", "lr": 0.02}))
    assert "for adam" in cause
    assert advice == [
        "lower optimizer.lr to 0.002 (dl-lab run ... --set optimizer.lr=0.002)",  # 0.02 / 10
        "clip the gradient: --set training.clip_norm=1.0",
    ]


# --- real diverging runs -------------------------------------------------------------------------


def test_a_run_with_a_huge_learning_rate_fails_naming_the_growth_and_the_rate():
    events = list(trainer(optimizer={"name": "sgd", "lr": 1.0e6}).run())
    failed = events[-1]
    assert isinstance(failed, RunFailed)
    steps = [e for e in events if isinstance(e, StepEnded)]
    # the failing step is the one after the last good one; its loss was finite but beyond 1e10 ("exploded")
    assert failed.step == len(steps) + 1 and failed.epoch == 1
    assert f"at epoch 1, step {failed.step} (batch {failed.step} of 6)" in failed.message
    assert "(exploded)" in failed.message
    assert f"the loss grew from {min(e.loss for e in steps):.3g}" in failed.cause
    assert "the learning rate 1e+06 is too high for sgd" in failed.cause
    # a tenth of 1e6 would still diverge: capped at 0.1 for sgd
    assert failed.advice[0] == "lower optimizer.lr to 0.1 (dl-lab run ... --set optimizer.lr=0.1)"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point of the test
def test_a_run_whose_loss_turns_nan_names_a_layer_and_an_overflowing_update():
    # with lr 1e30, one SGD step makes weights around 1e29; the next forward pass overflows float32 -> NaN loss
    events = list(trainer(optimizer={"name": "sgd", "lr": 1.0e30}).run())
    failed = events[-1]
    assert isinstance(failed, RunFailed)
    assert failed.message.startswith(f"the loss became NaN at epoch 1, step {failed.step}")
    assert "the first non-finite values are in model[" in failed.message
    assert failed.cause.startswith("the updates overflowed: the learning rate 1e+30 is likely too high for sgd")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_nan_loss_from_finite_weights_does_not_blame_the_weights():
    t = trainer(optimizer={"name": "sgd", "lr": 1.0e30})
    finite_before = True
    for e in t.run():
        if isinstance(e, StepEnded):
            finite_before = bool(np.isfinite(t.model.params).all())
    assert isinstance(e, RunFailed) and finite_before  # the weights were finite going into the failing step
    assert "weights" not in e.message.split("at epoch")[1]
