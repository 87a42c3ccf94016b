"""Forms generated from option declarations (``dict[str, Option]``): one validated control per option.

Used for layers (in a dialog), optimizers, schedules, training settings and data options. A field keeps its last
valid value; what the user types is checked on every change and an invalid entry shows its message under the field,
naming it (``dense.units: expected an integer >= 1, got 0``), while the form keeps reporting the last valid values.
"""

from __future__ import annotations

from collections.abc import Callable

import yaml
from textual import on
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch
from textual.widgets._select import SelectCurrent

from dl_lab.core.errors import ConfigError, DLLabError
from dl_lab.core.initializers import INITIALIZER_NAMES, parse_initializer
from dl_lab.core.spec import Option
from dl_lab.sessions.config.yamlio import load_value
from dl_lab.sessions.errors import SessionError

Check = Callable[[str, object], object]


def say(widget, message: str, **kwargs) -> None:
    """A notification shown as written: messages name paths like model[0], which are not markup."""
    widget.notify(message, markup=False, **kwargs)


def parse_text(option: Option, text: str):
    """What the user typed, as the value the option expects when it reads as one (else the text, to be refused)."""
    text = text.strip()
    if not text:
        return None
    if option.kind in ("int", "float"):
        for convert in (int, float):
            try:
                return convert(text)
            except ValueError:
                pass
        return text
    if option.kind == "int_or_pair":
        parts = text.replace("[", " ").replace("]", " ").replace("x", ",").replace(",", " ").split()
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            return text
        return numbers[0] if len(numbers) == 1 else numbers
    if option.kind == "padding":
        return int(text) if text.isdigit() else text
    if option.kind == "str":
        return text
    try:
        return load_value(text, "the field")  # as a session file reads it: 1e-3 is a number, no aliases
    except (yaml.YAMLError, SessionError):
        return text


def format_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    return repr(value) if isinstance(value, float) else str(value)


def check_value(option: Option, where: str, value, check: Check | None = None):
    """The checked value, or a ConfigError naming ``where``; empty means "not set" where the option allows it."""
    if value is None:
        if option.default is None:
            return None
        raise ConfigError(f"{where}: required ({option.describe()})")
    if option.kind == "int" and isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"{where}: expected a whole number, got {value!r}")
    if check is not None:
        return check(where, value)
    if option.kind == "any" and where.endswith("init"):
        parse_initializer(value, where)
        return value
    return option.check(where, value)


def _where(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _initializer_field(key: str, option: Option, value) -> bool:
    return option.kind == "any" and key.endswith("init") and (value is None or isinstance(value, str))


def start_compact(widget: Widget, compact) -> None:
    """Make a Textual control compact as it is made, without restyling it.

    Textual's Input and Select turn ``compact`` into a class as they are made: the class is removed (the default),
    then added, and each change restyles the widget, once the app runs, although it is not even mounted yet. Made
    with ``compact=False`` and then marked here, the widget is styled once, when it is mounted."""
    widget.set_reactive(compact, True)
    widget.add_class("-textual-compact", update=False)


class FieldInput(Input):
    """A form's text box. A number's box leaves ``[`` and ``]`` (which no number holds) to the screen's keys."""

    def __init__(self, *args, keep_brackets: bool = True, compact: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.keep_brackets = keep_brackets
        if compact:
            start_compact(self, Input.compact)

    def check_consume_key(self, key: str, character: str | None) -> bool:
        if not self.keep_brackets and character in ("[", "]"):
            return False
        return super().check_consume_key(key, character)

    async def _on_key(self, event) -> None:
        if not self.keep_brackets and event.character in ("[", "]"):
            event.prevent_default()  # not typed: the key goes on to the screen's bindings


class FieldSelect(Select):
    """A form's choice: Textual's Select, whose parts start with the classes they are given once mounted.

    The shown value's box is marked "has a value" and the list made compact after they are mounted, each class
    change restyling them and the box's three labels: 28 restylings for the build screen's seven choices."""

    def __init__(self, *args, compact: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if compact:
            start_compact(self, Select.compact)

    def compose(self):
        current, overlay = super().compose()
        if self._value != Select.NULL or not self._allow_blank:  # (a blank refused: the first choice is taken)
            current.set_reactive(SelectCurrent.has_value, True)  # its watcher, run when mounted, finds the class
            current.add_class("-has-value", update=False)
        overlay.set_class(self.compact, "-textual-compact", update=False)
        yield current
        yield overlay


class OptionField(Widget):
    """One option as a labelled control: a Select for choices, a Switch for booleans, a validated Input otherwise.

    A note line sits under it: the error while the value is invalid, else the option's help (shown while the field
    has focus, or always in a dialog). Outside a dialog it is made when first shown: the build screen's panes start
    with a score of fields, none focused, and every widget made costs the first screen time.
    """

    error: reactive[str] = reactive("")

    class ErrorChanged(Message):
        """The field's error changed, appeared or went (the screen's status line says when a field is invalid)."""

        def __init__(self, field: OptionField) -> None:
            super().__init__()
            self.field = field

    class Changed(Message):
        """The field now holds a new valid value."""

        def __init__(self, field: OptionField, value) -> None:
            super().__init__()
            self.field = field
            self.value = value

        @property
        def control(self) -> OptionField:
            return self.field

    def __init__(self, key: str, option: Option, value, *, where: str, check: Check | None = None, **kwargs):
        super().__init__(classes="option-field", **kwargs)
        self.key, self.option, self.where, self._check = key, option, where, check
        self.value = value

    def compose(self):
        yield Label(self.key.replace("_", " "), classes="field-label", markup=False)
        yield self._control()
        if self.error or any(node.has_class("-show-help") for node in self.ancestors):  # shown from the start
            yield self._note()

    def _note(self) -> Static:
        return Static(self.error or self.help_text, classes="field-note", markup=False)

    def _show_note(self) -> None:
        """Make the note line if it is not made yet (after the control, once the field is composed)."""
        if self.is_attached and not self.query(".field-note"):
            control = self.query(".field-control")
            if control:
                self.mount(self._note(), after=control.first())

    def on_descendant_focus(self) -> None:
        self._show_note()

    @property
    def help_text(self) -> str:
        default = self.option.default
        default = "" if self.option.required or default is None else f" (default {format_value(default)})"
        return f"{self.option.help}{default}".strip()

    def _control(self):
        option, value = self.option, self.value
        if option.kind == "bool":
            return Switch(value=bool(value), classes="field-control")
        choices = option.choices or (INITIALIZER_NAMES if _initializer_field(self.key, option, value) else ())
        if choices:
            blank = value is None or value not in choices
            items = [(str(c), c) for c in choices]
            return FieldSelect(
                items,
                value=Select.NULL if blank else value,
                allow_blank=blank or option.default is None,
                prompt="default",
                compact=True,
                classes="field-control",
            )
        hint = "not set" if option.default is None and not option.required else option.describe()
        # Letters are refused as they are typed; "1.5" in a whole-number field is shown as an error, not cut to 15.
        kind = "number" if option.kind in ("int", "float") else "text"
        return FieldInput(
            format_value(value),
            placeholder=hint,
            type=kind,
            compact=True,
            # "-valid" from the start: the Input checks its value as it is made and sets the class it finds, each
            # class change restyling it (a valid value, the usual one, then changes nothing)
            classes="field-control -valid",
            keep_brackets=option.kind not in ("int", "float", "str"),
        )

    @property
    def control(self):
        return self.query_one(".field-control")

    def focus(self, scroll_visible: bool = True):
        self.control.focus(scroll_visible)
        return self

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        text = event.value.strip()
        if self.option.kind == "int" and "." in text:  # "1." on the way to "1.5" is not a valid 1 either
            self.error = f"{self.where}: expected a whole number, got {text}"
            return
        self._accept(parse_text(self.option, text))

    @on(Select.Changed)
    def _chose(self, event: Select.Changed) -> None:
        event.stop()
        self._accept(None if event.value is Select.NULL else event.value)

    @on(Switch.Changed)
    def _switched(self, event: Switch.Changed) -> None:
        event.stop()
        self._accept(event.value)

    def set_value(self, value) -> None:
        """Show a value set from outside, without reporting it back as an edit."""
        self.value, self.error = value, ""
        control = self.control
        with control.prevent(Input.Changed, Select.Changed, Switch.Changed):
            if isinstance(control, Input):
                control.value = format_value(value)
            else:
                control.value = value

    def _accept(self, raw) -> None:
        try:
            value = check_value(self.option, self.where, raw, self._check)
        except (DLLabError, ValueError) as exc:
            self.error = str(exc)
            return
        self.error = ""
        if value != self.value or type(value) is not type(self.value):
            self.value = value
            self.post_message(self.Changed(self, value))

    def watch_error(self, old: str, error: str) -> None:
        self.set_class(bool(error), "-invalid")
        if error:
            self._show_note()
        for widget in self.query(".field-note"):
            widget.update(error or self.help_text)
        if old != error:
            self.post_message(self.ErrorChanged(self))


class OptionForm(Vertical):
    """A form for a component's options; posts ``Changed`` with every value whenever all fields are valid.

    ``target`` says where the values go in a session (``"optimizer"``, ``"training"``, ``""`` for top-level keys);
    each field's ``where`` is ``<prefix>.<key>``, the path the session's own error messages name.
    """

    class Changed(Message):
        def __init__(self, form: OptionForm, values: dict) -> None:
            super().__init__()
            self.form = form
            self.values = values

        @property
        def control(self) -> OptionForm:
            return self.form

    def __init__(
        self,
        options: dict[str, Option],
        values: dict,
        *,
        target: str,
        prefix: str | None = None,
        checks: dict[str, Check] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.add_class("option-form", update=False)  # styled when mounted
        self.target = target
        prefix = target if prefix is None else prefix
        checks = checks or {}
        self.fields = [
            OptionField(
                key,
                opt,
                values.get(key, None if opt.required else opt.default),
                where=_where(prefix, key),
                check=checks.get(key),
            )
            for key, opt in options.items()
        ]

    def compose(self):
        yield from self.fields

    @property
    def values(self) -> dict:
        return {f.key: f.value for f in self.fields}

    @property
    def errors(self) -> dict[str, str]:
        return {f.key: f.error for f in self.fields if f.error}

    def field(self, key: str) -> OptionField:
        return next(f for f in self.fields if f.key == key)

    def show_error(self, message: str) -> bool:
        """Put a session error under the field it names (``optimizer.lr: ...``); False when no field matches."""
        where = message.split(": ", 1)[0]
        for f in self.fields:
            if where == f.where:
                f.error = message
                return True
        return False

    @on(OptionField.Changed)
    def _field_changed(self, event: OptionField.Changed) -> None:
        event.stop()
        if not self.errors:
            self.post_message(self.Changed(self, self.values))


class NamedForm(Vertical):
    """A named component and its options: a choice of names (optimizer, schedule) and the chosen one's form.

    ``value`` is ``{"name": name, **options}``; with ``off`` set, choosing that name gives None (a feature turned
    off), and ``named=False`` leaves the name out (early stopping is a plain mapping).
    """

    class Changed(Message):
        def __init__(self, form: NamedForm, value) -> None:
            super().__init__()
            self.form = form
            self.value = value

        @property
        def control(self) -> NamedForm:
            return self.form

    def __init__(
        self,
        choices: dict[str, dict[str, Option]],
        name: str,
        values: dict,
        *,
        target: str,
        off: str | None = None,
        named: bool = True,
        help: str = "",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.add_class("named-form", update=False)  # styled when mounted
        self.choices, self.target, self.off, self.named = choices, target, off, named
        self.chooser = OptionField(
            "name" if named else "use",
            Option("choice", name, choices=tuple(choices), help=help),
            name,
            where=f"{target}.name",
        )
        self.form = self._form(name, values)

    def _form(self, name: str, values: dict) -> OptionForm:
        return OptionForm(self.choices[name], values, target=self.target)

    def compose(self):
        yield self.chooser
        yield self.form

    @property
    def chosen(self) -> str:
        return self.chooser.value

    @property
    def value(self):
        if self.off is not None and self.chosen == self.off:
            return None
        return {"name": self.chosen, **self.form.values} if self.named else dict(self.form.values)

    def show_error(self, message: str) -> bool:
        return self.form.show_error(message)

    @on(OptionField.Changed)
    async def _renamed(self, event: OptionField.Changed) -> None:
        if event.field is not self.chooser:
            return
        event.stop()
        carried = {k: v for k, v in self.form.values.items() if k in self.choices[event.value]}
        await self.form.remove()
        self.form = self._form(event.value, carried)
        await self.mount(self.form)
        self.post_message(self.Changed(self, self.value))

    @on(OptionForm.Changed)
    def _form_changed(self, event: OptionForm.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self, self.value))
