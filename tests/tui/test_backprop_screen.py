"""The backprop screen (5): the build screen's session walked one number at a time; keys step, jump a phase and
change the sample, the current node is highlighted in the drawing of the network."""

from __future__ import annotations

import pytest
from lab_runs import wait_for

from dl_lab.sessions import preset_session
from dl_lab.tui.app import make_app
from dl_lab.tui.backprop_render import CURRENT
from dl_lab.tui.screens.backprop import BackpropScreen


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector).render())


def highlighted(screen) -> list[str]:
    """The labels drawn in the current node's style in the network drawing."""
    text = screen.drawing
    return [text.plain[s.start : s.end].strip() for s in text.spans if str(s.style) == CURRENT]


async def opened(pilot, app) -> BackpropScreen:
    await pilot.press("5")
    await wait_for(pilot, lambda: isinstance(app.screen, BackpropScreen) and app.screen.walk is not None, what="walk")
    return app.screen


async def test_stepping_through_seed003_forward_backward_and_the_update():
    app = make_app(preset_session("backprop_example"))
    async with app.run_test(size=(100, 34)) as pilot:
        screen = await opened(pilot, app)
        assert "x = [3], y = [-12]" in text_of(screen, "#backprop-status")
        assert text_of(screen, "#backprop-current").startswith("x = 3") and highlighted(screen) == ["(x 3)"]
        await pilot.press("right")
        assert "z1 = w1·x + b1 = 5·3 + 0 = 15" in text_of(screen, "#backprop-current")
        assert highlighted(screen) == ["(z1 15)"]
        assert "z2 = " not in text_of(screen, "#backprop-steps")  # steps not reached show their name only
        await pilot.press("n")  # the backward phase
        assert "∂L/∂z2 = 2(z2 − y) = 2·(-14 − (-12)) = -4" in text_of(screen, "#backprop-current")
        for _ in range(6):
            await pilot.press("right")
        assert "∂L/∂w1 = ∂L/∂z1 · x = 4 · 3 = 12" in text_of(screen, "#backprop-current")
        assert highlighted(screen) == ["(z1 15 ∇4)"]  # w1's gradient belongs to layer 1's node, now with its own
        await pilot.press("n")
        assert "w1 ← w1 − lr·∂L/∂w1 = 5 − 0.001·12 = 4.988" in text_of(screen, "#backprop-current")
        await pilot.press("left", "p")
        assert text_of(screen, "#backprop-current").startswith("∂L/∂z2")  # back to the backward phase's start
        await pilot.press("end")
        assert screen.index == len(screen.walk["steps"]) - 1  # the keys reach the screen, not the list
        await pilot.press("home")
        assert screen.index == 0


async def test_the_next_sample_and_a_session_edited_on_the_build_screen():
    app = make_app(preset_session("xor_by_hand"))
    async with app.run_test(size=(100, 34)) as pilot:
        screen = await opened(pilot, app)
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")
        await wait_for(pilot, lambda: screen.walk is not None and screen.walk["sample"] == 3, what="sample 3")
        assert "x = [1, 1], y = [0]" in text_of(screen, "#backprop-status")
        await pilot.press("right_square_bracket")  # past the last row: stays on it
        await wait_for(pilot, lambda: screen.sample == 3 and screen.walk is not None, what="the last row kept")
        app.session = preset_session("xor_by_hand", ["weights.1.bias=[1]"])
        await pilot.press("1")
        await opened(pilot, app)
        await wait_for(pilot, lambda: screen.walk["sample"] == 0 and screen.walk["steps"][-1]["value"] != 0, what="new")


async def test_a_session_that_cannot_be_built_says_why():
    app = make_app(preset_session("backprop_example", ["data.targets=[1, 2]"]))
    async with app.run_test(size=(100, 34)) as pilot:
        await pilot.press("5")
        await wait_for(pilot, lambda: isinstance(app.screen, BackpropScreen) and app.screen.error, what="the error")
        assert "data.targets: 2 targets for 1 rows" in text_of(app.screen, "#backprop-status")


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_the_backprop_screen_looks_the_same(snap_compare, size):
    app = make_app(preset_session("xor_by_hand", ["weights.1.weight=[[1, -1]]"]))  # wrong for the row (1, 1)

    async def run_before(pilot):
        await opened(pilot, app)
        await pilot.press(*["right_square_bracket"] * 3)
        await wait_for(pilot, lambda: app.screen.walk["sample"] == 3, what="row 4")
        await pilot.press(*["right"] * 16)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
