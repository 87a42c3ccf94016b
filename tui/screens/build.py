"""The Build screen: stack layers, pick and preview the data, set up training, and save or open the session.

The screen edits a draft of the app's session. Every edit is checked at once (layer shapes, the output the loss
needs, the session schema); a valid draft becomes ``app.session`` and a ``SessionEdited`` message, while an invalid
one is shown where it is wrong and the app keeps the last valid session.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from pathlib import Path

from textual import on
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, DataTable, Input, OptionList, Select, Static, Switch, Tab, Tabs

from dl_lab.datasets.probe import DataProbe, probe_data
from dl_lab.sessions import Session, SessionError, session_from_dict
from dl_lab.sessions.config.stack import check_stack, output_error, output_warning
from dl_lab.tui.panes.data import DataPane
from dl_lab.tui.panes.stack import LayerStack, ModelSummary, StackView
from dl_lab.tui.panes.training_settings import TrainingPane
from dl_lab.tui.widgets.footer import LabFooter
from dl_lab.tui.widgets.forms import NamedForm, OptionField, OptionForm, format_value, say

from .build_edits import LayerEdits, where_of
from .build_files import SessionFiles, shown_path

SECTIONS = ("model", "data", "training")
UNDO_DEPTH = 50  # layer edits that ctrl+z can undo
WIDE = 140  # columns from which the three panes sit side by side
LAYER_ACTIONS = {
    "add_layer",
    "insert_layer",
    "delete_layer",
    "move_layer",
    "duplicate_layer",
    "edit_layer",
    "fix_layers",
}
# The most used settings' own keys: each shows its pane and focuses its field (uppercase: a text field types them)
SETTING_KEYS = {
    "L": "optimizer.lr",
    "E": "training.epochs",
    "B": "training.batch_size",
    "O": "optimizer.name",
    "D": "data.dataset",
    "N": "data.noise",
}
SETTING_TITLES = {
    "optimizer.lr": "the learning rate",
    "training.epochs": "the epochs",
    "training.batch_size": "the batch size",
    "optimizer.name": "the optimizer",
    "data.dataset": "the dataset",
    "data.noise": "the noise",
}
SETTING_HINT = " · L/E/B/O/D/N settings"
FIELDS = (Input, Select, Switch, Checkbox)  # what `[`/`]` land on in a pane, and what esc leaves
# The hint line, wide and narrow: for the layer list, for a pane's controls, and while typing in a text field
# (where 1, 2, 3, p... are text: F2/F3/F4 change screens, esc gives the keys back).
HINTS = {
    "model": (
        "⏎ edit · a add · i insert above · d delete · J/K move · c copy · f fix · ^z/^y undo/redo · n new · p preset"
        " · ^s save · ^o open" + SETTING_HINT,
        "⏎ edit · a/i add · d del · J/K move · c copy · f fix · ^z undo",
    ),
    "pane": (
        "⏎ change · tab next field · esc back to the layers · [ ] panes · p preset · ^s save · ^o open" + SETTING_HINT,
        "⏎ change · tab next · esc leave field · [ ] panes · p preset",
    ),
    "pane-home": (
        "tab to the fields · [ ] panes · p preset · ^s save · ^o open · 1 build · 2 train · 3 runs" + SETTING_HINT,
        "tab to the fields · [ ] panes · p preset · ^s save",
    ),
    "typing": (
        "typing in a field · esc leave field · tab next field · F2 build · F3 train · F4 runs",
        "typing · esc leave field · tab next · F2/F3/F4 screens",
    ),
}


class SessionEdited(Message):
    """The Build screen replaced ``app.session`` with ``session`` (a valid edit, a preset, an opened file)."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session


def set_at(spec: dict, target: str, value) -> None:
    """``set_at(spec, "training.schedule", v)``: spec["training"]["schedule"] = v."""
    *parents, last = target.split(".")
    for key in parents:
        spec = spec.setdefault(key, {})
    spec[last] = value


class BuildScreen(LayerEdits, SessionFiles, Screen):
    """Build a session: the layer stack and its live summary, the data and its preview, the training settings.

    At 140 columns and more the three panes sit side by side; narrower, tabs (or ``[`` and ``]``) switch them.
    ``draft`` is the session as edited; ``draft_error`` says why it is not the app's session (None: it is).
    """

    CSS_PATH = "build.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    # The footer shows a few (it must fit 80 columns with the app's keys); `?` lists them all, each a line of its
    # description and tooltip ("Add a layer"), which is also its title in the command palette (tui/commands.py).
    PALETTE_GROUP = "Build"  # the palette's titles: "Build: add a layer"
    NOT_IN_PALETTE = {"section", "leave_field"}  # moving around the screen
    BINDINGS = [
        Binding("a", "add_layer", "Add", tooltip="a layer"),
        Binding("i", "insert_layer", "Insert", tooltip="a layer above", show=False),
        Binding("d,delete", "delete_layer", "Delete", tooltip="the layer", key_display="d", show=False),
        Binding("K,shift+up", "move_layer(-1)", "Move the layer up", show=False),
        Binding("J,shift+down", "move_layer(1)", "Move the layer down", show=False),
        Binding("c", "duplicate_layer", "Duplicate", tooltip="the layer", show=False),
        Binding("enter", "edit_layer", "Edit", tooltip="the layer", show=False),
        Binding("f", "fix_layers", "Fix", tooltip="the shapes", show=False),
        Binding("ctrl+z", "undo", "Undo", tooltip="the last layer edit", show=False),
        Binding("ctrl+y,ctrl+shift+z", "redo", "Redo", tooltip="the layer edit undone", key_display="^y", show=False),
        Binding("n", "new_model", "New model", show=False),
        Binding("p", "preset", "Preset", tooltip="session to start from"),
        Binding("ctrl+s", "save", "Save", tooltip="the session"),
        Binding("S", "save(True)", "Save as", tooltip="another file", show=False),
        Binding("ctrl+o", "open", "Open", tooltip="a session file", show=False),
        Binding("left_square_bracket", "section(-1)", "Previous pane", show=False),
        Binding("right_square_bracket", "section(1)", "Next pane", show=False),
        Binding("escape", "leave_field", "Leave the field", show=False),
        *(
            Binding(key, f"setting({where!r})", "Go to", tooltip=SETTING_TITLES[where], show=False)
            for key, where in SETTING_KEYS.items()
        ),
    ]
    section: reactive[str] = reactive("model")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # The width's class from the start: set on the first resize, after the panes are styled, it would restyle
        # every widget of the screen again (and the first frame would be laid out without it).
        self.set_class(self.app.size.width >= WIDE, "-wide", update=False)
        self.set_class(self.app.size.width < WIDE, "-narrow", update=False)
        self.committed: Session | None = None  # the last valid session: the app's
        self.draft: dict = {}
        self.draft_error: str | None = None
        self.warning: str | None = None  # about a valid draft (an output layer that squashes the logits)
        self.save_path: Path | None = None
        self.saved_spec: dict | None = None  # the session as last saved, opened or loaded: `modified` compares
        self.undo_history: deque = deque(maxlen=UNDO_DEPTH)  # (model, cursor) before each layer edit
        self.redo_history: list = []
        self._run_shown: bool | None = None  # whether the status line says that a run is training
        self._showing = asyncio.Lock()  # one session drawn at a time, the latest last
        self._away = False  # left for another mode (not a dialog)

    # --- layout ---------------------------------------------------------------------------------------------
    def compose(self):
        self._take(self.app.session)
        yield Static("", id="build-title", markup=False)
        yield Tabs(*(Tab(name, id=f"tab-{name}") for name in SECTIONS), id="build-tabs")
        with Horizontal(id="panes"):
            with Horizontal(id="model-pane", classes="pane -active"):
                yield LayerStack(id="stack")
                yield ModelSummary(id="summary")
            yield DataPane(self.draft["data"], id="data-pane", classes="pane")
            yield TrainingPane(copy.deepcopy(self.draft), id="training-pane", classes="pane")
        yield Static("", id="build-status", markup=False)
        yield Static(HINTS["model"][0], id="build-hints", classes="hints", markup=False)
        yield Static(HINTS["model"][1], id="build-short-hints", classes="hints", markup=False)
        yield LabFooter()

    def on_mount(self) -> None:
        self.stack = self.query_one(LayerStack)
        self.saved_spec = copy.deepcopy(self.committed.spec)
        self.refresh_draft()
        self.stack.focus()
        self.set_interval(0.5, self._show_run_state)

    @property
    def modified(self) -> bool:
        """Edits since the session was last saved, opened or loaded (the draft's, or the app's: the training
        screen's learning rate keys change the app's session)."""
        return self.saved_spec is not None and (
            self.draft != self.saved_spec or self.app.session.spec != self.saved_spec
        )

    def training_now(self) -> bool:
        """Does a run of the app's controller train (or wait, paused) while this screen edits the next one?"""
        controller = getattr(self.app, "controller", None)
        return controller is not None and controller.state in ("running", "paused")

    def _show_run_state(self) -> None:
        if self.training_now() != self._run_shown:
            self.show_status()

    async def watch_section(self, section: str) -> None:
        for name in SECTIONS:
            self.query_one(f"#{name}-pane").set_class(name == section, "-active")
        self.query_one(Tabs).active = f"tab-{section}"
        await self._activate_panes(self.size.width)

    async def on_resize(self, event) -> None:
        await self._activate_panes(event.size.width)

    async def _activate_panes(self, width: int) -> None:
        """Make the widgets of the panes now on screen (all of them when wide, else the chosen one)."""
        wide = width >= WIDE
        if wide or self.section == "data":
            await self.query_one(DataPane).activate()
        if wide or self.section == "training":
            await self.query_one(TrainingPane).activate(copy.deepcopy(self.draft))

    @on(Tabs.TabActivated)
    def _tab_activated(self, event: Tabs.TabActivated) -> None:
        self.section = event.tab.id.removeprefix("tab-")

    async def action_section(self, step: int) -> None:
        """The next (or previous) pane, with the focus on its first field (the layer list for the model): next to
        the pane that holds the focus (clicked or tabbed into), else to the one shown."""
        self.section = SECTIONS[(SECTIONS.index(self._current_section()) + step) % len(SECTIONS)]
        await self._activate_panes(self.size.width)
        if self.section == "model":
            self._focus_shown(self.stack)
            return
        pane = self.query_one(f"#{self.section}-pane")
        fields = [w for w in pane.query("*") if isinstance(w, FIELDS) and w.focusable]
        self._focus_shown(fields[0] if fields else pane)

    def _focus_shown(self, widget) -> None:
        """Focus ``widget``, and again after the next refresh if it did not take: on a narrow screen its pane was
        hidden a moment ago, and Textual does not focus a widget before its pane is displayed (on a loaded
        machine the styles can come a refresh later: the focus was lost)."""
        widget.focus()
        self.call_after_refresh(lambda: None if self.focused is widget else widget.focus())

    async def action_setting(self, where: str) -> None:
        """L, E, B, O, D, N: show the pane of the setting at ``where`` and focus its field (as the palette's
        "Setting: ..." entries do)."""
        from dl_lab.tui.commands import focus_field, settings  # the palette imports the screens

        setting = next(s for s in settings() if s.where == where)
        await focus_field(self, setting)

    def _current_section(self) -> str:
        """The pane the user is in: the one that holds the focus, else (nothing focused) the one last shown."""
        focused = self.focused
        if focused is not None:
            for name in SECTIONS:
                if self.query_one(f"#{name}-pane") in focused.ancestors_with_self:
                    return name
        return self.section

    def action_leave_field(self) -> None:
        """Esc: out of a field, back to the layer list (or, narrow, to the pane itself), so keys act again."""
        if self.focused is not None and self.focused is not self.stack:
            self._focus_home()

    def _focus_home(self) -> None:
        if self.size.width >= WIDE or self.section == "model":
            self.stack.focus()
            return
        pane = self.query_one(f"#{self.section}-pane")
        home = (
            pane
            if pane.focusable
            else next((w for w in pane.query("*") if w.focusable and not isinstance(w, FIELDS)), None)
        )
        self.set_focus(home)

    def on_descendant_focus(self) -> None:
        self._show_hints()

    def on_descendant_blur(self) -> None:
        self._show_hints()

    def _show_hints(self) -> None:
        focused = self.focused
        if isinstance(focused, Input):
            kind = "typing"
        elif focused is None or self.query_one("#model-pane") in focused.ancestors_with_self:
            kind = "model"
        else:
            kind = "pane" if isinstance(focused, FIELDS) else "pane-home"
        wide, narrow = HINTS[kind]
        self.query_one("#build-hints", Static).update(wide)
        self.query_one("#build-short-hints", Static).update(narrow)

    def check_action(self, action: str, parameters) -> bool | None:
        """Layer keys act on the stack: only while the focus is in the model pane (or nowhere)."""
        if action in LAYER_ACTIONS and self.is_mounted:
            focused = self.focused
            return focused is None or self.query_one("#model-pane") in focused.ancestors_with_self
        return True

    # --- the draft and the app's session ----------------------------------------------------------------------
    def _take(self, session: Session) -> None:
        self.committed = session
        self.draft = copy.deepcopy(session.spec)

    def _probe(self) -> DataProbe:
        return probe_data(self.draft["data"], self.committed.base_dir)

    def refresh_draft(self) -> None:
        """Check the draft, show the result everywhere, and make it the app's session when it is valid."""
        try:
            session = self._check_draft()
        except Exception as exc:  # a bug must not take the app down: say it, keep the last valid session
            session, self.draft_error = None, f"unexpected {type(exc).__name__}: {exc}"
        self.show_status()
        if session is not None and session.spec != self.committed.spec:
            session.source = self.committed.source
            self._take(session)
            self.app.session = session
            self.post_message(SessionEdited(session))

    def _check_draft(self) -> Session | None:
        """Shapes, then the output the loss needs, then the schema: the first problem is shown where it is."""
        probe = self._probe()
        report = check_stack(self.draft["model"], probe.input_shape)
        if report.input_shape is None:
            report.error = probe.error or "the input shape is unknown until the data loads"
        flag = (report.error_path, report.error) if report.error else output_error(self.draft, report, probe)
        warn = None if flag else output_warning(self.draft, report)
        self.stack.view = StackView(
            copy.deepcopy(self.draft["model"]), report, *(flag or (None, None)), *(warn or (None, None))
        )
        summary = self.query_one(ModelSummary)
        summary.report = report
        self.query_one(DataPane).show(probe)
        self.draft_error = None
        self.warning = f"{where_of(warn[0])}: {warn[1]}" if warn else None
        if flag:
            self.draft_error = f"{where_of(flag[0])}: {flag[1]}" if flag[0] is not None else flag[1]
            summary.show_note(f"✗ {self.draft_error}")
            return None
        summary.show_note(f"⚠ {self.warning}" if warn else "", severity="warning")
        try:
            return session_from_dict(self.draft, base_dir=self.committed.base_dir)
        except SessionError as exc:
            self.draft_error = str(exc)
            for pane in (self.query_one(TrainingPane), self.query_one(DataPane)):
                if pane.show_error(self.draft_error):  # under the field it names, when one does
                    break
            return None

    def field_error(self) -> str | None:
        """A field whose text is not a valid value (it keeps its last valid one, which is what trains)."""
        fields = [f for f in self.query(OptionField).results(OptionField) if f.error and f.is_attached]
        if not fields:
            return None
        first = fields[0]
        more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
        kept = f"{first.key.replace('_', ' ')} {format_value(first.value) or 'not set'}"
        return f"{first.error}{more} — training uses the last valid session ({kept})"

    def show_status(self) -> None:
        name, source = self.draft.get("name", "?"), self.committed.source
        mark = " · ● modified" if self.modified else ""
        self.query_one("#build-title", Static).update(f"build · {name} · {shown_path(source)}{mark}")
        status = self.query_one("#build-status", Static)
        invalid = None if self.draft_error else self.field_error()
        status.set_class(self.draft_error is not None or invalid is not None, "-error")
        status.set_class(self.draft_error is None and invalid is None and self.warning is not None, "-warning")
        self._run_shown = self.training_now()
        running = " · a run is training now: edits apply to the next run" if self._run_shown else ""
        if self.draft_error is not None:
            status.update(f"✗ not applied: {self.draft_error}{running}")
        elif invalid is not None:
            status.update(f"✗ {invalid}{running}")
        elif self.warning is not None:
            status.update(f"✓ valid: the app trains this session · ⚠ see the summary (f fixes it){running}")
        else:
            status.update(f"✓ valid: the app trains this session{running}")

    @on(OptionField.ErrorChanged)
    def _field_error_changed(self, event: OptionField.ErrorChanged) -> None:
        event.stop()
        self.show_status()

    async def show_session(self, session: Session) -> None:
        """Show another session (a preset, an opened file, or one the app switched to) in every pane."""
        self._take(session)
        await self._show_taken()

    async def replace(self, session: Session) -> None:
        """Show ``session`` and make it the app's (a preset, an opened file).

        The session is the app's and the screen's before anything is awaited: a dialog's callback runs on the
        app's message loop while this screen handles its own messages, among them the ScreenResume that the
        closing dialog sent, which redraws ``app.session`` when it is not the screen's.
        """
        self._take(session)
        self.saved_spec = copy.deepcopy(session.spec)
        self.undo_history.clear()  # a layer edit of another session is no edit of this one
        self.redo_history.clear()
        self.app.session = session
        self.post_message(SessionEdited(session))
        await self._show_taken()

    async def _show_taken(self) -> None:
        """Draw ``committed`` in every pane (one redraw at a time: whichever was taken last is drawn last)."""
        async with self._showing:
            await self.query_one(DataPane).load(self.draft["data"])
            await self.query_one(TrainingPane).load(copy.deepcopy(self.draft))
            self.refresh_draft()
            self.stack.select_path((0,))

    async def on_screen_resume(self) -> None:
        if self.committed is not None and self.app.session is not self.committed:
            await self.show_session(self.app.session)
        if self._away and isinstance(self.focused, Input):  # back from another screen: keys act, not type
            self._focus_home()
        self._away = False
        self._show_hints()

    def on_screen_suspend(self) -> None:
        """Leaving for another mode with an invalid draft: say that the app keeps the last valid session."""
        if isinstance(self.app.screen, ModalScreen):
            return
        self._away = True
        if self.draft_error:
            say(
                self.app,
                f"the build has an error, so the last valid session is used: {self.draft_error}",
                severity="warning",
                timeout=8,
            )
        elif invalid := self.field_error():
            say(self.app, f"a field is not valid: {invalid}", severity="warning", timeout=8)

    @on(DataTable.RowSelected, "#summary-table")
    def _summary_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a summary row edits that layer."""
        key = event.row_key.value or ""
        if key[:1].isdigit():
            self.stack.select_path(tuple(int(p) for p in key.split(".")))
            self.stack.focus()
            self.action_edit_layer()

    def set_model(self, model: list, cursor, *, undoable: bool = True) -> None:
        """Make ``model`` the draft's layers (an edit ctrl+z undoes) and highlight ``cursor``."""
        if undoable and model != self.draft["model"]:
            self.undo_history.append((copy.deepcopy(self.draft["model"]), self.stack.cursor_path))
            self.redo_history.clear()
        self.draft["model"] = model
        self.refresh_draft()
        self.stack.select_path(cursor)

    # --- edits from the panes -------------------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#stack")
    def _stack_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_edit_layer()

    @on(OptionForm.Changed)
    def _form_changed(self, event: OptionForm.Changed) -> None:
        target, values = event.form.target, event.values
        if target:
            self.draft[target].update(values)
        else:
            if values["seed"] != self.draft["seed"] and self.draft["data"].get("seed") == self.draft["seed"]:
                self.draft["data"]["seed"] = values["seed"]  # the data follows the session's seed
                self.query_one(DataPane).data["seed"] = values["seed"]
            self.draft.update(values)
        self.refresh_draft()

    @on(NamedForm.Changed)
    def _named_changed(self, event: NamedForm.Changed) -> None:
        set_at(self.draft, event.form.target, event.value)
        self.refresh_draft()

    @on(DataPane.Changed)
    def _data_changed(self, event: DataPane.Changed) -> None:
        before = self._probe().task
        self.draft["data"] = event.data
        task = self._probe().task
        if task != before and task in ("classification", "regression"):
            loss = "cross_entropy" if task == "classification" else "mse"
            if loss != self.draft["loss"]:
                self.draft["loss"] = loss
                self.query_one(TrainingPane).set_value("loss", loss)
                say(self, f"{event.data['dataset']} is a {task} task: the loss is now {loss}")
        self.refresh_draft()
