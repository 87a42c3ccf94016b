"""`r` on a stopped run resumes it in the app: the training screen loads it where it stopped, and space trains on
into the same run folder, ending bit-identical to a run never interrupted (NumPy, float64), as `dl-lab run
--resume` does."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lab_runs import record_run, tap, tiny_session, wait_for
from textual.widgets import DataTable

from dl_lab.sessions import Recorder, RunEnded, Trainer
from dl_lab.sessions.runs.directory import is_locked
from dl_lab.sessions.training.controller import WORKER_ENV
from dl_lab.tui.app import make_app
from dl_lab.tui.screens.runs import RunsScreen
from dl_lab.tui.screens.train import TrainScreen

STOP_AFTER = 5  # batches before the stop (the tiny session has 18 over 3 epochs)


def stopped_run(run_dir):
    """A run stopped on request after a few batches, its resume files written (as x on the train screen)."""
    trainer = Trainer(tiny_session())
    batches = iter(range(1000))
    with Recorder(run_dir, trainer) as recorder:
        for event in trainer.run(lambda: next(batches) >= STOP_AFTER):
            recorder.record(event)
    return run_dir


def step_numbers(run_dir) -> list[int]:
    records = (json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines())
    return [r["step"] for r in records if r.get("event") == "step"]


def arrays(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


async def resume_from_runs_screen(pilot, run_dir) -> TrainScreen:
    """r on the runs screen's row of ``run_dir``: the training screen, once it has loaded the run."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, what="the runs")
    table = app.screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(str(run_dir)))
    await tap(pilot, "r")
    await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the training screen")
    screen = app.screen
    await wait_for(pilot, lambda: screen.controller is not None, timeout=60, what="the run to be loaded")
    return screen


@pytest.mark.parametrize("worker", ["process", "thread"])
async def test_r_then_space_continues_a_stopped_run_to_the_uninterrupted_weights(tmp_path, monkeypatch, worker):
    monkeypatch.setenv(WORKER_ENV, worker)
    whole = record_run(tmp_path / "whole", tiny_session())
    runs = tmp_path / "runs"
    stopped = stopped_run(runs / "halted")
    assert json.loads((stopped / "summary.json").read_text())["status"] == "cancelled"
    other = tiny_session(training__epochs=1)  # the app's own session: the run trains its recorded one
    app = make_app(other, runs_root=runs, mode="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await resume_from_runs_screen(pilot, stopped)
        c = screen.controller
        assert c.resume_dir == stopped and c.run_dir == stopped and c.state == "idle"
        assert is_locked(stopped)  # held from loading to the end of the run
        assert c.started().start_step == STOP_AFTER and c.started().epochs == 3
        assert len(screen.state.steps) == STOP_AFTER  # the curves so far, from the recorded events
        await tap(pilot, "space")
        await wait_for(pilot, lambda: c.state == "finished", timeout=60, what="the run to finish")
        c.join(30)
        await wait_for(pilot, lambda: isinstance(screen.state.end, RunEnded), what="the end to be shown")
        assert screen.state.resumes == 1  # the stop the recorded events ended with was gone past
    assert not list(runs.glob("tiny-*"))  # no new run folder
    summary = json.loads((stopped / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_done"] == 3
    assert step_numbers(stopped) == step_numbers(whole) == list(range(1, len(step_numbers(whole)) + 1))  # once
    a, b = arrays(whole / "checkpoints" / "final.npz"), arrays(stopped / "checkpoints" / "final.npz")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert not is_locked(stopped)


async def test_r_on_a_run_that_is_not_stopped_keeps_the_runs_screen(tmp_path):
    done = record_run(tmp_path / "done", tiny_session())
    app = make_app(tiny_session(), runs_root=tmp_path, mode="runs")
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, what="the runs")
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(str(done)))
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        assert "only a stopped run" in str(app.screen.query_one("#runs-hint").render())


@pytest.mark.parametrize("worker", ["process", "thread"])
async def test_a_run_loaded_but_not_continued_is_let_go_still_stopped(tmp_path, monkeypatch, worker):
    monkeypatch.setenv(WORKER_ENV, worker)
    stopped = stopped_run(tmp_path / "halted")
    app = make_app(tiny_session(), runs_root=tmp_path, mode="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await resume_from_runs_screen(pilot, stopped)
        assert is_locked(stopped)
        await tap(pilot, "R")  # reset: a fresh model instead (of the run's session), not the stopped run
        await wait_for(pilot, lambda: not is_locked(stopped), timeout=30, what="the run's lock to be let go")
        assert screen.controller is None or screen.controller.resume_dir is None
    assert json.loads((stopped / "summary.json").read_text())["status"] == "cancelled"
    assert (stopped / "resume" / "state.json").is_file()


async def test_a_resumed_run_keeps_its_own_rate_and_session_and_leaves_the_apps_alone(tmp_path, monkeypatch):
    monkeypatch.setenv(WORKER_ENV, "thread")
    runs = tmp_path / "runs"
    stopped = stopped_run(runs / "halted")
    other = tiny_session(training__epochs=1, optimizer__lr=0.5)  # the build screen's session
    app = make_app(other, runs_root=runs, mode="runs")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await resume_from_runs_screen(pilot, stopped)
        resumed = screen.controller
        await tap(pilot, "minus")  # adam 0.03 -> 0.01, for this run only
        assert resumed.lr == pytest.approx(0.01)
        assert app.session is other and app.session.config.optimizer.lr == 0.5
        await tap(pilot, "space")
        await wait_for(pilot, lambda: resumed.state == "finished", timeout=60, what="the run to finish")
        resumed.join(30)
        await wait_for(pilot, lambda: isinstance(screen.state.end, RunEnded), what="the end to be shown")
        await tap(pilot, "space")  # a new run of the same (recorded) session, not the build screen's
        await wait_for(
            pilot, lambda: screen.controller is not resumed and screen.controller is not None, timeout=60, what="a run"
        )
        fresh = screen.controller
        assert fresh.resume_dir is None
        assert screen.session.config.training.epochs == 3 and fresh.lr == pytest.approx(0.01)
        assert app.session is other
        await wait_for(pilot, lambda: fresh.state == "finished", timeout=60, what="the new run to finish")
        fresh.join(30)
    assert len(list(runs.glob("tiny-*"))) == 1  # the new run's own folder
