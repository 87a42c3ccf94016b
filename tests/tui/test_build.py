"""The Build screen, driven with the keyboard through Textual's pilot."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import Checkbox, Input, OptionList, Select

from dl_lab.sessions import PRESETS, load_session, preset_session, session_from_dict
from dl_lab.sessions.config import stack as ops
from dl_lab.tui.dialogs.build_dialogs import ChoiceDialog, LayerDialog, PathDialog
from dl_lab.tui.dialogs.confirm import UnsavedDialog
from dl_lab.tui.panes.stack import LayerStack, ModelSummary
from dl_lab.tui.screens.build import BuildScreen, SessionEdited
from dl_lab.tui.widgets.forms import OptionField, OptionForm


def small_session():
    """Spiral points and a 32-32-2 ReLU network: the shapes and counts these tests expect."""
    dense = {"units": 32, "activation": "relu"}
    return session_from_dict(
        {
            "name": "small",
            "seed": 1,
            "data": {"dataset": "spiral", "samples": 200, "noise": 0.1},
            "model": [{"dense": dense}, {"dense": dense}, {"dense": {"units": 2}}],
            "optimizer": {"name": "adam", "lr": 0.01},
            "training": {"epochs": 5, "batch_size": 16},
        }
    )


class BuildApp(App):
    """A minimal host: the app's session and the SessionEdited messages it received."""

    def __init__(self, session=None) -> None:
        super().__init__()
        self.session = session or small_session()
        self.edited: list = []

    def on_mount(self) -> None:
        self.push_screen(BuildScreen())

    def on_session_edited(self, event: SessionEdited) -> None:
        self.edited.append(event.session)


def units(app) -> list:
    return [next(iter(layer.values())).get("units") for layer in app.session.spec["model"]]


def summary(app) -> list[list[str]]:
    return app.screen.query_one(ModelSummary).rows


async def until(pilot, condition, timeout: float = 10.0) -> None:
    """Wait for ``condition()`` (edits ripple through several messages; a busy machine takes longer)."""
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    assert condition()


async def type_text(pilot, text: str) -> None:
    await pilot.press(*text)


async def add_layer(pilot, kind: str, *, above: bool = False, **fields) -> None:
    """Press a (or i), pick ``kind`` in the list, fill ``fields`` in its form and apply with enter."""
    await pilot.press("i" if above else "a")
    await until(pilot, lambda: isinstance(pilot.app.screen, ChoiceDialog))
    dialog = pilot.app.screen
    choices = dialog.query_one(OptionList)
    choices.highlighted = choices.get_option_index(kind)
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, ChoiceDialog))
    if kind == "residual":
        return
    await until(pilot, lambda: isinstance(pilot.app.screen, LayerDialog))
    form = pilot.app.screen
    for key, value in fields.items():
        form.form.field(key).focus()
        await pilot.pause()
        await type_text(pilot, str(value))
    await pilot.pause()
    if form.form.fields:
        form.form.fields[0].focus()
        await pilot.press("enter")
    else:
        await pilot.press("enter")  # the OK button has the focus
    await until(pilot, lambda: isinstance(pilot.app.screen, BuildScreen))


async def test_layers_are_added_edited_moved_copied_and_deleted_with_the_keys():
    app = BuildApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await add_layer(pilot, "dense", units=24)
        assert units(app) == [32, 24, 32, 2]
        assert app.session.spec["model"][1] == {
            "dense": {"units": 24, "activation": "relu", "bias": True, "init": None, "bias_init": "zeros"}
        }
        assert summary(app)[2][:4] == ["1", "dense", "(24,)", "792"]  # 32 * 24 + 24
        assert len(app.edited) == 1 and app.edited[0] is app.session
        await pilot.press("enter")  # edit the new layer (it is highlighted)
        await until(pilot, lambda: isinstance(app.screen, LayerDialog))
        await type_text(pilot, "8")
        await pilot.press("enter")
        await pilot.pause()
        assert units(app) == [32, 8, 32, 2]
        await pilot.press("K")
        assert units(app) == [8, 32, 32, 2]
        assert summary(app)[1][:4] == ["0", "dense", "(8,)", "24"]
        await pilot.press("shift+down")
        assert units(app) == [32, 8, 32, 2]
        await pilot.press("d")
        assert units(app) == [32, 32, 2]
        assert app.screen.query_one(LayerStack).cursor_path == (1,)
        await pilot.press("c")
        assert units(app) == [32, 32, 32, 2]
        assert app.screen.query_one(LayerStack).cursor_path == (2,)


async def test_an_invalid_value_or_a_layer_that_does_not_fit_is_shown_where_it_is_and_the_session_kept():
    app = BuildApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        before = app.session
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LayerDialog))
        await type_text(pilot, "0")
        await pilot.press("enter")
        dialog = app.screen
        assert isinstance(dialog, LayerDialog)  # not applied: still open
        field = dialog.form.field("units")
        assert field.error == "model[0].dense.units: expected an integer >= 1, got 0"
        assert field.has_class("-invalid")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, BuildScreen))
        assert app.session is before and not app.edited

        await add_layer(pilot, "maxpool2d")
        screen = app.screen
        stack = screen.query_one(LayerStack)
        assert stack.error_path == (1,)
        assert "expected an image input (channels, height, width), got (32,)" in stack.view.flag
        assert app.session is before and not app.edited
        assert screen.draft_error.startswith("model[1]: expected an image input")
        assert [row[0] for row in summary(app)] == ["", "0", "1"]  # input, the layer that fits, the one that does not
        assert summary(app)[-1][1:3] == ["✗ maxpool2d", "does not fit"]
        await pilot.press("d")
        assert screen.draft_error is None and stack.error_path is None
        assert app.session is before and not app.edited  # back to the same valid session: nothing to apply


async def test_digits_show_their_shape_and_images_and_a_flatten_layer_makes_the_model_fit():
    app = BuildApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("right_square_bracket")  # the data pane
        screen.query_one("#dataset", Select).value = "digits"
        await until(pilot, lambda: summary(app)[0][2] == "(1, 8, 8)")
        assert summary(app)[0][2] == "(1, 8, 8)"
        images = screen.query_one("#preview-images")
        assert images.display and images.data is not None and len(images.data.captions) == 8
        assert not screen.query_one("#preview-scatter").display
        stack = screen.query_one(LayerStack)
        assert stack.error_path == (0,)
        assert stack.view.flag == "expected a flat input (features,), got (1, 8, 8); add a flatten layer before it"
        assert app.session.spec["data"]["dataset"] == "spiral"
        await pilot.press("left_square_bracket")  # back to the layers
        await add_layer(pilot, "flatten", above=True)
        assert stack.error_path == (3,)
        assert "gives 2 outputs, but cross_entropy needs 10" in stack.view.flag
        await pilot.press("f")  # the fix the message asks for: 10 outputs
        await until(pilot, lambda: screen.draft_error is None)
        assert app.session.spec["data"]["dataset"] == "digits"
        assert app.session.spec["model"][0] == {"flatten": {}}
        assert units(app) == [None, 32, 32, 10]
        assert summary(app)[2][3] == "2,080"  # 64 * 32 + 32


async def test_a_playground_feature_changes_the_first_layer_and_a_regression_set_changes_the_loss():
    app = BuildApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert summary(app)[1][3] == "96"
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: len(app.screen.query(Checkbox)) == 7)
        box = next(b for b in app.screen.query(Checkbox) if b.name == "x1^2")
        box.focus()
        await pilot.press("space")
        await until(pilot, lambda: len(app.session.spec["data"]["features"]) == 3)
        assert app.session.spec["data"]["features"] == ["x1", "x2", "x1^2"]
        assert summary(app)[0][2] == "(3,)"
        assert summary(app)[1][3] == "128"  # 3 * 32 + 32
        app.screen.query_one("#dataset", Select).value = "plane"
        await until(pilot, lambda: app.screen.draft["data"]["dataset"] == "plane")
        assert app.screen.draft["loss"] == "mse"  # plane is a regression task
        assert app.screen.query_one(LayerStack).error_path == (2,)  # 2 outputs for one regression target
        assert app.screen.draft["data"]["features"] == ["x1", "x2", "x1^2"]  # kept: plane takes the same options


async def test_the_optimizer_form_follows_the_chosen_optimizer():
    app = BuildApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("left_square_bracket")  # the training pane
        chooser = next(f for f in app.screen.query(OptionField) if f.where == "optimizer.name")
        chooser.control.value = "sgd"
        await until(pilot, lambda: app.session.spec["optimizer"]["name"] == "sgd")
        assert app.session.spec["optimizer"] == {"name": "sgd", "lr": 0.01, "momentum": 0.0, "nesterov": False}
        momentum = next(f for f in app.screen.query(OptionField) if f.where == "optimizer.momentum")
        momentum.focus()
        await type_text(pilot, "0.9")
        await pilot.pause()
        assert app.session.spec["optimizer"]["momentum"] == 0.9
        lr = next(f for f in app.screen.query(OptionField) if f.where == "optimizer.lr")
        lr.focus()
        await type_text(pilot, "-1")
        await pilot.pause()
        assert lr.error == "optimizer.lr: expected a number > 0, got -1.0"
        assert app.session.spec["optimizer"]["lr"] == 0.01


async def test_a_residual_block_lists_its_inner_layers_which_can_be_added_edited_and_deleted():
    app = BuildApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await add_layer(pilot, "residual")
        block = app.session.spec["model"][1]["residual"]["layers"]
        assert block == [
            {"dense": {"units": 32, "activation": "relu", "bias": True, "init": None, "bias_init": "zeros"}}
        ]
        stack = app.screen.query_one(LayerStack)
        await pilot.press("enter")  # on the block: the cursor goes to its first layer
        await pilot.pause()
        assert stack.cursor_path == (1, 0)
        await add_layer(pilot, "dropout")
        assert [next(iter(x)) for x in app.session.spec["model"][1]["residual"]["layers"]] == ["dense", "dropout"]
        assert stack.cursor_path == (1, 1)
        await pilot.press("up", "enter")
        await pilot.pause()
        await type_text(pilot, "16")
        await pilot.press("enter")
        await pilot.pause()
        assert stack.error_path == (1,)  # the block now gives (16,) for a (32,) input
        assert app.session.spec["model"][1]["residual"]["layers"][0]["dense"]["units"] == 32
        await pilot.press("d")
        await pilot.pause()
        assert app.session.spec["model"][1]["residual"]["layers"] == [{"dropout": {"p": 0.2}}]
        rows = [r[0] for r in summary(app)]
        assert "1.0" in rows


async def test_a_new_empty_model_keeps_the_session_until_a_layer_or_a_preset_replaces_it():
    app = BuildApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        before = app.session
        await pilot.press("n")
        assert app.screen.draft["model"] == [] and app.session is before
        assert app.screen.draft_error == "the model has no layers yet: press a to add one"
        await add_layer(pilot, "dense", units=2)
        assert units(app) == [2]
        await pilot.press("p")  # the session has unsaved edits: the preset asks first, d discards them
        await until(pilot, lambda: isinstance(app.screen, UnsavedDialog))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("enter")  # the first preset
        preset = preset_session(next(iter(PRESETS)))
        await until(pilot, lambda: app.session.spec == preset.spec)
        assert app.edited[-1] is app.session
        assert app.screen.draft == preset.spec and app.screen.draft_error is None


async def test_save_then_open_gives_back_the_same_session_and_a_bad_file_changes_nothing(tmp_path: Path):
    app = BuildApp()
    target = tmp_path / "mine.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: {dataset: spiral}\nmodel:\n  - dense: {units: -1}\n", encoding="utf-8")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await add_layer(pilot, "dropout")
        saved = app.session.spec
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, PathDialog))
        assert app.screen.query_one(Input).value == "small.yaml"  # <name>.yaml in the current directory
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await until(pilot, target.exists)
        assert load_session(target).spec == saved
        await pilot.press("d", "d")
        assert app.session.spec != saved
        await pilot.press("ctrl+o")  # the deletes are not saved: opening a file asks first, d discards them
        await until(pilot, lambda: isinstance(app.screen, UnsavedDialog))
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, PathDialog))
        assert app.screen.query_one(Input).value == str(target)  # the path saved to is suggested
        await pilot.press("enter")
        await until(pilot, lambda: app.session.spec == saved)
        assert app.screen.save_path == target

        before = app.session
        for path in (bad, tmp_path / "missing.yaml"):
            await pilot.press("ctrl+o")
            await until(pilot, lambda: isinstance(app.screen, PathDialog))
            app.screen.query_one(Input).value = str(path)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, BuildScreen))
            await pilot.pause()
            assert app.session is before
        messages = [n.message for n in app._notifications]
        assert any("model[0].dense.units: expected an integer >= 1, got -1" in m for m in messages)
        assert any("missing.yaml: no such session file" in m for m in messages)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_the_screen_shows_every_pane_at_80x24_one_at_a_time_and_at_160x50_side_by_side(size, tmp_path: Path):
    app = BuildApp()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        screen = app.screen
        wide = size[0] >= 140
        assert screen.has_class("-wide" if wide else "-narrow")
        for name in ("model", "data", "training"):
            if not wide:
                await until(pilot, lambda name=name: screen.section == name)
            await until(pilot, lambda: screen.query_one("#training-pane").ready or not wide)
            shown = [p for p in ("model", "data", "training") if screen.query_one(f"#{p}-pane").region.width > 0]
            assert shown == (["model", "data", "training"] if wide else [name])
            assert screen.query_one("#build-status").region.height >= 1
            app.save_screenshot(str(tmp_path / f"{name}.svg"))  # to look at: pytest --basetemp=DIR
            if not wide:
                await pilot.press("right_square_bracket")
        assert screen.query_one(OptionForm).region.width > 0 or not wide
        assert (tmp_path / "training.svg").stat().st_size > 0


def test_layer_edits_reach_inside_residual_blocks_and_never_change_their_input():
    model = [{"dense": {"units": 4}}, {"residual": {"layers": [{"dense": {"units": 4}}]}}]
    added, at = ops.insert(model, (1, 0), {"dropout": {"p": 0.1}})
    assert at == (1, 1) and ops.inner_layers(added[1]) == [{"dense": {"units": 4}}, {"dropout": {"p": 0.1}}]
    moved, at = ops.move(added, (1, 1), -1)
    assert at == (1, 0) and ops.kind_of(ops.inner_layers(moved[1])[0]) == "dropout"
    emptied, at = ops.delete(model, (1, 0))
    assert at == (1, None) and ops.paths(emptied) == [(0,), (1,), (1, None)]
    refilled, at = ops.insert(emptied, (1, None), {"dense": {"units": 4}})
    assert refilled == model and at == (1, 0)
    assert model == [{"dense": {"units": 4}}, {"residual": {"layers": [{"dense": {"units": 4}}]}}]


def test_the_shape_check_names_the_inner_layer_that_does_not_fit_and_the_fix_it_asks_for():
    model = [{"dense": {"units": 4}}, {"residual": {"layers": [{"dense": {"units": 3}}]}}]
    report = ops.check_stack(model, (2,))
    assert report.error_path == (1,) and "does not match its input shape (4,)" in report.error
    report = ops.check_stack([{"conv2d": {"filters": 2}}, {"dense": {"units": 3}}], (1, 8, 8))
    assert report.error_path == (1,)
    assert report.error == "expected a flat input (features,), got (2, 6, 6); add a flatten layer before it"
    assert [r.params for r in report.rows] == [20]
    fixed, at, _ = ops.fix([{"conv2d": {"filters": 2}}, {"dense": {"units": 3}}], (1,), report.error)
    assert ops.kind_of(fixed[1]) == "flatten" and at == (1,)
    assert (
        ops.describe({"conv2d": {"filters": 8, "kernel": 5, "stride": 2, "padding": "same"}}) == "conv2d 8 5x5 s2 same"
    )
