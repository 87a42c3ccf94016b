"""Travelling on the Build screen: `[` and `]` move from the pane the user is in, and the most used settings have
their own keys (L, E, B, O, D, N) that land on their fields, which never fire while a text field is typed in."""

from __future__ import annotations

import pytest
from test_build import BuildApp, small_session, until
from textual.widgets import Input, Select

from dl_lab.tui.panes.stack import LayerStack
from dl_lab.tui.screens.build import HINTS, SETTING_KEYS, BuildScreen
from dl_lab.tui.widgets.forms import OptionField


def field(screen, where: str) -> OptionField:
    return next(f for f in screen.query(OptionField) if f.where == where)


async def ready(pilot) -> BuildScreen:
    screen = pilot.app.screen
    await until(pilot, lambda: screen.query_one("#training-pane").ready)
    return screen


# --- 1. the brackets move from where the focus is -----------------------------------------------------------------
async def test_brackets_move_from_the_pane_that_holds_the_focus_on_a_wide_terminal():
    app = BuildApp(small_session())
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready(pilot)
        field(screen, "training.epochs").focus()  # tabbed or clicked into the training pane
        await pilot.pause()
        await pilot.press("right_square_bracket")  # the pane after the training pane: the model's
        await pilot.pause()
        assert screen.focused is screen.query_one(LayerStack)
        field(screen, "training.epochs").focus()
        await pilot.pause()
        await pilot.press("left_square_bracket")  # the pane before it: the data pane
        await pilot.pause()
        assert screen.focused is screen.query_one("#dataset", Select)
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert screen.focused is screen.query_one(LayerStack)


async def test_brackets_move_from_the_pane_shown_on_a_narrow_terminal():
    app = BuildApp(small_session())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await pilot.pause()
        await pilot.click("#tab-training")
        await until(pilot, lambda: screen.section == "training")
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: screen.section == "model")
        # the pane's field takes the focus once the pane is shown: a refresh later on a loaded machine
        await until(pilot, lambda: screen.focused is screen.query_one(LayerStack))


# --- 2. a key for each of the most used settings -----------------------------------------------------------------
@pytest.mark.parametrize("size", [(160, 50), (80, 24)])
async def test_each_setting_key_shows_its_pane_and_focuses_its_field(size):
    app = BuildApp(small_session())
    async with app.run_test(size=size) as pilot:
        screen = app.screen
        await pilot.pause()
        for key, where in SETTING_KEYS.items():
            screen.query_one(LayerStack).focus()  # from the layer list, as after esc
            await pilot.pause()
            await pilot.press(key)
            section = "data" if where.startswith("data.") else "training"
            await until(pilot, lambda section=section: screen.section == section)
            if where == "data.dataset":
                target = screen.query_one("#dataset", Select)
            else:
                await until(pilot, lambda where=where: any(f.where == where for f in screen.query(OptionField)))
                target = field(screen, where).control
            await until(pilot, lambda target=target: screen.focused is target)
            assert target.region.width > 0, f"{key}: {where} is not on screen"


async def test_setting_keys_are_typed_in_a_text_field_and_listed_in_the_key_help():
    app = BuildApp(small_session())
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready(pilot)
        name = field(screen, "name").control
        assert isinstance(name, Input)
        name.focus()
        await pilot.press("end", *"LEBODN")
        await pilot.pause()
        assert name.value == "smallLEBODN" and screen.focused is name
        bound = {b.key: b for b in BuildScreen.BINDINGS}
        for key, where in SETTING_KEYS.items():
            assert bound[key].description and bound[key].tooltip, where
    for kind in ("model", "pane", "pane-home"):
        assert "L/E/B/O/D/N" in HINTS[kind][0] and len(HINTS[kind][0]) <= 156  # the wide hint line, in 160 columns
