"""A character grid the widgets draw into (text, half-block pixels, braille dots), turned into Strips in runs."""

from __future__ import annotations

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from dl_lab.tui.widgets.depth import ColorFitter

# Braille dot bits by (row 0..3, column 0..1) within a cell.
BRAILLE_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int64)
UPPER_HALF = "▀"
TRANSPARENT = -1  # a colour slot that keeps the widget's own (base) colour


class StyleCache:
    """Rich styles for packed (foreground, background) codes, kept across frames by the widget that owns it."""

    LIMIT = 50_000

    def __init__(self) -> None:
        self.base = Style()
        self._styles: dict[int, Style] = {}

    def reset(self, base: Style) -> None:
        """Start over when the widget's own style (its background) changed, or the cache grew too big."""
        if base != self.base or len(self._styles) > self.LIMIT:
            self.base, self._styles = base, {}

    def get(self, code: int) -> Style:
        """The style of a colour code (see ``color_code``); a transparent colour takes the base style's."""
        style = self._styles.get(code)
        if style is None:
            fg, bg = (code >> 25) - 1, (code & _MASK25) - 1
            style = Style.from_color(
                self.base.color if fg < 0 else rich_color(fg), self.base.bgcolor if bg < 0 else rich_color(bg)
            )
            self._styles[code] = style
        return style


_MASK25 = (1 << 25) - 1
_RICH_COLORS: dict[int, RichColor] = {}


def rich_color(packed: int) -> RichColor:
    """A Rich truecolor for 0xRRGGBB, memoised."""
    color = _RICH_COLORS.get(packed)
    if color is None:
        if len(_RICH_COLORS) > 100_000:
            _RICH_COLORS.clear()
        color = _RICH_COLORS[packed] = RichColor.from_rgb(packed >> 16, (packed >> 8) & 255, packed & 255)
    return color


def color_code(fg, bg):
    """Packed colours (ints or arrays; ``TRANSPARENT`` for the base colour) -> one non-negative style code."""
    return ((fg + 1) << 25) | (bg + 1)


class Grid:
    """``height`` x ``width`` cells, each a character and a style code, turned into Strips in runs of equal style.

    A code >= 0 is a (foreground, background) colour pair (``color_code``); a code < 0 is a text style added with
    ``style_code`` (a component style, bold, ...); 0 is the widget's own style.
    """

    def __init__(
        self, width: int, height: int, base: Style, cache: StyleCache | None = None, fitter: ColorFitter | None = None
    ) -> None:
        """``fitter``: the terminal's colour depth (colours are fitted to it as they are painted; None: truecolor)."""
        self.width, self.height, self.base = max(0, width), max(0, height), base
        self.fitter = fitter or ColorFitter()
        self.chars = np.full((self.height, self.width), " ", dtype="<U1")
        self.codes = np.zeros((self.height, self.width), dtype=np.int64)
        self.cache = cache or StyleCache()
        self.cache.reset(base)
        self._text_styles: list[Style] = []
        self._text_ids: dict[int, tuple[int, Style]] = {}

    def color_style(self, fg: int, bg: int = TRANSPARENT) -> Style:
        """A Rich style of packed colours (``TRANSPARENT`` leaves that colour to the base style)."""
        fg, bg = (int(c) for c in self.fitter.fit(np.array([fg, bg], dtype=np.int64)))
        return Style.from_color(None if fg < 0 else rich_color(fg), None if bg < 0 else rich_color(bg))

    def style_code(self, style: Style) -> int:
        """The (negative) code of a text style, drawn over the base style."""
        # keyed by identity (the style is kept alive here): hashing Rich styles is slow, and they are reused
        entry = self._text_ids.get(id(style))
        if entry is None:
            self._text_styles.append(self.base + style)
            entry = self._text_ids[id(style)] = (-len(self._text_styles), style)
        return entry[0]

    def put(self, y: int, x: int, text: str, style: Style | None = None) -> int:
        """Write ``text`` at row ``y``, column ``x`` (clipped); return the column after it."""
        if not 0 <= y < self.height or x >= self.width or not text:
            return x + len(text)
        if x < 0:
            text, x = text[-x:], 0
        text = text[: self.width - x]
        end = x + len(text)
        self.chars[y, x:end] = list(text)
        self.codes[y, x:end] = 0 if style is None else self.style_code(style)
        return end

    def paint(self, y: int, x: int, chars: np.ndarray, fg: np.ndarray, bg: np.ndarray) -> None:
        """Place a block of characters with packed colours at (``y``, ``x``), clipped to the grid."""
        h = min(chars.shape[0], self.height - y)
        w = min(chars.shape[1], self.width - x)
        if h <= 0 or w <= 0 or y < 0 or x < 0:
            return
        self.chars[y : y + h, x : x + w] = chars[:h, :w]
        fit = self.fitter.fit
        fg, bg = fit(fg[:h, :w].astype(np.int64)), fit(bg[:h, :w].astype(np.int64))
        self.codes[y : y + h, x : x + w] = color_code(fg, bg)

    def strips(self) -> list[Strip]:
        """One Strip per row, adjacent cells with the same style merged into one segment."""
        h, w = self.height, self.width
        if w == 0:
            return [Strip([], 0) for _ in range(h)]
        starts = np.ones((h, w), dtype=bool)
        starts[:, 1:] = self.codes[:, 1:] != self.codes[:, :-1]
        ys, xs = np.nonzero(starts)
        ends = np.full(len(xs), w)
        same_row = ys[1:] == ys[:-1]
        ends[:-1][same_row] = xs[1:][same_row]
        unique, inverse = np.unique(self.codes[ys, xs], return_inverse=True)
        lookup = [self._style(code) for code in unique.tolist()]
        styles = [lookup[i] for i in inverse.tolist()]
        bounds = np.searchsorted(ys, np.arange(h + 1)).tolist()
        # numpy keeps trailing spaces of fixed-width strings (only NULs are stripped), so a row is one string
        rows = self.chars.view(f"<U{w}").reshape(h).tolist()
        xs, ends = xs.tolist(), ends.tolist()
        return [
            Strip([Segment(row[xs[i] : ends[i]], styles[i]) for i in range(bounds[y], bounds[y + 1])], w)
            for y, row in enumerate(rows)
        ]

    def _style(self, code: int) -> Style:
        if code > 0:
            return self.cache.get(code)
        return self.base if code == 0 else self._text_styles[-code - 1]


def halfblocks(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(2R, W) packed colours -> R x W cells: chars, fg (upper pixel), bg (lower pixel); odd heights padded."""
    if pixels.shape[0] % 2:
        pixels = np.vstack([pixels, np.full((1, pixels.shape[1]), TRANSPARENT, dtype=pixels.dtype)])
    upper, lower = pixels[0::2], pixels[1::2]
    same = upper == lower
    # a cell whose two pixels agree is a plain space on that background: fewer colours, longer runs
    chars = np.where(same, " ", UPPER_HALF)
    fg = np.where(same, TRANSPARENT, upper)
    bg = lower.copy()
    lower_only = (upper == TRANSPARENT) & ~same
    chars[lower_only] = "▄"
    fg[lower_only] = lower[lower_only]
    bg[lower_only] = TRANSPARENT
    return chars, fg, bg


BRAILLE_CHARS = np.array([" "] + [chr(0x2800 + c) for c in range(1, 256)])


def braille(layers: list[np.ndarray], colors: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dot masks (4R, 2W), later layers on top -> R x W cells: braille chars, fg (the top layer's colour), bg."""
    rows, cols = layers[0].shape[0] // 4, layers[0].shape[1] // 2
    codes = np.zeros((rows, cols), dtype=np.uint8)
    fg = np.full((rows, cols), TRANSPARENT, dtype=np.int64)
    for mask, color in zip(layers, colors, strict=True):
        cell = np.zeros((rows, cols), dtype=np.uint8)
        for (r, c), bit in np.ndenumerate(BRAILLE_BITS):
            cell |= mask[r : rows * 4 : 4, c : cols * 2 : 2].astype(np.uint8) * np.uint8(bit)
        codes |= cell
        fg[cell > 0] = color
    return BRAILLE_CHARS[codes], fg, np.full_like(fg, TRANSPARENT)


def polyline(xs: np.ndarray, ys: np.ndarray, width: int, height: int) -> np.ndarray:
    """A (height, width) dot mask of the line through the points (dot coordinates, y down); one point is a dot."""
    mask = np.zeros((height, width), dtype=bool)
    if len(xs) == 0:
        return mask
    if len(xs) == 1:
        px, py = np.rint(xs).astype(np.int64), np.rint(ys).astype(np.int64)
    else:
        dx, dy = np.diff(xs), np.diff(ys)
        steps = np.ceil(np.maximum(np.abs(dx), np.abs(dy))).astype(np.int64) + 1
        seg = np.repeat(np.arange(len(dx)), steps)
        first = np.repeat(np.cumsum(steps) - steps, steps)
        t = (np.arange(len(seg)) - first) / np.repeat(np.maximum(steps - 1, 1), steps)
        px = np.rint(xs[seg] + dx[seg] * t).astype(np.int64)
        py = np.rint(ys[seg] + dy[seg] * t).astype(np.int64)
    keep = (px >= 0) & (px < width) & (py >= 0) & (py < height)
    mask[py[keep], px[keep]] = True
    return mask


def resample(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Nearest-neighbour resampling of a 2-D array (top row first) to ``rows`` x ``cols``."""
    r = np.minimum(((np.arange(rows) + 0.5) * values.shape[0] / rows).astype(np.int64), values.shape[0] - 1)
    c = np.minimum(((np.arange(cols) + 0.5) * values.shape[1] / cols).astype(np.int64), values.shape[1] - 1)
    return values[np.ix_(r, c)]


def bilinear(values: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Bilinear resampling of a (H, W) or (H, W, C) array (top row first) to ``rows`` x ``cols``, pixel centres
    aligned (so an upsampled grid has no blocks: each pixel blends the four grid cells around it)."""

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0, n_in - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, pos - lo

    r0, r1, fr = axis(rows, values.shape[0])
    c0, c1, fc = axis(cols, values.shape[1])
    extra = (None,) * (values.ndim - 2)
    fr, fc = fr[(slice(None), None, *extra)], fc[(None, slice(None), *extra)]
    top = values[np.ix_(r0, c0)] * (1 - fc) + values[np.ix_(r0, c1)] * fc
    bottom = values[np.ix_(r1, c0)] * (1 - fc) + values[np.ix_(r1, c1)] * fc
    return top * (1 - fr) + bottom * fr


def too_small(grid: Grid) -> list[Strip]:
    """The lines of a widget with no room: "(too small)" as far as it fits, on an emptied grid."""
    grid.chars[:] = " "
    grid.codes[:] = 0
    grid.put(0, 0, "(too small)", Style(dim=True))
    return grid.strips()
