"""ImageGrid: small images (digits, MNIST, CIFAR) in half-block pixels, each with a caption under it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.reactive import reactive
from textual.strip import Strip

from dl_lab.tui.widgets.drawn import DrawnWidget
from dl_lab.tui.widgets.raster import TRANSPARENT, halfblocks, too_small

MAX_SCALE = 4


@dataclass(frozen=True)
class ImageData:
    """What an ImageGrid shows: (N, H, W) packed 0xRRGGBB pixels, captions, and whether each prediction was right."""

    pixels: np.ndarray
    captions: tuple[str, ...]
    correct: tuple[bool, ...] | None = None
    scale: int | None = None


def pack_images(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] (C = 1 or 3; (N, H, W) is grayscale) -> (N, H, W) packed colours."""
    arr = np.asarray(images, dtype=float)
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(f"ImageGrid: expected images shaped (N, C, H, W) with C 1 or 3, got {arr.shape}")
    rgb = np.rint(np.clip(np.nan_to_num(arr), 0.0, 1.0) * 255).astype(np.int64)
    if rgb.shape[1] == 1:
        rgb = np.repeat(rgb, 3, axis=1)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


def slots(n: int, h: int, w: int, width: int, height: int, scale: int) -> tuple[int, int]:
    """(per row, rows) of images at ``scale`` fitting ``width`` x ``height`` cells (1-column gaps, a caption line)."""
    per_row = (width + 1) // (w * scale + 1)
    rows = height // (-(-h * scale // 2) + 1)
    return per_row, rows


def choose_scale(n: int, h: int, w: int, width: int, height: int) -> int:
    """The largest integer scale at which all ``n`` images fit, else 1 (then as many as fit are shown)."""
    for scale in range(MAX_SCALE, 1, -1):
        per_row, rows = slots(n, h, w, width, height, scale)
        if per_row * rows >= n and h * scale <= 64:
            return scale
    return 1


class ImageGrid(DrawnWidget):
    """A gallery of images (e.g. a model's mistakes), drawn with "▀" half-blocks: each cell is two pixels tall.

    Images are scaled by the largest integer factor at which all of them fit (8x8 digits at 2x or more, 28x28 MNIST
    at 1x in a small pane), laid out in rows, each with its caption (e.g. "3→8") under it, coloured by ``correct``
    with the theme's success and error colours.
    """

    DEFAULT_CSS = """
    ImageGrid { height: 1fr; min-height: 3; }
    ImageGrid > .image-grid--correct { color: $success; }
    ImageGrid > .image-grid--wrong { color: $error; text-style: bold; }
    ImageGrid > .image-grid--caption { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"image-grid--correct", "image-grid--wrong", "image-grid--caption"}

    data: reactive[ImageData | None] = reactive(None, always_update=True)

    def set_images(
        self, images: np.ndarray, captions: list[str], *, correct: list[bool] | None = None, scale: int | None = None
    ) -> None:
        """Show ``images`` (N, C, H, W) in [0, 1] with ``captions``; ``scale`` forces an integer zoom."""
        pixels = pack_images(images)
        ok = None if correct is None else tuple(bool(c) for c in correct)
        self.data = ImageData(pixels, tuple(str(c) for c in captions), ok, scale)

    def clear(self) -> None:
        """Show no images ("no images yet")."""
        self.data = None

    def watch_data(self) -> None:
        self.redraw()

    def draw(self, width: int, height: int) -> list[Strip]:
        data = self.data
        grid = self.new_grid(width, height)
        caption_style = self.component("image-grid--caption")
        if data is None or not len(data.pixels):
            grid.put(0, 0, "(no images yet)", caption_style)
            return grid.strips()
        n, h, w = data.pixels.shape
        scale = data.scale or choose_scale(n, h, w, width, height)
        per_row, rows = slots(n, h, w, width, height, scale)
        if per_row < 1 or rows < 1:
            return too_small(grid)
        cell_rows = -(-h * scale // 2)
        styles = {
            True: self.component("image-grid--correct"),
            False: self.component("image-grid--wrong"),
            None: caption_style,
        }
        shown = min(n, per_row * rows)
        canvas = np.full((height * 2, width), TRANSPARENT, dtype=np.int64)
        for k in range(shown):
            y, x = (k // per_row) * (cell_rows + 1), (k % per_row) * (w * scale + 1)
            image = np.repeat(np.repeat(data.pixels[k], scale, axis=0), scale, axis=1)
            canvas[2 * y : 2 * y + h * scale, x : x + w * scale] = image
        grid.paint(0, 0, *halfblocks(canvas))
        for k in range(shown):
            y, x = (k // per_row) * (cell_rows + 1), (k % per_row) * (w * scale + 1)
            caption = data.captions[k] if k < len(data.captions) else ""
            ok = data.correct[k] if data.correct is not None and k < len(data.correct) else None
            grid.put(y + cell_rows, x, caption[: w * scale].center(w * scale).rstrip(), styles[ok])
        return grid.strips()
