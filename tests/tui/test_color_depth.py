"""The pictures in 256 and 16 colours: each colour drawn is the nearest one the terminal shows, not the per-channel
rounding that turned an unsure decision map into black, maroon and navy blotches."""

from __future__ import annotations

import numpy as np
import pytest
from lab_runs import record_run
from rich.color import Color, ColorSystem
from rich.terminal_theme import DEFAULT_TERMINAL_THEME

from dl_lab.tui.app import make_app
from dl_lab.tui.widgets import DecisionMap
from dl_lab.tui.widgets.depth import EIGHT_BIT, STANDARD, ColorFitter, _lab, candidates, depth_of
from dl_lab.tui.widgets.map_data import tint_grid
from dl_lab.tui.widgets.palette import CLASS_PALETTE

DARK = np.array([30.0, 30.0, 30.0])
BLOTCHES = {0x000000, 0x5F0000, 0x00005F}  # black, maroon and navy of the 256-colour cube


def packed_rgb(packed: np.ndarray) -> np.ndarray:
    packed = np.asarray(packed).reshape(-1)
    return np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], axis=1)


def terminal_shows(packed: int, system: ColorSystem) -> int:
    """What the terminal layer (Rich's downgrade) turns a truecolor into, packed."""
    r, g, b = (
        Color.from_rgb(packed >> 16, (packed >> 8) & 255, packed & 255)
        .downgrade(system)
        .get_truecolor(DEFAULT_TERMINAL_THEME)
    )
    return (r << 16) | (g << 8) | b


def ramps() -> np.ndarray:
    """Each of the two binary classes tinted into a dark background from unsure (0) to sure (1)."""
    strength = np.linspace(0.0, 1.0, 21)[None, :].repeat(2, axis=0)
    return tint_grid(np.array([[0] * 21, [1] * 21]), strength, np.array(CLASS_PALETTE[:2], float), DARK)


def test_the_depth_follows_the_console():
    assert [depth_of(s) for s in ("truecolor", "256", "standard", "windows", None)] == [
        "truecolor",
        "256",
        "16",
        "16",
        "16",
    ]


def test_in_256_colours_every_colour_is_shown_as_itself_and_nearer_than_the_rounding():
    wanted = ramps()
    fitted = ColorFitter(EIGHT_BIT).fit(wanted)
    shown = set(candidates(EIGHT_BIT)[0].tolist())
    assert set(fitted.reshape(-1).tolist()) <= shown
    for code in shown:  # the terminal layer passes each candidate through unchanged
        assert terminal_shows(code, ColorSystem.EIGHT_BIT) == code
    rounded = np.array([terminal_shows(int(c), ColorSystem.EIGHT_BIT) for c in wanted.reshape(-1)])
    lab = _lab(packed_rgb(wanted))
    ours = np.linalg.norm(_lab(packed_rgb(fitted)) - lab, axis=1)
    theirs = np.linalg.norm(_lab(packed_rgb(rounded)) - lab, axis=1)
    assert ours.mean() < 0.75 * theirs.mean()
    assert np.all(ours <= theirs + 1e-9)
    # the unsure middle of the map: the rounding gives the cube's near-black maroon and navy, the fit does not
    middle = wanted[:, 3:10].reshape(-1)
    assert {terminal_shows(int(c), ColorSystem.EIGHT_BIT) for c in middle} & BLOTCHES
    assert not set(ColorFitter(EIGHT_BIT).fit(middle).tolist()) & BLOTCHES


def test_in_16_colours_the_two_classes_keep_their_hues_and_unsure_is_the_background():
    fitted = ColorFitter(STANDARD).fit(ramps())
    assert fitted[0, 0] == fitted[1, 0] == 0x000000  # strength 0: the dark background
    sure_orange, sure_blue = fitted[0, -1], fitted[1, -1]
    assert sure_orange != sure_blue
    assert sure_orange in (0x800000, 0xFF0000, 0x808000, 0xFFFF00)  # reddish or yellowish, never grey
    assert sure_blue in (0x000080, 0x0000FF, 0x008080, 0x00FFFF)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return record_run(tmp_path_factory.mktemp("runs") / "tiny-run")


@pytest.mark.parametrize("system", ["256", "standard"])
async def test_the_decision_map_draws_only_colours_the_terminal_has(tiny_run, tmp_path, monkeypatch, system):
    import textual.constants

    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", system)  # as TEXTUAL_COLOR_SYSTEM would
    app = make_app(replay_dir=tiny_run, runs_root=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("end")
        await pilot.pause()
        widget = app.screen.query_one(DecisionMap)
        assert widget.data is not None and widget.data.cls is not None
        strips = widget.draw(widget.size.width, widget.size.height)
        base = {c.triplet for c in (widget.rich_style.color, widget.rich_style.bgcolor) if c is not None}
        colours = set()
        for strip in strips[:-1]:  # the map (the last line is the legend, in the theme's text colours)
            for segment in strip:
                for color in (segment.style.color, segment.style.bgcolor) if segment.style else ():
                    if color is not None and color.triplet is not None and color.triplet not in base:
                        r, g, b = color.triplet
                        colours.add((r << 16) | (g << 8) | b)
        depth = EIGHT_BIT if system == "256" else STANDARD
        assert len(colours) >= 3
        assert colours <= set(candidates(depth)[0].tolist())
