"""Edits are not lost by accident: a modified session is marked and asks before q, p, n (or ctrl+o) drop it; ctrl+z
undoes layer edits; an invalid model is not trained silently; and edits while a run trains say they wait for the
next run."""

from __future__ import annotations

from pathlib import Path

from lab_runs import tap, tiny_session, wait_for
from test_build import BuildApp, until
from textual.widgets import Input, OptionList

from dl_lab.sessions import load_session
from dl_lab.tui.app import make_app
from dl_lab.tui.commands import commands
from dl_lab.tui.dialogs.build_dialogs import ChoiceDialog, PathDialog
from dl_lab.tui.dialogs.confirm import UnsavedDialog
from dl_lab.tui.screens.build import UNDO_DEPTH, BuildScreen
from dl_lab.tui.screens.train import TrainScreen


def title(screen) -> str:
    return str(screen.query_one("#build-title").render())


def status(screen) -> str:
    return str(screen.query_one("#build-status").render())


def model_units(spec_model: list) -> list:
    return [next(iter(layer.values())).get("units") for layer in spec_model]


async def save_as(pilot, path: Path) -> None:
    """In the path dialog (the first save asks where): type ``path`` and save."""
    await until(pilot, lambda: isinstance(pilot.app.screen, PathDialog))
    pilot.app.screen.query_one(Input).value = str(path)
    await pilot.press("enter")
    await until(pilot, path.exists)


# --- 1. the mark, and asking before edits are lost -------------------------------------------------------------------
async def test_an_edit_marks_the_title_until_the_session_is_saved(tmp_path: Path):
    app = BuildApp(tiny_session())
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.screen.query_one("#training-pane").ready)
        screen = app.screen
        assert "●" not in title(screen) and not screen.modified  # drawing the panes is no edit
        await pilot.press("d")
        await until(pilot, lambda: "● modified" in title(screen))
        assert title(screen).startswith("build · tiny ·")
        await pilot.press("ctrl+s")
        await save_as(pilot, tmp_path / "mine.yaml")
        await until(pilot, lambda: "●" not in title(screen))
        assert not screen.modified and "mine.yaml" in title(screen)
        await pilot.press("ctrl+z")  # back to the three layers: an edit again, since the save
        await until(pilot, lambda: "● modified" in title(screen))


async def test_q_on_an_unmodified_session_quits_at_once(tmp_path: Path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BuildScreen))
        await pilot.press("q")
        await until(pilot, lambda: app.return_code == 0)
        assert not isinstance(app.screen, UnsavedDialog)


async def test_q_on_a_modified_session_asks_esc_stays_d_quits_without_saving(tmp_path: Path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BuildScreen))
        await pilot.press("d")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, UnsavedDialog))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen))
        assert app.return_code is None
        await pilot.press("2")  # asked from the training screen too: the edits are the session's, not a screen's
        await until(pilot, lambda: isinstance(app.screen, TrainScreen))
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, UnsavedDialog))
        await pilot.press("d")
        await until(pilot, lambda: app.return_code == 0)
    assert not list(tmp_path.glob("*.yaml"))


async def test_q_then_s_saves_where_asked_and_quits(tmp_path: Path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    target = tmp_path / "kept.yaml"
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BuildScreen))
        await pilot.press("d")
        edited = app.session.spec
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, UnsavedDialog))
        await pilot.press("s")
        await save_as(pilot, target)
        await until(pilot, lambda: app.return_code == 0)
    assert load_session(target).spec == edited


async def test_p_on_a_modified_session_asks_and_s_saves_to_the_known_file_then_offers_the_presets(tmp_path: Path):
    app = BuildApp(tiny_session())
    target = tmp_path / "mine.yaml"
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("p")  # unmodified: the presets at once
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("ctrl+s")
        await save_as(pilot, target)
        await pilot.press("d")
        edited = app.session.spec
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, UnsavedDialog))
        await pilot.press("s")  # saved to mine.yaml without asking where, then the presets
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert load_session(target).spec == edited
        choices = app.screen.query_one(OptionList)
        choices.highlighted = choices.get_option_index("xor")
        await pilot.press("enter")
        await until(pilot, lambda: app.session.name == "xor" and app.screen is screen)
        await until(pilot, lambda: "build · xor ·" in title(screen))
        assert not screen.modified and "●" not in title(screen)


async def test_n_on_a_modified_session_asks_esc_keeps_the_layers_and_d_empties_them():
    app = BuildApp(tiny_session())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("c")  # duplicate: four layers, unsaved
        assert len(screen.draft["model"]) == 4
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, UnsavedDialog))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        assert len(screen.draft["model"]) == 4
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, UnsavedDialog))
        await pilot.press("d")
        await until(pilot, lambda: screen.draft["model"] == [])


# --- 2. undo and redo ------------------------------------------------------------------------------------------------
async def test_ctrl_z_undoes_layer_edits_and_ctrl_y_redoes_them():
    app = BuildApp(tiny_session())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        start = [6, 6, 2]
        assert model_units(screen.draft["model"]) == start
        await pilot.press("c")  # duplicate layer 0
        await pilot.press("J")  # move it down
        await pilot.press("d")  # delete it
        await pilot.press("f")  # nothing to fix: no edit, nothing to undo
        after = [model_units(screen.draft["model"])]
        assert after[0] == [6, 6, 2] and len(screen.undo_history) == 3
        await pilot.press("ctrl+z")
        assert model_units(screen.draft["model"]) == [6, 6, 6, 2]
        await pilot.press("ctrl+z", "ctrl+z")
        assert model_units(screen.draft["model"]) == start and not screen.modified
        assert app.session.spec["model"] == screen.draft["model"]  # the undone model is the app's again
        await pilot.press("ctrl+z")  # nothing left: a note, no change
        assert model_units(screen.draft["model"]) == start
        assert any("nothing to undo" in n.message for n in app._notifications)
        await pilot.press("ctrl+y")
        assert len(screen.draft["model"]) == 4 and screen.modified
        await pilot.press("ctrl+shift+z")
        await pilot.press("ctrl+y")
        assert model_units(screen.draft["model"]) == [6, 6, 2] and not screen.redo_history
        await pilot.press("ctrl+z", "d")  # a new edit after an undo: nothing to redo
        assert not screen.redo_history


async def test_the_undo_history_is_bounded_and_undo_is_in_the_keys_and_the_palette():
    app = BuildApp(tiny_session())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        for _ in range(UNDO_DEPTH + 5):
            await pilot.press("J" if screen.stack.cursor_path == (0,) else "K")
        assert len(screen.undo_history) == UNDO_DEPTH
        assert "^z" in str(screen.query_one("#build-hints").render())
    bindings = {b.action: b for b in BuildScreen.BINDINGS}
    assert bindings["undo"].key == "ctrl+z" and bindings["undo"].description == "Undo"
    assert "ctrl+y" in bindings["redo"].key and "ctrl+shift+z" in bindings["redo"].key
    titles = {c.title for c in commands(make_app())}
    assert {"Build: undo the last layer edit", "Build: redo the layer edit undone"} <= titles


# --- 3. an invalid model is not trained silently, and edits during a run wait for the next -------------------------
async def test_space_with_an_invalid_model_refuses_once_and_space_again_trains_the_last_valid_one(tmp_path: Path):
    app = make_app(tiny_session(training__epochs=2000), runs_root=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BuildScreen))
        build = app.screen
        valid = app.session
        await pilot.press("n")  # an empty model: not the app's session
        assert build.draft_error == "the model has no layers yet: press a to add one"
        await pilot.press("2")
        train = app.screen
        await wait_for(pilot, lambda: train.controller is not None, what="the session")
        await pilot.press("space")
        banner = train.query_one("#build-error")
        assert banner.display and train.controller.state == "idle"
        shown = str(banner.render())
        assert "the model on the build screen has an error: the model has no layers yet" in shown
        assert "fix it (1) or press space again to train the last valid model" in shown
        await pilot.press("s")  # again (a step starts a run too): the last valid model trains, paused after a step
        await wait_for(pilot, lambda: train.controller.state == "paused", what="the run to start")
        assert not banner.display and train.session is valid
        await tap(pilot, "space")  # resumes: no banner for a run that has started
        await wait_for(pilot, lambda: train.controller.state == "running", what="the run")
        assert not banner.display

        await tap(pilot, "1")
        await wait_for(pilot, lambda: app.screen is build, what="the build screen")
        await wait_for(
            pilot, lambda: "a run is training now: edits apply to the next run" in status(build), what="the line"
        )
        await tap(pilot, "2")
        await wait_for(pilot, lambda: app.screen is train, what="the training screen")
        await tap(pilot, "x")
        await wait_for(pilot, lambda: train.controller.state == "finished", what="the run to stop")
        await tap(pilot, "1")
        await wait_for(pilot, lambda: app.screen is build, what="the build screen")
        await wait_for(pilot, lambda: "a run is training" not in status(build), what="the line to go")


async def test_with_a_valid_model_space_trains_at_once(tmp_path: Path):
    app = make_app(tiny_session(training__epochs=2000), runs_root=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BuildScreen))
        build = app.screen
        await pilot.press("n", "ctrl+z")  # emptied, then the layers back: valid again
        assert build.draft_error is None and len(build.draft["model"]) == 3
        await pilot.press("2")
        train = app.screen
        await wait_for(pilot, lambda: train.controller is not None, what="the session")
        await tap(pilot, "space")
        await wait_for(pilot, lambda: train.controller.state == "running", what="the run")
        assert not train.query_one("#build-error").display
        await tap(pilot, "x")
        await wait_for(pilot, lambda: train.controller.state == "finished", what="the run to stop")
