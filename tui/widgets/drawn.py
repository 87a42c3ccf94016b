"""The base of the drawing widgets: draw every line at once, keep them until the data, the size or the theme change."""

from __future__ import annotations

from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from dl_lab.tui.widgets.depth import ColorFitter, terminal_depth
from dl_lab.tui.widgets.raster import Grid, StyleCache


class DrawnWidget(Widget):
    """A widget whose subclasses implement ``draw(width, height) -> list[Strip]``; ``render_line`` serves the cache.

    Subclasses keep their data in one reactive attribute and call ``redraw()`` from its watcher, so a frame is drawn
    once per change of data, size or theme however many times Textual asks for its lines.
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._lines: list[Strip] = []
        self._drawn_for: tuple | None = None
        self._styles = StyleCache()
        self._fitter: ColorFitter | None = None

    def draw(self, width: int, height: int) -> list[Strip]:
        """All the widget's lines for a content area of ``width`` x ``height`` cells (each widget overrides it)."""
        return []

    def redraw(self) -> None:
        """Forget the drawn lines and repaint (called by the data watchers)."""
        self._drawn_for = None
        self.refresh()

    def lines(self) -> list[Strip]:
        """The current lines, drawn now if the data, size or theme changed since the last draw."""
        width, height = self.size
        key = (width, height, self.app.theme)
        if key != self._drawn_for:
            self._lines = self.draw(width, height) if width > 0 and height > 0 else []
            self._drawn_for = key
        return self._lines

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the cached drawing."""
        lines = self.lines()
        if 0 <= y < len(lines):
            return lines[y]
        return Strip.blank(self.size.width, self.rich_style)

    def new_grid(self, width: int, height: int) -> Grid:
        """An empty grid over the widget's own colours, fitted to the terminal's colour depth (styles of colour pairs
        are kept from frame to frame)."""
        if self._fitter is None:
            self._fitter = ColorFitter(terminal_depth(self.app))
        return Grid(width, height, self.rich_style, self._styles, self._fitter)

    def component(self, name: str) -> Style:
        """A component class's Rich style (its colour blended over the widget's background)."""
        return self.get_component_rich_style(name)
