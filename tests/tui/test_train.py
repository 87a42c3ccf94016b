"""The training screen driven with keys: start, pause, step, stop, reset, learning rate, and what the panes show."""

from __future__ import annotations

import json

from lab_runs import recorded_steps, tap, tiny_session, wait_for

from dl_lab.sessions.events import EpochEnded, RunEnded, RunStarted, SnapshotTaken, StepEnded
from dl_lab.sessions.training.metrics import SAMPLE_COUNT
from dl_lab.tui.app import make_app
from dl_lab.tui.messages import RunEventsReceived
from dl_lab.tui.screens.train import TrainScreen, next_lr
from dl_lab.tui.widgets import DecisionMap, LineChart


def series(chart: LineChart) -> dict[str, int]:
    return {s.name: len(s.xs) for s in chart.data.series} if chart.data else {}


def train_app(session, tmp_path):
    """The app opened on the training screen (the build screen is not needed here)."""
    return make_app(session, runs_root=tmp_path, mode="train")


async def open_train(pilot) -> TrainScreen:
    screen = pilot.app.screen
    assert isinstance(screen, TrainScreen)
    await wait_for(pilot, lambda: screen.controller is not None, what="the session to be prepared")
    return screen


async def test_space_trains_the_session_and_every_pane_fills(tmp_path):
    app = train_app(tiny_session(), tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_train(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.controller.state == "finished", what="the run to finish")
        # the worker finishes before its last events reach the screen, which then redraws every pane at once
        await wait_for(pilot, lambda: screen.state.end is not None, what="the run's end on the screen")
        loss = series(screen.query_one("#pane-loss LineChart", LineChart))
        assert loss["train"] == loss["val"] == 3 and loss["batch"] > 0
        assert series(screen.query_one("#pane-quality LineChart", LineChart))["val"] == 3
        assert set(series(screen.query_one("#weight-norms", LineChart))) == {"0 dense", "1 dense", "2 dense"}
        assert screen.query_one("#pane-data DecisionMap", DecisionMap).data.kind is not None
        status = str(screen.query_one("#status").render())
        assert "epoch 3/3" in status and "completed" in status
        assert (screen.controller.run_dir / "checkpoints" / "final.npz").exists()
        assert screen.controller.run_dir.parent == tmp_path


async def test_training_events_arrive_as_messages_in_their_order(tmp_path):
    batches = []

    def hook(message):
        if isinstance(message, RunEventsReceived):
            batches.append(message)

    app = train_app(tiny_session(), tmp_path)
    async with app.run_test(message_hook=hook) as pilot:
        screen = await open_train(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.state.end is not None, what="the end of the run")
    seen = [type(event) for message in batches for event in message.events]
    recorded = [json.loads(line)["event"] for line in (screen.controller.run_dir / "metrics.jsonl").open()]
    assert seen[0] is RunStarted and seen[-1] is RunEnded
    assert seen.count(EpochEnded) == recorded.count("epoch") == 3  # epoch events are never dropped
    assert seen.count(SnapshotTaken) == recorded.count("snapshot") == 3 * 6 // 4
    assert 0 < seen.count(StepEnded) <= recorded.count("step")  # steps are throttled to about ten a second
    assert len(batches) < len(seen)  # events that arrive together travel together
    assert [type(e) for e in screen.state.epochs] == [EpochEnded] * 3


async def test_pause_stops_the_steps_and_step_trains_exactly_one_batch(tmp_path):
    app = train_app(tiny_session(training__epochs=2000), tmp_path)
    async with app.run_test() as pilot:
        screen = await open_train(pilot)
        await tap(pilot, "space")
        await wait_for(pilot, lambda: screen.state.step > 20, what="some steps")
        await tap(pilot, "space")
        assert screen.controller.state == "paused"
        run_dir = screen.controller.run_dir
        await wait_for(
            pilot,
            lambda: screen.state.step == recorded_steps(run_dir),
            what="the screen to show the step the worker paused at",
        )
        paused_at = recorded_steps(run_dir)  # what the worker (a thread or a process) has really trained
        await pilot.pause(0.3)  # no condition to wait for: a while in which a running worker would train on
        assert recorded_steps(run_dir) == paused_at
        assert screen.state.step == paused_at  # the throttled step was delivered on pausing
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.step == paused_at + 1, what="one more step")
        await pilot.pause(0.3)  # no condition to wait for: a while in which a second batch would be trained
        assert recorded_steps(run_dir) == paused_at + 1
        assert screen.controller.state == "paused"
        assert "paused" in str(screen.query_one("#status").render())


async def test_stop_saves_a_checkpoint_that_resumes(tmp_path):
    app = train_app(tiny_session(training__epochs=2000), tmp_path)
    async with app.run_test() as pilot:
        screen = await open_train(pilot)
        await tap(pilot, "space")
        await wait_for(pilot, lambda: screen.state.step > 10, what="some steps")
        await tap(pilot, "x")
        await wait_for(pilot, lambda: screen.state.end is not None, what="the cancellation")
        run_dir = screen.controller.run_dir
        assert (run_dir / "checkpoints" / "last.npz").exists()
        assert (run_dir / "resume").is_dir()
        assert "stopped" in str(screen.query_one("#status").render())


async def test_reset_starts_over_with_a_fresh_model_and_empty_panes(tmp_path):
    app = train_app(tiny_session(training__epochs=300), tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_train(pilot)
        await tap(pilot, "space")
        await wait_for(pilot, lambda: screen.state.epoch >= 2, what="two epochs")
        first = screen.controller
        await tap(pilot, "R")
        await wait_for(pilot, lambda: screen.controller not in (None, first), what="a new controller")
        await wait_for(pilot, lambda: not first.alive, what="the first run's worker to end")
        assert not first.alive and first.state == "finished"
        assert screen.controller.state == "idle"
        assert screen.state.epochs == [] and screen.state.steps == []
        assert series(screen.query_one("#pane-loss LineChart", LineChart)) == {"train": 0, "val": 0}
        await tap(pilot, "space")
        await wait_for(pilot, lambda: screen.state.step > 0, what="the new run's steps")
        assert screen.controller.run_dir != first.run_dir


async def test_plus_minus_and_l_set_the_learning_rate_the_steps_then_use(tmp_path):
    app = train_app(tiny_session(training__epochs=2000), tmp_path)
    async with app.run_test() as pilot:
        screen = await open_train(pilot)
        controller = screen.controller
        assert controller.lr == 0.03
        await pilot.press("plus")
        assert controller.lr == next_lr(0.03, up=True) == 0.1
        await pilot.press("minus", "minus")
        assert controller.lr == 0.01
        await pilot.press("l", *"0.002", "enter")  # the prompt opens with the current rate selected
        assert controller.lr == 0.002
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.state.last_step is not None, what="a step")
        assert screen.state.lr == 0.002
        status = screen.query_one("#status")
        await wait_for(pilot, lambda: "lr 0.002" in str(status.render()), what="the status line's rate")


async def test_a_diverging_run_explains_itself_on_the_screen(tmp_path):
    session = tiny_session(optimizer__lr=1e12, data__normalize="none", training__epochs=50)
    app = train_app(session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_train(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.state.end is not None, what="the failure")
        failure = screen.query_one("#failure")
        await wait_for(pilot, lambda: failure.display, what="the failure panel")
        assert failure.display
        text = str(failure.render())
        assert "diverged" in text and "Why:" in text and "lower optimizer.lr" in text
        assert "l sets the learning rate" in text  # what to press here, not only the command line
        first = screen.controller
        await pilot.press("l", *"0.01", "enter")
        assert app.session.spec["optimizer"]["lr"] == 0.01  # kept: the next run (and the build screen) use it
        await tap(pilot, "space")
        await wait_for(pilot, lambda: screen.controller is not first and screen.state.step > 0, what="a new run")
        assert screen.controller.lr == 0.01 and not failure.display


async def test_space_is_run_or_pause_in_the_footer_as_the_run_stands(tmp_path):
    app = train_app(tiny_session(training__epochs=2000), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_train(pilot)

        def shown():
            return {b.action for _, b, enabled, _ in screen.active_bindings.values() if b.key == "space" and enabled}

        assert shown() == {"run"}
        await pilot.press("space")
        await wait_for(pilot, lambda: shown() == {"pause"}, what="Pause in the footer")
        await tap(pilot, "space")
        assert screen.controller.state == "paused"
        await wait_for(pilot, lambda: shown() == {"run"}, what="Run in the footer again")


async def test_a_regression_run_names_its_panes_before_its_first_epoch(tmp_path):
    session = tiny_session(
        **{
            "data": "{dataset: sine, samples: 100}",
            "loss": "mse",
            "model": "[{dense: {units: 8, activation: tanh}}, {dense: {units: 1}}]",
        }
    )
    app = train_app(session, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_train(pilot)
        await wait_for(
            pilot,
            lambda: "R²" in str(screen.query_one("#pane-strip").render()),
            what="the pane strip to name the regression panes",
        )
        strip = str(screen.query_one("#pane-strip").render())
        assert "R²" in strip and "Layer stats" in strip and "Accuracy" not in strip and "Confusion" not in strip


async def test_v_shows_one_pane_at_a_time_on_a_small_terminal(tmp_path):
    app = train_app(tiny_session(), tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_train(pilot)

        def displayed() -> list[str]:
            return [p.id for p in screen.query(".run-pane") if p.display]

        await wait_for(pilot, lambda: displayed() == ["pane-data"], what="the data pane alone")
        shown = [p.id for p in screen.query(".run-pane") if p.display]
        assert shown == ["pane-data"]
        await pilot.press("v")
        await wait_for(pilot, lambda: displayed() == ["pane-network"], what="the network pane alone")
        assert [p.id for p in screen.query(".run-pane") if p.display] == ["pane-network"]
        await pilot.press("V", "V")
        await wait_for(pilot, lambda: displayed() == ["pane-projection"], what="the last pane alone")
        assert [p.id for p in screen.query(".run-pane") if p.display] == ["pane-projection"]


async def test_the_grid_shows_every_pane_on_a_large_terminal_and_z_zooms_one(tmp_path):
    app = train_app(tiny_session(), tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_train(pilot)
        await wait_for(
            pilot,
            lambda: all(p.display and p.region.area for p in screen.query(".run-pane")),
            what="every pane laid out in the grid",
        )
        panes = list(screen.query(".run-pane"))
        assert all(p.display for p in panes)
        data, network = screen.query_one("#pane-data"), screen.query_one("#pane-network")
        # Playground's two pictures side by side on top, the largest two panes
        largest = sorted(panes, key=lambda p: p.region.area)[-2:]
        assert set(largest) == {data, network} and data.region.y == network.region.y
        assert data.region.height >= 20 and data.region.width >= 2 * (data.region.height - 3)  # room for a square
        await pilot.press("z")
        await wait_for(pilot, lambda: [p.id for p in panes if p.display] == ["pane-data"], what="the zoomed data pane")
        assert [p.id for p in panes if p.display] == ["pane-data"]


async def test_images_show_validation_samples_with_their_labels(tmp_path):
    session = tiny_session(
        **{
            "data": "{dataset: digits, samples: 200}",
            "training.epochs": 1,
            "model": "[{flatten: {}}, {dense: {units: 10}}]",
            "monitor.every_steps": 0,
        }
    )
    app = train_app(session, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_train(pilot)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.state.end is not None, what="the run")
        grid = screen.query_one("#pane-data ImageGrid")
        await wait_for(pilot, lambda: grid.display and grid.data is not None, what="the validation images")
        assert grid.display and grid.data is not None
        shown = min(SAMPLE_COUNT, len(screen.controller.dataset.y_val))
        assert len(grid.data.captions) == shown and "(" in grid.data.captions[0]
        # the mistakes first, marked, then the right ones
        ok = list(grid.data.correct)
        assert ok == sorted(ok)
        assert all(c.startswith("✗") != right for c, right in zip(grid.data.captions, ok, strict=True))


async def test_a_setup_that_trains_but_not_as_meant_is_named_before_the_run(tmp_path):
    # batchnorm, and a training split whose last batch holds one sample: the warning names the fix
    session = tiny_session().with_overrides(
        ["model=[{dense: {units: 4}}, {batchnorm: {}}, {dense: {units: 2}}]", "training.batch_size=5"]
    )
    app = train_app(session, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_train(pilot)
        n = screen.state.started.train_size
        assert n % 5 == 1, f"the tiny session's training split ({n}) no longer leaves one sample over"
        await wait_for(
            pilot,
            lambda: any(n.title == "Before you train" for n in app._notifications),
            what="the warning before training",
        )
        assert any("training.drop_last" in n.message for n in app._notifications)
