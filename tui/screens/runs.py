"""The runs screen: every recorded run in a sortable table; replay one, or overlay the marked runs' curves."""

from __future__ import annotations

import dataclasses
import datetime as dt

from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from dl_lab.sessions.runs.directory import Run, list_runs

from ..messages import ReplayRequested
from ..widgets import LineChart


def _quality(run: Run) -> float | None:
    q = run.quality()  # accuracy, or R² for a regression run: bigger is better for both
    return q[1] if q else None


# (column label, how to read its sort value from a run); None values sort last.
# The columns that tell runs apart come first, so that an 80-column terminal shows them without scrolling.
COLUMNS = (
    ("run", lambda r: r.path.name),
    ("status", lambda r: r.state),
    ("epochs", lambda r: r.final().get("epoch")),
    ("val loss", lambda r: r.final().get("val_loss")),
    ("val acc/R²", _quality),
    ("train loss", lambda r: r.final().get("train_loss")),
    ("dataset", lambda r: str(r.session.get("data", {}).get("dataset", ""))),
    ("samples/s", lambda r: r.samples_per_s()),
    ("date", lambda r: r.started_ts()),  # when the run started, as recorded (not the folder's file times)
)
DESCENDING = {"val acc/R²", "samples/s", "date", "epochs"}  # bigger first, the rest smaller first


def cell(label: str, value, run: Run | None = None) -> str:
    if value is None:
        return "-"
    if label == "date":
        return dt.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M")
    if label == "samples/s":
        return f"{value:,.0f}"
    if label == "val acc/R²":
        return run.quality_text(3) if run is not None else f"{value:.3f}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class RunsTable(DataTable, inherit_bindings=False):
    """The runs table: DataTable's keys still move the cursor, but stay out of the key help (``?``), where the
    screen's own keys come first; ``enter`` is the screen's (replay)."""

    BINDINGS = [dataclasses.replace(b, show=False, system=True)
                for key, bindings in DataTable._merged_bindings.key_to_bindings.items() if key != "enter"
                for b in bindings]  # fmt: skip


class RunsScreen(Screen, inherit_bindings=False):
    """Recorded runs under ``app.runs_root``: sort, mark, compare, replay."""

    CSS_PATH = "runs.tcss"
    # The screen's keys, in the order the key help (``?``) lists them; Screen's own (focus, copy) come after,
    # out of the help, instead of before.
    BINDINGS = [
        Binding("enter", "replay", "Replay", tooltip="the run"),
        Binding("space", "mark", "Mark", tooltip="or unmark"),
        Binding("o", "overlay", "Overlay", tooltip="marked runs"),
        Binding("s", "sort", "Sort", tooltip="by next column"),
        Binding("S", "reverse", "Reverse", tooltip="the sort", show=False),
        Binding("f5,ctrl+r", "reload", "Reload", tooltip="the list", show=False),
        *(dataclasses.replace(b, system=True) for bs in Screen._merged_bindings.key_to_bindings.values() for b in bs),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs: list[Run] = []
        self.marked: set[str] = set()
        self.sort_column = len(COLUMNS) - 1  # newest first
        self.reverse = False

    def compose(self):
        yield Static(id="runs-title")
        yield RunsTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="overlay"):
            yield LineChart(id="overlay-loss")
            yield LineChart(id="overlay-quality")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column(" ", key="mark", width=1)
        for label, _ in COLUMNS:
            table.add_column(label, key=label)
        self.query_one("#overlay").display = False

    def on_screen_resume(self) -> None:
        self.action_reload()

    # --- the table -------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.runs = list_runs(self.app.runs_root)
        self._fill()

    def _sorted(self) -> list[Run]:
        label, read = COLUMNS[self.sort_column]
        present = [r for r in self.runs if read(r) is not None]
        missing = [r for r in self.runs if read(r) is None]
        descending = (label in DESCENDING) != self.reverse
        return sorted(present, key=read, reverse=descending) + missing

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        selected = self._selected_key()
        table.clear()
        for run in self._sorted():
            key = str(run.path)
            mark = "●" if key in self.marked else " "
            table.add_row(mark, *(cell(label, read(run), run) for label, read in COLUMNS), key=key)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        label = COLUMNS[self.sort_column][0]
        order = "descending" if (label in DESCENDING) != self.reverse else "ascending"
        self.query_one("#runs-title", Static).update(
            f"[b]{len(self.runs)} runs[/] in {self.app.runs_root}   sorted by [b]{label}[/] ({order})"
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
        labels = [label for label, _ in COLUMNS]
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
