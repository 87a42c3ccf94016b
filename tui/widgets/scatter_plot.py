"""ScatterPlot: a 2-D data set as braille dots coloured by class (or by value for regression), or y against x."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip

from dl_lab.tui.widgets.drawn import DrawnWidget
from dl_lab.tui.widgets.palette import CLASS_PALETTE, background_rgb, binary_pair, blend, pack
from dl_lab.tui.widgets.raster import Grid, braille, too_small
from dl_lab.tui.widgets.ticks import compact

VALUE_LEVELS = 4  # shades per sign for regression values


@dataclass(frozen=True)
class ScatterData:
    """What a ScatterPlot shows: points, a layer index per point (class, or value shade) and the view's bounds."""

    xy: np.ndarray
    layer: np.ndarray
    bounds: tuple[float, float, float, float]
    regression: bool = False
    num_classes: int = 2
    scale: float = 1.0
    class_names: tuple[str, ...] = ()
    curve: bool = False  # y against x (a 1-D regression): one colour, the axes' ranges and no colour key


def value_layers(values: np.ndarray, scale: float) -> np.ndarray:
    """Regression values -> shade layers 0..2*VALUE_LEVELS-1: negative ones first (strongest first), then positive."""
    level = np.clip(np.ceil(np.abs(values) / (scale or 1.0) * VALUE_LEVELS), 1, VALUE_LEVELS).astype(np.int64)
    return np.where(values < 0, VALUE_LEVELS - level, VALUE_LEVELS + level - 1)


def data_bounds(xy: np.ndarray) -> tuple[float, float, float, float]:
    """The points' extent with a 5% margin (unit square when empty)."""
    if not len(xy):
        return (-1.0, 1.0, -1.0, 1.0)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    pad = np.maximum((hi - lo) * 0.05, 1e-6)
    return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


class ScatterPlot(DrawnWidget):
    """The preview of a 2-D data set: each point a braille dot (2x4 per cell) in its class colour.

    A binary set uses the theme's warning and primary colours (Playground's orange and blue), more classes the fixed
    class palette, regression a diverging scale (negative orange, positive blue, pale near 0). Where points of several
    classes share a cell the later class's colour wins.
    """

    DEFAULT_CSS = """
    ScatterPlot { height: 1fr; min-height: 3; }
    ScatterPlot > .scatter-plot--negative { color: $warning; }
    ScatterPlot > .scatter-plot--positive { color: $primary; }
    ScatterPlot > .scatter-plot--legend { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"scatter-plot--negative", "scatter-plot--positive", "scatter-plot--legend"}

    data: reactive[ScatterData | None] = reactive(None, always_update=True)
    keep_aspect: reactive[bool] = reactive(True)

    def __init__(self, *, keep_aspect: bool = True, name=None, id=None, classes=None) -> None:
        """``keep_aspect``: one unit is as long across as up (square dots), rather than filling the widget."""
        super().__init__(name=name, id=id, classes=classes)
        self.keep_aspect = keep_aspect

    def set_points(
        self,
        points: np.ndarray,
        labels: np.ndarray,
        bounds: list[float] | None = None,
        *,
        regression: bool = False,
        class_names: list[str] | None = None,
    ) -> None:
        """Show ``points`` (N, 2) labelled by ``labels`` (N,) within ``bounds`` [x0, x1, y0, y1] (default: extent)."""
        xy = np.asarray(points, dtype=float).reshape(-1, 2)
        lab = np.asarray(labels).reshape(-1)[: len(xy)]
        xy = xy[: len(lab)]
        box = tuple(float(b) for b in bounds) if bounds is not None and len(bounds) == 4 else data_bounds(xy)
        if regression:
            values = lab.astype(float)
            scale = float(np.abs(values).max()) if values.size else 1.0
            data = ScatterData(xy, value_layers(values, scale), box, True, 2, scale or 1.0)  # type: ignore[arg-type]
        else:
            cls = lab.astype(np.int64)
            k = max(2, int(cls.max()) + 1 if cls.size else 2)
            data = ScatterData(xy, cls, box, False, k, 1.0, tuple(class_names or ()))  # type: ignore[arg-type]
        self.data = data

    def set_curve(self, points: np.ndarray, bounds: list[float] | None = None) -> None:
        """Show ``points`` (N, 2) as y against x in one colour (a 1-D regression such as sine)."""
        xy = np.asarray(points, dtype=float).reshape(-1, 2)
        box = tuple(float(b) for b in bounds) if bounds is not None and len(bounds) == 4 else data_bounds(xy)
        self.data = ScatterData(xy, np.zeros(len(xy), dtype=np.int64), box, num_classes=1, curve=True)  # type: ignore[arg-type]

    def watch_data(self) -> None:
        self.redraw()

    def watch_keep_aspect(self) -> None:
        self.redraw()

    def layer_colors(self, data: ScatterData) -> list[tuple[int, int, int]]:
        """One colour per layer: classes, or the diverging shades of a regression."""
        neg, pos = binary_pair(self, "scatter-plot--negative", "scatter-plot--positive")
        if data.curve:
            return [pos]
        if data.regression:
            bg = background_rgb(self)
            fade = [0.35 + 0.65 * (i + 1) / VALUE_LEVELS for i in range(VALUE_LEVELS)]
            return [blend(bg, neg, t) for t in reversed(fade)] + [blend(bg, pos, t) for t in fade]
        if data.num_classes <= 2:
            return [neg, pos]
        return [CLASS_PALETTE[k % len(CLASS_PALETTE)] for k in range(data.num_classes)]

    def draw(self, width: int, height: int) -> list[Strip]:
        data = self.data
        grid = self.new_grid(width, height)
        legend = self.component("scatter-plot--legend")
        if data is None:
            grid.put(0, 0, "(no data yet)", legend)
            return grid.strips()
        colors = self.layer_colors(data)
        lines = self._legend_lines(grid, data, colors, width, legend)
        if height < 4:
            lines = []
        elif len(lines) > 1:  # the plot keeps at least half the height (and the key comes before the ranges)
            lines = lines[: max(1, height // 2 - 1)]
        rows = height - len(lines)
        if width < 4 or rows < 1:
            return too_small(grid)
        x0, x1, y0, y1 = data.bounds
        dw, dh = width * 2, rows * 4
        if self.keep_aspect and x1 > x0 and y1 > y0:
            aspect = (x1 - x0) / (y1 - y0)
            dw, dh = (max(2, round(dh * aspect) // 2 * 2), dh) if dw > dh * aspect else (dw, max(4, round(dw / aspect)))
            dh = -(-dh // 4) * 4
        px = np.floor((data.xy[:, 0] - x0) / ((x1 - x0) or 1.0) * dw).astype(np.int64)
        py = np.floor((y1 - data.xy[:, 1]) / ((y1 - y0) or 1.0) * dh).astype(np.int64)
        inside = (px >= 0) & (px < dw) & (py >= 0) & (py < dh)
        layers = []
        for k in range(len(colors)):
            mask = np.zeros((dh, dw), dtype=bool)
            pick = inside & (data.layer == k)
            mask[py[pick], px[pick]] = True
            layers.append(mask)
        grid.paint(0, (width - dw // 2) // 2, *braille(layers, [pack(c) for c in colors]))
        top = min(dh // 4, rows)
        for n, line in enumerate(lines):
            x = 0
            for text, style in line:
                x = grid.put(top + n, x, text, style) + 2
        return grid.strips()

    @staticmethod
    def _legend_lines(grid: Grid, data: ScatterData, colors, width: int, style: Style) -> list[list[tuple[str, Style]]]:
        """The colour key and the axes' ranges: on one line when they fit in ``width``, else the key wrapped over
        as many lines as it needs (ten digits' classes in a narrow pane), then the ranges on their own line."""
        if data.curve:
            items = []
        elif data.regression:
            items = [(f"● -{compact(data.scale)}", colors[0]), (f"● +{compact(data.scale)}", colors[-1])]
        else:
            names = data.class_names
            items = [(f"● {names[k] if k < len(names) else k}", c) for k, c in enumerate(colors)]
        key = [(text, grid.color_style(pack(color))) for text, color in items]
        x0, x1, y0, y1 = data.bounds
        ranges = [(f"x {compact(x0)}..{compact(x1)}  y {compact(y0)}..{compact(y1)}", style)]
        if sum(len(text) + 2 for text, _ in key + ranges) - 2 <= width or not key:
            return [key + ranges]
        lines: list[list[tuple[str, Style]]] = [[]]
        used = 0
        for text, st in key:
            if lines[-1] and used + len(text) > width:
                lines.append([])
                used = 0
            lines[-1].append((text, st))
            used += len(text) + 2
        return [*lines, ranges]
