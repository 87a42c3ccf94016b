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
from dl_lab.tui.commands import commands, focus_setting, mode_screens, palette_bindings, replay_latest, title_of
from dl_lab.tui.screens.backprop import BackpropScreen
from dl_lab.tui.screens.build import BuildScreen
from dl_lab.tui.screens.inspect import InspectScreen
from dl_lab.tui.screens.replay import ReplayScreen
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


def palette(screen=None) -> list:
    return list(commands(DLLabApp(tiny_session()), screen))


def a_replay() -> ReplayScreen:
    return ReplayScreen.__new__(ReplayScreen)  # never shown: the palette reads its class's bindings


def screen_actions(screen_class) -> set[str]:
    """The actions ``screen_class`` binds to keys, less Textual's (focus, copy, cursor keys) and moving around."""
    skipped = getattr(screen_class, "NOT_IN_PALETTE", set())
    bound = {b.action for b in screen_class.BINDINGS if not b.system}
    assert skipped <= {action.partition("(")[0] for action in bound}, "NOT_IN_PALETTE names no bound action"
    return {action for action in bound if action.partition("(")[0] not in skipped}


def test_the_palette_knows_the_screen_of_every_mode():
    assert mode_screens() == {
        "build": BuildScreen,
        "train": TrainScreen,
        "runs": RunsScreen,
        "inspect": InspectScreen,
        "backprop": BackpropScreen,
    }
    assert set(DLLabApp.MODES) == set(mode_screens())


async def test_each_mode_makes_its_screen_when_first_shown(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        for key, mode in (("2", "train"), ("3", "runs"), ("4", "inspect"), ("5", "backprop"), ("1", "build")):
            await pilot.press(key)
            assert app.current_mode == mode and isinstance(app.screen, mode_screens()[mode])


@pytest.mark.parametrize("mode", ["build", "train", "runs", "inspect"])
def test_the_command_palette_reaches_every_action_of_every_screen(mode):
    screen = mode_screens()[mode]
    reached = {c.callback.args for c in palette() if getattr(c.callback.func, "__name__", "") == "run_on"}
    assert {(mode, action) for action in screen_actions(screen)} <= reached
    assert screen.PALETTE_GROUP  # the titles' "Training: ..."


def test_the_palette_is_read_off_the_bindings_key_help_lines_and_keys():
    app = DLLabApp(tiny_session())
    entries = {c.title: c.help for c in commands(app)}
    for screen in mode_screens().values():
        for binding in palette_bindings(screen):
            line = f"{binding.description} {binding.tooltip}".strip()  # as the key help (`?`) shows it
            title = f"{screen.PALETTE_GROUP}: {line[:1].lower()}{line[1:]}"
            assert app.get_key_display(binding.with_key(binding.key.split(",")[0])) in entries[title]
    assert entries["Training: step one batch"] == "(s or n)"
    assert entries["Build: save the session"] == "(^s)"
    assert entries["Runs: sort by next column"] == "(s)"
    assert entries["Go to: train"] == "Train the session and watch it (2)"  # an app key: EXTRA_COMMANDS
    assert entries["Training: start / pause"] == "Start, pause or resume the run (space)"  # space's two faces


@pytest.mark.parametrize("replay", [None, a_replay()], ids=["modes", "replay"])
def test_every_palette_entry_runs_an_action_of_its_screen_and_none_comes_twice(replay):
    entries = palette(replay)
    titles = [c.title for c in entries]
    assert len(titles) == len(set(titles))
    runs = [(c.callback.func, c.callback.args) for c in entries]
    twice = {args for func, args in runs if runs.count((func, args)) > 1}
    assert twice <= {("show_runs",)}  # only "Go to: runs" and "Replay: choose a run" (on purpose)
    for func, args in runs:
        if getattr(func, "__name__", "") == "run_on":
            mode, action = args
            target = mode_screens()[mode]
        elif func.__name__ == "run_action":
            (action,) = args
            target = ReplayScreen if getattr(func, "__self__", None) is replay else DLLabApp
        else:
            assert func in (replay_latest, focus_setting)  # a setting's entry focuses its field (test_dialogs_and_help)
            continue
        assert hasattr(target, f"action_{action.partition('(')[0]}"), (target, action)


def test_the_palette_has_the_replay_commands_while_a_replay_shows():
    titles = {c.title for c in palette(a_replay())}
    assert {"Replay: play / pause", "Replay: start", "Replay: end", "Replay: faster"} <= titles
    assert {title_of(ReplayScreen, b) for b in palette_bindings(ReplayScreen)} <= titles  # the panes' keys too
    assert not {"Replay: play / pause"} & {c.title for c in palette()}


async def test_a_palette_command_steps_the_training(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.controller is not None, what="the session")
        await pilot.press("ctrl+p", *"step one batch")

        def highlighted() -> str | None:  # the palette's entry that enter runs (its search is a worker)
            found = app.screen.query("CommandList")
            option = found.first().highlighted_option if found else None
            return None if option is None else str(option.hit.text)

        await wait_for(pilot, lambda: highlighted() == "Training: step one batch", what="the palette's Training: step")
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
        monkeypatch.setattr(
            "dl_lab.tui.screens.train.make_controller",
            functools.partial(make_controller, trainer_factory=CrashingTrainer),
        )
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(notifications=True) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.controller is not None, what="the session")
        if worker == "thread":
            trainer = screen.controller.trainer
            trainer.run = functools.partial(CrashingTrainer.run, trainer)
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.state.crash is not None, what="the crash")
        await wait_for(
            pilot,
            lambda: any(n.title == "Training stopped" for n in app._notifications),
            what="the crash's notification",
        )
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
        await wait_for(
            pilot,
            lambda: any(n.title == "Session not ready" for n in app._notifications),
            what="the error's notification",
        )
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
        await wait_for(
            pilot,
            lambda: screen.controller is not None and screen.controller.session is edited,
            what="a controller for the edited session",
        )
        assert screen.controller.lr == 0.5


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_real_app_trains_in_a_real_terminal():
    script = Path(__file__).with_name("tmux_smoke.sh")
    dl_lab = shutil.which("dl-lab", path=str(Path(sys.executable).parent)) or "dl-lab"
    done = subprocess.run(
        ["bash", str(script)], env={**os.environ, "DL_LAB": dl_lab}, capture_output=True, text=True, timeout=150
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_the_footer_drops_the_palette_key_on_a_narrow_terminal_and_brings_it_back(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(
            pilot,
            lambda: any(f.region.width == 160 for f in app.screen.query("LabFooter")),
            what="the footer laid out at 160 columns",
        )

        def palette_shown() -> bool:
            return any(key.key == "ctrl+p" for key in app.screen.query("FooterKey"))

        await wait_for(pilot, palette_shown, what="the palette key at 160 columns")
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: not palette_shown(), what="no palette key at 80 columns")
        await pilot.resize_terminal(160, 50)
        await wait_for(pilot, palette_shown, what="the palette key again")
