"""The Build screen as QA drives it: presets and files redraw every pane at once, keys act (or type) where the
focus says, fields refuse what they cannot hold and say so in the status line, and `f` fixes what it can."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_runs import tiny_session, wait_for
from test_build import BuildApp, add_layer, small_session, until
from textual.widgets import Checkbox, DataTable, Input, OptionList, Select

from dl_lab.sessions import preset_session, session_from_dict
from dl_lab.tui.app import make_app
from dl_lab.tui.dialogs.build_dialogs import ChoiceDialog, LayerDialog, PathDialog
from dl_lab.tui.dialogs.confirm import UnsavedDialog
from dl_lab.tui.panes.stack import LayerStack
from dl_lab.tui.screens.build import BuildScreen
from dl_lab.tui.widgets.forms import OptionField


def text(widget) -> str:
    """What a widget shows, as plain text."""
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


def layer_lines(screen) -> list[str]:
    stack = screen.query_one(LayerStack)
    return [stack.get_option_at_index(i).prompt.plain.strip() for i in range(stack.option_count)]


def field(screen, where: str) -> OptionField:
    return next(f for f in screen.query(OptionField) if f.where == where)


def status(screen) -> str:
    return str(screen.query_one("#build-status").render())


def notes(app) -> list[str]:
    return [n.message for n in app._notifications]


def session_of(spec: dict):
    base = {
        "name": "qa",
        "seed": 1,
        "data": {"dataset": "circle", "samples": 120, "noise": 0.1},
        "optimizer": {"name": "adam", "lr": 0.05},
        "training": {"epochs": 5, "batch_size": 16},
    }
    return session_from_dict({**base, **spec})


async def pick_preset(pilot, name: str) -> None:
    await pilot.press("p")
    await until(pilot, lambda: isinstance(pilot.app.screen, ChoiceDialog))
    choices = pilot.app.screen.query_one(OptionList)
    choices.highlighted = choices.get_option_index(name)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, BuildScreen))


def drawn(screen, name: str) -> bool:
    """The screen has drawn the session ``name`` in every pane: no redraw is under way and the title names it."""
    return not screen._showing.locked() and f"build · {name} ·" in str(screen.query_one("#build-title").render())


# --- 1. a preset or an opened file redraws every pane at once ---------------------------------------------------
@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
async def test_a_preset_shows_at_once_in_the_title_the_layers_the_fields_and_the_preview(size):
    """At 160 columns every pane is built, and the redraw awaited them: the dialog's callback (on the app's loop)
    and the screen's own ScreenResume then drew the old and the new session in turn, the old one last."""
    app = BuildApp(small_session())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen
        if size[0] < 140:  # narrow: build the other panes first, as a user who looked at them has
            await pilot.press(
                "right_square_bracket", "right_square_bracket", "left_square_bracket", "left_square_bracket"
            )
        await until(pilot, lambda: screen.query_one("#training-pane").ready)
        for name in ("xor", "sine"):
            preset = preset_session(name)
            await pick_preset(pilot, name)
            await until(pilot, lambda preset=preset: app.session.spec == preset.spec)
            await wait_for(pilot, lambda name=name: drawn(screen, name), what=f"the screen to draw {name}")
            assert str(screen.query_one("#build-title").render()).startswith(f"build · {name} ·")
            first = preset.spec["model"][0]["dense"]
            assert layer_lines(screen)[0] == f"0 dense {first['units']} {first['activation']}"
            assert len(layer_lines(screen)) == len(preset.spec["model"])
            assert field(screen, "training.epochs").control.value == str(preset.spec["training"]["epochs"])
            assert field(screen, "optimizer.lr").control.value == repr(preset.spec["optimizer"]["lr"])
            assert screen.query_one("#dataset", Select).value == preset.spec["data"]["dataset"]
            scatter = screen.query_one("#preview-scatter")
            assert scatter.display and scatter.data is not None
            assert screen.draft == preset.spec and screen.committed is app.session


async def test_an_opened_file_shows_at_once_in_every_pane(tmp_path: Path):
    path = tmp_path / "other.yaml"
    preset_session("sine").save(path)
    app = BuildApp(small_session())
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        screen = app.screen
        await until(pilot, lambda: screen.query_one("#training-pane").ready)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, PathDialog))
        app.screen.query_one(Input).value = str(path)
        await pilot.press("enter")
        await until(pilot, lambda: app.session.name == "sine")
        await wait_for(pilot, lambda: drawn(screen, "sine"), what="the screen to draw sine")
        assert "build · sine ·" in str(screen.query_one("#build-title").render())
        assert layer_lines(screen)[0].startswith("0 dense 16 tanh")
        assert field(screen, "training.epochs").control.value == str(app.session.spec["training"]["epochs"])
        assert screen.query_one("#dataset", Select).value == "sine"
        assert screen.query_one("#preview-scatter").data.curve  # 1-D regression: y against x


# --- 2. keys in and out of a field -------------------------------------------------------------------------------
async def test_esc_leaves_a_field_and_screen_keys_act_again_and_coming_back_does_not_type(tmp_path: Path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BuildScreen) and app.screen.query_one("#training-pane").ready)
        screen = app.screen
        lr = field(screen, "optimizer.lr")
        lr.focus()
        await pilot.pause()
        assert "esc leave field" in str(screen.query_one("#build-hints").render())
        assert "F3 train" in str(screen.query_one("#build-hints").render())
        await pilot.press("end", "2")  # typed: digits are text in a field
        assert app.current_mode == "build" and lr.control.value == "0.032"
        await pilot.press("escape")
        assert screen.focused is screen.query_one(LayerStack)
        assert "a add" in str(screen.query_one("#build-hints").render())
        await pilot.press("2")
        await until(pilot, lambda: app.current_mode == "train")
        await pilot.press("1")
        await until(pilot, lambda: app.current_mode == "build")
        assert lr.control.value == "0.032"

        lr.focus()  # leave with F3 while typing, come back with F2: the keys act, they are not typed
        await pilot.pause()
        await pilot.press("f3")
        await until(pilot, lambda: app.current_mode == "train")
        await pilot.press("f2")
        await until(pilot, lambda: app.current_mode == "build")
        await pilot.pause()
        assert not isinstance(screen.focused, Input)
        await pilot.press("p")  # the key acts: the rate is an unsaved edit, so the preset asks first
        await until(pilot, lambda: isinstance(app.screen, UnsavedDialog))
        await pilot.press("escape")
        assert lr.control.value == "0.032"


# --- 3. and 4. a value a field cannot hold --------------------------------------------------------------------------
async def test_a_fraction_in_a_whole_number_field_is_an_error_and_not_a_different_number():
    app = BuildApp(small_session())
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.screen.query_one("#training-pane").ready)
        batch = field(app.screen, "training.batch_size")
        batch.focus()
        await pilot.press("end", ".", "5")
        await pilot.pause()
        assert batch.control.value == "16.5"  # the dot is kept: not 165
        assert batch.error == "training.batch_size: expected a whole number, got 16.5"
        assert app.session.spec["training"]["batch_size"] == 16


async def test_the_status_line_says_when_a_field_is_invalid_and_which_value_trains():
    app = BuildApp(small_session())
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.screen.query_one("#training-pane").ready)
        screen = app.screen
        assert status(screen) == "✓ valid: the app trains this session"
        lr = field(screen, "optimizer.lr")
        lr.focus()
        await pilot.press("end", *["backspace"] * 4, *"-0.1")
        await pilot.pause()
        assert lr.error == "optimizer.lr: expected a number > 0, got -0.1"
        assert status(screen) == (
            "✗ optimizer.lr: expected a number > 0, got -0.1 — training uses the last valid session (lr 0.01)"
        )
        assert screen.query_one("#build-status").has_class("-error")
        assert app.session.spec["optimizer"]["lr"] == 0.01
        await pilot.press(*["backspace"] * 4, *"0.05")
        await pilot.pause()
        assert status(screen) == "✓ valid: the app trains this session"
        assert app.session.spec["optimizer"]["lr"] == 0.05


# --- 5. and 6. what f fixes ----------------------------------------------------------------------------------------
async def test_f_gives_one_output_for_bce_without_the_relu_that_would_keep_it_above_zero():
    relu = {"units": 8, "activation": "relu"}
    app = BuildApp(session_of({"loss": "bce", "model": [{"dense": relu}, {"dense": {"units": 1}}]}))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("down", "d")  # the output layer goes: the relu layer of 8 is last
        stack = screen.query_one(LayerStack)
        assert "the model gives 8 outputs, but bce needs 1" in stack.view.flag
        await pilot.press("f")
        await until(pilot, lambda: screen.draft_error is None)
        assert app.session.spec["model"][-1]["dense"]["units"] == 1
        assert app.session.spec["model"][-1]["dense"]["activation"] == "identity"
        assert any("units set to 1" in n and "relu -> identity" in n and "sigmoid" in n for n in notes(app))


async def test_an_output_relu_with_a_classification_loss_is_a_warning_that_f_fixes():
    model = [{"dense": {"units": 8, "activation": "tanh"}}, {"dense": {"units": 2, "activation": "relu"}}]
    app = BuildApp(session_of({"loss": "cross_entropy", "model": model}))
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        screen = app.screen
        note = screen.query_one("#summary-note")
        assert screen.draft_error is None  # a warning: the session is valid and trains
        assert note.display and "output layer's relu means its scores are never below 0" in str(note.render())
        assert "⚠" in status(screen) and "f fixes it" in status(screen)
        await pilot.press("f")
        await until(pilot, lambda: app.session.spec["model"][1]["dense"]["activation"] == "identity")
        await pilot.pause()
        assert screen.warning is None and not note.display
        assert status(screen) == "✓ valid: the app trains this session"


async def test_f_makes_a_residual_block_keep_its_shape_and_the_whole_error_is_readable_under_the_table():
    app = BuildApp()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        screen = app.screen
        await add_layer(pilot, "residual")  # a block of one dense 32 on (32,)
        await pilot.press("enter")  # to the block's layer
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LayerDialog))
        await pilot.press("3", "enter")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen))
        stack = screen.query_one(LayerStack)
        assert stack.error_path == (1,) and "does not match its input shape (32,)" in stack.view.flag
        note = str(screen.query_one("#summary-note").render())
        assert note.startswith("✗ model[1]: the block's output shape (3,) does not match its input shape (32,)")
        table = screen.query_one("#summary-table", DataTable)
        label, output = (table.ordered_columns[i].get_render_width(table) for i in (1, 2))
        assert label >= len("✗ residual") + 2 and output >= len("does not fit") + 2  # not "✗ res", "does n"
        await pilot.press("f")
        await until(pilot, lambda: screen.draft_error is None)
        assert app.session.spec["model"][1]["residual"]["layers"][0]["dense"]["units"] == 32
        assert any("units of layer 1.0 set to 32" in n for n in notes(app))


async def test_a_conv2d_on_points_says_to_choose_images_or_dense_layers():
    app = BuildApp()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await add_layer(pilot, "conv2d", above=True)
        flag = app.screen.query_one(LayerStack).view.flag
        assert flag.startswith("expected an image input (channels, height, width), got (2,)")
        assert "choose an image dataset such as digits, or use dense layers" in flag
        await pilot.press("f")
        await pilot.pause()
        assert any(n.startswith("nothing to fix automatically here: expected an image input") for n in notes(app))


# --- 8. the preview's legend ---------------------------------------------------------------------------------------
async def test_the_preview_legend_is_whole_at_160x50_and_a_1d_regression_has_no_class_key():
    app = BuildApp(small_session())
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        scatter = app.screen.query_one("#preview-scatter")
        await until(pilot, lambda: scatter.data is not None and scatter.size.width > 0)
        shown = text(scatter)
        assert "● negative" in shown and "● positive" in shown and "y -6..6" in shown  # spiral's bounds
        await pick_preset(pilot, "sine")
        await until(pilot, lambda: (plot := app.screen.query_one("#preview-scatter")).data and plot.data.curve)
        await pilot.pause()
        shown = text(app.screen.query_one("#preview-scatter"))  # the data pane was made again
        assert "●" not in shown and "x -1.75..1.68" in shown and " y -" in shown


# --- 9. into the data pane, and its feature boxes ------------------------------------------------------------------
async def test_brackets_land_on_the_first_field_and_feature_boxes_read_without_colour():
    app = BuildApp(small_session())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.focused is screen.query_one("#dataset", Select)
        await pilot.press("enter")  # acts at once: the list of datasets opens
        await until(pilot, lambda: screen.query_one("#dataset", Select).expanded)
        await pilot.press("escape")
        boxes = {box.name: box for box in screen.query(Checkbox)}
        assert str(boxes["x1"].render()).startswith("[x] x1")
        assert str(boxes["x1^2"].render()).startswith("[ ] x1^2")
        boxes["x1^2"].focus()
        await pilot.press("space")
        await until(pilot, lambda: "x1^2" in app.session.spec["data"].get("features", []))
        assert str(boxes["x1^2"].render()).startswith("[x] x1^2")
        await pilot.press("right_square_bracket")  # a number field leaves the brackets to the screen
        await pilot.pause()
        assert screen.section == "training" and isinstance(screen.focused, Input)
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert screen.section == "model" and screen.focused is screen.query_one(LayerStack)


# --- 10. the footer at 80 columns -----------------------------------------------------------------------------------
async def test_the_footer_shows_the_screen_keys_and_quit_within_80_columns(tmp_path: Path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, BuildScreen))
        wanted = ("Add", "Preset", "Save", "Train", "Runs", "Keys", "Quit")

        def keys():
            return {key.description: key.region for key in app.screen.query("FooterKey")}

        await until(pilot, lambda: all(keys().get(name) and keys()[name].width > 0 for name in wanted))  # laid out
        for name in wanted:
            assert keys()[name].right <= 80, name
