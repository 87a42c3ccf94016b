"""The replay screen: a recorded run in the training panes, a timeline to play and scrub, pictures that repeat."""

from __future__ import annotations

import pytest
from lab_runs import record_run, tiny_session, wait_for

from dl_lab.sessions import Recorder, Trainer, load_resume, open_run
from dl_lab.sessions.events import EpochEnded, RunCancelled, SnapshotTaken, StepEnded
from dl_lab.sessions.runs.timeline import Timeline
from dl_lab.tui.app import make_app
from dl_lab.tui.screens.replay import SPEEDS, ReplayScreen, watchable_speed
from dl_lab.tui.widgets import ConfusionMatrix, DecisionMap, Histogram, LineChart


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 3-epoch run recorded once for the module (18 steps, a snapshot every 4, clock readings frozen)."""
    return record_run(tmp_path_factory.mktemp("runs") / "tiny-run")


def series(chart: LineChart) -> dict[str, int]:
    return {s.name: len(s.xs) for s in chart.data.series} if chart.data else {}


async def open_replay(pilot) -> ReplayScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReplayScreen), what="the replay screen")
    await pilot.pause()
    return pilot.app.screen


def test_the_timeline_stops_once_per_snapshot_or_epoch_group(tiny_run):
    events = open_run(tiny_run).events()
    timeline = Timeline(events)
    assert timeline.stops[-1] == len(events)
    for stop in timeline.stops:
        assert not isinstance(events[stop - 1], StepEnded)
    # step 12 ends epoch 2 and takes a snapshot: one group, one stop
    at_12 = [i for i, e in enumerate(events) if getattr(e, "step", None) == 12 and not isinstance(e, StepEnded)]
    assert {type(events[i]) for i in at_12} == {SnapshotTaken, EpochEnded}
    assert max(at_12) + 1 in timeline.stops and min(at_12) + 1 not in timeline.stops
    assert timeline.next_stop(0) == timeline.stops[0] and timeline.previous_stop(timeline.stops[0]) == 0


def test_going_back_rebuilds_the_same_state_as_going_forward(tiny_run):
    timeline = Timeline(open_run(tiny_run).events())

    def counts(cursor):
        state = timeline.state_at(cursor)
        return len(state.epochs), state.snapshots, len(state.steps)

    cursors = range(len(timeline) + 1)
    forward = [counts(c) for c in cursors]
    backward = [counts(c) for c in reversed(cursors)]
    assert forward == backward[::-1]
    assert forward[-1] == (3, 4, 18)


async def test_replay_opens_at_the_end_with_every_pane_drawn(tiny_run, tmp_path):
    app = make_app(replay_dir=tiny_run, runs_root=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_replay(pilot)
        assert screen.cursor == len(screen.timeline) and not screen.playing
        assert series(screen.query_one("#pane-loss LineChart", LineChart))["val"] == 3
        assert screen.query_one("#pane-data DecisionMap", DecisionMap).data.train is not None  # points reloaded
        assert "epoch 3/3" in str(screen.query_one("#timeline").render())


async def test_moving_the_timeline_shows_the_run_as_it_was_then(tiny_run, tmp_path):
    app = make_app(replay_dir=tiny_run, runs_root=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_replay(pilot)
        loss = screen.query_one("#pane-loss LineChart", LineChart)
        norms = screen.query_one("#weight-norms", LineChart)
        await pilot.press("home")
        assert screen.cursor == 0 and series(loss) == {"train": 0, "val": 0}
        await pilot.press("right")  # the first snapshot, at step 4
        assert screen.timeline.state_at(screen.cursor).step == 4
        assert series(norms) == {"0 dense": 1, "1 dense": 1, "2 dense": 1}
        await pilot.press("right")  # epoch 1 ends at step 6
        assert series(loss)["val"] == 1 and series(norms)["0 dense"] == 1
        await pilot.press("right", "right")  # the snapshot at step 8; then epoch 2 and a snapshot at step 12
        assert series(loss)["val"] == 2 and series(norms)["0 dense"] == 3
        first_map = screen.query_one("#pane-data DecisionMap", DecisionMap).data
        await pilot.press("left", "right")
        assert screen.query_one("#pane-data DecisionMap", DecisionMap).data.cls.tolist() == first_map.cls.tolist()
        await pilot.press("end")
        assert series(loss)["val"] == 3 and "completed" in str(screen.query_one("#timeline").render())


async def test_space_plays_from_the_start_and_speed_keys_change_the_pace(tiny_run, tmp_path):
    app = make_app(replay_dir=tiny_run, runs_root=tmp_path)
    async with app.run_test() as pilot:
        screen = await open_replay(pilot)
        duration = screen.timeline.duration  # 0.18 s of recorded clock
        first = screen.speed
        assert first < 1.0 and 5 < duration / first < 40  # a short run is slowed down enough to watch it
        i = SPEEDS.index(first)
        await pilot.press("greater_than_sign", "greater_than_sign")
        assert screen.speed == SPEEDS[i + 2]
        await pilot.press(*["less_than_sign"] * (i + 5))
        assert screen.speed == SPEEDS[0]  # the slowest, not below
        await pilot.press(*["greater_than_sign"] * SPEEDS.index(0.5))
        assert screen.speed == 0.5 and "0.5x" in str(screen.query_one("#timeline").render())
        await pilot.press("less_than_sign", "less_than_sign")  # 0.1x: 1.8 s to play, time enough on a busy machine
        assert screen.speed == 0.1
        await pilot.press("space")  # at the end: plays again from the start (the run's clock is 0.01 s a step)
        assert screen.playing and screen.cursor < len(screen.timeline)
        await wait_for(pilot, lambda: not screen.playing, what="the replay to reach the end")
        assert screen.cursor == len(screen.timeline)


def test_a_long_run_replays_in_real_time_and_a_short_one_slower():
    assert watchable_speed(600.0) == 1.0
    assert watchable_speed(1.5) == 0.1
    assert watchable_speed(0.0) == 1.0  # no clock readings


async def test_going_back_before_the_first_epoch_and_snapshot_empties_the_panes(tiny_run, tmp_path):
    app = make_app(replay_dir=tiny_run, runs_root=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_replay(pilot)
        matrix = screen.query_one(ConfusionMatrix)
        histograms = list(screen.query("#pane-layers Histogram").results(Histogram))
        assert matrix.data is not None and all(h.data.counts.size for h in histograms)
        await pilot.press("home")
        assert matrix.data is None  # no epoch yet: no matrix (not the last one seen)
        assert all(not h.data.counts.size for h in histograms)
        assert "no snapshot yet" in str(screen.query_one("#layer-stats").render())
        await pilot.press("end")
        assert matrix.data is not None and all(h.data.counts.size for h in histograms)


async def test_a_stopped_and_resumed_run_replays_from_epoch_0_and_is_stopped_only_while_it_was(tmp_path):
    session = tiny_session()
    run_dir = tmp_path / "tiny-run"
    first = Trainer(session)
    with Recorder(run_dir, first) as rec:
        for event in first.run(should_stop=lambda: first.progress.step >= 8):
            rec.record(event)
    resumed = Trainer(session)
    load_resume(resumed, run_dir)
    with Recorder(run_dir, resumed, resume=True) as rec:
        for event in resumed.run():
            rec.record(event)
    app = make_app(replay_dir=run_dir, runs_root=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_replay(pilot)
        timeline = screen.query_one("#timeline")
        assert "completed" in str(timeline.render()) and "resumed" in str(timeline.render())
        await pilot.press("home")
        assert "epoch 0/3" in str(timeline.render()) and "resumed" not in str(timeline.render())
        stopped = next(i for i, e in enumerate(screen.timeline.events) if isinstance(e, RunCancelled)) + 1
        screen.seek_to(stopped)
        assert "stopped" in str(timeline.render())
        screen.seek_to(stopped + 1)  # the first batch after the resume
        assert "stopped" not in str(timeline.render()) and "resumed" in str(timeline.render())


async def test_runs_key_and_palette_leave_the_replay_for_the_runs_table(tiny_run, tmp_path):
    app = make_app(replay_dir=tiny_run, runs_root=tmp_path)
    async with app.run_test() as pilot:
        screen = await open_replay(pilot)
        titles = [c.title for c in app.get_system_commands(screen)]
        assert "Replay: play / pause" in titles and "Replay: start" in titles
        await pilot.press("3")
        assert app.current_mode == "runs" and not isinstance(app.screen, ReplayScreen)


async def test_the_replay_of_a_diverged_run_explains_it_at_the_end(tmp_path):
    session = tiny_session(optimizer__lr=1e12, data__normalize="none", training__epochs=50)
    run = record_run(tmp_path / "diverged", session)
    app = make_app(replay_dir=run, runs_root=tmp_path)
    async with app.run_test() as pilot:
        screen = await open_replay(pilot)
        failure = screen.query_one("#failure")
        assert failure.display and "diverged" in str(failure.render())
        await pilot.press("home")
        assert not failure.display


async def test_escape_goes_back_to_the_runs_table(tiny_run, tmp_path):
    app = make_app(replay_dir=tiny_run, runs_root=tmp_path)
    async with app.run_test() as pilot:
        await open_replay(pilot)
        await pilot.press("escape")
        assert app.current_mode == "runs" and not isinstance(app.screen, ReplayScreen)


async def test_a_folder_that_is_not_a_run_is_a_notification(tmp_path):
    app = make_app(replay_dir=tmp_path / "nothing", runs_root=tmp_path)
    async with app.run_test(notifications=True) as pilot:
        await wait_for(
            pilot,
            lambda: any(n.title == "Cannot replay" for n in app._notifications),
            what="the notification that the folder cannot be replayed",
        )
        assert app.current_mode == "runs" and not isinstance(app.screen, ReplayScreen)
        assert any("Cannot replay" in n.title for n in app._notifications)


def replay_at(run_dir, runs_root, keys):
    app = make_app(replay_dir=run_dir, runs_root=runs_root)

    async def run_before(pilot):
        await open_replay(pilot)
        await pilot.press(*keys)

    return app, run_before


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_the_replay_looks_the_same_at_a_fixed_moment(snap_compare, tiny_run, tmp_path, size):
    app, run_before = replay_at(tiny_run, tmp_path, ["home", "right", "right", "right", "right"])
    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_the_replay_of_the_layers_pane_looks_the_same(snap_compare, tiny_run, tmp_path):
    app, run_before = replay_at(tiny_run, tmp_path, ["end", "right_square_bracket", "V", "V"])
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_the_replay_of_the_network_pane_looks_the_same(snap_compare, tiny_run, tmp_path, size):
    """Drawn from the weights recorded at the snapshot before the cursor (frames/), alone on the screen."""
    app, run_before = replay_at(tiny_run, tmp_path, ["home", "right", "right", "right", "v", "z"])
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_the_replay_of_the_projection_pane_looks_the_same(snap_compare, tiny_run, tmp_path, size):
    """The validation points as layer 1 (tanh, 6 units) sees them at the end of the run: its first two principal
    components."""
    app, run_before = replay_at(tiny_run, tmp_path, ["end", "right_square_bracket", "V", "z"])
    assert snap_compare(app, terminal_size=size, run_before=run_before)
