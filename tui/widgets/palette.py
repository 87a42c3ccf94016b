"""Colours for the drawing widgets: theme colours read through component classes, a class palette, blending."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from textual.color import Color
from textual.widget import Widget

# A data palette, not a layout colour: multi-class plots need ten hues that stay distinct in every theme, which no
# theme provides (Tableau 10, starting with Playground's orange and blue so binary and multi-class plots agree).
CLASS_PALETTE: tuple[tuple[int, int, int], ...] = (
    (0xF2, 0x8E, 0x2B),  # orange
    (0x4E, 0x79, 0xA7),  # blue
    (0x59, 0xA1, 0x4F),  # green
    (0xE1, 0x57, 0x59),  # red
    (0xB0, 0x7A, 0xA1),  # purple
    (0x76, 0xB7, 0xB2),  # teal
    (0xED, 0xC9, 0x48),  # yellow
    (0xFF, 0x9D, 0xA7),  # pink
    (0x9C, 0x75, 0x5F),  # brown
    (0xBA, 0xB0, 0xAC),  # grey
)
# Two theme colours closer than this (RGB distance) would not tell the classes apart; the palette's pair is used.
MIN_CONTRAST = 90.0


def class_color(index: int) -> tuple[int, int, int]:
    """The fixed palette colour of class ``index`` (cycles after ten)."""
    return CLASS_PALETTE[int(index) % len(CLASS_PALETTE)]


def component_rgb(widget: Widget, name: str, fallback: tuple[int, int, int]) -> tuple[int, int, int]:
    """The foreground colour a component class gives (theme variables resolved), or ``fallback``."""
    try:
        color = widget.get_component_styles(name).color
    except (KeyError, AttributeError):
        return fallback
    if color.a == 0 or color.ansi == -1:
        return fallback
    return (color.r, color.g, color.b)


def background_rgb(widget: Widget) -> tuple[int, int, int]:
    """The widget's opaque background colour (the theme's, when the terminal's default background is used)."""
    color = widget.background_colors[1]
    if color.a < 0.5 or color.ansi == -1:
        dark = widget.app.current_theme.dark
        return (12, 12, 12) if dark else (250, 250, 250)
    return (color.r, color.g, color.b)


def is_dark(rgb: Sequence[int]) -> bool:
    """Whether a colour is dark enough for light marks on it."""
    return Color(*rgb).brightness < 0.5


def distance(a: Sequence[int], b: Sequence[int]) -> float:
    """Euclidean RGB distance."""
    return float(np.linalg.norm(np.asarray(a, float) - np.asarray(b, float)))


def binary_pair(widget: Widget, negative: str, positive: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The two class colours of a binary problem from two component classes, or the palette's orange and blue."""
    neg = component_rgb(widget, negative, CLASS_PALETTE[0])
    pos = component_rgb(widget, positive, CLASS_PALETTE[1])
    if distance(neg, pos) < MIN_CONTRAST:
        return CLASS_PALETTE[0], CLASS_PALETTE[1]
    return neg, pos


def blend(a: Sequence[int], b: Sequence[int], t: float) -> tuple[int, int, int]:
    """``a`` moved toward ``b`` by ``t`` (0..1)."""
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def standout(rgb: Sequence[int], background: Sequence[int], amount: float = 0.35) -> tuple[int, int, int]:
    """A mark colour: ``rgb`` lightened on dark backgrounds, darkened on light ones."""
    return blend(rgb, (255, 255, 255) if is_dark(background) else (0, 0, 0), amount)


def contrast_text(rgb: Sequence[int]) -> tuple[int, int, int]:
    """Black or white, whichever reads on ``rgb``."""
    return (20, 20, 20) if not is_dark(rgb) else (240, 240, 240)


def pack(rgb: Sequence[int] | None) -> int:
    """0xRRGGBB from an RGB triple (-1 for None)."""
    if rgb is None:
        return -1
    r, g, b = (int(c) for c in rgb)
    return (r << 16) | (g << 8) | b
