"""The runs screen: recorded runs in a table that sorts by any column, replays one, and overlays marked ones."""

from __future__ import annotations

import os

import pytest
from lab_runs import record_run, tiny_session, wait_for
from textual.widgets import DataTable

from dl_lab.tui.app import make_app
from dl_lab.tui.screens.replay import ReplayScreen
from dl_lab.tui.screens.runs import COLUMNS, RunsScreen
from dl_lab.tui.widgets import LineChart


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """Three runs: lr 0.03 (oldest), lr 0.3, and sgd; their folder times set so that 'date' order is known."""
    root = tmp_path_factory.mktemp("runs")
    record_run(root / "a-adam", tiny_session())
    record_run(root / "b-fast", tiny_session(optimizer__lr=0.3))
    record_run(root / "c-sgd", tiny_session(**{"optimizer": "{name: sgd, lr: 0.01}"}))
    for age, name in enumerate(["c-sgd", "b-fast", "a-adam"]):
        os.utime(root / name, (1e9 - age * 100, 1e9 - age * 100))
    return root


def column(table: DataTable, label: str) -> list[str]:
    return [str(v) for v in table.get_column(label)]


def header_x(table: DataTable, label: str) -> int:
    x = 0
    for col in table.ordered_columns:
        if col.key.value == label:
            return x + 1
        x += col.get_render_width(table)
    raise KeyError(label)


async def open_runs(app, pilot) -> RunsScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, what="the runs")
    return app.screen


async def test_the_table_lists_every_run_newest_first(runs_root):
    app = make_app(tiny_session(), runs_root=runs_root, mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_runs(app, pilot)
        table = screen.query_one(DataTable)
        assert column(table, "run") == ["c-sgd", "b-fast", "a-adam"]
        assert column(table, "status") == ["completed"] * 3 and column(table, "epochs") == ["3"] * 3
        assert column(table, "dataset") == ["circle"] * 3


async def test_s_cycles_the_sort_column_and_a_header_click_sorts_by_it(runs_root):
    app = make_app(tiny_session(), runs_root=runs_root, mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_runs(app, pilot)
        table = screen.query_one(DataTable)
        await pilot.press("s")  # from date to run (the first column)
        assert COLUMNS[screen.sort_column][0] == "run"
        assert column(table, "run") == ["a-adam", "b-fast", "c-sgd"]
        await pilot.press("s", "s", "s", "s", "s")  # run, dataset, status, epochs, train loss -> val loss
        assert COLUMNS[screen.sort_column][0] == "val loss"
        losses = [float(v) for v in column(table, "val loss")]
        assert losses == sorted(losses)
        x = header_x(table, "status")
        await pilot.click("#runs-table", offset=(x, 0))  # a header: sorts by that column
        assert COLUMNS[screen.sort_column][0] == "status" and not screen.reverse
        await pilot.click("#runs-table", offset=(x, 0))  # the same header again: the other way round
        assert screen.reverse and COLUMNS[screen.sort_column][0] == "status"


async def test_enter_replays_the_selected_run(runs_root):
    app = make_app(tiny_session(), runs_root=runs_root, mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        await open_runs(app, pilot)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen), what="the replay")
        assert app.screen.run.path.name == "b-fast"


async def test_marked_runs_race_in_the_overlay_charts(runs_root):
    app = make_app(tiny_session(), runs_root=runs_root, mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_runs(app, pilot)
        await pilot.press("space", "down", "down", "space")
        assert len(screen.marked) == 2
        assert column(screen.query_one(DataTable), "mark").count("●") == 2
        await pilot.press("o")
        assert screen.query_one("#overlay").display
        loss = screen.query_one("#overlay-loss", LineChart).data
        assert len(loss.series) == 2 and all(len(s.xs) == 3 for s in loss.series)
        quality = screen.query_one("#overlay-quality", LineChart).data
        assert {s.name for s in quality.series} == {s.name for s in loss.series}


async def test_an_empty_folder_says_how_to_make_a_run(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="runs")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "0 runs" in str(app.screen.query_one("#runs-title").render())
