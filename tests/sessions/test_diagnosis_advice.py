"""The remedy a divergence suggests (a learning rate that trains, not only a tenth of one far too high) and what a
RunState knows of the failure: the step that failed and its loss, as the failure box reports them."""

from __future__ import annotations

import pytest

from dl_lab.sessions import RunFailed, StepEnded, Trainer, session_from_dict
from dl_lab.sessions.runs.state import RunState
from dl_lab.sessions.training.diagnosis import explain, failed_loss, loss_words, suggested_lr

TINY = {
    "name": "tiny",
    "seed": 3,
    "data": {"dataset": "circle", "samples": 120, "noise": 0.1},
    "model": [{"dense": {"units": 8, "activation": "relu"}}, {"dense": {"units": 2}}],
    "optimizer": {"name": "adam", "lr": 10.0},
    "training": {"epochs": 2, "batch_size": 16},
    "monitor": {"every_steps": 0},
}


def advice_for(optimizer: dict) -> list[str]:
    t = Trainer(session_from_dict({**TINY, "optimizer": optimizer}))
    return explain(t.config, t.model, [0.7, 0.6], float("nan"), 1, 11, 11, t.steps_per_epoch)[2]


@pytest.mark.parametrize(
    ("name", "lr", "expected"),
    [
        ("adam", 10.0, 0.01),  # a tenth (1) still trains spiral to ~60%: capped at 0.01
        ("adam", 0.02, 0.002),  # a tenth, below the cap
        ("rmsprop", 5.0, 0.01),
        ("sgd", 10.0, 0.1),  # a tenth (1) is far too high for sgd: capped at 0.1
        ("sgd", 0.5, 0.05),
    ],
)
def test_the_suggested_rate_is_a_tenth_capped_per_optimizer(name, lr, expected):
    assert suggested_lr(name, lr) == pytest.approx(expected)


def test_the_first_remedy_after_adam_at_lr_10_is_0_01_not_1():
    advice = advice_for({"name": "adam", "lr": 10.0})
    assert advice[0] == "lower optimizer.lr to 0.01 (dl-lab run ... --set optimizer.lr=0.01)"


def test_the_first_remedy_after_sgd_at_lr_10_is_0_1():
    advice = advice_for({"name": "sgd", "lr": 10.0})
    assert advice[0] == "lower optimizer.lr to 0.1 (dl-lab run ... --set optimizer.lr=0.1)"


@pytest.mark.parametrize(
    ("value", "words"), [(float("nan"), "NaN"), (float("inf"), "infinite"), (3.2e12, "3.2e+12 (exploded)")]
)
def test_the_failing_loss_is_read_back_from_the_message(value, words):
    assert loss_words(value) == words
    message = f"the loss became {words} at epoch 1, step 11 (batch 11 of 6)"
    assert failed_loss(message) == words.split(" ")[0]


def test_a_diverged_run_state_names_the_failing_step_and_loss():
    session = session_from_dict({**TINY, "optimizer": {"name": "sgd", "lr": 1.0e6}})
    state = RunState()
    for event in Trainer(session).run():
        state.apply(event)
    failed = state.end
    assert isinstance(failed, RunFailed) and state.failure is failed
    steps = [s for s, _ in state.steps]
    assert failed.step == (steps[-1] if steps else 0) + 1  # the failing step never made a StepEnded
    loss = failed_loss(failed.message)
    assert loss is not None
    assert state.divergence_note() == f"diverged at step {failed.step}: loss {loss}"


def test_a_run_that_did_not_fail_has_no_divergence_note():
    state = RunState()
    state.apply(StepEnded(epoch=1, step=1, batch=1, loss=0.5, lr=0.1, time=0.1))
    assert state.failure is None and state.divergence_note() is None
