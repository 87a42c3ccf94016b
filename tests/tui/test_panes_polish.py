"""Polish of the run panes: a diverged run reported the same everywhere, layers without weights, the footer and
the status lines at 80x24."""

from __future__ import annotations

import itertools

import pytest
from lab_runs import record_run, tiny_session, wait_for
from textual.app import App

from dl_lab.sessions.events import RunFailed
from dl_lab.sessions.training.diagnosis import failed_loss
from dl_lab.tui.app import make_app
from dl_lab.tui.panes.run_view import RunView
from dl_lab.tui.screens.replay import ReplayScreen
from dl_lab.tui.widgets import DecisionMap, LineChart


@pytest.fixture(scope="module")
def diverged_run(tmp_path_factory):
    session = tiny_session(optimizer__lr=1e12, data__normalize="none", training__epochs=50)
    return record_run(tmp_path_factory.mktemp("runs") / "diverged", session)


async def open_replay(pilot) -> ReplayScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReplayScreen), what="the replay screen")
    await pilot.pause()
    return pilot.app.screen


async def test_a_diverged_run_reports_the_same_epoch_and_step_on_the_status_line_and_in_the_box(diverged_run, tmp_path):
    app = make_app(replay_dir=diverged_run, runs_root=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_replay(pilot)
        failed = screen.timeline.state_at(len(screen.timeline)).end
        assert isinstance(failed, RunFailed)
        box = str(screen.query_one("#failure").render())
        assert f"epoch {failed.epoch}, step {failed.step}" in box
        status = str(screen.query_one("#timeline").render())
        assert f"epoch {failed.epoch}/50" in status
        assert f"step {failed.step}/" in status


async def test_the_loss_chart_says_at_which_step_and_with_which_loss_the_run_diverged(diverged_run, tmp_path):
    app = make_app(replay_dir=diverged_run, runs_root=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_replay(pilot)
        failed = screen.timeline.state_at(len(screen.timeline)).end
        screen.query_one(RunView).show_pane("loss")  # should the view be a single pane
        await pilot.pause()
        chart = screen.query_one("#pane-loss LineChart", LineChart)
        loss = failed_loss(failed.message)
        assert loss is not None
        assert chart.data.title == f"diverged at step {failed.step}: loss {loss}"
        await pilot.press("home")  # before the failure: no note
        await pilot.pause()
        assert not chart.data.title


@pytest.fixture(scope="module")
def run_with_parameterless_layers(tmp_path_factory):
    model = "[{dense: {units: 6, activation: relu}}, {dropout: {p: 0.2}}, {flatten: {}}, {dense: {units: 2}}]"
    return record_run(tmp_path_factory.mktemp("runs") / "flat", tiny_session(model=model))


def histogram_text(widget) -> str:
    return "\n".join(strip.text for strip in widget.draw(widget.size.width, widget.size.height))


async def test_layers_without_weights_say_no_parameters_not_no_data_yet(run_with_parameterless_layers, tmp_path):
    app = make_app(replay_dir=run_with_parameterless_layers, runs_root=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_replay(pilot)
        await pilot.press("V", "V")  # the layers pane, the last but one
        await pilot.press("right_square_bracket")  # layer 1: dropout
        await pilot.pause()
        pane = screen.query_one("#pane-layers")
        assert "dropout" in pane.border_title
        weights, grads = screen.query_one("#weight-histogram"), screen.query_one("#gradient-histogram")
        for widget in (weights, grads):
            assert widget.data.empty == "no parameters"
            text = histogram_text(widget)
            assert "no parameters" in text and "no data yet" not in text
        await pilot.press("right_square_bracket")  # layer 2: flatten
        await pilot.pause()
        assert "flatten" in pane.border_title and weights.data.empty == "no parameters"
        await pilot.press("right_square_bracket")  # layer 3: dense, with weights
        await pilot.pause()
        assert weights.data.counts.size and grads.data.counts.size


def colour_changes(strip) -> int:
    """How often the background colour changes along a line of the map (cell by cell)."""
    colours = []
    for segment in strip:
        bg = segment.style.bgcolor if segment.style else None
        colours += [bg] * len(segment.text)
    return sum(1 for a, b in itertools.pairwise(colours) if a != b)


class MapApp(App):
    def compose(self):
        yield DecisionMap(keep_aspect=False)


async def test_a_boundary_larger_than_its_grid_is_interpolated_not_enlarged_blocks():
    # a 4x4 probability grid: class 1 on the right half, sure at the edges, unsure in the middle
    values = [0.0, 0.3, 0.7, 1.0] * 4
    boundary = {"kind": "probability", "values": values, "resolution": 4, "bounds": [[0, 1], [0, 1]]}
    app = MapApp()
    async with app.run_test(size=(80, 24)) as pilot:
        widget = app.query_one(DecisionMap)
        widget.set_map(boundary)
        await pilot.pause()
        strips = widget.draw(widget.size.width, widget.size.height)
        middle = strips[len(strips) // 2]
        # enlarged, the 4 cells make 3 colour changes along a line; interpolated, the colour fades gradually
        assert colour_changes(middle) > 12


async def test_the_zoomed_boundary_of_a_replay_is_drawn_smoothly(tiny_run, tmp_path):
    app = make_app(replay_dir=tiny_run, runs_root=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_replay(pilot)
        await pilot.press("z")  # the data pane alone, as large as the screen allows
        await pilot.pause()
        widget = screen.query_one(DecisionMap)
        # computed from the weights recorded at the snapshot at the pane's own resolution, not the monitor's 16x16
        assert widget.data.cls.shape[0] > 16
        strips = widget.draw(widget.size.width, widget.size.height)
        # 16 cells enlarged change colour at most 15 times a line (a data point's mark adds two at most)
        assert max(colour_changes(strip) for strip in strips[:-1]) > 15 + 2 * 4


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return record_run(tmp_path_factory.mktemp("runs") / "tiny-run")  # boundary_resolution 16


# --- 80x24 -----------------------------------------------------------------------------------------------------------
def footer_keys(screen) -> dict[str, object]:
    """The footer keys shown, by description: their regions."""
    return {key.description: key.region for key in screen.query("FooterKey") if key.display}


async def test_the_training_footer_keeps_quit_and_keys_within_80_columns(tmp_path):
    from dl_lab.tui.screens.train import TrainScreen

    app = make_app(tiny_session(training__epochs=2000), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the training screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.controller is not None, what="the session to be prepared")

        def fits() -> bool:
            keys = footer_keys(screen)
            laid_out = all(r.width > 0 for r in keys.values())
            return laid_out and {"Quit", "Keys", "Run", "Step"} <= set(keys)

        await wait_for(pilot, fits, what="the footer laid out")
        keys = footer_keys(screen)
        assert all(region.right <= 80 for region in keys.values()), keys
        assert "Train" not in keys  # the mode shown is the first key left out


async def test_the_runs_footer_keeps_quit_within_80_columns(tiny_run, tmp_path):
    from dl_lab.tui.screens.runs import RunsScreen

    app = make_app(tiny_session(), runs_root=tiny_run.parent, mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="the runs screen")
        screen = app.screen

        def fits() -> bool:
            keys = footer_keys(screen)
            return all(r.width > 0 for r in keys.values()) and {"Quit", "Keys", "Replay"} <= set(keys)

        await wait_for(pilot, fits, what="the footer laid out")
        assert all(region.right <= 80 for region in footer_keys(screen).values())


async def test_the_replay_footer_keeps_quit_within_80_columns(tiny_run, tmp_path):
    app = make_app(replay_dir=tiny_run, runs_root=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_replay(pilot)
        await wait_for(pilot, lambda: "Quit" in footer_keys(screen), what="the footer")
        await pilot.pause()
        keys = footer_keys(screen)
        assert all(region.right <= 80 for region in keys.values()), keys


async def test_the_training_status_line_fits_80_columns_with_the_rate_and_the_run_folder(tmp_path):
    from dl_lab.tui.screens.train import TrainScreen

    app = make_app(tiny_session(training__epochs=2000), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the training screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.controller is not None, what="the session to be prepared")
        await pilot.press("space")
        await wait_for(pilot, lambda: len(screen.state.epochs) >= 1, what="an epoch")
        status = screen.query_one("#status")
        run_dir = screen.controller.run_dir

        def lines() -> list[str]:
            return str(status.render()).splitlines()

        await wait_for(pilot, lambda: run_dir.name in str(status.render()), what="the run folder")
        await pilot.press("x")  # stop
        first, second = lines()
        assert "lr 0.03" in first
        assert run_dir.name in second and str(run_dir.parent) not in second  # the folder's name, not its path
        width = status.content_size.width
        assert width <= 78 and len(first) <= width and len(second) <= width, (first, second)


async def test_a_failed_replay_at_80x24_leaves_the_boundary_its_room(diverged_run, tmp_path):
    app = make_app(replay_dir=diverged_run, runs_root=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_replay(pilot)
        failure = screen.query_one("#failure")
        assert failure.display
        text = str(failure.render())
        assert "diverged" in text and "Why:" in text and "Try: lower optimizer.lr" in text  # one line each
        assert failure.region.height <= 5  # three lines and the border
        boundary = screen.query_one(DecisionMap)
        assert boundary.region.height >= 12, boundary.region
    app = make_app(replay_dir=diverged_run, runs_root=tmp_path)
    async with app.run_test(size=(120, 50)) as pilot:  # room enough: the whole explanation
        screen = await open_replay(pilot)
        assert "clip the gradient" in str(screen.query_one("#failure").render())
