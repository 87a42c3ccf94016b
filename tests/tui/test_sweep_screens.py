"""The runs screen groups a sweep's trials under its row; the sweep view ranks them, charts the best so far and
each parameter, follows the sweep live and replays a trial. A real sweep (dl-lab sweep, Optuna's journal)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import warnings

import numpy as np
import pytest
from lab_runs import record_run, tiny_session, wait_for
from textual.widgets import DataTable
from typer.testing import CliRunner

from dl_lab.cli.main import app as cli
from dl_lab.sessions.formatting import significant
from dl_lab.sessions.sweeps.listing import find_sweeps
from dl_lab.sessions.sweeps.study import open_status
from dl_lab.tui.app import make_app
from dl_lab.tui.screens.replay import ReplayScreen
from dl_lab.tui.screens.runs import SWEEP_KEY, RunsScreen
from dl_lab.tui.screens.sweep import SlicePlot, SweepScreen, leaderboard, progress
from dl_lab.tui.widgets import LineChart

SESSION = """\
name: tiny
seed: 1
data: {dataset: spiral, samples: 100}
model:
  - dense: {units: 8, activation: relu}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.05}
training: {epochs: 3, batch_size: 16}
"""

SWEEP = """\
session: tiny.yaml
metric: {name: val_acc, goal: max}
sampler: random
trials: 6
space:
  optimizer.lr: {loguniform: [1.0e-3, 0.1]}
  model[0].dense.units: {choice: [4, 8, 16]}
"""


def sweep_args(base, trials: int) -> list[str]:
    return [
        "sweep",
        str(base / "search.yaml"),
        "--out",
        str(base / "sweeps" / "search"),
        "--workers",
        "1",
        "--trials",
        str(trials),
    ]  # fmt: skip  (the command line as it is typed)


def more_trials(base, trials: int) -> None:
    """The command in its own process: it forks its workers and sets signal handlers, which a test's thread
    cannot (the app runs in this process meanwhile)."""
    args = [sys.executable, "-m", "dl_lab.cli.main", *sweep_args(base, trials)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def sweep_base(tmp_path_factory):
    """A sweep of 4 trials in base/sweeps/search (run once), and one plain run in base/runs."""
    base = tmp_path_factory.mktemp("sweep")
    (base / "tiny.yaml").write_text(SESSION)
    (base / "search.yaml").write_text(SWEEP)
    result = CliRunner().invoke(cli, sweep_args(base, 4))
    assert result.exit_code == 0, result.output
    record_run(base / "runs" / "plain", tiny_session())
    return base


@pytest.fixture
def base(sweep_base, tmp_path):
    """A copy of the module's sweep, for a test that runs more trials."""
    import shutil

    shutil.copytree(sweep_base, tmp_path / "copy")
    return tmp_path / "copy"


def records(folder) -> list[dict]:
    from dl_lab.sessions.sweeps.study import open_status, trial_records

    study, _ = open_status(str(folder), None)
    return trial_records(study)


def column(table: DataTable, key: str) -> list[str]:
    return [str(v) for v in table.get_column(key)]


async def open_sweep(app, pilot) -> SweepScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.sweeps, what="the sweeps")
    table = app.screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(SWEEP_KEY + str(app.screen.sweeps[0].path)))
    await pilot.press("w")
    await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweep view")
    screen = app.screen
    await wait_for(pilot, lambda: screen.query_one("#sweep-board", DataTable).row_count > 0, what="the leaderboard")
    return screen


def test_the_listing_reads_the_sweep_folder_without_optuna(sweep_base):
    [sweep] = find_sweeps(sweep_base / "sweeps")
    assert (sweep.name, sweep.metric, sweep.goal) == ("search", "val_acc", "max")
    assert [p.path for p in sweep.params] == ["optimizer.lr", "model[0].dense.units"]
    assert sweep.params[1].choices == (4, 8, 16) and sweep.params[0].log
    assert [r.path.name for r in sweep.trials] == [f"trial-{n:04d}" for n in range(4)]
    expected = max(r["value"] for r in records(sweep_base / "sweeps" / "search") if r["state"] == "COMPLETE")
    assert sweep.best() is not None and sweep.best()[1] == pytest.approx(expected)
    code = (
        "import sys; from dl_lab.sessions.sweeps.listing import find_sweeps; import dl_lab.tui.screens.sweep; "
        f"find_sweeps({str(sweep_base / 'sweeps')!r}); print('optuna' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_the_leaderboard_ranks_complete_trials_best_first_then_the_others():
    recs = [
        {"number": 0, "state": "PRUNED", "value": None},
        {"number": 1, "state": "COMPLETE", "value": 0.5},
        {"number": 2, "state": "FAIL", "value": None},
        {"number": 3, "state": "COMPLETE", "value": 0.9},
        {"number": 4, "state": "RUNNING", "value": None},
        {"number": 5, "state": "COMPLETE", "value": 0.5},
    ]
    assert [r["number"] for r in leaderboard(recs, "max")] == [3, 1, 5, 4, 0, 2]
    assert [r["number"] for r in leaderboard(recs, "min")] == [1, 5, 3, 4, 0, 2]
    numbers, _, best = progress(recs, "max")
    assert numbers.tolist() == [1, 3, 5] and best.tolist() == [0.5, 0.9, 0.9]
    assert progress(recs, "min")[2].tolist() == [0.5, 0.5, 0.5]


async def test_the_runs_screen_groups_the_trials_under_their_sweep(sweep_base):
    app = make_app(tiny_session(), runs_root=sweep_base / "runs", sweeps_root=sweep_base / "sweeps", mode="runs")
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.sweeps, what="the sweeps")
        table = app.screen.query_one(DataTable)
        names = column(table, "run")
        best = max(r["value"] for r in records(sweep_base / "sweeps" / "search") if r["state"] == "COMPLETE")
        assert names[:2] == ["plain", "▾ sweep search"]  # the plain runs as they were, then the sweep
        assert sorted(n[2:] for n in names[2:]) == [f"trial-{n:04d}" for n in range(4)] and names[-1][0] == "└"
        assert column(table, "status")[1] == "4 trials"
        assert column(table, "val acc/R²")[1] == f"best {significant(best)}"
        await pilot.press("down", "space")  # space on a sweep's row folds its trials
        assert column(table, "run") == ["plain", "▸ sweep search"]
        await pilot.press("space")
        assert len(column(table, "run")) == 6
        await pilot.press("down", "enter")  # a trial replays as any run
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen), what="the replay")
        assert app.screen.run.path.parent == sweep_base / "sweeps" / "search" / "trials"


async def test_the_sweep_view_ranks_the_trials_best_first_and_charts_them(sweep_base):
    app = make_app(tiny_session(), runs_root=sweep_base / "runs", sweeps_root=sweep_base / "sweeps", mode="runs")
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.sweeps, what="the sweeps")
        app.screen.query_one(DataTable).move_cursor(row=3)  # a trial's row: w opens its sweep
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), what="the sweep view")
        screen = app.screen
        board = screen.query_one("#sweep-board", DataTable)
        await wait_for(pilot, lambda: board.row_count == 4, what="the leaderboard")
        recs = {f"trial-{r['number']:04d}": r for r in records(sweep_base / "sweeps" / "search")}
        trials = column(board, "trial")
        assert sorted(trials) == sorted(recs) and column(board, "#") == ["1", "2", "3", "4"]
        values = [recs[t]["value"] for t in trials]
        assert values == sorted(values, reverse=True)  # best first
        assert column(board, "val_acc") == [significant(v) for v in values]
        units = [str(recs[t]["params"]["model[0].dense.units"]) for t in trials]
        assert column(board, "param:model[0].dense.units") == units
        assert column(board, "run") == [f"trials/{t}" for t in trials]
        title = str(screen.query_one("#sweep-title").render())
        assert "sweep search" in title and "val_acc" in title and "4 complete" in title
        chart = screen.query_one("#sweep-progress", LineChart).data
        assert chart is not None
        by_number = [recs[f"trial-{n:04d}"]["value"] for n in range(4)]
        assert chart.series[1].ys.tolist() == pytest.approx(np.maximum.accumulate(by_number).tolist())
        slices = [plot.data for plot in screen.query(SlicePlot)]
        assert [s.title for s in slices] == ["optimizer.lr (log)", "model[0].dense.units"]
        choices = [recs[f"trial-{n:04d}"]["params"]["model[0].dense.units"] for n in range(4)]
        assert slices[1].xs.tolist() == [[4, 8, 16].index(c) for c in choices]  # a choice: its index
        assert [text for _, text in slices[1].x_labels] == ["4", "8", "16"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="the runs screen")


async def test_a_trial_that_ends_after_the_view_opened_appears_and_enter_replays(base):
    app = make_app(tiny_session(), runs_root=base / "runs", sweeps_root=base / "sweeps", mode="runs")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_sweep(app, pilot)
        board = screen.query_one("#sweep-board", DataTable)
        assert board.row_count == 4 and "message" not in board.columns  # no trial failed yet
        study, _ = open_status(str(base / "sweeps" / "search"), None)
        with warnings.catch_warnings():  # a rate outside the searched range: Optuna says so
            warnings.simplefilter("ignore")
            study.enqueue_trial({"optimizer.lr": 1.0e6, "model[0].dense.units": 8})  # a rate that explodes
        await asyncio.to_thread(more_trials, base, 6)  # two more trials, by the command, while the view shows

        def title() -> str:
            return str(screen.query_one("#sweep-title").render())

        # the view may have read the last trial while it was running: its next look shows it done
        await wait_for(pilot, lambda: board.row_count == 6 and "5 complete" in title(), timeout=20, what="the trials")
        assert "trial-0005" in column(board, "trial") and "1 failed" in title()
        failed = column(board, "state").index("failed")
        assert "exploded" in column(board, "message")[failed]  # why it failed, from the study
        best = column(board, "trial")[0]
        board.move_cursor(row=0)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen), what="the replay")
        assert app.screen.run.path == base / "sweeps" / "search" / "trials" / best  # this folder's, not the original's
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), what="back to the sweep view")


async def test_the_sweep_view_stacks_its_panes_at_80_columns(sweep_base):
    app = make_app(tiny_session(), runs_root=sweep_base / "runs", sweeps_root=sweep_base / "sweeps", mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_sweep(app, pilot)
        await pilot.pause()
        assert screen.has_class("-narrow")
        board, charts = screen.query_one("#sweep-board"), screen.query_one("#sweep-charts")
        assert board.region.width == charts.region.width == 80 and charts.region.y > board.region.y
        assert board.region.height >= 5 and screen.query_one("#sweep-progress").region.height >= 5
        assert all(plot.region.height >= 4 for plot in screen.query(SlicePlot))
        await pilot.press("q")  # q goes back here (the app's quit elsewhere)
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="the runs screen")
        assert SWEEP_KEY + str(sweep_base / "sweeps" / "search") in app.screen.query_one(DataTable).rows
