"""NetworkView: Playground's picture of a network (layout, neuron maps, link colours, the cursor, values mode)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import numpy as np
from rich.style import Style
from textual.app import App, ComposeResult
from textual.strip import Strip

from dl_lab.tui.widgets.network_view import NetworkPicture, NetworkView, NeuronColumn
from dl_lab.tui.widgets.palette import background_rgb, binary_pair

# ---------------------------------------------------------------- helpers


class ViewApp(App):
    def __init__(self, view: NetworkView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield self.view


@asynccontextmanager
async def mounted(size: tuple[int, int] = (80, 24)):
    view = NetworkView()
    async with ViewApp(view).run_test(size=size) as pilot:
        await pilot.pause()
        yield view


def cells(strip: Strip) -> list[tuple[str, Style]]:
    """A row as one (character, style) per cell."""
    return [(ch, seg.style) for seg in strip for ch in seg.text]


def rgb(color) -> tuple[int, int, int]:
    t = color.get_truecolor()
    return (t.red, t.green, t.blue)


def is_braille(ch: str) -> bool:
    return 0x2801 <= ord(ch) <= 0x28FF


def plane(cap: tuple[int, int, int], units: int, fill=None) -> np.ndarray:
    """(units, 2 * ch, cw) maps at the capacity's size: ``fill`` everywhere, or x, -y, x * y, ... gradients."""
    _, cw, ch = cap
    yy, xx = np.meshgrid(np.linspace(1, -1, 2 * ch), np.linspace(-1, 1, cw), indexing="ij")
    if fill is not None:
        return np.full((units, 2 * ch, cw), float(fill))
    base = [xx, -yy, xx * yy, np.sin(3 * xx)]
    return np.stack([base[i % len(base)] for i in range(units)])


def three_columns(cap: tuple[int, int, int]) -> NetworkPicture:
    """input (x1, x2), dense with 8 units of which 3 shown, output (1)."""
    rng = np.random.default_rng(0)
    return NetworkPicture(
        columns=(
            NeuronColumn("input", 2, ("x1", "x2"), maps=plane(cap, 2)),
            NeuronColumn("dense 8 tanh", 8, maps=plane(cap, 3), biases=rng.normal(size=3)),
            NeuronColumn("output", 1, maps=plane(cap, 1), biases=np.array([0.2])),
        ),
        weights=(rng.normal(size=(2, 3)), rng.normal(size=(3, 1))),
    )


def one_to_one(weight: float, cap: tuple[int, int, int], source=None, target=None) -> NetworkPicture:
    """One input unit linked by ``weight`` to one output unit."""
    return NetworkPicture(
        columns=(
            NeuronColumn("input", 1, maps=plane(cap, 1, source)),
            NeuronColumn("output", 1, maps=plane(cap, 1, target), biases=np.array([0.0])),
        ),
        weights=(np.array([[weight]]),),
    )


# ---------------------------------------------------------------- layout


async def test_draws_titles_and_more_at_two_sizes():
    async with mounted() as view:
        for width, height in ((78, 18), (158, 46)):
            view.set_picture(three_columns(NetworkView.capacity(width, height, 3)))
            strips = view.draw(width, height)
            assert len(strips) == height
            assert all(strip.cell_length == width for strip in strips)
            text = "\n".join(strip.text for strip in strips)
            for title in ("input", "dense 8 tanh", "output", "+5 more", "x1", "x2"):
                assert title in text, (title, width, height)
            assert strips[0].text.startswith("input")
            assert "dense 8 tanh" in strips[0].text and "output" in strips[0].text


async def test_all_units_shown_has_no_more_line_and_too_small_says_so():
    async with mounted() as view:
        cap = NetworkView.capacity(78, 18, 2)
        view.set_picture(one_to_one(1.0, cap))
        text = "\n".join(strip.text for strip in view.draw(78, 18))
        assert "more" not in text
        assert "weights: colour = sign" in text  # the legend on the free last row
        assert "(too small)" in view.draw(20, 2)[0].text
        view.set_picture(None)
        assert "(no network yet)" in view.draw(40, 10)[0].text


def test_capacity_gives_fewer_neurons_for_a_shorter_height_and_at_least_one():
    tall, short, tiny = (NetworkView.capacity(78, h, 3) for h in (46, 14, 2))
    assert tall[0] > short[0] >= 1
    assert tiny[0] == 1
    for _, cw, ch in (tall, short, tiny):
        assert 2 <= cw <= 6 and 1 <= ch <= 3
    assert NetworkView.capacity(158, 46, 3)[1:] == (6, 3)
    assert NetworkView.capacity(30, 46, 3)[1] < 6  # narrow: smaller boxes


# ---------------------------------------------------------------- colours


async def test_neuron_maps_take_the_sign_colour():
    async with mounted() as view:
        width, height = 60, 16
        cap = NetworkView.capacity(width, height, 2)
        view.set_picture(one_to_one(1.0, cap, source=-2.0, target=3.0))
        lay = view.place(view.picture, width, height)
        strips = view.draw(width, height)
        neg, pos = binary_pair(view, "network-view--negative", "network-view--positive")
        row = cells(strips[lay.box_row(0)])
        left = [rgb(style.bgcolor) for _, style in row[lay.xs[0] : lay.xs[0] + lay.cw]]
        right = [rgb(style.bgcolor) for _, style in row[lay.xs[1] : lay.xs[1] + lay.cw]]
        background = background_rgb(view)
    # a uniform map is one colour: the sign colour at full strength (blended 80% over the background)
    assert len(set(left)) == 1 and len(set(right)) == 1
    expect_neg = tuple(round(b * 0.2 + c * 0.8) for b, c in zip(background, neg, strict=True))
    expect_pos = tuple(round(b * 0.2 + c * 0.8) for b, c in zip(background, pos, strict=True))
    assert max(abs(a - b) for a, b in zip(left[0], expect_neg, strict=True)) <= 3
    assert max(abs(a - b) for a, b in zip(right[0], expect_pos, strict=True)) <= 3
    assert left[0][0] > left[0][2] and right[0][2] > right[0][0]  # orange-ish negative, blue-ish positive


async def test_link_colour_follows_the_weight_sign():
    async with mounted() as view:
        width, height = 60, 16
        cap = NetworkView.capacity(width, height, 2)
        neg, pos = binary_pair(view, "network-view--negative", "network-view--positive")
        seen = {}
        for weight in (0.7, -0.7):
            view.set_picture(one_to_one(weight, cap))
            lay = view.place(view.picture, width, height)
            gap = slice(lay.xs[0] + lay.cw, lay.xs[1] - 2)
            strips = view.draw(width, height)
            colours = {rgb(style.color) for strip in strips for ch, style in cells(strip)[gap] if is_braille(ch)}
            seen[weight] = colours
    assert seen[0.7] == {pos}  # the layer's largest weight: the full sign colour
    assert seen[-0.7] == {neg}


async def test_weak_links_fade_into_the_background():
    async with mounted() as view:
        width, height = 60, 16
        cap = NetworkView.capacity(width, height, 2)
        picture = NetworkPicture(
            columns=(
                NeuronColumn("input", 2, maps=plane(cap, 2)),
                NeuronColumn("output", 1, maps=plane(cap, 1), biases=np.array([0.0])),
            ),
            weights=(np.array([[1.0], [0.1]]),),
        )
        view.set_picture(picture)
        lay = view.place(picture, width, height)
        strips = view.draw(width, height)
        background = background_rgb(view)
        # right next to the source boxes the two links are apart: the strong one on unit 0's row, the weak on unit 1's
        x = lay.xs[0] + lay.cw
        strong, weak = (cells(strips[lay.mid_row(i)])[x] for i in (0, 1))
    assert is_braille(strong[0]) and is_braille(weak[0])

    def dist(c) -> int:
        return sum(abs(a - b) for a, b in zip(c, background, strict=True))

    assert dist(rgb(weak[1].color)) < dist(rgb(strong[1].color))
    dots = [bin(ord(ch) - 0x2800).count("1") for ch in (strong[0], weak[0])]
    assert dots[0] > dots[1]  # the strong link is doubled (a second line one dot below)


# ---------------------------------------------------------------- cursor


async def test_cursor_moves_clamp_and_cycle_links():
    async with mounted() as view:
        view.set_picture(three_columns(NetworkView.capacity(78, 18, 3)))
        assert view.selected() == ("neuron", 0, 0)
        view.move_unit(-1)
        assert view.cursor == (0, 0, None)
        view.move_unit(5)
        assert view.cursor == (0, 1, None)  # two inputs
        view.cycle_link(1)
        assert view.cursor == (0, 1, None)  # column 0 has no incoming links
        view.move_column(1)
        assert view.cursor == (1, 1, None)
        view.move_unit(10)
        assert view.cursor == (1, 2, None)  # three units shown
        view.move_column(5)
        assert view.cursor == (2, 0, None)  # the output's only unit
        view.move_column(-1)
        view.move_unit(1)
        assert view.cursor == (1, 1, None)
        links = []
        for _ in range(4):
            view.cycle_link(1)
            links.append(view.cursor[2])
        assert links == [0, 1, None, 0]  # two sources in the input column
        assert view.selected() == ("link", 1, 0, 1)
        view.cycle_link(-1)
        assert view.cursor[2] is None and view.selected() == ("neuron", 1, 1)
        view.cycle_link(-1)
        assert view.cursor[2] == 1
        view.move_unit(1)
        assert view.cursor == (1, 2, None)  # moving resets the link
        view.move_column(-5)
        assert view.cursor == (0, 1, None)


async def test_cursor_is_drawn_on_the_neuron_and_the_selected_link():
    async with mounted() as view:
        width, height = 60, 16
        cap = NetworkView.capacity(width, height, 2)
        view.set_picture(one_to_one(0.05, cap))
        view.move_column(1)
        lay = view.place(view.picture, width, height)
        strips = view.draw(width, height)
        assert strips[lay.mid_row(0)].text[lay.xs[1] - 2] == "▶"
        cursor = rgb(view.component("network-view--cursor").color)
        gap = slice(lay.xs[0] + lay.cw, lay.xs[1] - 2)
        before = {rgb(s.color) for strip in strips for ch, s in cells(strip)[gap] if is_braille(ch)}
        view.cycle_link(1)
        assert view.selected() == ("link", 1, 0, 0)
        after = {rgb(s.color) for strip in view.draw(width, height) for ch, s in cells(strip)[gap] if is_braille(ch)}
    assert cursor not in before and after == {cursor}


# ---------------------------------------------------------------- values mode


async def test_values_mode_prints_a_units_value():
    async with mounted() as view:
        picture = NetworkPicture(
            columns=(
                NeuronColumn("input", 3, ("a", "b", "c"), values=np.array([0.5, -1.0, 2.0])),
                NeuronColumn("dense 2 relu", 2, values=np.array([1.25, -0.3]), biases=np.array([0.1, -0.2])),
                NeuronColumn("output", 1, values=np.array([0.75])),
            ),
            weights=(np.ones((3, 2)), np.array([[1.0], [-1.0]])),
        )
        view.set_picture(picture)
        lay = view.place(picture, 78, 30)
        strips = view.draw(78, 30)
        text = "\n".join(strip.text for strip in strips)
        box = cells(strips[lay.mid_row(1)])[lay.xs[1] : lay.xs[1] + lay.cw]
    assert "1.2" in text and "-0.3" in text and "0.75" in text and "-1" in text
    assert len({style.bgcolor for _, style in box}) == 1  # a solid box


async def test_the_mounted_widget_serves_its_drawing_and_redraws_on_cursor_moves():
    view = NetworkView()
    async with ViewApp(view).run_test(size=(78, 18)) as pilot:
        view.set_picture(three_columns(NetworkView.capacity(78, 18, 3)))
        await pilot.pause()
        lines = [view.render_line(y).text for y in range(view.size.height)]
        assert lines[0].startswith("input") and any("+5 more" in line for line in lines)
        marks = sum(line.count("▶") for line in lines)
        view.move_column(1)
        await pilot.pause()
        moved = [view.render_line(y).text for y in range(view.size.height)]
    assert marks == 1 and sum(line.count("▶") for line in moved) == 1 and moved != lines
