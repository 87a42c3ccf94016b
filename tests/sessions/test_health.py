"""Training diagnosed in plain words (sessions/training/health.py): each kind of finding from a crafted session that
shows it, none from its healthy twin, none from the presets that train well; once a run, recorded, replayed."""

from __future__ import annotations

import copy
import json

import pytest
from recorded import record

from dl_lab.sessions import Trainer, open_run, preset_session, session_from_dict
from dl_lab.sessions.events import Diagnosis, EpochEnded, SnapshotTaken, from_record, to_record
from dl_lab.sessions.runs.state import RunState
from dl_lab.sessions.runs.timeline import Timeline
from dl_lab.sessions.training.health import KINDS, HealthWatch

# Two classes on a plane, 160 training samples in 10 batches an epoch, a snapshot every 5 steps.
BASE = {
    "name": "health",
    "seed": 3,
    "data": {"dataset": "circle", "samples": 200, "noise": 0.1},
    "model": [{"dense": {"units": 16, "activation": "relu"}}, {"dense": {"units": 2}}],
    "optimizer": {"name": "sgd", "lr": 0.1},
    "training": {"epochs": 10, "batch_size": 16},
    "monitor": {"every_steps": 5},
}
OUT = {"dense": {"units": 2}}
SINE = {"data": {"dataset": "sine", "samples": 200}, "loss": "mse"}
SINE_MODEL = [{"dense": {"units": 16, "activation": "tanh"}}, {"dense": {"units": 1}}]


def spec(**changes) -> dict:
    out = copy.deepcopy(BASE)
    out.update(copy.deepcopy(changes))
    return out


def blocks(n: int) -> list:
    """n dense-batchnorm-relu blocks and a 2-logit output."""
    block = [{"dense": {"units": 16}}, {"batchnorm": {}}, {"activation": {"name": "relu"}}]
    return [copy.deepcopy(layer) for _ in range(n) for layer in block] + [{"dense": {"units": 2}}]


def stack(activation: str, n: int) -> list:
    return [{"dense": {"units": 16, "activation": activation}} for _ in range(n)] + [{"dense": {"units": 2}}]


DEEP = {"data": {"dataset": "circle", "samples": 100, "noise": 0.1}, "optimizer": {"name": "adam", "lr": 0.001}}
DEEP_RUN = {"training": {"epochs": 1, "batch_size": 16}, "monitor": {"every_steps": 1}}

# kind -> (a session that shows it, its twin that trains well)
CRAFTED = {
    # a bias of -5 under standardized inputs: every ReLU is negative on every sample from the start
    "dead_units": (
        spec(
            model=[{"dense": {"units": 16, "activation": "relu", "bias_init": {"name": "constant", "value": -5}}}, OUT]
        ),
        spec(),
    ),
    # weights 10x too large: tanh sees inputs of about +-14
    "saturation": (
        spec(model=[{"dense": {"units": 16, "activation": "tanh", "init": {"name": "normal", "std": 10}}}, OUT]),
        spec(model=[{"dense": {"units": 16, "activation": "tanh"}}, OUT], optimizer={"name": "adam", "lr": 0.05}),
    ),
    # sigmoid passes back at most a quarter of the gradient: 8 layers leave 1e-5 of it at the first
    "vanishing_gradients": (spec(model=stack("sigmoid", 8)), spec(model=stack("relu", 8), init="he_uniform")),
    # 40 dense-batchnorm-relu blocks: batchnorm's gradient grows layer by layer towards the input
    "exploding_gradients": (spec(model=blocks(40), **DEEP, **DEEP_RUN), spec(model=blocks(4), **DEEP, **DEEP_RUN)),
    # a linear model cannot separate a circle from its ring: it guesses
    "plateau": (
        spec(model=[{"dense": {"units": 2}}], optimizer={"name": "adam", "lr": 0.05}),
        spec(optimizer={"name": "adam", "lr": 0.05}),
    ),
    # 30 noisy training points, two wide layers: the validation loss turns up after the first epoch
    "overfitting": (
        spec(
            data={"dataset": "circle", "samples": 60, "noise": 0.35, "val_fraction": 0.5},
            model=[
                {"dense": {"units": 128, "activation": "relu"}},
                {"dense": {"units": 128, "activation": "relu"}},
                OUT,
            ],
            optimizer={"name": "adam", "lr": 0.01},
        ),
        spec(
            data={"dataset": "circle", "samples": 60, "noise": 0.35, "val_fraction": 0.5},
            optimizer={"name": "adam", "lr": 0.01},
            training={"epochs": 3, "batch_size": 16},
        ),
    ),
    "lr_too_high": (spec(optimizer={"name": "sgd", "lr": 10.0}), spec()),
    "lr_too_low": (
        spec(**SINE, model=SINE_MODEL, optimizer={"name": "sgd", "lr": 1e-4}),
        spec(**SINE, model=SINE_MODEL, optimizer={"name": "sgd", "lr": 0.1}),
    ),
}


def findings(data: dict) -> list[Diagnosis]:
    return [e for e in Trainer(session_from_dict(data)).run() if isinstance(e, Diagnosis)]


def test_every_kind_has_a_crafted_session():
    assert set(CRAFTED) == set(KINDS)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # lr 10 overflows an exp now and then
@pytest.mark.parametrize("kind", KINDS)
def test_a_crafted_session_shows_its_kind_with_evidence_and_advice_naming_a_setting(kind):
    found = {d.kind: d for d in findings(CRAFTED[kind][0])}
    assert kind in found, f"{kind} not found; found {sorted(found)}"
    d = found[kind]
    assert d.message and d.evidence and d.epoch >= 1 and d.step >= 1
    assert "--set " in d.advice, d.advice  # what to change, as `dl-lab run ... --set` takes it
    assert f"{kind.replace('_', ' ')}:" not in d.message, d.message  # the kind is told beside it, not again in it
    assert json.loads(json.dumps(to_record(d)))["event"] == "diagnosis"


@pytest.mark.parametrize("kind", KINDS)
def test_its_healthy_twin_shows_nothing(kind):
    assert findings(CRAFTED[kind][1]) == []


def test_each_kind_is_told_once_a_run_and_only_when_the_finding_holds():
    dead = {"dense": {"units": 16, "activation": "relu", "bias_init": {"name": "constant", "value": -5}}}
    found = findings(spec(model=[dead, {"dense": {"units": 2}}], training={"epochs": 10, "batch_size": 16}))
    kinds = [d.kind for d in found]
    assert len(kinds) == len(set(kinds)) and "dead_units" in kinds  # 20 snapshots of dead units, one finding
    # every unit dead and no gradient reaching the layer's weights: conclusive at the first snapshot (step 5)
    assert next(d for d in found if d.kind == "dead_units").step == 5


def _snapshot(step: int, dead: float) -> SnapshotTaken:
    activation = {"mean": 0.0, "std": 0.0, "histogram": {"counts": [], "lo": 0.0, "hi": 0.0}}
    row = {"index": 0, "kind": "dense", "activation": {**activation, "function": "relu", "dead_fraction": dead}}
    return SnapshotTaken(epoch=1, step=step, layers=[row])


def test_one_snapshot_is_not_enough_a_finding_must_hold_at_consecutive_ones():
    watch = HealthWatch(session_from_dict(spec()).config, classes=2)
    assert watch.snapshot(_snapshot(1, 1.0)) == []
    assert watch.snapshot(_snapshot(2, 0.0)) == []  # it cleared: the count starts again
    assert watch.snapshot(_snapshot(3, 0.9)) == []
    (found,) = watch.snapshot(_snapshot(4, 0.8))
    assert found.kind == "dead_units" and found.evidence["dead_fraction"] == 0.8
    assert watch.snapshot(_snapshot(5, 1.0)) == []  # told once


def _dead_layer(step: int, dead: float, grad_norm: float) -> SnapshotTaken:
    stats = {"norm": 1.0, "mean": 0.0, "std": 1.0, "histogram": {"counts": [], "lo": 0.0, "hi": 0.0}}
    row = _snapshot(step, dead).layers[0]
    return SnapshotTaken(epoch=1, step=step, layers=[{**row, "weight": stats, "grad": {**stats, "norm": grad_norm}}])


def test_a_layer_wholly_dead_with_no_gradient_is_conclusive_at_one_snapshot():
    # the default cadence (a snapshot every 200 steps) may take a single one in a short run
    watch = HealthWatch(session_from_dict(spec()).config, classes=2)
    (found,) = watch.snapshot(_dead_layer(200, 1.0, 0.0))
    assert found.kind == "dead_units" and found.evidence["grad_norm"] == 0.0
    partial = HealthWatch(session_from_dict(spec()).config, classes=2)
    assert partial.snapshot(_dead_layer(200, 0.9, 0.0)) == []  # a fraction still has to hold
    moving = HealthWatch(session_from_dict(spec()).config, classes=2)
    assert moving.snapshot(_dead_layer(200, 1.0, 0.3)) == []  # a gradient still reaches its weights


def _epoch(
    n: int, train: float, val: float, val_acc: float | None = None, train_acc: float | None = None
) -> EpochEnded:
    return EpochEnded(
        epoch=n,
        step=n,
        lr=0.1,
        train_loss=train,
        val_loss=val,
        time=0.0,
        train_samples_per_s=0.0,
        val_acc=val_acc,
        train_acc=train_acc,
    )


def _fed(config, trains, vals, val_acc=None, classes: int | None = 2) -> list[Diagnosis]:
    watch = HealthWatch(config, classes=classes)
    epochs = zip(trains, vals, strict=True)
    return [d for i, (t, v) in enumerate(epochs) for d in watch.epoch(_epoch(i + 1, t, v, val_acc))]


RELU_64 = [{"dense": {"units": 64, "activation": "relu"}}, {"dense": {"units": 64, "activation": "relu"}}, OUT]
# sgd at lr 2 on spiral (relu 64-64-2): the loss bounces around ln 2, the validation accuracy at chance
BOUNCING = [0.71, 0.71, 0.723, 0.698, 0.727, 0.708]


@pytest.mark.parametrize(
    ("optimizer", "losses", "advice"),
    [
        ({"name": "sgd", "lr": 2.0}, BOUNCING, "lower optimizer.lr to 0.1 "),  # above sgd's cap
        ({"name": "adam", "lr": 0.5}, [0.693] * 6, "lower optimizer.lr to 0.01 "),  # above adam's cap
        ({"name": "sgd", "lr": 0.05}, BOUNCING, "lower optimizer.lr to 0.005 "),  # below the cap, but oscillating
        ({"name": "sgd", "lr": 0.001}, [0.693] * 6, "raise optimizer.lr to 0.01 "),  # a timid step at ln 2
        ({"name": "adam", "lr": 0.005}, [0.693] * 6, "raise optimizer.lr to 0.01 "),  # raised at most to the cap
    ],
)
def test_plateau_advice_lowers_a_learning_rate_that_is_high_or_oscillating_and_raises_only_a_timid_one(
    optimizer, losses, advice
):
    config = session_from_dict(spec(model=RELU_64, optimizer=optimizer)).config
    (found,) = _fed(config, losses, losses, val_acc=0.5)
    assert found.kind == "plateau" and found.advice.startswith(advice), found.advice
    assert advice.startswith("raise") or "raise" not in found.advice


def test_plateau_advice_initializes_for_the_activation_in_use():
    flat = [0.693] * 6
    (sigmoid,) = _fed(session_from_dict(spec(model=stack("sigmoid", 4), init="he_uniform")).config, flat, flat, 0.5)
    assert "--set init=glorot_uniform" in sigmoid.advice and "he_uniform" not in sigmoid.advice
    (relu,) = _fed(session_from_dict(spec(model=RELU_64)).config, flat, flat, 0.5)
    assert "--set init=he_uniform" in relu.advice


def test_overfitting_wants_a_model_that_learned_something_and_no_plateau_alongside():
    config = session_from_dict(spec()).config
    rising = [0.70, 0.69, 0.75, 0.80, 0.85]
    # the training loss fell, but stayed above ln 2 at chance accuracy: nothing learned, nothing memorized
    assert _fed(config, [0.80, 0.79, 0.78, 0.76, 0.74], rising, val_acc=0.5) == []
    # the same near ln 2: a plateau, and no overfitting told along with it
    assert [d.kind for d in _fed(config, [0.75, 0.74, 0.72, 0.70, 0.69], rising, val_acc=0.5)] == ["plateau"]
    # learned (0.3 < 0.8 ln 2): overfitting
    assert [d.kind for d in _fed(config, [0.6, 0.5, 0.4, 0.35, 0.3], rising, val_acc=0.7)] == ["overfitting"]


def test_the_perceptron_criterion_and_small_margin_losses_raise_no_learning_rate_alarm():
    # the perceptron criterion's value is the weights' size (lr scales it from a zero init): its bounces are no
    # overshoot; hinge's scale is at least what an all-zero output scores (1), not a first epoch that learned much
    bounces = [6e-4, 5.9e-4, 5.5e-4, 3.9e-4, 7e-4, 5e-4, 6.6e-4, 4e-4, 6e-4]
    one = [{"dense": {"units": 1}}]
    for loss in ("perceptron", "hinge"):
        config = session_from_dict(spec(model=one, loss=loss, init="zeros")).config
        assert _fed(config, bounces, bounces, val_acc=0.94) == [], loss


def _saturated(step: int) -> SnapshotTaken:
    activation = {"mean": 0.0, "std": 0.0, "histogram": {"counts": [], "lo": 0.0, "hi": 0.0}}
    hidden = {"index": 0, "kind": "dense", "activation": {**activation, "function": "tanh", "saturated_fraction": 0.9}}
    output = {"index": 1, "kind": "dense", "activation": {**activation, "function": "identity"}}
    stats = {"norm": 1.0, "mean": 0.0, "std": 1.0, "histogram": {"counts": [], "lo": 0.0, "hi": 0.0}}
    return SnapshotTaken(epoch=1, step=step, layers=[{**hidden, "weight": stats}, {**output, "weight": stats}])


def test_saturation_counts_while_the_model_has_learned_little_not_once_it_is_sure():
    config = session_from_dict(spec()).config
    learning = HealthWatch(config, classes=2)
    learning.epoch(_epoch(1, 0.69, 0.69, 0.5))  # what guessing scores: saturated units are stuck ones
    assert learning.snapshot(_saturated(1)) == [] and learning.snapshot(_saturated(2))[0].kind == "saturation"
    learned = HealthWatch(config, classes=2)
    learned.epoch(_epoch(1, 0.1, 0.1, 0.99))  # a confident classifier's tanh units saturate where it is sure
    assert learned.snapshot(_saturated(1)) == [] and learned.snapshot(_saturated(2)) == []


def test_overfitting_wants_a_clear_rise_of_the_validation_loss_while_the_training_loss_falls():
    def run(vals, trains):
        watch = HealthWatch(session_from_dict(spec()).config, classes=2)
        return [
            d.kind for i, (t, v) in enumerate(zip(trains, vals, strict=True)) for d in watch.epoch(_epoch(i + 1, t, v))
        ]

    falling = [0.6, 0.4, 0.3, 0.2, 0.1]
    assert run([0.6, 0.3, 0.4, 0.45, 0.5], falling) == ["overfitting"]
    assert run([0.6, 0.3, 0.31, 0.31, 0.32], falling) == []  # within a tenth of its best: noise
    assert run([0.6, 0.3, 0.4, 0.45, 0.5], [0.6, 0.4, 0.5, 0.5, 0.5]) == []  # the training loss rose too
    assert run([0.6, 0.01, 0.03, 0.04, 0.05], falling) == []  # a tenth of what it had gained: 0.059


def test_a_plateau_takes_the_blame_from_a_too_low_learning_rate():
    # a flat loss at ln 2 with chance accuracy is a plateau (whose advice names the optimizer), not lr_too_low
    watch = HealthWatch(session_from_dict(spec()).config, classes=2)
    kinds = [d.kind for n in range(1, 9) for d in watch.epoch(_epoch(n, 0.693, 0.693, 0.5))]
    assert kinds == ["plateau"]


# The presets that train well, in full (digits_mlp in 20 epochs of its 40: 97% from epoch 10 on).
WELL_TRAINING = {
    "spiral": {},
    "xor": {},
    "circle_width": {},
    "perceptron": {},
    "logistic_regression": {},
    "sine": {},
    "digits_mlp": {"training.epochs": 20},
    "mcculloch_pitts": {},  # a step unit: nothing moves, nothing is wrong
    "xor_by_hand": {},  # the exact solution: the loss is 0 from the start
    "adaline": {},
    "lenet5_digits": {"training.epochs": 10},
    "residual": {},
}


def test_the_perceptron_rule_on_the_adaline_data_raises_no_alarm():
    # its losses are about 6e-4 and bounce: no sign of a learning rate too high (lowering it changes nothing)
    session = preset_session("adaline").with_overrides(["loss=perceptron"])
    assert [e for e in Trainer(session).run() if isinstance(e, Diagnosis)] == []


@pytest.mark.parametrize("name", WELL_TRAINING)
def test_the_presets_that_train_well_raise_no_alarm(name):
    session = preset_session(name).with_overrides([f"{k}={v}" for k, v in WELL_TRAINING[name].items()])
    events = list(Trainer(session).run())
    assert [e for e in events if isinstance(e, Diagnosis)] == []
    # it did train well: the median of the last five epochs (one epoch's dip is a matter of float rounding: the
    # residual preset's last epoch went from 1.0 to 0.945 when the dense GEMMs changed order)
    last = [e.val_acc if e.val_acc is not None else e.val_r2 for e in events if isinstance(e, EpochEnded)][-5:]
    assert sorted(last)[len(last) // 2] >= 0.95, last


def test_a_finding_is_recorded_in_metrics_jsonl_and_replayed_into_the_run_state(tmp_path):
    run_dir = record(tmp_path / "run", session_from_dict(CRAFTED["dead_units"][0]))
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    (line,) = [r for r in lines if r["event"] == "diagnosis" and r["kind"] == "dead_units"]
    assert {"kind", "epoch", "step", "evidence", "advice", "message"} <= set(line)
    assert isinstance(from_record(line), Diagnosis)
    events = open_run(run_dir).events()  # the records check their types: a diagnosis line passes
    timeline = Timeline(events)
    assert [d.kind for d in timeline.state_at(len(timeline)).diagnoses] == ["dead_units", "plateau"]
    assert timeline.state_at(0).diagnoses == []
    at = events.index(next(e for e in events if isinstance(e, Diagnosis)))
    assert timeline.next_stop(at - 1) > at  # a finding joins its snapshot's group: stepping lands after it


def test_the_run_state_keeps_one_finding_a_kind_when_a_resumed_run_finds_it_again():
    state = RunState()
    first = Diagnosis(kind="plateau", epoch=5, step=50, message="m", evidence={}, advice="a")
    again = Diagnosis(kind="plateau", epoch=9, step=90, message="m", evidence={}, advice="a")
    state.apply(first)
    state.apply(again)
    assert state.diagnoses == [again]


def test_a_rate_at_the_optimizers_cap_is_never_called_too_low():
    # sgd at 0.1 (its cap): a loss that creeps for a while (a run like that on spiral then reaches 98.5%) is not
    # the rate's fault; the same creep at sgd 0.02 is a rate too low, and the advice never goes past the cap
    creeping = [0.9, 0.85, 0.83, 0.822, 0.82, 0.819]
    at_cap = session_from_dict(spec(model=RELU_64, optimizer={"name": "sgd", "lr": 0.1})).config
    assert [d.kind for d in _fed(at_cap, creeping, creeping, val_acc=0.65)] == []
    timid = session_from_dict(spec(model=RELU_64, optimizer={"name": "sgd", "lr": 0.02})).config
    (found,) = _fed(timid, creeping, creeping, val_acc=0.65)
    assert found.kind == "lr_too_low" and found.advice.startswith("raise optimizer.lr to 0.1 "), found.advice


def test_the_watch_keeps_a_bounded_history_and_still_finds_a_best_epoch_long_past():
    # a long run's memory stays flat: the watch keeps a few slim epochs, yet the overfitting check compares with the
    # best validation loss however long ago it was (epoch 2 here, 400 epochs before the rise)
    from dataclasses import replace

    from dl_lab.sessions.training.health import KEPT_EPOCHS

    watch = HealthWatch(session_from_dict(spec()).config, classes=2)
    vals = [0.6, 0.3] + [0.31] * 400 + [0.45, 0.5]
    found = []
    for i, v in enumerate(vals):
        train = 0.5 - 0.4 * i / len(vals)
        event = replace(_epoch(i + 1, train, v, val_acc=0.8, train_acc=0.8), confusion=[[40, 10], [10, 40]])
        found += watch.epoch(event)
    assert [d.kind for d in found] == ["overfitting"]
    assert found[0].evidence["best_epoch"] == 2 and found[0].evidence["best_val_loss"] == 0.3
    assert found[0].epoch == len(vals) - 1  # told when the rise became clear, at 0.45
    assert len(watch.epochs) <= KEPT_EPOCHS and all(e.confusion is None for e in watch.epochs)
