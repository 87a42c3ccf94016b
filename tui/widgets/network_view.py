"""NetworkView: TensorFlow Playground's picture of a network, its neurons as small heatmaps joined by weighted links."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.reactive import reactive
from textual.strip import Strip

from dl_lab.tui.widgets.drawn import DrawnWidget
from dl_lab.tui.widgets.map_data import LEVELS, tint_grid
from dl_lab.tui.widgets.palette import background_rgb, binary_pair, component_rgb, contrast_text, pack
from dl_lab.tui.widgets.raster import TRANSPARENT, Grid, braille, color_code, halfblocks, polyline, resample, too_small
from dl_lab.tui.widgets.ticks import compact

CURSOR_MARK, BIAS_MARK = "▶", "▪"
LEAD = 2  # cells left of a box: the cursor mark, then the bias mark
MIN_GAP = 5  # the fewest cells between two columns' boxes (where the links run)
MAX_CELL = (6, 3)  # the largest box, cells wide x rows tall (6 x 6 half-block pixels)
FEW = 6  # boxes shrink (down to 2 x 1) before a column shows fewer than this many neurons
LINK_FLOOR = 0.15  # the weakest link keeps this much of its colour, so a tiny weight still shows as a faint line
_MASK25 = (1 << 25) - 1  # a style code's background part (see raster.color_code)
LEGEND = (("■ negative", "neg"), (" ■ positive", "pos"), ("  weights: colour = sign, brightness = |w|", "text"))


@dataclass(frozen=True)
class NeuronColumn:
    """One column of the picture: the input features, a dense layer's units or the output."""

    title: str  # e.g. "input", "dense 8 tanh", "output"
    total: int  # units the layer has (the column may show fewer: then "+N more" under the last)
    labels: tuple[str, ...] = ()  # a label per shown unit (input features: "x1", "x2", "x1²", ...), may be empty
    maps: np.ndarray | None = None  # (shown, H, W): each unit's output over the input plane, top row first
    values: np.ndarray | None = None  # (shown,): each unit's activation on one sample (data that is not 2-D)
    biases: np.ndarray | None = None  # (shown,): the units' biases (None for the input column)

    @property
    def shown(self) -> int:
        """How many units the column has data for (the first of maps, values, biases, labels given; else total)."""
        for data in (self.maps, self.values, self.biases):
            if data is not None:
                return len(data)
        return len(self.labels) if self.labels else self.total


@dataclass(frozen=True)
class NetworkPicture:
    """The columns left to right and the weights between neighbours: ``weights[k]`` is (shown in k, shown in k+1)."""

    columns: tuple[NeuronColumn, ...]
    weights: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Placement:
    """Where a picture goes: neurons per column, box size, the boxes' left columns and the input labels' width."""

    count: int
    cw: int
    ch: int
    xs: tuple[int, ...]
    label_width: int

    def box_row(self, unit: int) -> int:
        """The top row of a column's ``unit``-th box (row 0 holds the titles)."""
        return 1 + unit * (self.ch + 1)

    def mid_row(self, unit: int) -> int:
        return self.box_row(unit) + self.ch // 2


def _floats(values, n: int) -> np.ndarray:
    return np.nan_to_num(np.asarray(values, dtype=float).reshape(-1)[:n])


def _scale(values: np.ndarray) -> float:
    """The largest magnitude (1 when all are zero, so strengths stay 0)."""
    top = float(np.abs(values).max()) if values.size else 0.0
    return top or 1.0


def _blend(rgb: np.ndarray, background: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Packed colours: (N, 3) ``rgb`` blended into the background by ``t`` (N,) (0 -> background)."""
    mixed = np.rint(background[None, :] * (1.0 - t[:, None]) + rgb * t[:, None]).astype(np.int64)
    return (mixed[:, 0] << 16) | (mixed[:, 1] << 8) | mixed[:, 2]


def _overlay(grid: Grid, y: int, x: int, chars: np.ndarray, fg: np.ndarray) -> None:
    """Put the non-blank cells of a block (braille links) at (``y``, ``x``), leaving the cells under blanks as they
    are (the boxes and text around the links)."""
    h, w = min(chars.shape[0], grid.height - y), min(chars.shape[1], grid.width - x)
    if h <= 0 or w <= 0 or y < 0 or x < 0:
        return
    chars, fg = chars[:h, :w], fg[:h, :w]
    ink = chars != " "
    region = (slice(y, y + h), slice(x, x + w))
    grid.chars[region][ink] = chars[ink]
    fitted = grid.fitter.fit(fg[ink].astype(np.int64))
    grid.codes[region][ink] = color_code(fitted, np.full_like(fitted, TRANSPARENT))


class NetworkView(DrawnWidget):
    """A network drawn as Playground draws it: a column of neurons per layer, input features on the left.

    Each neuron is a box of half-block pixels showing its output over the 2-D input plane (the negative colour where
    it is negative, the positive where positive, stronger where larger against the neuron's own largest value), or
    a solid box tinted by its activation on one sample. A bias is the mark left of its box, coloured by sign. Links
    run in braille between the columns, coloured by the weight's sign and faded by its size against the layer's
    largest; strong links are drawn last and doubled. The cursor ("▶") picks a neuron or one of its incoming links.
    """

    DEFAULT_CSS = """
    NetworkView { height: 1fr; min-height: 4; }
    NetworkView > .network-view--negative { color: $warning; }
    NetworkView > .network-view--positive { color: $primary; }
    NetworkView > .network-view--cursor { color: $accent; text-style: bold; }
    NetworkView > .network-view--title { text-style: bold; }
    NetworkView > .network-view--legend { color: $text-muted; }
    """
    COMPONENT_CLASSES = {
        "network-view--negative",
        "network-view--positive",
        "network-view--cursor",
        "network-view--title",
        "network-view--legend",
    }

    picture: reactive[NetworkPicture | None] = reactive(None, always_update=True)
    cursor: reactive[tuple[int, int, int | None]] = reactive((0, 0, None))
    show_cursor: reactive[bool] = reactive(True)  # False: the cursor is kept but not drawn

    def watch_show_cursor(self) -> None:
        self.redraw()

    def set_picture(self, picture: NetworkPicture | None) -> None:
        """Show ``picture`` (None: nothing yet); the cursor stays where it was as far as the new picture allows."""
        self.picture = picture

    def watch_picture(self) -> None:
        self.cursor = self._clamped(*self.cursor)
        self.redraw()

    def watch_cursor(self) -> None:
        self.redraw()

    # ------------------------------------------------------------ cursor

    def _shown(self, col: int) -> int:
        picture = self.picture
        if picture is None or not 0 <= col < len(picture.columns):
            return 0
        return picture.columns[col].shown

    def _clamped(self, col: int, unit: int, link: int | None) -> tuple[int, int, int | None]:
        picture = self.picture
        if picture is None or not picture.columns:
            return (0, 0, None)
        col = min(max(col, 0), len(picture.columns) - 1)
        unit = min(max(unit, 0), max(self._shown(col) - 1, 0))
        if link is not None and (col == 0 or not 0 <= link < self._shown(col - 1)):
            link = None
        return (col, unit, link)

    def move_unit(self, delta: int) -> None:
        """Up (negative) or down within the column, stopping at its ends; back to the neuron itself."""
        col, unit, _ = self.cursor
        self.cursor = self._clamped(col, unit + delta, None)

    def move_column(self, delta: int) -> None:
        """Left (negative) or right, stopping at the ends; the unit kept as far as the new column has one."""
        col, unit, _ = self.cursor
        self.cursor = self._clamped(col + delta, unit, None)

    def cycle_link(self, delta: int) -> None:
        """Step through the neuron's incoming links: None (the neuron) -> 0 -> 1 ... -> None (no-op in column 0)."""
        col, unit, link = self.cursor
        count = self._shown(col - 1) if col > 0 else 0
        if count == 0:
            return
        index = (-1 if link is None else link) + 1 + delta  # 0 is the neuron itself, 1.. the links
        index %= count + 1
        self.cursor = (col, unit, None if index == 0 else index - 1)

    def selected(self) -> tuple:
        """("neuron", column, unit), or ("link", column, source unit, unit) for the link from column - 1."""
        col, unit, link = self.cursor
        if link is None:
            return ("neuron", col, unit)
        return ("link", col, link, unit)

    # ------------------------------------------------------------ layout

    @staticmethod
    def capacity(width: int, height: int, columns: int) -> tuple[int, int, int]:
        """(most neurons shown per column, box width, box height) for ``columns`` columns in ``width`` x ``height``
        cells: a caller computes maps of that many units at (2 * box height) x (box width) pixels."""
        columns = max(columns, 1)
        fit_w = (width - (columns - 1) * MIN_GAP - columns * LEAD) // columns
        cw_max = max(2, min(MAX_CELL[0], fit_w))
        ch = max(1, min(MAX_CELL[1], cw_max // 2))
        # a box and the row under it per neuron; the last row under a column holds "+N more"
        while ch > 1 and (height - 1) // (ch + 1) < FEW:
            ch -= 1
        count = max(1, (height - 1) // (ch + 1))
        return count, min(cw_max, 2 * ch), ch  # square pixels: 2 * ch pixels tall, 2 * ch wide

    def place(self, picture: NetworkPicture, width: int, height: int) -> Placement | None:
        """The boxes' places, or None when the picture does not fit."""
        n = len(picture.columns)
        if n == 0 or height < 3 or width < n * (LEAD + 2) + (n - 1) * MIN_GAP:
            return None
        count, cw, ch = self.capacity(width, height, n)
        slot = LEAD + cw
        labels = picture.columns[0].labels
        longest = max((len(label) for label in labels), default=0)
        spare = width - n * slot - (n - 1) * MIN_GAP
        label_width = longest + 1 if longest and spare >= longest + 1 else 0
        left = label_width
        xs: tuple[int, ...]
        if n == 1:
            xs = ((width - slot) // 2 + LEAD,)
        else:
            step = (width - left - n * slot) / (n - 1) + slot
            xs = tuple(left + LEAD + round(k * step) for k in range(n))
        return Placement(count, cw, ch, xs, label_width)

    # ------------------------------------------------------------ drawing

    def draw(self, width: int, height: int) -> list[Strip]:
        picture = self.picture
        grid = self.new_grid(width, height)
        legend = self.component("network-view--legend")
        if picture is None or not picture.columns:
            grid.put(0, 0, "(no network yet)", legend)
            return grid.strips()
        lay = self.place(picture, width, height)
        if lay is None:
            return too_small(grid)
        neg, pos = binary_pair(self, "network-view--negative", "network-view--positive")
        palette = np.array((neg, pos), dtype=float)
        bg = np.array(background_rgb(self), dtype=float)
        cursor_rgb = component_rgb(self, "network-view--cursor", (255, 255, 0))
        drawn = [min(column.shown, lay.count) for column in picture.columns]
        for k in range(len(picture.columns) - 1):
            if k < len(picture.weights):
                self._links(grid, lay, k, picture.weights[k], drawn[k], drawn[k + 1], palette, bg, cursor_rgb)
        used = 1
        for k, column in enumerate(picture.columns):
            used = max(used, self._column(grid, lay, k, column, drawn[k], palette, bg))
        self._titles(grid, lay, picture)
        if used < height:  # the first row nothing uses is free for the legend
            x = 0
            for text, which in LEGEND:
                style = grid.color_style(pack(neg if which == "neg" else pos)) if which != "text" else legend
                x = grid.put(height - 1, x, text, style)
        return grid.strips()

    def _titles(self, grid: Grid, lay: Placement, picture: NetworkPicture) -> None:
        title, cursor = self.component("network-view--title"), self.component("network-view--cursor")
        starts = [0 if k == 0 else x - LEAD for k, x in enumerate(lay.xs)]
        ends = [*(s - 1 for s in starts[1:]), grid.width]
        after = 0  # the first column free after the previous title
        for k, column in enumerate(picture.columns):
            # a title longer than its column's room moves left into the gap before it (the output's, at the edge)
            start = max(after, min(starts[k], ends[k] - len(column.title)))
            text = column.title[: max(ends[k] - start, 0)]
            after = grid.put(0, start, text, cursor if self.show_cursor and k == self.cursor[0] else title) + 1

    def _column(
        self, grid: Grid, lay: Placement, k: int, column: NeuronColumn, n: int, palette: np.ndarray, bg: np.ndarray
    ) -> int:
        """Draw a column's boxes, biases, labels and "+N more"; return the first row below what it used."""
        x, cw, ch = lay.xs[k], lay.cw, lay.ch
        if n == 0:
            return 1
        if column.maps is not None:
            maps = np.nan_to_num(np.asarray(column.maps, dtype=float)[:n])
            if maps.shape[1:] != (2 * ch, cw):
                maps = np.stack([resample(m, 2 * ch, cw) for m in maps])
            scale = np.abs(maps).reshape(n, -1).max(axis=1)
            strength = np.abs(maps) / np.where(scale > 0, scale, 1.0)[:, None, None]
            strength = np.round(strength * LEVELS) / LEVELS
            pixels = tint_grid((maps > 0).astype(np.int64), strength, palette, bg)
            chars, fg, cell_bg = halfblocks(pixels.reshape(n * 2 * ch, cw))
            for i in range(n):
                rows = slice(i * ch, (i + 1) * ch)
                grid.paint(lay.box_row(i), x, chars[rows], fg[rows], cell_bg[rows])
        elif column.values is not None:
            values = _floats(column.values, n)
            strength = np.abs(values) / _scale(values)
            colors = tint_grid((values > 0).astype(np.int64)[None], strength[None], palette, bg).reshape(-1)
            for i, (v, color) in enumerate(zip(values.tolist(), colors.tolist(), strict=True)):
                chars = np.full((ch, cw), " ")
                text = compact(v, 2)
                if len(text) > cw:
                    text = compact(v, 1).replace("0.", ".", 1)  # "0.5" -> ".5", "-0.3" -> "-.3"
                if len(text) <= cw:
                    start = (cw - len(text)) // 2
                    chars[ch // 2, start : start + len(text)] = list(text)
                rgb = ((color >> 16) & 255, (color >> 8) & 255, color & 255)
                fg = np.full((ch, cw), pack(contrast_text(rgb)))
                grid.paint(lay.box_row(i), x, chars, fg, np.full((ch, cw), color))
        self._labels(grid, lay, k, column, n)
        if column.biases is not None:
            biases = _floats(column.biases, n)
            t = LINK_FLOOR + (1.0 - LINK_FLOOR) * np.abs(biases) / _scale(biases)
            colors = _blend(palette[(biases > 0).astype(np.int64)], bg, t).tolist()
            for i, color in enumerate(colors):
                grid.put(lay.mid_row(i), x - 1, BIAS_MARK, grid.color_style(color))
        col, unit, _ = self.cursor
        if self.show_cursor and col == k and unit < n:
            grid.put(lay.mid_row(unit), x - LEAD, CURSOR_MARK, self.component("network-view--cursor"))
        below = lay.box_row(n - 1) + ch
        more = column.total - n
        if more > 0 and below < grid.height:
            grid.put(below, x - LEAD, f"+{more} more", self.component("network-view--legend"))
            return below + 1
        return below

    def _labels(self, grid: Grid, lay: Placement, k: int, column: NeuronColumn, n: int) -> None:
        """The input features' names left of their boxes where there is room, else inside them when they fit; other
        columns' labels only inside boxes that show nothing else."""
        if not column.labels or (k > 0 and (column.maps is not None or column.values is not None)):
            return
        x, cw = lay.xs[k], lay.cw
        for i, label in enumerate(column.labels[:n]):
            if k == 0 and lay.label_width:
                grid.put(lay.mid_row(i), lay.label_width - 1 - len(label), label)
            elif len(label) <= cw:
                # inside the box, in black or white over the box's own colour (the lower pixel's, the cell background)
                y, start = lay.mid_row(i), x + (cw - len(label)) // 2
                bg = (int(grid.codes[y, start]) & _MASK25) - 1 if grid.codes[y, start] > 0 else TRANSPARENT
                rgb = (128, 128, 128) if bg < 0 else ((bg >> 16) & 255, (bg >> 8) & 255, bg & 255)
                grid.put(y, start, label)
                grid.codes[y, start : start + len(label)] = color_code(pack(contrast_text(rgb)), bg)

    def _links(
        self,
        grid: Grid,
        lay: Placement,
        k: int,
        weights: np.ndarray,
        n_src: int,
        n_dst: int,
        palette: np.ndarray,
        bg: np.ndarray,
        cursor_rgb: tuple[int, int, int],
    ) -> None:
        """Braille links between column ``k`` and ``k + 1``, weakest first, the selected one last."""
        w = np.nan_to_num(np.asarray(weights, dtype=float))
        n_src, n_dst = min(n_src, w.shape[0]), min(n_dst, w.shape[1]) if w.ndim == 2 else 0
        x0, x1 = lay.xs[k] + lay.cw, lay.xs[k + 1] - LEAD
        if n_src == 0 or n_dst == 0 or x1 <= x0:
            return
        w = w[:n_src, :n_dst]
        dw, dh = (x1 - x0) * 2, grid.height * 4
        strength = np.abs(w) / _scale(w)
        colors = _blend(
            palette[(w > 0).astype(np.int64).ravel()], bg, LINK_FLOOR + (1.0 - LINK_FLOOR) * strength.ravel()
        )
        t = np.linspace(0.0, 1.0, max(2, dw // 2))
        ease = t * t * (3.0 - 2.0 * t)  # leaves and enters the boxes level, as Playground's curves do
        px = t * (dw - 1)

        def curve(i: int, j: int, heavy: bool) -> np.ndarray:
            sy, ty = lay.mid_row(i) * 4 + 1, lay.mid_row(j) * 4 + 1
            ys = sy + (ty - sy) * ease
            mask = polyline(px, ys, dw, dh)
            if heavy:
                mask |= polyline(px, ys + 1, dw, dh)
            return mask

        col, unit, link = self.cursor
        chosen = (link, unit) if self.show_cursor and col == k + 1 and link is not None else None
        layers, layer_colors = [], []
        for flat in np.argsort(strength.ravel(), kind="stable").tolist():
            i, j = divmod(flat, n_dst)
            if (i, j) != chosen:
                layers.append(curve(i, j, bool(strength[i, j] > 0.5)))
                layer_colors.append(int(colors[flat]))
        if chosen is not None and chosen[0] < n_src and chosen[1] < n_dst:
            layers.append(curve(*chosen, True))
            layer_colors.append(pack(cursor_rgb))
        if layers:
            chars, fg, _ = braille(layers, layer_colors)
            _overlay(grid, 0, x0, chars, fg)
