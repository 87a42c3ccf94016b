"""The lab's footer: Textual's, compact, and without the palette's key on a narrow terminal (the screen's keys,
then `? Keys`, must fit in 80 columns; ctrl+p still opens the palette and `?` lists it)."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

PALETTE_FROM = 100  # columns from which the footer also shows "^p palette"


class LabFooter(Footer):
    def __init__(self, **kwargs) -> None:
        super().__init__(compact=True, **kwargs)

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= PALETTE_FROM
        if self.show_command_palette != wide:
            self.show_command_palette = wide
            self.refresh(recompose=True)  # Footer reads it only when it composes
