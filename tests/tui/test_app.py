"""The app as a whole: modes and global keys, the help panel, the command palette, quitting, and errors that
are shown instead of crashing the app."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lab_runs import CrashingTrainer, tap, tiny_session, wait_for
from textual.widgets import HelpPanel

from dl_lab.datasets import DataError
from dl_lab.sessions.training.controller import WORKER_ENV, make_controller
from dl_lab.tui.app import DLLabApp, make_app
from dl_lab.tui.commands import commands
from dl_lab.tui.screens.build import BuildScreen
from dl_lab.tui.screens.runs import RunsScreen
from dl_lab.tui.screens.train import TrainScreen


async def test_number_keys_switch_between_build_train_and_runs(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.current_mode == "build"
        await pilot.press("2")
        assert app.current_mode == "train" and isinstance(app.screen, TrainScreen)
        await pilot.press("3")
        assert app.current_mode == "runs" and isinstance(app.screen, RunsScreen)
        await pilot.press("1")
        assert app.current_mode == "build"
        await pilot.press("f3")
        assert app.current_mode == "train"


async def test_question_mark_toggles_the_panel_of_every_key(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert app.screen.query(HelpPanel)
        await pilot.press("question_mark")
        await pilot.pause()
        assert not app.screen.query(HelpPanel)


# Keys that are not actions of the lab: moving around (fields, panes of the build screen, rows of the runs table,
# leaving a replay), and the two faces of space (start / pause: the palette has "Training: start / pause").
NOT_IN_PALETTE = {"leave_field", "back", "run", "pause", "replay", "mark", "reverse", "section(1)", "section(-1)"}


@pytest.mark.parametrize("mode,screen", [("build", BuildScreen), ("train", TrainScreen), ("runs", RunsScreen)])
def test_the_command_palette_reaches_every_action_of_every_screen(mode, screen):
    reached = {c.callback.args for c in commands(DLLabApp(tiny_session())) if hasattr(c.callback, "args")}
    actions = {b.action for b in screen.BINDINGS if not b.action.startswith(("app.", "screen."))} - NOT_IN_PALETTE
    assert {(mode, action) for action in actions} <= reached


def test_the_palette_has_the_replay_commands_while_a_replay_shows():
    replay = type("Replay", (), {"is_replay": True, "run_action": lambda self, action: None})()
    titles = {c.title for c in commands(DLLabApp(tiny_session()), replay)}
    assert {"Replay: play / pause", "Replay: start", "Replay: end", "Replay: faster"} <= titles
    assert not {"Replay: play / pause"} & {c.title for c in commands(DLLabApp(tiny_session()))}


async def test_a_palette_command_steps_the_training(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.controller is not None, what="the session")
        await pilot.press("ctrl+p", *"step one batch")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.state.step == 1, what="one step")
        assert screen.controller.state == "paused"


async def test_q_stops_a_running_training_and_saves_its_checkpoint(tmp_path):
    app = make_app(tiny_session(training__epochs=2000), runs_root=tmp_path, mode="train")
    async with app.run_test() as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.controller is not None, what="the session")
        await tap(pilot, "space")
        await wait_for(pilot, lambda: screen.state.step > 5, what="some steps")
        controller = screen.controller
        await tap(pilot, "q")
        await wait_for(pilot, lambda: not controller.alive, what="the training worker")
    assert (controller.run_dir / "checkpoints" / "last.npz").exists()
    assert app.return_code == 0


@pytest.mark.parametrize("worker", ["thread", "process"])
async def test_a_crash_in_the_training_worker_is_shown_and_the_app_lives_on(tmp_path, monkeypatch, worker):
    monkeypatch.setenv(WORKER_ENV, worker)
    if worker == "process":  # the trainer is built in the child: it is told which class to build
        monkeypatch.setattr("dl_lab.tui.screens.train.make_controller",
                            functools.partial(make_controller, trainer_factory=CrashingTrainer))  # fmt: skip
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.controller is not None, what="the session")
        if worker == "thread":
            trainer = screen.controller.trainer
            trainer.run = functools.partial(CrashingTrainer.run, trainer)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.state.crash is not None, what="the crash")
        await pilot.pause(0.2)
        assert "RuntimeError: the GPU caught fire" in str(screen.query_one("#failure").render())
        assert any("GPU caught fire" in n.message for n in app._notifications)
        await pilot.press("3")  # still alive and answering keys
        assert app.current_mode == "runs"


async def test_a_session_whose_data_cannot_load_is_explained(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise DataError("data.dataset: mnist needs a download and the network is unreachable")

    monkeypatch.setattr("dl_lab.sessions.training.build.load_dataset", offline)
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.state.crash is not None, what="the error")
        await pilot.pause(0.2)
        assert "network is unreachable" in str(screen.query_one("#failure").render())
        assert any(n.severity == "error" for n in app._notifications)
        await pilot.press("space")  # nothing to start: no crash either
        await pilot.press("s", "x", "plus")


async def test_an_edited_session_is_trained_when_the_training_screen_comes_back(tmp_path):
    pytest.importorskip("dl_lab.tui.screens.build")
    from dl_lab.tui.screens.build import SessionEdited

    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test() as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.controller is not None, what="the session")
        edited = tiny_session(optimizer__lr=0.5)
        await pilot.press("3")
        app.post_message(SessionEdited(edited))
        await pilot.pause()
        assert app.session is edited
        await pilot.press("2")
        await wait_for(pilot, lambda: screen.controller is not None and screen.controller.session is edited,
                       what="a controller for the edited session")  # fmt: skip
        assert screen.controller.lr == 0.5


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_real_app_trains_in_a_real_terminal():
    script = Path(__file__).with_name("tmux_smoke.sh")
    dl_lab = shutil.which("dl-lab", path=str(Path(sys.executable).parent)) or "dl-lab"
    done = subprocess.run(["bash", str(script)], env={**os.environ, "DL_LAB": dl_lab}, capture_output=True,
                          text=True, timeout=150)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


async def test_the_footer_drops_the_palette_key_on_a_narrow_terminal_and_brings_it_back(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.2)

        def palette_shown() -> bool:
            return any(key.key == "ctrl+p" for key in app.screen.query("FooterKey"))

        await wait_for(pilot, palette_shown, what="the palette key at 160 columns")
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: not palette_shown(), what="no palette key at 80 columns")
        await pilot.resize_terminal(160, 50)
        await wait_for(pilot, palette_shown, what="the palette key again")
