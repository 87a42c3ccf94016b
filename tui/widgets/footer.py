"""The lab's footer: Textual's, compact, and without the palette's key on a narrow terminal (the screen's keys,
then `? Keys` and `q Quit`, must fit in 80 columns; ctrl+p still opens the palette and `?` lists it).

When the keys do not fit the width, the least important are left out, so that the line is never cut on the right
(where `q Quit` is): first the key of the mode already shown (2 Train on the training screen), then the other
modes' keys, then the screen's keys from the last; `? Keys` (which lists them all) and `q Quit` always stay."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

PALETTE_FROM = 100  # columns from which the footer also shows "^p palette"
KEEP = ("quit", "toggle_help")  # actions never left out
MODE_ACTIONS = ("switch_mode(", "show_runs")  # the app's mode keys: left out before the screen's own


def key_width(key: FooterKey) -> int:
    """Columns a compact footer key takes: "x Description"."""
    return len(key.key_display) + (1 + len(key.description) if key.description else 0)


class LabFooter(Footer):
    """Textual's footer, compact, fitted to the width, and made again only when what it shows changes.

    Textual's footer makes its keys again whenever the screen's bindings may have changed (each focus change, each
    refresh of the bindings): a screen that is being built sends a score of those, and every key made is styled
    twice (made, then made compact). This one keeps what it last showed and skips a remake that would show it again.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(compact=True, **kwargs)
        self._width = 0
        self._shown: tuple | None = None  # what the keys made last show (``shown()``)

    def shown(self) -> tuple:
        """What the footer's keys show now: the width they fit, the palette's key, every shown binding's key,
        description, action, state and tooltip."""
        if not self._bindings_ready or not self.is_attached:
            return ()
        width = self._width or self.app.size.width
        display = self.app.get_key_display
        keys = tuple(
            (b.key, display(b), b.description, b.action, b.group, enabled, tooltip)
            for (_, b, enabled, tooltip) in self.screen.active_bindings.values()
            if b.show
        )
        return (width, self.show_command_palette, self.compact, keys)

    async def recompose(self) -> None:
        if self._shown and self.shown() == self._shown:
            return
        await super().recompose()

    def compose(self):
        self._shown = self.shown()
        items = list(super().compose())
        keys = [item for item in items if isinstance(item, FooterKey)]
        for key in keys:  # compact from the start: set when mounted, the class would restyle each key again
            key.set_class(self.compact, "-compact", update=False)
        width = self._width or (self.app.size.width if self.is_attached else 0)
        if width and len(keys) == len(items):  # (grouped keys: no fitting, Textual's own layout)
            for key in self.dropped(keys, width):
                key.display = False
        yield from items

    def dropped(self, keys: list[FooterKey], width: int) -> list[FooterKey]:
        """The keys to leave out so that the others (one column apart) fit ``width`` columns."""
        total = sum(key_width(k) for k in keys) + len(keys) - 1
        if total <= width:
            return []
        mode = getattr(self.app, "current_mode", None)
        current = [k for k in keys if k.action == f"switch_mode('{mode}')"]
        modes = [k for k in reversed(keys) if k.action.startswith(MODE_ACTIONS) and k not in current]
        own = [k for k in reversed(keys[1:]) if k not in current and k not in modes]  # the first (space) last
        order = [k for k in (*current, *modes, *own, *keys[:1]) if k.action not in KEEP]
        out = []
        for key in order:
            if total <= width:
                break
            out.append(key)
            total -= key_width(key) + 1
        return out

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= PALETTE_FROM
        changed = event.size.width != self._width
        self._width = event.size.width
        if self.show_command_palette != wide or changed:
            self.show_command_palette = wide
            self.refresh(recompose=True)  # Footer reads it only when it composes
