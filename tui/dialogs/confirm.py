"""Ask before unsaved edits are lost (quit, a preset, a new model): save, discard or cancel."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from .build_dialogs import CSS_PATH

SAVE, DISCARD = "save", "discard"


class UnsavedDialog(ModalScreen[str | None]):
    """Returns ``"save"`` (s), ``"discard"`` (d), or None for cancel (esc)."""

    CSS_PATH = CSS_PATH
    BINDINGS = [
        Binding("s", "choose('save')", "Save"),
        Binding("d", "choose('discard')", "Discard"),
        Binding("escape", "choose(None)", "Cancel"),
    ]

    def __init__(self, doing: str, note: str = "") -> None:
        super().__init__(classes="build-dialog")
        self.doing, self.note = doing, note

    def compose(self):
        with Vertical(classes="dialog unsaved-dialog"):
            question = f"the session has unsaved edits: save them before you {self.doing}?"
            yield Label(question, classes="dialog-title", markup=False)
            if self.note:
                yield Static(self.note, classes="dialog-doc", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Discard", id="discard", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
            yield Static(f"s save, then {self.doing} · d discard the edits · esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#save", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id if event.button.id in (SAVE, DISCARD) else None)

    def action_choose(self, choice: str | None) -> None:
        self.dismiss(choice)
