"""ConfusionMatrix: counts of true (rows) against predicted (columns) classes, shaded by the row's share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.reactive import reactive
from textual.strip import Strip

from dl_lab.tui.widgets.drawn import DrawnWidget
from dl_lab.tui.widgets.palette import background_rgb, blend, component_rgb, contrast_text, pack
from dl_lab.tui.widgets.raster import Grid

MAX_CELL = 6  # widest cell, padding included


@dataclass(frozen=True)
class MatrixData:
    """What a ConfusionMatrix shows, prepared by ``set_matrix``."""

    counts: np.ndarray
    shares: np.ndarray  # each count over its row's total
    names: tuple[str, ...]
    precision: tuple[float, ...] | None = None
    recall: tuple[float, ...] | None = None


def fit_count(count: int, width: int) -> str:
    """A count in at most ``width`` characters: 1234 -> "1234", "1.2k", "1k"; "#" when nothing fits."""
    text = str(int(count))
    if len(text) <= width:
        return text
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= scale:
            for decimals in (1, 0):
                text = f"{count / scale:.{decimals}f}{suffix}"
                if len(text) <= width:
                    return text
            break
    return "#" * width


def fit_share(value: float, width: int) -> str:
    """A fraction as a percentage in at most ``width`` characters ("93%", "93")."""
    pct = round(100 * float(value))
    text = f"{pct}%"
    if len(text) > width:
        text = str(min(pct, 10**width - 1))
    return text[:width]


def short_names(names: tuple[str, ...], width: int) -> tuple[str, ...]:
    """Names cut to ``width`` characters, still telling the classes apart ("class1" -> "cla1"), else indices."""
    width = max(width, 1)
    for cut in (lambda s: s[:width], lambda s: s[: width - 1] + s[-1:] if len(s) > width else s):
        short = tuple(cut(s) for s in names)
        if len(set(short)) == len(short):
            return short
    return tuple(str(i)[-width:] for i in range(len(names)))


def layout(n: int, names: tuple[str, ...], width: int, with_recall: bool) -> tuple[int, int]:
    """(label width, cell width) fitting ``n`` class columns (and a recall column) in ``width``."""
    longest = max((len(s) for s in names), default=1)
    for cell in range(MAX_CELL, 1, -1):
        label = min(max(longest, 4), 8)
        while label > 1 and label + 1 + (n + with_recall) * cell > width:
            label -= 1
        if label + 1 + (n + with_recall) * cell <= width and (label >= min(longest, 3) or cell == 2):
            return label, cell
    return 1, 2


class ConfusionMatrix(DrawnWidget):
    """A confusion matrix: rows are the true class, columns the predicted one, each cell showing its count.

    A cell's shade is its share of the row: the diagonal in the theme's success colour, errors in its error colour,
    zeros as a dim "·". Optional per-class precision (a bottom row) and recall (a right column) as percentages.
    Labels shrink (to the class index when nothing else fits) as the widget narrows.
    """

    DEFAULT_CSS = """
    ConfusionMatrix { height: auto; min-height: 3; }
    ConfusionMatrix > .confusion-matrix--good { color: $success; }
    ConfusionMatrix > .confusion-matrix--bad { color: $error; }
    ConfusionMatrix > .confusion-matrix--label { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"confusion-matrix--good", "confusion-matrix--bad", "confusion-matrix--label"}

    data: reactive[MatrixData | None] = reactive(None, always_update=True, layout=True)

    def set_matrix(
        self,
        matrix: list[list[int]],
        class_names: list[str],
        *,
        precision: list[float] | None = None,
        recall: list[float] | None = None,
    ) -> None:
        """Show ``matrix[true][predicted]`` counts, with optional per-class ``precision`` and ``recall`` (0..1)."""
        counts = np.asarray(matrix, dtype=np.int64).reshape(len(matrix), -1) if len(matrix) else np.zeros((0, 0))
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
        names = tuple(str(s) for s in class_names) + tuple(str(i) for i in range(len(class_names), len(counts)))
        self.data = MatrixData(counts, shares, names, _floats(precision), _floats(recall))

    def clear(self) -> None:
        """Show no matrix ("no data yet"): a replay moved back before the first epoch, say."""
        self.data = None

    def watch_data(self) -> None:
        self.redraw()

    def get_content_height(self, container, viewport, width: int) -> int:
        """Rows needed: a caption, the header, one per class and the precision row."""
        data = self.data
        if data is None:
            return 1
        return 2 + len(data.counts) + int(data.precision is not None)

    def draw(self, width: int, height: int) -> list[Strip]:
        data = self.data
        grid = self.new_grid(width, height)
        label_style = self.component("confusion-matrix--label")
        if data is None or not data.counts.size:
            grid.put(0, 0, "(no data yet)", label_style)
            return grid.strips()
        n = len(data.counts)
        lw, cw = layout(n, data.names, width, data.recall is not None)
        names = data.names if lw >= 3 else tuple(str(i) for i in range(n))
        columns = short_names(names, cw - 1)
        names = short_names(names, lw)
        top = 0
        if height >= n + 2 + int(data.precision is not None):
            grid.put(0, 0, "rows: true class · columns: predicted", label_style)
            top = 1
        corner = "t\\p" if lw >= 3 else ""
        grid.put(top, 0, corner.ljust(lw), label_style)
        for j in range(n):
            grid.put(top, lw + 1 + j * cw, columns[j].center(cw - 1), label_style)
        if data.recall is not None:
            grid.put(top, lw + 1 + n * cw, "rec"[: cw - 1].rjust(cw - 1), label_style)
        self._cells(grid, data, names, top + 1, lw, cw, label_style)
        return grid.strips()

    def _cells(self, grid: Grid, data: MatrixData, names, y0: int, lw: int, cw: int, label_style) -> None:
        bg = background_rgb(self)
        good = component_rgb(self, "confusion-matrix--good", (78, 191, 113))
        bad = component_rgb(self, "confusion-matrix--bad", (186, 60, 91))
        n = len(data.counts)
        for i in range(n):
            y = y0 + i
            grid.put(y, 0, names[i][:lw].rjust(lw), label_style)
            for j in range(n):
                count, share = int(data.counts[i, j]), float(data.shares[i, j])
                x = lw + 1 + j * cw
                if count == 0:
                    grid.put(y, x, "·".rjust(cw - 1).ljust(cw), label_style)
                    continue
                shade = blend(bg, good if i == j else bad, 0.25 + 0.65 * share**0.5)
                style = grid.color_style(pack(contrast_text(shade)), pack(shade))
                grid.put(y, x, fit_count(count, cw - 1).rjust(cw - 1) + " ", style)
            if data.recall is not None and i < len(data.recall):
                self._share(grid, y, lw + 1 + n * cw, cw, data.recall[i], good, bad)
        if data.precision is not None:
            y = y0 + n
            grid.put(y, 0, "prec"[:lw].rjust(lw), label_style)
            for j, value in enumerate(data.precision[:n]):
                self._share(grid, y, lw + 1 + j * cw, cw, value, good, bad)

    @staticmethod
    def _share(grid: Grid, y: int, x: int, cw: int, value: float, good, bad) -> None:
        color = blend(bad, good, min(max(float(value), 0.0), 1.0))
        grid.put(y, x, fit_share(value, cw - 1).rjust(cw - 1), grid.color_style(pack(color)))


def _floats(values) -> tuple[float, ...] | None:
    return None if values is None else tuple(float(v) for v in values)
