"""The runs screen: recorded runs in a table that sorts by any column, replays one, and overlays marked ones."""

from __future__ import annotations

import json
import os

import pytest
from lab_runs import record_run, tiny_session, wait_for
from rich.console import Console
from textual.widgets import DataTable
from textual.widgets._key_panel import BindingsTable

from dl_lab.tui.app import make_app
from dl_lab.tui.screens.replay import ReplayScreen
from dl_lab.tui.screens.runs import COLUMNS, RunsScreen
from dl_lab.tui.widgets import LineChart


def set_start(run_dir, started_at: str, **summary) -> None:
    path = run_dir / "summary.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "started_at": started_at, **summary}))


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    """Three runs: lr 0.03 (oldest), lr 0.3, and sgd; their recorded start times set so that 'date' order is
    known (and their folders' file times the other way round: the table goes by the recorded times)."""
    root = tmp_path_factory.mktemp("runs")
    record_run(root / "a-adam", tiny_session())
    record_run(root / "b-fast", tiny_session(optimizer__lr=0.3))
    record_run(root / "c-sgd", tiny_session(**{"optimizer": "{name: sgd, lr: 0.01}"}))
    for age, name in enumerate(["c-sgd", "b-fast", "a-adam"]):
        set_start(root / name, f"2025-03-0{4 - age}T10:00:00")
        os.utime(root / name, (1e9 + age * 100, 1e9 + age * 100))
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
        assert column(table, "date") == ["2025-03-04 10:00", "2025-03-03 10:00", "2025-03-02 10:00"]


async def test_s_cycles_the_sort_column_and_a_header_click_sorts_by_it(runs_root):
    app = make_app(tiny_session(), runs_root=runs_root, mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_runs(app, pilot)
        table = screen.query_one(DataTable)
        await pilot.press("s")  # from date to run (the first column)
        assert COLUMNS[screen.sort_column][0] == "run"
        assert column(table, "run") == ["a-adam", "b-fast", "c-sgd"]
        await pilot.press("s", "s", "s")  # run, status, epochs -> val loss
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


async def test_regression_runs_show_r2_and_sort_with_accuracies_and_a_dead_run_says_so(tmp_path):
    record_run(tmp_path / "circle", tiny_session())
    sine = tiny_session(data="{dataset: sine, samples: 120}", loss="mse", **{"model[2].dense.units": 1})
    record_run(tmp_path / "sine", sine)
    record_run(tmp_path / "killed", tiny_session(optimizer__lr=0.0001))
    lines = (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()
    (tmp_path / "killed" / "metrics.jsonl").write_text("\n".join(lines[:-1]) + "\n")  # no end line
    set_start(tmp_path / "killed", "2025-03-01T10:00:00", status="running", process={"pid": -1, "host": "gone"})
    for f in (tmp_path / "killed").iterdir():
        os.utime(f, (1e9, 1e9))  # written long ago
    quality = {}
    for name in ("circle", "sine", "killed"):
        final = json.loads((tmp_path / name / "summary.json").read_text())["final"]
        quality[name] = final.get("val_acc") if final.get("val_acc") is not None else final.get("val_r2")
    app = make_app(tiny_session(), runs_root=tmp_path, mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_runs(app, pilot)
        table = screen.query_one(DataTable)
        rows = dict(zip(column(table, "run"), column(table, "val acc/R²"), strict=True))
        assert rows["sine"] == f"R² {quality['sine']:.3f}" and rows["circle"] == f"{quality['circle']:.3f}"
        status = dict(zip(column(table, "run"), column(table, "status"), strict=True))
        assert status == {"circle": "completed", "sine": "completed", "killed": "no end record"}
        while COLUMNS[screen.sort_column][0] != "val acc/R²":
            await pilot.press("s")
        assert column(table, "run") == sorted(quality, key=quality.get, reverse=True)


async def test_the_key_help_lists_the_screen_s_own_keys_first_at_80x24(runs_root):
    app = make_app(tiny_session(), runs_root=runs_root, mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_runs(app, pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen.query(BindingsTable), what="the key help")
        await pilot.pause()
        console = Console(width=60, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        console.print(app.screen.query_one(BindingsTable).render())
        rows = [" ".join(line.split()) for line in console.export_text().splitlines() if line.strip()]
        assert rows[:6] == [
            "⏎ Replay the run",
            "space Mark or unmark",
            "o Overlay marked runs",
            "s Sort by next column",
            "S Reverse the sort",
            "f5 ^r Reload the list",
        ]
        text = console.export_text()
        assert "Cursor" not in text and "Select" not in text and "Page" not in text and "Focus" not in text
        await pilot.press("question_mark", "down", "enter")  # the table's keys still work: the second run replays
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen), what="the replay")
        assert app.screen.run.path.name == "b-fast"
