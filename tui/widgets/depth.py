"""Colours fitted to the terminal's colour depth: in 256 or 16 colours, each drawn colour becomes the nearest one the
terminal really has, chosen by perceived distance (CIELAB), rather than left to the per-channel rounding of the
terminal layer (which turns the pale tints of an unsure decision map into black, maroon and navy blotches).

Only colours that the terminal layer passes through unchanged are candidates, so what is chosen is what shows.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from rich.color import Color, ColorSystem
from rich.terminal_theme import DEFAULT_TERMINAL_THEME

TRUECOLOR, EIGHT_BIT, STANDARD = "truecolor", "256", "16"
# the 16 colours as Rich models them when it downgrades (its standard palette)
_STANDARD = [Color.from_ansi(i).get_truecolor(DEFAULT_TERMINAL_THEME) for i in range(16)]


def depth_of(color_system: str | None) -> str:
    """``truecolor``, ``256`` or ``16`` from a Rich console's ``color_system`` (standard, windows or none: 16)."""
    if color_system == "truecolor":
        return TRUECOLOR
    if color_system == "256":
        return EIGHT_BIT
    return STANDARD


def terminal_depth(app) -> str:
    """The colour depth the app draws in (TEXTUAL_COLOR_SYSTEM, COLORTERM and TERM decide it)."""
    return depth_of(getattr(app.console, "color_system", "truecolor"))


def _lab(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) sRGB 0..255 -> (N, 3) CIELAB (D65)."""
    c = rgb.astype(float) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = c @ np.array([[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]])
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def _passes(rgb: tuple[int, int, int], system: ColorSystem) -> bool:
    """Whether the terminal layer shows ``rgb`` as itself at this depth."""
    down = Color.from_rgb(*rgb).downgrade(system)
    return tuple(down.get_truecolor(DEFAULT_TERMINAL_THEME)) == rgb


@cache
def candidates(depth: str) -> tuple[np.ndarray, np.ndarray]:
    """The colours a terminal of ``depth`` shows exactly: (N,) packed and (N, 3) CIELAB."""
    if depth == EIGHT_BIT:
        levels = (0, 95, 135, 175, 215, 255)
        rgbs = [(r, g, b) for r in levels for g in levels for b in levels]
        rgbs += [(v, v, v) for v in range(8, 248, 10)]
        rgbs = [c for c in rgbs if _passes(c, ColorSystem.EIGHT_BIT)]
    else:
        rgbs = [tuple(c) for c in _STANDARD]
    arr = np.array(sorted(set(rgbs)), dtype=np.int64)
    packed = (arr[:, 0] << 16) | (arr[:, 1] << 8) | arr[:, 2]
    return packed, _lab(arr)


CHROMATIC = 12.0  # CIELAB chroma under which a colour counts as a grey (16 colours)


def _hue(lab: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan2(lab[:, 2], lab[:, 1]))


def nearest(lab: np.ndarray, depth: str) -> np.ndarray:
    """The packed shown colour nearest each CIELAB row. In 256 colours: by CIELAB distance. In 16, where plain
    distance would turn a muted blue grey: a grey stays a grey (black, grey, silver, white by lightness) and a colour
    keeps its hue (the nearest hue of the six, then the nearer lightness of its dark and bright variant)."""
    shown, ref = candidates(depth)
    d = ((lab[:, None, :] - ref[None, :, :]) ** 2).sum(axis=2)
    if depth == STANDARD:
        grey_in, grey_ref = np.hypot(lab[:, 1], lab[:, 2]) < CHROMATIC, np.hypot(ref[:, 1], ref[:, 2]) < CHROMATIC
        turn = np.abs((_hue(lab)[:, None] - _hue(ref)[None, :] + 180.0) % 360.0 - 180.0)
        by_hue = turn**2 + (0.5 * (lab[:, None, 0] - ref[None, :, 0])) ** 2
        light = (lab[:, None, 0] - ref[None, :, 0]) ** 2
        d = np.where(grey_in[:, None], np.where(grey_ref[None, :], light, np.inf), np.where(grey_ref, np.inf, by_hue))
    return shown[d.argmin(axis=1)]


class ColorFitter:
    """Maps packed 0xRRGGBB arrays to the nearest colours a terminal of ``depth`` shows (remembered per colour)."""

    LIMIT = 100_000

    def __init__(self, depth: str = TRUECOLOR) -> None:
        self.depth = depth
        self._known: dict[int, int] = {}

    def fit(self, packed: np.ndarray) -> np.ndarray:
        """``packed`` with every colour >= 0 replaced by its nearest shown colour (negative codes kept)."""
        if self.depth == TRUECOLOR or packed.size == 0:
            return packed
        values, inverse = np.unique(packed, return_inverse=True)
        new = [int(v) for v in values if v >= 0 and int(v) not in self._known]
        if new:
            if len(self._known) > self.LIMIT:
                self._known.clear()
                new = [int(v) for v in values if v >= 0]
            arr = np.array(new, dtype=np.int64)
            rgb = np.stack([(arr >> 16) & 255, (arr >> 8) & 255, arr & 255], axis=1)
            self._known.update(zip(new, nearest(_lab(rgb), self.depth).tolist(), strict=True))
        mapped = np.array([self._known.get(int(v), int(v)) for v in values], dtype=np.int64)
        return mapped[inverse].reshape(packed.shape)
