"""Histogram: counts over equal bins as vertical eighth-block bars, with a title, a stats line and lo / 0 / hi."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.reactive import reactive
from textual.strip import Strip

from dl_lab.tui.widgets.drawn import DrawnWidget
from dl_lab.tui.widgets.raster import Grid
from dl_lab.tui.widgets.ticks import compact

EIGHTHS = np.array(list(" ▁▂▃▄▅▆▇█"))


@dataclass(frozen=True)
class HistogramData:
    """What a Histogram shows, prepared by ``set_histogram``."""

    counts: np.ndarray
    lo: float
    hi: float
    title: str = ""
    stats: str = ""
    log_counts: bool = False
    empty: str = "(no data yet)"  # shown when there are no counts


def column_counts(counts: np.ndarray, width: int) -> np.ndarray:
    """Counts per screen column: neighbouring bins summed when there are more bins than columns, else each bin
    spread over its share of the columns (nearest neighbour, so shares differ by at most one column)."""
    bins = len(counts)
    if bins == 0 or width <= 0:
        return np.zeros(0)
    if bins > width:
        return np.add.reduceat(counts, (np.arange(width) * bins) // width)
    return counts[(np.arange(width) * bins) // width]


def bar_cells(columns: np.ndarray, rows: int) -> np.ndarray:
    """(rows, len(columns)) bar characters, the tallest column full height; non-zero columns show at least ▁."""
    top = columns.max() if columns.size else 0
    if rows <= 0 or top <= 0:
        return np.full((max(rows, 0), len(columns)), " ")
    eighths = np.rint(columns / top * rows * 8).astype(np.int64)
    eighths = np.where(columns > 0, np.maximum(eighths, 1), 0)
    level = (rows - 1 - np.arange(rows))[:, None] * 8
    return EIGHTHS[np.clip(eighths[None, :] - level, 0, 8)]


class Histogram(DrawnWidget):
    """A distribution (per-layer activations, weights or gradients) as vertical bars of eighth blocks.

    The top line has the title and the largest count, the second the stats (e.g. ``mean 0.12 std 0.40 dead 12%``),
    the bottom line the range: lo at the left, 0 where it falls inside, hi at the right.
    """

    DEFAULT_CSS = """
    Histogram { height: 1fr; min-height: 3; }
    Histogram > .histogram--bar { color: $primary; }
    Histogram > .histogram--title { text-style: bold; }
    Histogram > .histogram--axis { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"histogram--bar", "histogram--title", "histogram--axis"}

    data: reactive[HistogramData | None] = reactive(None, always_update=True)

    def set_histogram(
        self,
        counts: list[int],
        lo: float,
        hi: float,
        *,
        title: str = "",
        stats: str = "",
        log_counts: bool = False,
        empty: str = "(no data yet)",
    ) -> None:
        """Show ``counts`` over equal bins from ``lo`` to ``hi``; ``log_counts`` scales bar heights by log(1+count);
        ``empty`` is what it says without counts (no data yet, or none to come: "no parameters")."""
        arr = np.nan_to_num(np.asarray(counts, dtype=float).reshape(-1), nan=0.0).clip(min=0)
        self.data = HistogramData(arr, float(lo), float(hi), title, stats, log_counts, empty)

    def watch_data(self) -> None:
        self.redraw()

    def draw(self, width: int, height: int) -> list[Strip]:
        data = self.data or HistogramData(np.zeros(0), 0.0, 0.0)
        grid = self.new_grid(width, height)
        axis = self.component("histogram--axis")
        show_axis, show_title = height >= 3, height >= 4 and (data.title or data.counts.size)
        show_stats = height >= 5 and bool(data.stats)
        top = int(bool(show_title)) + int(show_stats)
        if show_title:
            grid.put(0, 0, data.title, self.component("histogram--title"))
            if data.counts.size:
                peak = f"max {compact(data.counts.max())}"
                if len(data.title) + len(peak) + 2 <= width:
                    grid.put(0, width - len(peak), peak, axis)
        if show_stats:
            grid.put(top - 1, 0, data.stats, axis)
        rows = height - top - int(show_axis)
        if not data.counts.size:
            grid.put(top, 0, data.empty, axis)
            return grid.strips()
        heights = np.log1p(data.counts) if data.log_counts else data.counts
        columns = column_counts(heights, width)
        bars = bar_cells(columns, rows)
        if bars.size:
            grid.chars[top : top + rows, : bars.shape[1]] = bars
            grid.codes[top : top + rows, : bars.shape[1]] = grid.style_code(self.component("histogram--bar"))
        if show_axis:
            self._axis(grid, data, height - 1, len(columns), axis)
        return grid.strips()

    @staticmethod
    def _axis(grid: Grid, data: HistogramData, y: int, used: int, style) -> None:
        lo, hi = compact(data.lo), compact(data.hi)
        grid.put(y, 0, lo, style)
        right = max(used, len(lo) + len(hi) + 1)
        if right <= grid.width:
            grid.put(y, right - len(hi), hi, style)
        if data.lo < 0 < data.hi and data.hi > data.lo:
            col = int((0 - data.lo) / (data.hi - data.lo) * used)
            if len(lo) < col and col + 1 < right - len(hi):
                grid.put(y, col, "0", style)
