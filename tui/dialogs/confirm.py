"""Ask before something is lost: unsaved edits (quit, a preset, a new model: save, discard or cancel), or runs
deleted from the runs screen (delete or cancel)."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
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


class ConfirmDialog(ModalScreen[bool]):
    """Ask before something that cannot be undone (deleting runs): the question, what it touches (one line each,
    scrolled when many), y or the button confirms; n, escape or Cancel returns False."""

    CSS_PATH = CSS_PATH
    BINDINGS = [
        Binding("y", "choose(True)", "Yes"),
        Binding("n,escape", "choose(False)", "Cancel"),
    ]

    def __init__(self, question: str, items: list[str], confirm: str = "Delete", note: str = "") -> None:
        super().__init__(classes="build-dialog")
        self.question, self.items, self.confirm, self.note = question, items, confirm, note

    def compose(self):
        with Vertical(classes="dialog confirm-dialog"):
            yield Label(self.question, classes="dialog-title", markup=False)
            with VerticalScroll(classes="dialog-body"):
                yield Static("\n".join(self.items), id="confirm-items", markup=False)
            if self.note:
                yield Static(self.note, classes="dialog-doc", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm, variant="error", id="confirm", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
            yield Static(f"y {self.confirm.lower()} · n or esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # enter alone never deletes

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_choose(self, choice: bool) -> None:
        self.dismiss(choice)
