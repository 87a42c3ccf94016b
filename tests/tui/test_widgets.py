"""The drawing widgets: pure drawing helpers, what each widget draws in a running app, and snapshots."""

from __future__ import annotations

import math
from contextlib import asynccontextmanager

import numpy as np
import pytest
from rich.style import Style
from textual.app import App, ComposeResult
from textual.color import Color
from textual.containers import Grid as GridLayout
from textual.widget import Widget

from dl_lab.tui.widgets import ConfusionMatrix, DecisionMap, Histogram, ImageGrid, LineChart, ScatterPlot
from dl_lab.tui.widgets.confusion_matrix import fit_count, layout
from dl_lab.tui.widgets.histogram import bar_cells, column_counts
from dl_lab.tui.widgets.image_grid import choose_scale, pack_images
from dl_lab.tui.widgets.map_data import prepare_map, tint_grid
from dl_lab.tui.widgets.raster import TRANSPARENT, Grid, braille, halfblocks, polyline, resample
from dl_lab.tui.widgets.ticks import compact, log_ticks, nice_ticks, tick_labels

# ---------------------------------------------------------------- helpers


class WidgetApp(App):
    """One widget filling the screen."""

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


@asynccontextmanager
async def mounted(widget: Widget, size: tuple[int, int] = (60, 20)):
    app = WidgetApp(widget)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        yield pilot


def text_of(widget: Widget) -> list[str]:
    return [widget.render_line(y).text for y in range(widget.size.height)]


def cells(widget: Widget, y: int) -> list[tuple[str, Style]]:
    """Row ``y`` as one (character, style) per cell."""
    return [(ch, seg.style) for seg in widget.render_line(y) for ch in seg.text]


def rgb(color) -> tuple[int, int, int]:
    t = color.get_truecolor()
    return (t.red, t.green, t.blue)


def distance(a, b) -> int:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True))


def near(a, b, tolerance: int = 3) -> bool:
    """Colours equal but for the rounding of Textual's colour system."""
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= tolerance


def halves_boundary(res: int = 10) -> dict:
    """Class 0 (probability 0) on the left half of the plane, class 1 on the right."""
    values = np.zeros((res, res))
    values[:, res // 2 :] = 1.0
    return {"kind": "probability", "resolution": res, "bounds": [[-1, 1], [-1, 1]], "values": values.ravel().tolist()}


# ---------------------------------------------------------------- pure helpers


def test_compact_numbers_stay_short():
    assert [compact(v) for v in (0.123456, 12.345, 1234.5, 12345, 3.5e-5, 0, None)] == [
        "0.123",
        "12.3",
        "1234",
        "12.3k",
        "3.5e-5",
        "0",
        "-",
    ]
    assert compact(float("nan")) == "nan"


def test_nice_ticks_are_round_and_inside_the_range():
    ticks = nice_ticks(0.03, 2.2, 4)
    assert ticks == [0.5, 1.0, 1.5, 2.0]
    assert tick_labels(ticks) == ["0.5", "1.0", "1.5", "2.0"]
    assert tick_labels(nice_ticks(-6, 6, 3)) == ["-5", "0", "5"]
    assert log_ticks(1e-4, 2, 4) == [1e-4, 1e-2, 1.0]


def test_polyline_connects_points_and_a_single_point_is_a_dot():
    line = polyline(np.array([0.0, 9.0]), np.array([0.0, 0.0]), 10, 4)
    assert line[0].all() and not line[1:].any()
    dot = polyline(np.array([3.0]), np.array([2.0]), 10, 4)
    assert dot.sum() == 1 and dot[2, 3]


def test_braille_cells_take_the_top_layers_colour():
    low, high = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    low[0, 0] = low[3, 3] = True
    high[0, 0] = True
    chars, fg, _ = braille([low, high], [0x111111, 0x222222])
    assert chars.tolist() == [["⠁", "⢀"]]
    assert fg.tolist() == [[0x222222, 0x111111]]


def test_halfblocks_put_the_upper_pixel_in_front_and_the_lower_behind():
    pixels = np.array([[1, 5], [2, 5], [7, TRANSPARENT]])
    chars, fg, bg = halfblocks(pixels)
    assert chars.tolist() == [["▀", " "], ["▀", " "]]
    assert fg[0, 0] == 1 and bg[0, 0] == 2 and bg[0, 1] == 5
    assert fg[1, 0] == 7 and bg[1, 0] == TRANSPARENT


def test_resample_is_nearest_neighbour():
    grid = np.arange(4).reshape(2, 2)
    assert resample(grid, 4, 4).tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]]


def test_grid_merges_equal_styles_into_one_segment():
    grid = Grid(6, 1, Style())
    grid.put(0, 0, "ab", Style(bold=True))
    grid.put(0, 2, "cd", Style(bold=True))
    (strip,) = grid.strips()
    assert strip.text == "abcd  " and len(list(strip)) == 3


def test_tint_grid_is_pale_where_the_model_hesitates_and_saturated_where_sure():
    palette = np.array([[255.0, 0.0, 0.0], [0.0, 0.0, 255.0]])
    tints = tint_grid(np.array([[0, 1, 1]]), np.array([[0.0, 0.5, 1.0]]), palette, np.array([0.0, 0.0, 0.0]))
    assert tints[0, 0] == 0  # no confidence: the background
    assert 0 < tints[0, 1] < tints[0, 2] <= 255  # more blue the surer


def test_prepare_map_reads_each_boundary_kind():
    prob = prepare_map(halves_boundary(4), None)
    assert prob.cls.tolist() == [[0, 0, 1, 1]] * 4 and prob.strength.max() == 1.0
    classes = {
        "kind": "classes",
        "resolution": 2,
        "bounds": [[0, 1], [0, 1]],
        "classes": [0, 1, 2, 2],
        "values": [1.0, 0.5, 1 / 3, 1.0],
    }
    multi = prepare_map(classes, None)
    assert multi.num_classes == 3 and multi.strength.ravel().tolist() == [1.0, 0.25, 0.0, 1.0]
    value = prepare_map(
        {"kind": "value", "resolution": 1, "bounds": [[0, 1], [0, 1]], "values": [-2.0]},
        {"train_points": [[0.5, 0.5]], "train_labels": np.array([4.0])},
    )
    assert value.scale == 4.0 and value.cls.item() == 0 and value.strength.item() == 0.5
    curve = prepare_map({"kind": "curve", "bounds": [[0, 1]], "x": [0, 1], "values": [0, 1]}, {"x": [0], "y": [2]})
    assert curve.kind == "curve" and curve.bounds[3] > 2 and len(curve.train.xy) == 1


def test_points_without_a_boundary_take_the_flat_dataset_bounds():
    data = prepare_map(
        None, {"train_points": np.zeros((3, 2)), "train_labels": np.array([0, 1, 1]), "bounds": [-6, 6, -5, 5]}
    )
    assert data.bounds == (-6.0, 6.0, -5.0, 5.0) and data.cls is None


def test_histogram_columns_sum_bins_when_narrow_and_repeat_them_when_wide():
    counts = np.array([1, 2, 3, 4])
    assert column_counts(counts, 2).tolist() == [3, 7]
    assert column_counts(counts, 9).tolist() == [1, 1, 1, 2, 2, 3, 3, 4, 4]
    bars = bar_cells(np.array([0, 1, 8]), 2)
    assert bars[:, 2].tolist() == ["█", "█"] and bars[1, 1] != " " and bars[:, 0].tolist() == [" ", " "]


def test_counts_and_layout_shrink_to_fit():
    assert [fit_count(1234, w) for w in (4, 3, 2, 1)] == ["1234", "1k", "1k", "#"]
    assert layout(10, tuple("0123456789"), 60, True) == (4, 5)
    label, cell = layout(10, ("airplane",) * 10, 40, True)
    assert label + 1 + 11 * cell <= 40


def test_image_scale_is_the_largest_that_fits_every_image():
    assert choose_scale(1, 8, 8, 80, 24) == 4
    assert choose_scale(12, 8, 8, 60, 20) == 1
    assert choose_scale(4, 28, 28, 60, 20) == 1
    assert pack_images(np.ones((1, 3, 1, 1)))[0, 0, 0] == 0xFFFFFF


# ---------------------------------------------------------------- LineChart


async def test_line_chart_legend_shows_each_series_last_value():
    chart = LineChart()
    async with mounted(chart) as pilot:
        train = [(i, 1.0 / (i + 1)) for i in range(20)]
        val = [(i, 0.145) for i in range(20)]
        chart.set_series({"train": train, "val": val}, title="loss", x_label="epoch")
        await pilot.pause()
        lines = text_of(chart)
    assert "loss" in lines[0] and "train 0.05" in lines[0] and "val 0.145" in lines[0]
    assert "epoch" in lines[-1] and any("⠉" in line or "⣀" in line for line in lines)


async def test_line_chart_skips_nan_and_none_points():
    chart = LineChart()
    async with mounted(chart) as pilot:
        chart.set_series({"loss": [(0, 1.0), (1, None), (2, float("nan")), (3, 0.5), (4, None)]})
        await pilot.pause()
        assert "loss 0.5" in text_of(chart)[0]
        assert chart.data.series[0].xs.tolist() == [0.0, 3.0]


async def test_line_chart_draws_a_single_point_as_one_dot():
    chart = LineChart()
    async with mounted(chart, (40, 10)) as pilot:
        chart.set_series({"acc": [(3, 0.5)]})
        await pilot.pause()
        dots = [ch for line in text_of(chart)[1:] for ch in line if "\u2801" <= ch <= "\u28ff"]
    assert len(dots) == 1 and bin(ord(dots[0]) - 0x2800).count("1") == 1


async def test_line_chart_log_axis_labels_powers_of_ten():
    chart = LineChart()
    async with mounted(chart, (50, 14)) as pilot:
        chart.set_series({"grad": [(i, 10.0 ** (-i)) for i in range(5)]}, log_y=True)
        await pilot.pause()
        text = "\n".join(text_of(chart))
    assert "0.01┤" in text and "1e-4┤" in text


async def test_line_chart_says_why_a_log_axis_of_zeros_is_empty():
    chart = LineChart()
    async with mounted(chart, (60, 8)) as pilot:
        chart.set_series({"grad": []}, log_y=True)
        await pilot.pause()
        assert "(no data yet)" in "\n".join(text_of(chart))
        chart.set_series({"grad": [(i, 0.0) for i in range(5)]}, log_y=True)
        await pilot.pause()
        assert "every value is 0" in "\n".join(text_of(chart))


async def test_line_chart_gives_two_series_distinct_theme_colours():
    chart = LineChart()
    async with mounted(chart) as pilot:
        chart.set_series({"train": [(0, 1), (1, 0)], "val": [(0, 0), (1, 1)]})
        await pilot.pause()
        colors = chart.series_colors(chart.data)
        assert colors[0] != colors[1]
        primary = pilot.app.current_theme.primary.lstrip("#").lower()
        assert f"{colors[0]:06x}" == primary


# ---------------------------------------------------------------- DecisionMap


async def test_decision_map_colours_left_and_right_halves_differently():
    dmap = DecisionMap()
    async with mounted(dmap, (40, 21)) as pilot:
        dmap.set_map(halves_boundary())
        await pilot.pause()
        row = cells(dmap, 10)
        left, right = rgb(row[2][1].bgcolor), rgb(row[-3][1].bgcolor)
    assert left != right
    assert left[0] > left[2] and right[2] > right[0]  # orange-ish on the left, blue-ish on the right


async def test_decision_map_keeps_square_pixels_unless_told_to_fill():
    dmap = DecisionMap()
    async with mounted(dmap, (60, 11)) as pilot:
        dmap.set_map(halves_boundary())
        await pilot.pause()
        square = cells(dmap, 0)
        dmap.keep_aspect = False
        await pilot.pause()
        filled = cells(dmap, 0)
        background = dmap.rich_style.bgcolor
    assert sum(style.bgcolor != background for _, style in square) == 20  # 10 rows: 20 x 20 pixels
    assert sum(style.bgcolor != background for _, style in filled) == 60


async def test_decision_map_is_pale_where_the_model_hesitates():
    dmap = DecisionMap()
    async with mounted(dmap, (40, 21)) as pilot:
        res = 10
        values = np.tile(np.linspace(0.5, 1.0, res), res)  # unsure on the left, sure on the right
        dmap.set_map({"kind": "probability", "resolution": res, "bounds": [[0, 1], [0, 1]], "values": values.tolist()})
        await pilot.pause()
        background = rgb(dmap.rich_style.bgcolor)
        row = cells(dmap, 5)
        unsure, sure = rgb(row[1][1].bgcolor), rgb(row[-2][1].bgcolor)
    assert distance(unsure, background) < distance(sure, background)


async def test_decision_map_marks_train_and_val_points_with_different_glyphs():
    dmap = DecisionMap()
    points = {
        "train_points": np.array([[-0.5, 0.5]]),
        "train_labels": np.array([0]),
        "val_points": np.array([[0.5, -0.5]]),
        "val_labels": np.array([1]),
        "bounds": [-1, 1, -1, 1],
    }
    async with mounted(dmap, (40, 21)) as pilot:
        dmap.set_map(halves_boundary(), points)
        await pilot.pause()
        lines = text_of(dmap)
    assert "●" in lines[5] and "○" in lines[15]
    assert lines[5].index("●") < 20 < lines[15].index("○")
    assert "train" in lines[-1] and "val" in lines[-1]


async def test_decision_map_without_boundary_draws_just_the_points():
    dmap = DecisionMap()
    points = {
        "train_points": np.array([[0.0, 0.0], [1.0, 1.0]]),
        "train_labels": np.array([0, 1]),
        "bounds": [-2, 2, -2, 2],
    }
    async with mounted(dmap, (40, 21)) as pilot:
        dmap.set_map(None, points)
        await pilot.pause()
        lines = text_of(dmap)
        marks = [(ch, style) for y in range(20) for ch, style in cells(dmap, y) if ch == "●"]
    assert sum(line.count("●") for line in lines[:-1]) == 2
    assert marks[0][1].color != marks[1][1].color


async def test_decision_map_draws_a_regression_curve():
    dmap = DecisionMap()
    xs = np.linspace(-1, 1, 50)
    async with mounted(dmap, (40, 12)) as pilot:
        dmap.set_map(
            {"kind": "curve", "bounds": [[-1, 1]], "x": xs.tolist(), "values": np.sin(3 * xs).tolist()},
            {"x": [-0.5, 0.5], "y": [0.0, 0.2]},
        )
        await pilot.pause()
        lines = text_of(dmap)
    assert sum(1 for line in lines[:-1] for ch in line if "\u2801" <= ch <= "\u28ff") > 20
    assert "model" in lines[-1] and "train" in lines[-1]


# ---------------------------------------------------------------- Histogram, ConfusionMatrix


async def test_histogram_tallest_bar_is_where_the_largest_count_is():
    hist = Histogram()
    async with mounted(hist, (40, 12)) as pilot:
        hist.set_histogram([1, 3, 10, 4, 2], -1.0, 3.0, title="weights", stats="mean 0.12 std 0.40")
        await pilot.pause()
        lines = text_of(hist)
    assert lines[0].startswith("weights") and "max 10" in lines[0] and "mean 0.12" in lines[1]
    top_bar = lines[2]
    assert set(top_bar[16:24]) == {"█"} and set(top_bar[:16] + top_bar[24:]) == {" "}
    assert lines[-1].startswith("-1") and lines[-1].rstrip().endswith("3") and " 0 " in lines[-1]


async def test_confusion_matrix_shows_counts_and_class_names():
    matrix = ConfusionMatrix()
    async with mounted(matrix, (60, 8)) as pilot:
        matrix.set_matrix([[50, 2], [3, 45]], ["cat", "dog"], precision=[0.94, 0.96], recall=[0.96, 0.94])
        await pilot.pause()
        text = "\n".join(text_of(matrix))
        row = cells(matrix, 2)
    for token in ("cat", "dog", "50", "45", "96%", "prec", "rec"):
        assert token in text
    diagonal = next(style for ch, style in row if ch == "5")
    error = next(style for ch, style in row if ch == "2")
    assert diagonal.bgcolor != error.bgcolor


async def test_confusion_matrix_fits_ten_classes_in_60_by_14():
    matrix = ConfusionMatrix()
    counts = (np.eye(10, dtype=int) * 90 + 1).tolist()
    async with mounted(matrix, (60, 14)) as pilot:
        matrix.set_matrix(counts, [f"class{i}" for i in range(10)], precision=[0.9] * 10, recall=[0.9] * 10)
        await pilot.pause()
        lines = text_of(matrix)
    assert len(lines) == 13 and lines[-1].strip().startswith("prec") and all(len(line) == 60 for line in lines)
    assert lines[2].count("91") == 1 and "cla0" in lines[1] and "cla9" in lines[1]


# ---------------------------------------------------------------- ImageGrid, ScatterPlot


async def test_image_grid_draws_an_8x8_image_as_4_rows_of_half_blocks():
    grid = ImageGrid()
    image = np.zeros((1, 1, 8, 8))
    image[0, 0, ::2] = 1.0  # white stripes on even rows: every cell has different upper and lower pixels
    async with mounted(grid, (30, 10)) as pilot:
        grid.set_images(image, ["7→7"], correct=[True], scale=1)
        await pilot.pause()
        lines = text_of(grid)
        style = cells(grid, 0)[0][1]
    assert [line[:8] for line in lines[:4]] == ["▀" * 8] * 4 and lines[4].strip() == "7→7"
    assert rgb(style.color) == (255, 255, 255) and rgb(style.bgcolor) == (0, 0, 0)  # white above, black below


async def test_image_grid_colours_captions_by_correctness():
    grid = ImageGrid()
    async with mounted(grid, (60, 20)) as pilot:
        grid.set_images(np.zeros((2, 1, 8, 8)), ["3→3", "3→8"], correct=[True, False])
        await pilot.pause()
        lines = text_of(grid)
        caption_row = next(y for y, line in enumerate(lines) if "→" in line)
        right, wrong = (style for ch, style in cells(grid, caption_row) if ch == "→")
        theme = pilot.app.current_theme
    assert caption_row == 12  # two 8x8 images fit side by side at 3x: 24 pixel rows, 12 cell rows
    assert near(rgb(right.color), Color.parse(theme.success).rgb)
    assert near(rgb(wrong.color), Color.parse(theme.error).rgb)


async def test_scatter_plot_colours_points_by_class():
    plot = ScatterPlot()
    points = np.array([[-1.0, 0.0], [1.0, 0.0]])
    async with mounted(plot, (40, 11)) as pilot:
        plot.set_points(points, np.array([0, 1]), [-2, 2, -2, 2])
        await pilot.pause()
        dots = [style.color for y in range(10) for ch, style in cells(plot, y) if ch != " "]
        legend = text_of(plot)[-1]
    assert len(dots) == 2 and dots[0] != dots[1]
    assert "● 0" in legend and "● 1" in legend and "x -2..2" in legend


# ---------------------------------------------------------------- any size, any theme


def filled(widget: Widget) -> Widget:
    """``widget`` with typical data set."""
    rng = np.random.default_rng(0)
    if isinstance(widget, LineChart):
        widget.set_series({"train": [(i, math.exp(-i / 5)) for i in range(30)], "val": [(0, 1.0)]}, title="loss")
    elif isinstance(widget, DecisionMap):
        points = {"train_points": rng.uniform(-1, 1, (50, 2)), "train_labels": rng.integers(0, 2, 50)}
        widget.set_map(halves_boundary(), points)
    elif isinstance(widget, Histogram):
        widget.set_histogram(rng.integers(0, 50, 30).tolist(), -2.0, 2.0, title="acts", stats="mean 0")
    elif isinstance(widget, ConfusionMatrix):
        widget.set_matrix(rng.integers(0, 100, (10, 10)).tolist(), [str(i) for i in range(10)], recall=[0.5] * 10)
    elif isinstance(widget, ImageGrid):
        widget.set_images(rng.random((5, 3, 8, 8)), [str(i) for i in range(5)])
    else:
        widget.set_points(rng.normal(size=(100, 2)), rng.normal(size=100), regression=True)
    return widget


WIDGETS = [LineChart, DecisionMap, Histogram, ConfusionMatrix, ImageGrid, ScatterPlot]


@pytest.mark.parametrize("kind", WIDGETS, ids=lambda k: k.__name__)
async def test_widgets_draw_at_any_size_without_crashing(kind):
    widget = kind()
    async with mounted(widget, (80, 24)) as pilot:
        assert text_of(widget)  # no data yet: still drawn
        filled(widget)
        for size in [(3, 2), (1, 1), (12, 3), (200, 60), (80, 24)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            lines = text_of(widget)
            assert all(len(line) == widget.size.width for line in lines)


async def test_widgets_follow_a_theme_change():
    dmap = filled(DecisionMap())
    async with mounted(dmap, (40, 21)) as pilot:
        dark = cells(dmap, 10)[-3][1].bgcolor
        pilot.app.theme = "textual-light"
        await pilot.pause()
        light = cells(dmap, 10)[-3][1].bgcolor
    assert dark != light


# ---------------------------------------------------------------- snapshots


class TrainingPanes(App):
    """Curves, a histogram and a confusion matrix with fixed data."""

    CSS = "Grid { grid-size: 2 2; } Grid > * { border: round $panel; }"

    def compose(self) -> ComposeResult:
        with GridLayout():
            yield LineChart(id="loss")
            yield LineChart(id="norms")
            yield Histogram()
            yield ConfusionMatrix()

    def on_mount(self) -> None:
        epochs = range(40)
        self.query_one("#loss", LineChart).set_series(
            {
                "train": [(e, 2 * math.exp(-e / 8) + 0.1) for e in epochs],
                "val": [(e, 2 * math.exp(-e / 10) + 0.2) for e in epochs[::4]],
            },
            title="loss",
            x_label="epoch",
        )
        self.query_one("#norms", LineChart).set_series(
            {f"layer{k}": [(e, (k + 1) * 10 ** (-3 + e / 15)) for e in epochs] for k in range(4)},
            title="grad norm",
            log_y=True,
        )
        bell = [int(300 * math.exp(-(((i - 14) / 6) ** 2))) for i in range(32)]
        self.query_one(Histogram).set_histogram(bell, -1.5, 2.0, title="layer 1", stats="mean 0.12 std 0.40  dead 12%")
        matrix = (np.eye(5, dtype=int) * 40 + np.arange(25).reshape(5, 5) % 3).tolist()
        self.query_one(ConfusionMatrix).set_matrix(
            matrix, ["zero", "one", "two", "three", "four"], precision=[0.9, 0.95, 1.0, 0.8, 0.85], recall=[0.9] * 5
        )


def spiral_points(n: int = 120) -> dict:
    t = np.linspace(0.5, 3 * np.pi, n // 2)
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 2
    points = np.vstack([arm, -arm])
    labels = np.repeat([0, 1], n // 2)
    return {
        "train_points": points[::2],
        "train_labels": labels[::2],
        "val_points": points[1::8],
        "val_labels": labels[1::8],
        "bounds": [-6, 6, -6, 6],
    }


class PlaygroundPanes(App):
    """A decision map over spiral points, the same points as a scatter plot, and a 1-D curve."""

    CSS = "Grid { grid-size: 3 1; } Grid > * { border: round $panel; }"

    def compose(self) -> ComposeResult:
        with GridLayout():
            yield DecisionMap(id="plane")
            yield ScatterPlot()
            yield DecisionMap(id="curve")

    def on_mount(self) -> None:
        res = 24
        xs = np.linspace(-6, 6, res)
        gx, gy = np.meshgrid(xs, xs[::-1])
        prob = 1 / (1 + np.exp(-2 * np.sin(np.arctan2(gy, gx) + np.hypot(gx, gy))))
        boundary = {
            "kind": "probability",
            "resolution": res,
            "bounds": [[-6, 6], [-6, 6]],
            "values": prob.round(3).ravel().tolist(),
        }
        points = spiral_points()
        self.query_one("#plane", DecisionMap).set_map(boundary, points)
        self.query_one(ScatterPlot).set_points(points["train_points"], points["train_labels"], points["bounds"])
        x = np.linspace(-3, 3, 60)
        self.query_one("#curve", DecisionMap).set_map(
            {"kind": "curve", "bounds": [[-3, 3]], "x": x.tolist(), "values": (0.9 * np.sin(x)).tolist()},
            {"x": x[::3].tolist(), "y": np.sin(x[::3]).tolist()},
        )


class ImagePanes(App):
    """A gallery of 8x8 "digits" with right and wrong captions."""

    def compose(self) -> ComposeResult:
        yield ImageGrid()

    def on_mount(self) -> None:
        yy, xx = np.mgrid[0:8, 0:8]
        ring = np.abs(np.hypot(xx - 3.5, yy - 3.5) - 2.5) < 0.9
        shapes = [
            ring,
            np.abs(xx - 3.5) < 1,
            np.abs(xx - yy) < 1,
            (yy % 3 == 1) & (xx > 0) & (xx < 7),
            (np.abs(xx - 3.5) < 1) | (np.abs(yy - 3.5) < 1),
            (xx + yy) % 2 == 0,
        ]
        images = np.stack([shape * (0.5 + k / 10) for k, shape in enumerate(shapes)])[:, None]
        captions = ["0→0", "1→1", "2→7", "3→3", "4→9", "5→5"]
        self.query_one(ImageGrid).set_images(images, captions, correct=[c[0] == c[-1] for c in captions])


def test_training_panes_snapshot(snap_compare):
    assert snap_compare(TrainingPanes(), terminal_size=(100, 32))


def test_playground_panes_snapshot(snap_compare):
    assert snap_compare(PlaygroundPanes(), terminal_size=(120, 26))


def test_image_panes_snapshot(snap_compare):
    assert snap_compare(ImagePanes(), terminal_size=(60, 12))
