"""Watching a run: the pace it keeps, the weights it sends with its steps, and the app's copy of the model that
computes pictures from them (checked against the trainer's own forward pass and the monitor's boundary)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from dl_lab.sessions import Trainer
from dl_lab.sessions.events import RunEnded, StepEnded
from dl_lab.sessions.training.live import (
    PACES,
    LiveModel,
    LiveWeights,
    Pace,
    default_pace,
    faster,
    slower,
)
from dl_lab.sessions.training.monitor import describe_boundary, plane_inputs
from dl_lab.sessions.training.process_worker import ProcessController
from dl_lab.sessions.training.thread_worker import TrainingController

WORKERS = [TrainingController, ProcessController]


class Events:
    def __init__(self) -> None:
        self.items: list = []
        self.done = threading.Event()

    def __call__(self, event) -> None:
        self.items.append(event)
        if isinstance(event, (RunEnded, BaseException)):
            self.done.set()


def test_the_pace_ladder_goes_from_slow_motion_to_full_speed_and_back():
    assert slower(None) == PACES[-1] and faster(PACES[-1]) is None
    assert slower(PACES[0]) == PACES[0]
    rate, seen = PACES[0], [PACES[0]]
    while rate is not None:
        rate = faster(rate)
        seen.append(rate)
    assert seen == [*PACES, None]


def test_a_pace_spaces_the_batches_and_a_late_run_does_not_rush():
    pace = Pace(50.0)
    start = time.monotonic()
    for _ in range(11):
        time.sleep(pace.delay())
    assert time.monotonic() - start >= 10 / 50 - 0.01
    time.sleep(0.3)  # far behind (a pause): the next batch waits a whole interval, not none for many
    assert pace.delay() == 0.0
    assert pace.delay() == pytest.approx(1 / 50, abs=0.01)
    pace.set(None)
    assert pace.delay() == 0.0


def test_small_models_on_a_plane_are_watched_and_others_train_at_full_speed(small_session):
    started = Trainer(small_session()).started()
    assert default_pace(started, has_picture=True) is not None
    assert default_pace(started, has_picture=False) is None


@pytest.mark.parametrize("cls", WORKERS)
def test_a_paced_run_sends_its_weights_with_every_step_and_the_last_ones_are_the_final_checkpoint(
    cls, small_session, tmp_path
):
    session = small_session(training__epochs=2)
    got = Events()
    controller = cls(session, got, run_dir=tmp_path / "run")
    first = controller.initial_weights()
    assert isinstance(first, LiveWeights) and first.step == 0
    controller.set_pace(25.0)  # under FRAMES_PER_S: every step is delivered
    start = time.monotonic()
    controller.start()
    assert got.done.wait(60), got.items[-3:]
    elapsed = time.monotonic() - start
    controller.join(30)
    steps = [e for e in got.items if isinstance(e, StepEnded)]
    weights = [e for e in got.items if isinstance(e, LiveWeights)]
    total = 2 * controller.started().steps_per_epoch
    assert len(steps) == total and elapsed >= (total - 1) / 25  # every batch, at 25 a second
    assert [w.step for w in weights[:-1]] == [s.step for s in steps]  # each step followed by its weights
    assert got.items.index(weights[-1]) == len(got.items) - 2  # then the final ones, just before the end
    with np.load(tmp_path / "run" / "checkpoints" / "final.npz", allow_pickle=False) as final:
        model = LiveModel(session, controller.dataset)
        model.load(weights[-1])
        for key, p in model.model.named_parameters():
            np.testing.assert_array_equal(p.data, final[key])
    assert not np.array_equal(first.params, weights[-1].params)


@pytest.mark.parametrize("cls", WORKERS)
def test_a_paced_run_pauses_at_once_and_full_speed_finishes_it(cls, small_session, tmp_path):
    got = Events()
    controller = cls(small_session(training__epochs=50), got, run_dir=tmp_path / "run")
    controller.set_pace(5.0)  # 400 batches at 5 a second would take 80 s
    controller.start()
    time.sleep(0.5)
    controller.pause()
    time.sleep(0.5)
    paused_at = len([e for e in got.items if isinstance(e, StepEnded)])
    time.sleep(0.5)
    assert len([e for e in got.items if isinstance(e, StepEnded)]) == paused_at <= 5
    assert isinstance(got.items[-1], LiveWeights)  # the weights it paused with
    controller.set_pace(None)
    controller.resume()
    assert got.done.wait(60)
    controller.join(30)


def test_the_live_model_computes_what_the_trainer_computes(small_session):
    trainer = Trainer(small_session())
    for event in trainer.run():
        if isinstance(event, StepEnded) and event.step == 10:
            break
    from dl_lab.sessions.training.live import LiveFeed

    sent = LiveFeed(trainer, Pace()).weights(1, 10)
    live = LiveModel(small_session(), trainer.dataset)
    live.load(sent)
    x = trainer.dataset.x_val[:20]
    np.testing.assert_allclose(live.layer_outputs(x)[-1], trainer.model.forward(x, training=False), rtol=1e-6)
    # the boundary at any resolution is the monitor's description of the model's output on that grid
    grid, bounds = plane_inputs(trainer.dataset, 24)
    expected = describe_boundary(
        trainer.model.backend, trainer.model.forward(grid, training=False), trainer.loss, bounds, 24
    )
    assert live.boundary(24) == expected
    assert len(live.boundary(40)["values"]) == 40 * 40
