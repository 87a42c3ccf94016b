"""LineChart: named series of (x, y) points as braille lines, with axes and a legend of last values."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.style import Style
from textual.color import Color
from textual.reactive import reactive
from textual.strip import Strip

from dl_lab.tui.widgets.drawn import DrawnWidget
from dl_lab.tui.widgets.palette import binary_pair, class_color, pack
from dl_lab.tui.widgets.raster import Grid, braille, polyline
from dl_lab.tui.widgets.ticks import compact, log_ticks, nice_ticks, tick_labels


@dataclass(frozen=True)
class Series:
    """One line: its finite points (y as log10 on a log chart) and its last finite value."""

    name: str
    xs: np.ndarray
    ys: np.ndarray
    last: float | None
    color: str | None = None


@dataclass(frozen=True)
class ChartData:
    """What a LineChart shows, prepared by ``set_series``."""

    series: tuple[Series, ...]
    title: str = ""
    x_label: str = ""
    y_label: str = ""
    log_y: bool = False

    def x_range(self) -> tuple[float, float] | None:
        return _span([s.xs for s in self.series], pad=0.0)

    def y_range(self) -> tuple[float, float] | None:
        return _span([s.ys for s in self.series], pad=0.05)

    def integer_x(self) -> bool:
        return all(np.all(s.xs == np.round(s.xs)) for s in self.series)


def _span(arrays: list[np.ndarray], pad: float) -> tuple[float, float] | None:
    arrays = [a for a in arrays if a.size]
    if not arrays:
        return None
    lo, hi = min(float(a.min()) for a in arrays), max(float(a.max()) for a in arrays)
    if hi - lo < 1e-12:
        half = abs(lo) * 0.1 or 1.0
        return lo - half, hi + half
    margin = (hi - lo) * pad
    return lo - margin, hi + margin


def prepare_series(name: str, points, log_y: bool, color: str | None = None) -> Series:
    """Points as (x, y) pairs (or bare y values) -> a Series without NaN/None (and non-positive y on a log chart)."""
    arr = np.asarray(points if len(points) else np.zeros((0, 2)), dtype=float)
    if arr.ndim == 1:
        arr = np.stack([np.arange(len(arr), dtype=float), arr], axis=1)
    xs, ys = arr[:, 0], arr[:, 1]
    finite = np.isfinite(xs) & np.isfinite(ys)
    last = float(ys[finite][-1]) if finite.any() else None
    if log_y:
        finite &= ys > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ys = np.log10(np.where(finite, ys, 1.0))
    return Series(name, xs[finite], ys[finite], last, color)


class LineChart(DrawnWidget):
    """Curves over time (loss and accuracy, per-layer norms, several runs) drawn with braille dots.

    The legend on the top line gives each series' colour and last value; y ticks are on the left, x ticks below.
    Two series take the theme's primary and accent colours, more take the fixed class palette.
    """

    DEFAULT_CSS = """
    LineChart { height: 1fr; min-height: 3; }
    LineChart > .line-chart--title { text-style: bold; }
    LineChart > .line-chart--axis { color: $text-muted; }
    LineChart > .line-chart--first { color: $primary; }
    LineChart > .line-chart--second { color: $accent; }
    """
    COMPONENT_CLASSES = {"line-chart--title", "line-chart--axis", "line-chart--first", "line-chart--second"}

    data: reactive[ChartData | None] = reactive(None, always_update=True)

    def set_series(
        self,
        series: dict[str, list[tuple[float, float]]],
        *,
        title: str = "",
        x_label: str = "",
        y_label: str = "",
        log_y: bool = False,
        colors: dict[str, str] | None = None,
    ) -> None:
        """Show ``series`` (name -> (x, y) points; NaN/None skipped). ``colors`` may fix a colour per name."""
        colors = colors or {}
        prepared = tuple(prepare_series(name, pts, log_y, colors.get(name)) for name, pts in series.items())
        self.data = ChartData(prepared, title, x_label, y_label, log_y)

    def watch_data(self) -> None:
        self.redraw()

    def series_colors(self, data: ChartData) -> list[int]:
        """Packed colours, one per series."""
        if len(data.series) <= 2:
            defaults = list(binary_pair(self, "line-chart--first", "line-chart--second"))
        else:
            defaults = [class_color(i + 1) for i in range(len(data.series))]
        out = []
        for s, default in zip(data.series, defaults, strict=False):
            if s.color:
                c = Color.parse(s.color)
                out.append(pack((c.r, c.g, c.b)))
            else:
                out.append(pack(default))
        return out

    def draw(self, width: int, height: int) -> list[Strip]:
        data = self.data or ChartData(())
        grid = self.new_grid(width, height)
        colors = self.series_colors(data)
        title, axis = self.component("line-chart--title"), self.component("line-chart--axis")
        x = 0
        if data.y_label and data.y_label != data.title:
            x = grid.put(0, 0, data.y_label, axis) + 2
        if data.title:
            x = grid.put(0, x, data.title, title) + 2
        legend_lines = 1 if height < 10 else 2
        used = self._legend(grid, data, colors, x, legend_lines)
        top = used
        x_range, y_range = data.x_range(), data.y_range()
        rows = height - top - 1
        if x_range is None or y_range is None:
            if height > top:
                seen = any(s.last is not None for s in data.series)  # values, none of them drawable
                empty = "(every value is 0: nothing to draw on a log scale)" if seen and data.log_y else "(no data yet)"
                grid.put(top, 0, empty, axis)
            return grid.strips()
        y_ticks = self._y_ticks(data, y_range, rows)
        labels = tick_labels(y_ticks) if not data.log_y else [compact(10**t) for t in y_ticks]
        margin = max((len(s) for s in labels), default=1) + 1
        cols = width - margin
        if rows < 2 or cols < 4:
            return grid.strips()  # the legend alone: the last values still show
        self._plot(grid, data, colors, top, margin, rows, cols, x_range, y_range)
        self._y_axis(grid, y_ticks, labels, top, margin, rows, y_range, axis)
        self._x_axis(grid, data, height - 1, margin, cols, x_range, axis)
        return grid.strips()

    def _legend(self, grid: Grid, data: ChartData, colors: list[int], x: int, max_lines: int) -> int:
        """Flow the legend items from column ``x`` of the top line; return the number of lines used."""
        y, shown = 0, 0
        for s, color in zip(data.series, colors, strict=True):
            item = [("━ " + s.name, grid.color_style(color)), (" " + compact(s.last), None)]
            length = sum(len(t) for t, _ in item)
            if x + length > grid.width and x > 0:
                if y + 1 < max_lines and y + 1 < grid.height:
                    y, x = y + 1, 0
                elif shown:
                    break
            for text, style in item:
                x = grid.put(y, x, text, style)
            x, shown = x + 2, shown + 1
        more = f"+{len(data.series) - shown}"
        if shown < len(data.series) and x + len(more) <= grid.width:
            grid.put(y, x, more, Style(dim=True))
        return y + 1 if (data.series or data.title) else 0

    @staticmethod
    def _y_ticks(data: ChartData, y_range: tuple[float, float], rows: int) -> list[float]:
        count = 2 if rows < 5 else (3 if rows < 9 else 4)
        if data.log_y:
            lo, hi = 10 ** y_range[0], 10 ** y_range[1]
            return [math.log10(t) for t in log_ticks(lo, hi, count)]
        return nice_ticks(*y_range, count=count)

    @staticmethod
    def _plot(grid, data, colors, top, left, rows, cols, x_range, y_range) -> None:
        (x0, x1), (y0, y1) = x_range, y_range
        dw, dh = cols * 2, rows * 4
        layers = []
        for s in data.series:
            px = (s.xs - x0) / (x1 - x0) * (dw - 1)  # ranges are never empty: _span widens a single value
            py = (y1 - s.ys) / (y1 - y0) * (dh - 1)
            layers.append(polyline(px, py, dw, dh))
        if layers:
            grid.paint(top, left, *braille(layers, colors))

    @staticmethod
    def _y_axis(grid, ticks, labels, top, margin, rows, y_range, style) -> None:
        y0, y1 = y_range
        for r in range(rows):
            grid.put(top + r, margin - 1, "│", style)
        taken = set()
        for t, label in zip(ticks, labels, strict=True):
            r = int(((y1 - t) / (y1 - y0) * (rows * 4 - 1)) // 4)
            if 0 <= r < rows and r not in taken:
                taken.add(r)
                grid.put(top + r, margin - 1 - len(label), label + "┤", style)

    @staticmethod
    def _x_axis(grid, data, y, margin, cols, x_range, style) -> None:
        x0, x1 = x_range
        end = grid.width
        if data.x_label and len(data.x_label) < cols // 2:
            end = grid.width - len(data.x_label)
            grid.put(y, end, data.x_label, style)
            end -= 1
        ticks = nice_ticks(x0, x1, count=max(2, cols // 12))
        if data.integer_x():
            ticks = [t for t in ticks if t == round(t)] or [x0, x1]
        free = margin - 1
        for t, label in zip(ticks, tick_labels(ticks), strict=True):
            col = margin + round((t - x0) / ((x1 - x0) or 1.0) * (cols * 2 - 1) / 2)
            start = min(max(col - len(label) // 2, free), grid.width - len(label))
            if start >= free and start + len(label) <= end:
                free = grid.put(y, start, label, style) + 1
