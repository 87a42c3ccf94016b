"""The Build screen's dialogs: pick from a list (layer kinds, presets), edit a layer's options, ask for a path."""

from __future__ import annotations

import os
from pathlib import Path

from textual import on
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from dl_lab.core.errors import DLLabError
from dl_lab.core.layers import LAYERS
from dl_lab.tui.widgets.forms import OptionForm

CSS_PATH = Path(__file__).parent.parent / "screens" / "build.tcss"  # the build screen's forms and dialog styles


def first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""


class ChoiceDialog(ModalScreen[str | None]):
    """Pick one item from a list: arrows move, enter picks, escape cancels. Items are (id, label, description).

    The cursor starts on the first item, drawn as a full-width bar; ``highlight`` names an item to mark with a dot
    (the current preset, the last layer kind), not to start on. Each item is one line: its label, then its
    description cut with "…" to the dialog's width.
    """

    CSS_PATH = CSS_PATH
    DEFAULT_CSS = """
    ChoiceDialog #choices {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ChoiceDialog #choices > .option-list--option-highlighted,
    ChoiceDialog #choices:focus > .option-list--option-highlighted {
        color: $block-cursor-foreground;
        background: $block-cursor-background;
        text-style: bold;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, items: list[tuple[str, str, str]], highlight: str | None = None) -> None:
        super().__init__(classes="build-dialog")
        self.title_text, self.items, self.highlight = title, items, highlight

    def compose(self):
        width = max((len(label) for _, label, _ in self.items), default=8) + 2
        options = [
            Option(
                Content.assemble(
                    ("• " if key == self.highlight else "  ", "bold"),
                    (label.ljust(width), "bold"),
                    (" ".join(desc.split()), "dim"),
                ),
                id=key,
            )
            for key, label, desc in self.items
        ]
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield OptionList(*options, id="choices")
            hint = "↑↓ move · a letter jumps · enter choose · esc cancel"
            yield Static(hint, classes="dialog-hint")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        if choices.option_count:
            choices.highlighted = 0
        choices.focus()

    def on_key(self, event) -> None:
        """A letter jumps to the next item starting with it (d: dense, then dropout)."""
        letter = (event.character or "").lower()
        if not letter.isalnum() or len(letter) != 1:
            return
        choices = self.query_one(OptionList)
        count = len(self.items)
        start = (choices.highlighted or 0) + 1
        for step in range(count):
            index = (start + step) % count
            if self.items[index][1].lower().startswith(letter):
                choices.highlighted = index
                event.stop()
                return

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option_id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LayerDialog(ModalScreen[dict | None]):
    """Edit one layer: a form generated from the layer class's options, each with its help and inline errors.

    Enter (in a field) or OK applies, escape cancels. The result is ``{kind: {options}}``.
    """

    CSS_PATH = CSS_PATH
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+enter", "apply", "Apply", show=False)]

    def __init__(self, kind: str, values: dict, *, where: str, input_shape=None, adding: bool = False) -> None:
        super().__init__(classes="build-dialog")
        self.kind, self.where, self.input_shape, self.adding = kind, where, input_shape, adding
        options = {k: o for k, o in LAYERS[kind].options.items() if k != "layers"}
        self.form = OptionForm(options, values, target="", prefix=where, classes="-show-help")

    def compose(self):
        cls = LAYERS[self.kind]
        shape = f" · input {self.input_shape}" if self.input_shape is not None else ""
        with Vertical(classes="dialog layer-dialog"):
            title = f"{'add' if self.adding else 'edit'} {self.kind} · {self.where}"
            yield Label(title, classes="dialog-title", markup=False)
            note = KIND_NOTES.get(self.kind) or first_line(cls.__doc__)
            yield Static(f"{note}{shape}", classes="dialog-doc", markup=False)
            with VerticalScroll(classes="dialog-body"):
                if self.form.fields:
                    yield self.form
                else:
                    yield Static("This layer has no options.", classes="dialog-doc")
            yield Static("", id="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", variant="primary", id="ok", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
            yield Static("tab next field · enter (in a text field) apply · esc cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        if self.form.fields:
            self.form.fields[0].focus()
        else:
            self.query_one("#ok", Button).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_apply()

    @on(Button.Pressed, "#ok")
    def _ok(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_apply(self) -> None:
        errors = [f for f in self.form.fields if f.error]
        if errors:
            errors[0].focus()
            self.app.bell()
            return
        values = self.form.values
        try:
            LAYERS[self.kind](self.where, **values)
        except DLLabError as exc:
            if not self.form.show_error(str(exc)):
                self.query_one("#dialog-error", Static).update(str(exc))
            return
        self.dismiss({self.kind: values})


SESSION_SUFFIXES = (".yaml", ".yml")
MATCHES_SHOWN = 6


def path_matches(text: str, suffixes=SESSION_SUFFIXES) -> list[str]:
    """The folders and session files that ``text`` (a path as typed, relative to the cwd) could go on to name,
    each written as ``text`` would continue ("runs/" for a folder); hidden ones only when ``text`` asks for them."""
    folder_text, sep, stem = text.rpartition("/")
    shown = folder_text + sep
    folder = Path(os.path.expanduser(shown or "."))
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError:
        return []
    found = []
    for entry in entries:
        name = entry.name
        if not name.startswith(stem) or (name.startswith(".") and not stem.startswith(".")):
            continue
        if entry.is_dir():
            found.append(f"{shown}{name}/")
        elif name.endswith(suffixes):
            found.append(f"{shown}{name}")
    return found


def completed(text: str) -> str:
    """Tab: ``text`` extended by the longest prefix that all its matches share (itself when there is none)."""
    common = os.path.commonprefix(path_matches(text))  # noqa: RUF071 - by character, as a shell completes
    return common if len(common) > len(text) else text


class PathDialog(ModalScreen[str | None]):
    """Ask for a file path (saving or opening a session); enter confirms, escape cancels.

    Under the input, the folders and .yaml files that the path typed so far could name; tab completes it as far as
    they agree (as a shell does).
    """

    CSS_PATH = CSS_PATH
    DEFAULT_CSS = """
    PathDialog #path-matches {
        color: $text-muted;
        height: auto;
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("tab", "complete", "Complete", show=False)]

    def __init__(self, title: str, default: str, hint: str = "") -> None:
        super().__init__(classes="build-dialog")
        self.title_text, self.default, self.hint = title, default, hint

    def compose(self):
        with Vertical(classes="dialog path-dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Input(self.default, placeholder="path/to/session.yaml", id="path")
            yield Static("", id="path-matches", markup=False)
            hint = self.hint or "enter confirm · esc cancel"
            yield Static(f"tab complete · {hint}", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self._show_matches(self.default)

    def _show_matches(self, text: str) -> None:
        matches = path_matches(text)
        lines = matches[:MATCHES_SHOWN]
        if len(matches) > MATCHES_SHOWN:
            lines.append(f"… {len(matches) - MATCHES_SHOWN} more")
        self.query_one("#path-matches", Static).update("\n".join(lines))

    @on(Input.Changed, "#path")
    def _typed(self, event: Input.Changed) -> None:
        self._show_matches(event.value)

    def action_complete(self) -> None:
        field = self.query_one("#path", Input)
        text = completed(field.value)
        if text == field.value:
            self.app.bell()
            return
        field.value = text
        field.cursor_position = len(text)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


# One line per kind for the picker (the classes' docstrings open with formulas too long for a list).
KIND_NOTES = {
    "dense": "fully connected: y = g(x W^T + b)",
    "conv2d": "2-D convolution over images (C, H, W)",
    "maxpool2d": "max over each window: shrinks H and W",
    "avgpool2d": "mean over each window: shrinks H and W",
    "flatten": "(C, H, W) -> (C*H*W,): before dense layers",
    "dropout": "zeroes units at random while training",
    "batchnorm": "normalizes each feature over the batch",
    "activation": "an activation function as a layer of its own",
    "residual": "x + block(x): a skip connection (ResNet)",
}


def layer_kinds() -> list[tuple[str, str, str]]:
    """The layer picker's items: every layer kind and what it does, in a line."""
    return [(kind, kind, KIND_NOTES.get(kind) or first_line(cls.__doc__)) for kind, cls in LAYERS.items()]
