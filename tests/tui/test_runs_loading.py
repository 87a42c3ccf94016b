"""The runs screen reads the runs in a worker (the table fills after the screen shows, keys work meanwhile), and
deletes runs after a confirmation that names them: d the marked runs or the one under the cursor, D those started
before a date; a running run is never deleted."""

from __future__ import annotations

import json
import os
import shutil
import threading

import pytest
from lab_runs import record_run, tiny_session, wait_for
from textual.widgets import DataTable, Input, Static

from dl_lab.sessions.runs.directory import RunLock
from dl_lab.tui.app import make_app
from dl_lab.tui.dialogs.confirm import ConfirmDialog
from dl_lab.tui.dialogs.prompt import ValuePrompt
from dl_lab.tui.screens import runs as runs_screen
from dl_lab.tui.screens.runs import COLUMNS, RunsScreen


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    return record_run(tmp_path_factory.mktemp("one") / "tiny", tiny_session())


def copies(source, root, names: list[str]):
    """Run folders ``names`` under ``root``, copies of ``source`` (the large files linked), started a day apart in
    March 2025, the first the oldest."""
    for day, name in enumerate(names, start=1):
        shutil.copytree(source, root / name, copy_function=os.link)
        summary_file = root / name / "summary.json"
        summary = json.loads(summary_file.read_text())
        summary_file.unlink()  # a file of its own, not the source's
        summary_file.write_text(json.dumps({**summary, "started_at": f"2025-03-{day:02d}T10:00:00+00:00"}))
    return root


def title(screen) -> str:
    return str(screen.query_one("#runs-title", Static).render())


async def test_the_table_fills_after_the_screen_shows_and_keys_work_while_it_loads(recorded, tmp_path, monkeypatch):
    root = copies(recorded, tmp_path / "runs", [f"r{i:02d}" for i in range(30)])
    gate = threading.Event()
    read = runs_screen.listed_run

    def held(folder, include_damaged=False):
        gate.wait(10)
        return read(folder, include_damaged)

    monkeypatch.setattr(runs_screen, "listed_run", held)
    app = make_app(tiny_session(), runs_root=root, mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.progress == (0, 30))
        screen = app.screen
        table = screen.query_one(DataTable)
        assert table.row_count == 0 and "loading 30 runs" in title(screen)
        # the screen shows while it loads: Textual's own `loading` (a truthy value hides the screen behind its
        # loading indicator; a terminal then kept showing the screen before) stays off
        assert not screen.loading and not screen.query("LoadingIndicator")
        before = screen.sort_column
        await pilot.press("s")  # the event loop is free while the worker waits on the disk
        assert screen.sort_column == (before + 1) % len(COLUMNS) and "loading 30 runs" in title(screen)
        gate.set()
        await wait_for(pilot, lambda: table.row_count == 30, what="every run")
        assert screen.progress is None and "30 runs" in title(screen) and "loading" not in title(screen)
        names = [str(v) for v in table.get_column("run")]
        assert names == sorted(names)  # sorted by the column s chose (run), as the rows came


async def test_a_first_load_fills_one_screen_while_reading_then_every_run_sorted_in_chunks(
    recorded, tmp_path, monkeypatch
):
    # every run read is a batch of its own; reading stops after 40 of 60 until the gate opens
    root = copies(recorded, tmp_path / "runs", [f"r{i:02d}" for i in range(60)])
    gate, read, count = threading.Event(), runs_screen.listed_run, [0]

    def held(folder, include_damaged=False):
        count[0] += 1
        if count[0] > 40:
            gate.wait(10)
        return read(folder, include_damaged)

    monkeypatch.setattr(runs_screen, "listed_run", held)
    monkeypatch.setattr(runs_screen, "BATCH_S", 0.0)
    monkeypatch.setattr(runs_screen, "FILL_CHUNK", 7)
    added: list[int] = []
    app = make_app(tiny_session(), runs_root=root, mode="runs")
    async with app.run_test(size=(160, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.progress == (40, 60))
        screen = app.screen
        table = screen.query_one(DataTable)
        await pilot.pause(0.2)
        # a screenful of rows shows while the rest are read; later batches wait for the sorted fill
        assert screen.size.height <= table.row_count < 40 and "40 read" in title(screen)
        chunk = screen._add_chunk

        def counted(fill, rows, picked, start, selected):
            added.append(start)
            chunk(fill, rows, picked, start, selected)

        monkeypatch.setattr(screen, "_add_chunk", counted)
        gate.set()
        await wait_for(pilot, lambda: table.row_count == 60 and screen.progress is None, what="every run")
        assert added == list(range(0, 60, 7))  # the sorted fill, seven rows at a time
        names = [str(v) for v in table.get_column("run")]
        assert names == sorted(names, reverse=True)  # newest first: r59 started last


async def test_d_deletes_the_marked_run_after_the_confirmation_and_never_a_running_one(recorded, tmp_path):
    root = copies(recorded, tmp_path / "runs", ["r0", "r1", "r2"])
    app = make_app(tiny_session(), runs_root=root, mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.runs) == 3)
        screen = app.screen
        table = screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(str(root / "r0")))
        await pilot.press("space")  # r0 marked; the cursor moves on
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the confirmation")
        assert app.screen.items == [line for line in app.screen.items if "r0" in line] and len(app.screen.items) == 1
        await pilot.press("n")
        assert app.screen is screen and sorted(os.listdir(root)) == ["r0", "r1", "r2"]
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: table.row_count == 2, what="the list without r0")
        assert sorted(os.listdir(root)) == ["r1", "r2"] and not screen.marked
        with RunLock(root / "r1"):
            table.move_cursor(row=table.get_row_index(str(root / "r1")))
            await pilot.press("d")
            await pilot.pause()
            assert app.screen is screen  # no question: nothing to delete
            notes = [n.message for n in app._notifications]
            assert any("r1 is still running" in note for note in notes), notes
        assert sorted(os.listdir(root)) == ["r1", "r2"]


async def test_capital_d_deletes_the_runs_started_before_a_date(recorded, tmp_path):
    root = copies(recorded, tmp_path / "runs", ["r0", "r1", "r2"])
    app = make_app(tiny_session(), runs_root=root, mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and len(app.screen.runs) == 3)
        table = app.screen.query_one(DataTable)
        await pilot.press("D")
        await wait_for(pilot, lambda: isinstance(app.screen, ValuePrompt), what="the date")
        app.screen.query_one(Input).value = "2025-03-03"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the confirmation")
        assert "2 runs started before 2025-03-03" in app.screen.question
        assert [line.split()[0] for line in app.screen.items] == ["r0", "r1"]
        await pilot.press("y")
        await wait_for(pilot, lambda: table.row_count == 1, what="the list without r0 and r1")
        assert os.listdir(root) == ["r2"]
