"""The runs screen: every recorded run in a sortable table; replay one, or overlay the marked runs' curves."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from rich.cells import cell_len
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Static

from dl_lab.sessions.runs.directory import STATE_WORDS, Run, list_runs
from dl_lab.sessions.runs.table import columns, sort_runs

from ..messages import ReplayRequested, ResumeRequested
from ..widgets import LineChart
from ..widgets.footer import LabFooter

# The columns (dl_lab.sessions.runs.table declares them: label, value, sort direction, text), in this table's order:
# the columns that tell runs apart come first, so that an 80-column terminal shows them without scrolling.
COLUMNS = columns(
    "run",
    "status",
    "epochs",
    "val loss",
    "val acc/R²",
    "train loss",
    "dataset",
    "model",
    "optimizer",
    "samples/s",
    "date",
)
# Which columns to leave out, whole, first ones first, when the screen is too narrow for all of them (as
# `dl-lab runs` does): never a column cut to "tra" with half its values.
DROP_ORDER = ("samples/s", "optimizer", "model", "date", "train loss", "dataset", "epochs")
PADDING = 2  # a DataTable cell's padding, both sides together (cell_padding=1)
MARK_WIDTH = 1
SCROLLBAR = 2  # room kept for the vertical scrollbar


def shown_columns(widths: dict[str, int], room: int) -> list[str]:
    """The labels of the columns that fit in ``room`` cells, in COLUMNS order; ``widths``: each column's widest
    cell or header (without padding). Columns are left out whole, in DROP_ORDER, until the rest fit."""
    shown = [c.label for c in COLUMNS]

    def needed() -> int:
        return MARK_WIDTH + PADDING + sum(widths[label] + PADDING for label in shown)

    for label in DROP_ORDER:
        if needed() <= room:
            break
        shown.remove(label)
    return shown


def resume_command(run: Run) -> str | None:
    """The command that continues ``run`` (`dl-lab run --resume RUN_DIR`), None when it cannot be resumed: only a
    stopped run (its resume/state.json written when it stopped) that no process is writing now."""
    if run.damage or run.state != STATE_WORDS["cancelled"] or not (run.path / "resume" / "state.json").is_file():
        return None
    return f"dl-lab run --resume {shlex.quote(str(run.path))}"


class RunsTable(DataTable, inherit_bindings=False):
    """The runs table: DataTable's keys still move the cursor, but stay out of the key help (``?``), where the
    screen's own keys come first; ``enter`` is the screen's (replay)."""

    BINDINGS = [
        dataclasses.replace(b, show=False, system=True)
        for key, bindings in DataTable._merged_bindings.key_to_bindings.items()
        if key != "enter"
        for b in bindings
    ]


class RunsScreen(Screen, inherit_bindings=False):
    """Recorded runs under ``app.runs_root``: sort, mark, compare, replay."""

    CSS_PATH = "runs.tcss"
    PALETTE_GROUP = "Runs"  # the command palette's titles: "Runs: <the key help's line>" (tui/commands.py)
    # The screen's keys, in the order the key help (``?``) lists them; Screen's own (focus, copy) come after,
    # out of the help, instead of before.
    BINDINGS = [
        Binding("enter", "replay", "Replay", tooltip="the run"),
        Binding("space", "mark", "Mark", tooltip="or unmark"),
        Binding("o", "overlay", "Overlay", tooltip="marked runs"),
        Binding("s", "sort", "Sort", tooltip="by next column"),
        Binding("S", "reverse", "Reverse", tooltip="the sort", show=False),
        Binding("f5,ctrl+r", "reload", "Reload", tooltip="the list", show=False),
        Binding("r", "resume", "Resume", tooltip="a stopped run, on the train screen (its command copied too)"),
        Binding("i", "inspect", "Inspect", tooltip="the run: filters, saliency, adversarial... (screen 4)"),
        *(dataclasses.replace(b, system=True) for bs in Screen._merged_bindings.key_to_bindings.values() for b in bs),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs: list[Run] = []
        self.marked: set[str] = set()
        self.sort_column = COLUMNS.index(columns("date")[0])  # newest first
        self.reverse = False
        self.shown: list[str] = [c.label for c in COLUMNS]  # the columns the screen's width has room for

    def compose(self):
        yield Static(id="runs-title")
        yield Static(id="runs-hint", markup=False)  # a command to copy (r on a stopped run): plain text, whole
        yield RunsTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="overlay"):
            yield LineChart(id="overlay-loss")
            yield LineChart(id="overlay-quality")
        yield LabFooter()

    def on_mount(self) -> None:
        self.query_one("#overlay").display = False
        self.query_one("#runs-hint").display = False

    def on_resize(self) -> None:
        if self.runs:
            self._fill()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # --- the table -------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.runs = list_runs(self.app.runs_root, include_damaged=True)  # a damaged run: a row saying so
        self._fill()

    def _sorted(self) -> list[Run]:
        return sort_runs(self.runs, COLUMNS[self.sort_column], reverse=self.reverse)

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        selected = self._selected_key()
        ordered = self._sorted()
        cells = [[column.text(run, compact=True) for column in COLUMNS] for run in ordered]
        widths = {
            c.label: max([cell_len(c.header(compact=True)), *(cell_len(row[i]) for row in cells)])
            for i, c in enumerate(COLUMNS)
        }
        self.shown = shown_columns(widths, (self.size.width or self.app.size.width) - SCROLLBAR)
        picked = [i for i, c in enumerate(COLUMNS) if c.label in self.shown]
        table.clear(columns=True)
        table.add_column(" ", key="mark", width=MARK_WIDTH)
        for i in picked:
            table.add_column(COLUMNS[i].header(compact=True), key=COLUMNS[i].label, width=widths[COLUMNS[i].label])
        for run, row in zip(ordered, cells, strict=True):
            key = str(run.path)
            mark = "●" if key in self.marked else " "
            table.add_row(mark, *(row[i] for i in picked), key=key)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        column = COLUMNS[self.sort_column]
        label = column.header(compact=True)
        order = "descending" if column.descending != self.reverse else "ascending"
        self.query_one("#runs-title", Static).update(
            f"[b]{len(self.runs)} run{'' if len(self.runs) == 1 else 's'}[/] in {self.app.runs_root}   "
            f"sorted by [b]{label}[/] ({order})"
            f"   {len(self.marked)} marked" + ("" if self.runs else "   (train one: press 2, then space)")
        )

    def _selected_key(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # no row under the cursor
            return None

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        labels = [column.label for column in COLUMNS]
        if event.column_key.value in labels:
            index = labels.index(event.column_key.value)
            self.reverse = (not self.reverse) if index == self.sort_column else False
            self.sort_column = index
            self._fill()

    # --- actions ---------------------------------------------------------------------------------
    def action_sort(self) -> None:
        self.sort_column = (self.sort_column + 1) % len(COLUMNS)
        self.reverse = False
        self._fill()

    def action_reverse(self) -> None:
        self.reverse = not self.reverse
        self._fill()

    def action_mark(self) -> None:
        key = self._selected_key()
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        self._fill()
        self.query_one(DataTable).action_cursor_down()  # mark the next one with the next space

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.post_message(ReplayRequested(event.row_key.value))

    def action_replay(self) -> None:
        key = self._selected_key()
        if key is not None:
            self.post_message(ReplayRequested(key))

    def action_inspect(self) -> None:
        key = self._selected_key()
        if key is not None:
            self.app.inspect_run = Path(key)
            self.app.switch_mode("inspect")

    def action_resume(self) -> None:
        """Continue the selected stopped run on the training screen (space trains on, in its own folder); its
        command is shown and copied too (the terminal's clipboard, OSC 52), for a shell."""
        key = self._selected_key()
        run = next((r for r in self.runs if str(r.path) == key), None)
        if run is None:
            return
        hint = self.query_one("#runs-hint", Static)
        command = resume_command(run)
        if command is None:
            hint.update(f"{run.path.name} is {run.state}: only a stopped run (x on the train screen) resumes")
        else:
            hint.update(command)
            self.app.copy_to_clipboard(command)
            self.notify(
                "Space on the training screen continues the run (its command is copied, for a shell).", title="Resume"
            )
            self.post_message(ResumeRequested(run.path))
        hint.display = True

    def action_overlay(self) -> None:
        selected = self._selected_key()
        chosen = [r for r in self.runs if str(r.path) in self.marked] or [
            r for r in self.runs if str(r.path) == selected
        ]
        overlay = self.query_one("#overlay")
        if not chosen:
            overlay.display = False
            return
        names = [r.name for r in chosen]
        loss, quality = {}, {}
        for r in chosen:
            label = r.name if names.count(r.name) == 1 else f"{r.name} {r.path.name[-6:]}"
            eps = r.epochs()
            loss[label] = [(e["epoch"], e["val_loss"]) for e in eps if e.get("val_loss") is not None]
            key = "val_acc" if any("val_acc" in e for e in eps) else "val_r2"
            quality[label] = [(e["epoch"], e[key]) for e in eps if e.get(key) is not None]
        self.query_one("#overlay-loss", LineChart).set_series(loss, title="val loss", x_label="epoch")
        self.query_one("#overlay-quality", LineChart).set_series(quality, title="val acc / R²", x_label="epoch")
        overlay.display = True
