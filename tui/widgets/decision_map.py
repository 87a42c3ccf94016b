"""DecisionMap: TensorFlow Playground's main view, the model's output over the input plane with the data on top."""

from __future__ import annotations

import numpy as np
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip

from dl_lab.tui.widgets.drawn import DrawnWidget
from dl_lab.tui.widgets.map_data import MapData, mean_color, point_colors, prepare_map, smooth_grid, tint_grid
from dl_lab.tui.widgets.palette import CLASS_PALETTE, background_rgb, binary_pair, is_dark, pack, standout
from dl_lab.tui.widgets.raster import TRANSPARENT, Grid, braille, halfblocks, polyline, resample, too_small
from dl_lab.tui.widgets.ticks import compact

TRAIN_MARK, VAL_MARK = "●", "○"


class DecisionMap(DrawnWidget):
    """The model's decision over the 2-D input plane as a half-block heatmap, the data points drawn over it.

    Each cell is two pixels tall ("▀": foreground the upper pixel, background the lower). A pixel takes its class's
    colour blended into the background by the model's confidence: pale where the model hesitates, saturated where it
    is sure. Train points are "●", validation points "○", in their class colour pushed toward white (dark themes) or
    black (light themes). A 1-D regression ("curve") is drawn as the model's curve over the data in braille.
    """

    DEFAULT_CSS = """
    DecisionMap { height: 1fr; min-height: 3; }
    DecisionMap > .decision-map--negative { color: $warning; }
    DecisionMap > .decision-map--positive { color: $primary; }
    DecisionMap > .decision-map--legend { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"decision-map--negative", "decision-map--positive", "decision-map--legend"}

    data: reactive[MapData | None] = reactive(None, always_update=True)
    keep_aspect: reactive[bool] = reactive(True)
    discretize: reactive[bool] = reactive(False)  # Playground's: each point's class in full colour, no confidence
    min_strength: reactive[float] = reactive(0.0)  # the palest tint a class gets (0: the background where unsure)

    def __init__(
        self, *, keep_aspect: bool = True, min_strength: float = 0.0, name=None, id=None, classes=None
    ) -> None:
        """``keep_aspect``: draw the plane with square pixels (as Playground does) rather than fill the widget.
        ``min_strength``: every cell at least this tinted (strength s is drawn as min + (1 - min) s), for a map
        whose class matters more than how sure it is (AdaBoost's H: a weak vote is still a class)."""
        super().__init__(name=name, id=id, classes=classes)
        self.keep_aspect = keep_aspect
        self.min_strength = min_strength

    def set_map(self, boundary: dict | None, points: dict | None = None, *, class_names=None) -> None:
        """Show a snapshot's ``boundary`` (None before the first) over a dataset's ``points`` (``points_2d``)."""
        self.data = prepare_map(boundary, points, class_names)

    def watch_data(self) -> None:
        self.redraw()

    def watch_keep_aspect(self) -> None:
        self.redraw()

    def watch_discretize(self) -> None:
        self.redraw()

    def watch_min_strength(self) -> None:
        self.redraw()

    def palette(self, data: MapData) -> np.ndarray:
        """(K, 3) class colours: two theme colours for binary problems and regression, else the class palette."""
        if data.num_classes <= 2 or data.scale is not None:
            return np.array(binary_pair(self, "decision-map--negative", "decision-map--positive"), dtype=float)
        return np.array(CLASS_PALETTE, dtype=float)

    def draw(self, width: int, height: int) -> list[Strip]:
        data = self.data
        grid = self.new_grid(width, height)
        legend = self.component("decision-map--legend")
        if data is None:
            grid.put(0, 0, "(no data yet)", legend)
            return grid.strips()
        rows = height - 1 if height >= 4 else height
        if width < 4 or rows < 2:
            return too_small(grid)
        palette, bg = self.palette(data), np.array(background_rgb(self), dtype=float)
        if data.kind == "curve":
            self._draw_curve(grid, data, palette, bg, rows)
        else:
            rows = self._draw_plane(grid, data, palette, bg, rows)
        if rows < height:
            self._legend(grid, data, palette, rows, legend)
        return grid.strips()

    def _draw_plane(self, grid: Grid, data: MapData, palette: np.ndarray, bg: np.ndarray, rows: int) -> int:
        """Draw the heatmap and the points; return the number of rows used."""
        x0, x1, y0, y1 = data.bounds
        pw, ph = grid.width, rows * 2
        if self.keep_aspect and x1 > x0 and y1 > y0:
            aspect = (x1 - x0) / (y1 - y0)
            if pw > ph * aspect:
                pw = max(2, round(ph * aspect))
            else:
                ph = max(2, round(pw / aspect))
        if data.cls is not None and (ph > data.cls.shape[0] or pw > data.cls.shape[1]):
            # more pixels than the grid has cells (a large or zoomed pane): interpolated, not enlarged blocks
            cls, strength = smooth_grid(data.cls, data.strength, ph, pw)
            pixels = tint_grid(cls, self._strength(strength), palette, bg)
        elif data.cls is not None:
            pixels = resample(tint_grid(data.cls, self._strength(data.strength), palette, bg), ph, pw)
        else:
            pixels = np.full((ph, pw), TRANSPARENT, dtype=np.int64)
        if ph % 2:
            pixels = np.vstack([pixels, pixels[-1:]])
        chars, fg, cell_bg = halfblocks(pixels)
        toward = np.array((255.0, 255.0, 255.0) if is_dark(bg) else (0.0, 0.0, 0.0))
        for ps, mark in ((data.train, TRAIN_MARK), (data.val, VAL_MARK)):
            if ps is None:
                continue
            col = np.floor((ps.xy[:, 0] - x0) / ((x1 - x0) or 1.0) * pw).astype(np.int64)
            prow = np.floor((y1 - ps.xy[:, 1]) / ((y1 - y0) or 1.0) * ph).astype(np.int64)
            keep = (col >= 0) & (col < pw) & (prow >= 0) & (prow < ph)
            row, col = prow[keep] // 2, col[keep]
            chars[row, col] = mark
            fg[row, col] = point_colors(ps, palette, bg, toward)[keep]
            upper, lower = pixels[2 * row, col], pixels[2 * row + 1, col]
            cell_bg[row, col] = np.where(upper < 0, TRANSPARENT, mean_color(np.maximum(upper, 0), np.maximum(lower, 0)))
        grid.paint(0, (grid.width - pw) // 2, chars, fg, cell_bg)
        return chars.shape[0]

    def _strength(self, strength: np.ndarray) -> np.ndarray:
        """Discretized: every cell in its class's full colour (a boundary of sure classes, as Playground's); else
        the strength lifted to ``min_strength`` at least."""
        if self.discretize:
            return np.ones_like(strength)
        floor = min(max(float(self.min_strength), 0.0), 1.0)
        return floor + (1.0 - floor) * strength if floor else strength

    def _draw_curve(self, grid: Grid, data: MapData, palette: np.ndarray, bg: np.ndarray, rows: int) -> None:
        x0, x1, y0, y1 = data.bounds
        dw, dh = grid.width * 2, rows * 4

        def dots(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return (xs - x0) / ((x1 - x0) or 1.0) * (dw - 1), (y1 - ys) / ((y1 - y0) or 1.0) * (dh - 1)

        layers, colors = [], []
        for ps, color in ((data.train, palette[0]), (data.val, standout(palette[0], bg, 0.5))):
            if ps is not None:
                mask = np.zeros((dh, dw), dtype=bool)
                px, py = (np.rint(d).astype(np.int64) for d in dots(ps.xy[:, 0], ps.xy[:, 1]))
                keep = (px >= 0) & (px < dw) & (py >= 0) & (py < dh)
                mask[py[keep], px[keep]] = True
                layers.append(mask)
                colors.append(pack(color))
        if data.curve is not None and data.curve[0].size:
            xs, ys = data.curve
            ok = np.isfinite(xs) & np.isfinite(ys)
            layers.append(polyline(*dots(xs[ok], ys[ok]), dw, dh))
            colors.append(pack(palette[1]))
        if layers:
            grid.paint(0, 0, *braille(layers, colors))

    def _legend(self, grid: Grid, data: MapData, palette: np.ndarray, y: int, style: Style) -> None:
        def swatch(rgb) -> Style:
            return grid.color_style(pack(rgb))

        items: list[tuple[str, Style]] = []
        if data.kind == "curve":
            items += [("━ model", swatch(palette[1])), ("⠿ train", swatch(palette[0]))]
            if data.val is not None:
                items.append(("⠿ val", swatch(standout(palette[0], background_rgb(self), 0.5))))
            items.append((f"y {compact(data.bounds[2])}..{compact(data.bounds[3])}", style))
        else:
            if data.scale is not None:
                items += [
                    (f"■ -{compact(data.scale)}", swatch(palette[0])),
                    ("■ +" + compact(data.scale), swatch(palette[1])),
                ]
            else:
                names = data.class_names or tuple(str(k) for k in range(data.num_classes))
                items += [
                    (f"■ {names[k] if k < len(names) else k}", swatch(palette[k % len(palette)]))
                    for k in range(data.num_classes)
                ]
            if data.train is not None:
                items.append((f"{TRAIN_MARK} train", style))
            if data.val is not None:
                items.append((f"{VAL_MARK} val", style))
        x = 0
        for text, st in items:
            x = grid.put(y, x, text, st) + 2
