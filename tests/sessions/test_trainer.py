"""The trainer's event stream: order, metrics, monitoring, failures, early stopping, and exact resumption."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.sessions import (
    EpochEnded,
    Recorder,
    RunCancelled,
    RunEnded,
    RunFailed,
    RunStarted,
    SnapshotTaken,
    StepEnded,
    Trainer,
    load_resume,
)


def kinds(events):
    return [e.event for e in events]


def test_events_come_in_order_with_one_epoch_event_per_epoch(small_session):
    trainer = Trainer(small_session())
    events = list(trainer.run())
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunEnded)
    steps = [e for e in events if isinstance(e, StepEnded)]
    epochs = [e for e in events if isinstance(e, EpochEnded)]
    assert [e.epoch for e in epochs] == [1, 2, 3, 4]
    assert len(steps) == 4 * trainer.steps_per_epoch == events[-1].steps
    assert [e.step for e in steps] == list(range(1, len(steps) + 1))
    assert sum(isinstance(e, SnapshotTaken) for e in events) == len(steps) // 5
    assert events[-1].status == "completed" and events[-1].final["epoch"] == 4


def test_epoch_metrics_are_consistent_with_the_model(small_session):
    trainer = Trainer(small_session())
    last = [e for e in trainer.run() if isinstance(e, EpochEnded)][-1]
    ds, loss = trainer.dataset, trainer.loss
    out = trainer.model.forward(ds.x_val)
    assert last.val_loss == pytest.approx(float(loss(out, ds.y_val)[0]), rel=1e-5)
    assert last.val_acc == pytest.approx(float((loss.predict(out) == ds.y_val).mean()))
    cm = np.array(last.confusion)
    assert cm.sum() == len(ds.y_val) and np.trace(cm) / cm.sum() == pytest.approx(last.val_acc)
    assert 0 <= last.train_acc <= 1 and last.train_samples_per_s > 0


def test_snapshots_describe_every_layer_and_the_decision_map(small_session):
    trainer = Trainer(small_session())
    snap = next(e for e in trainer.run() if isinstance(e, SnapshotTaken))
    assert [row["kind"] for row in snap.layers] == ["dense", "dropout", "dense"]
    first = snap.layers[0]
    assert sum(first["activation"]["histogram"]["counts"]) == 24 * 8  # the whole validation split x units
    assert 0 <= first["activation"]["dead_fraction"] <= 1
    assert first["weight"]["norm"] > 0 and first["grad"]["norm"] > 0 and first["update_ratio"] > 0
    b = snap.boundary
    assert b["kind"] == "probability" and len(b["values"]) == b["resolution"] ** 2 == 1024


def test_regression_epochs_report_mae_and_r2(small_session):
    s = small_session(**{"data": "{dataset: sine, samples: 100}", "model[2]": "{dense: {units: 1}}", "loss": "mse"})
    last = [e for e in Trainer(s).run() if isinstance(e, EpochEnded)][-1]
    assert last.val_acc is None and last.val_mae > 0 and last.val_r2 <= 1.0 and last.train_r2 is not None


def test_a_diverging_run_fails_with_an_explanation(small_session):
    s = small_session(optimizer="{name: sgd, lr: 1.0e+6}")
    events = list(Trainer(s).run())
    failed = events[-1]
    assert isinstance(failed, RunFailed)
    assert "at epoch 1" in failed.message and "learning rate" in failed.cause
    assert any("optimizer.lr" in tip for tip in failed.advice)


def test_early_stopping_ends_the_run_when_the_metric_stalls(small_session):
    s = small_session(training__epochs=50, training__early_stopping="{metric: val_loss, patience: 2, min_delta: 10.0}")
    events = list(Trainer(s).run())
    assert events[-1].status == "stopped_early" and events[-1].epochs_done == 3


def test_the_learning_rate_follows_the_schedule_and_can_be_changed_live(small_session):
    s = small_session(training__schedule="{name: step, step_size: 2, gamma: 0.5}")
    lrs = [e.lr for e in Trainer(s).run() if isinstance(e, EpochEnded)]
    assert lrs == pytest.approx([0.02, 0.02, 0.01, 0.01])
    trainer = Trainer(s)
    seen = []
    for e in trainer.run():
        if isinstance(e, StepEnded):
            seen.append(e.lr)
            if e.step == 3:
                trainer.set_lr(0.123)
    assert seen[2] == 0.02 and set(seen[3:]) == {0.123}


def test_the_same_session_gives_the_same_numbers_twice(small_session):
    drop = ("time", "train_samples_per_s", "wall_time", "train_time")

    def timeless(d):
        return {k: timeless(v) if isinstance(v, dict) else v for k, v in d.items() if k not in drop}

    def numbers(trainer):
        return [timeless(vars(e)) for e in trainer.run()]

    a, b = Trainer(small_session()), Trainer(small_session())
    assert numbers(a) == numbers(b)
    assert np.array_equal(a.model.params, b.model.params)


@pytest.mark.parametrize("stop_at", [7, 16])  # mid-epoch, and exactly at an epoch boundary
def test_an_interrupted_run_resumes_to_the_same_weights(small_session, tmp_path, stop_at):
    full = Trainer(small_session())
    for _ in full.run():
        pass
    first = Trainer(small_session())
    with Recorder(tmp_path, first) as rec:
        for e in first.run(should_stop=lambda: first.progress.step >= stop_at):
            rec.record(e)
    assert isinstance(e, RunCancelled) and e.step == stop_at
    assert (tmp_path / "checkpoints" / "last.npz").exists()
    resumed = Trainer(small_session())
    load_resume(resumed, tmp_path)
    with Recorder(tmp_path, resumed, resume=True) as rec:
        for e in resumed.run():
            rec.record(e)
    assert isinstance(e, RunEnded) and e.steps == full.progress.step
    assert np.array_equal(resumed.model.params, full.model.params)
    assert resumed.optimizer.t == full.optimizer.t


def test_a_stopped_runs_optimizer_state_is_kept_row_major_per_parameter(small_session, tmp_path):
    # as the checkpoints: the file does not depend on the engine keeping dense weights transposed, and a run stopped
    # by a version that kept them row-major resumes with its moments where they belong
    first = Trainer(small_session())
    with Recorder(tmp_path, first) as rec:
        for e in first.run(should_stop=lambda: first.progress.step >= 5):
            rec.record(e)
    model, state = first.model, first.optimizer.state
    with np.load(tmp_path / "resume" / "optimizer.npz", allow_pickle=False) as saved:
        assert set(saved.files) == {"state.exp_avg", "state.exp_avg_sq"}
        for name, flat in state.items():
            for _, p in model.named_parameters():
                part = saved[f"state.{name}"][p.offset : p.offset + p.size]
                np.testing.assert_array_equal(part.reshape(p.shape), p.view(flat))
    assert any(p.transposed for _, p in model.named_parameters())
    resumed = Trainer(small_session())
    load_resume(resumed, tmp_path)
    for name, flat in state.items():
        np.testing.assert_array_equal(resumed.optimizer.state[name], flat)


def test_statistics_of_a_diverging_tensor_describe_its_finite_values():
    from dl_lab.sessions.training.stats import describe

    stats = describe(np.array([1.0, 2.0, np.nan, np.inf, 3.0, 1e30, 1e30], dtype=np.float32)[:5], 4)
    assert stats["mean"] == 2.0 and sum(stats["histogram"]["counts"]) == 3
    huge = describe(np.array([1e30, 1e30], dtype=np.float32), 4)
    assert huge["norm"] == pytest.approx(2**0.5 * 1e30, rel=1e-5) and huge["histogram"]["counts"][0] == 2


def test_segment_statistics_match_numpy_on_each_segment():
    from dl_lab.sessions.training.stats import describe_segments

    rng = np.random.default_rng(0)
    parts = [rng.standard_normal(50).astype(np.float32), np.tanh(rng.standard_normal(30)).astype(np.float32)]
    stats = describe_segments(np.concatenate(parts), [50, 30], 10, [None, (-1.0, 1.0)])
    for part, s, (lo, hi) in zip(
        parts, stats, [(part.min(), part.max()) for part in parts[:1]] + [(-1, 1)], strict=True
    ):
        assert s["mean"] == pytest.approx(part.mean(), rel=1e-5) and s["std"] == pytest.approx(part.std(), rel=1e-4)
        assert s["norm"] == pytest.approx(np.linalg.norm(part), rel=1e-5)
        expected, _ = np.histogram(part, bins=10, range=(lo, hi))
        assert s["histogram"]["counts"] == expected.tolist()
