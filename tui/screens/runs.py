"""The runs screen: every recorded run in a sortable table; replay one, or overlay the marked runs' curves. Each
sweep's trials follow the plain runs, grouped under a row for their sweep; w (or enter on that row) opens the
sweep's view (screens/sweep.py)."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

from rich.cells import cell_len
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Static

from dl_lab.sessions.formatting import significant
from dl_lab.sessions.runs.directory import STATE_WORDS, Run, list_runs
from dl_lab.sessions.runs.table import columns, sort_runs
from dl_lab.sessions.sweeps.listing import Sweep, find_sweeps

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
SWEEP_KEY = "sweep:"  # a sweep row's key: this, then the sweep folder (a run row's key is its folder)
# A trial's status cell: the state its study told it, in the table's words (a pruned trial is a stopped run).
TRIAL_STATES = {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed"}
# The column that shows a sweep's best value on its row, by the sweep's metric (others: in the status column).
METRIC_COLUMN = {"val_acc": "val acc/R²", "val_r2": "val acc/R²", "val_loss": "val loss", "train_loss": "train loss"}


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


def sweep_cells(sweep: Sweep, folded: bool) -> dict[str, str]:
    """A sweep row's cells by column label: "▾ sweep NAME", the number of trials (and how many run now), the best
    value of its metric in that metric's column."""
    states = [sweep.trial_state(run) for run in sweep.trials]
    running = sum(state in ("running", "RUNNING") for state in states)
    status = f"{len(states)} trial{'' if len(states) == 1 else 's'}" + (f" · {running} running" if running else "")
    cells = {"run": f"{'▸' if folded else '▾'} sweep {sweep.name}", "status": status}
    best = sweep.best()
    if best is not None and sweep.metric is not None:
        column = METRIC_COLUMN.get(sweep.metric)
        if column is None:
            cells["status"] += f" · best {sweep.metric} {significant(best[1])}"
        else:
            cells[column] = f"best {significant(best[1])}"
    return cells


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
    """Recorded runs under ``app.runs_root``, then each sweep's trials under its row (``app.sweeps_root``): sort,
    mark, compare, replay; open a sweep's view."""

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
        Binding("w", "sweep", "Sweep", tooltip="the sweep's view: leaderboard, best so far, each parameter"),
        *(dataclasses.replace(b, system=True) for bs in Screen._merged_bindings.key_to_bindings.values() for b in bs),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs: list[Run] = []  # the plain runs (under app.runs_root)
        self.sweeps: list[Sweep] = []  # the sweeps (under app.sweeps_root), each with its trials
        self.folded: set[str] = set()  # the sweeps whose trials are hidden (space on a sweep row)
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
        if self.runs or self.sweeps:
            self._fill()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # --- the table -------------------------------------------------------------------------------
    def action_reload(self) -> None:
        self.runs = list_runs(self.app.runs_root, include_damaged=True)  # a damaged run: a row saying so
        root = getattr(self.app, "sweeps_root", None)
        self.sweeps = find_sweeps(root) if root is not None else []
        self._fill()

    def all_runs(self) -> list[Run]:
        """The plain runs and every sweep's trials."""
        return [*self.runs, *(run for sweep in self.sweeps for run in sweep.trials)]

    def _sweep_at(self, key: str | None) -> Sweep | None:
        """The sweep of the row ``key``: its own row, or one of its trials."""
        if key is None:
            return None
        for sweep in self.sweeps:
            if key == SWEEP_KEY + str(sweep.path) or any(key == str(run.path) for run in sweep.trials):
                return sweep
        return None

    def _rows(self) -> list[tuple[str, list[str]]]:
        """The table's rows in order, (key, every column's cell): the plain runs sorted, then each sweep's row and
        its trials, sorted the same way, named by their folders under the sweep's row ("├ trial-0003")."""
        column = COLUMNS[self.sort_column]

        def cells(run: Run, branch: str = "", sweep: Sweep | None = None) -> list[str]:
            texts = [c.text(run, compact=True) for c in COLUMNS]
            if sweep is None:
                return texts
            # a trial: its folder's name under its sweep's row, and its state as the study told it (a pruned
            # trial is a stopped run to dl-lab)
            told = {"run": f"{branch} {run.path.name}", "status": TRIAL_STATES.get(sweep.trial_state(run), "")}
            return [told.get(c.label) or text for c, text in zip(COLUMNS, texts, strict=True)]

        rows = [(str(run.path), cells(run)) for run in sort_runs(self.runs, column, reverse=self.reverse)]
        for sweep in self.sweeps:
            key = SWEEP_KEY + str(sweep.path)
            heading = sweep_cells(sweep, key in self.folded)
            rows.append((key, [heading.get(c.label, "") for c in COLUMNS]))
            if key not in self.folded:
                trials = sort_runs(sweep.trials, column, reverse=self.reverse)
                rows.extend(
                    (str(run.path), cells(run, "└" if i == len(trials) - 1 else "├", sweep))
                    for i, run in enumerate(trials)
                )
        return rows

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        selected = self._selected_key()
        rows = self._rows()
        cells = [row for _, row in rows]
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
        for key, row in rows:
            mark = "●" if key in self.marked else " "
            table.add_row(mark, *(row[i] for i in picked), key=key)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        column = COLUMNS[self.sort_column]
        label = column.header(compact=True)
        order = "descending" if column.descending != self.reverse else "ascending"
        sweeps = len(self.sweeps)
        root = getattr(self.app, "sweeps_root", "")
        in_sweeps = f", [b]{sweeps} sweep{'' if sweeps == 1 else 's'}[/] in {root}" if sweeps else ""
        self.query_one("#runs-title", Static).update(
            f"[b]{len(self.runs)} run{'' if len(self.runs) == 1 else 's'}[/] in {self.app.runs_root}{in_sweeps}   "
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
        if key.startswith(SWEEP_KEY):  # a sweep's row: fold or unfold its trials
            self.folded.symmetric_difference_update({key})
            self._fill()
            return
        self.marked.symmetric_difference_update({key})
        self._fill()
        self.query_one(DataTable).action_cursor_down()  # mark the next one with the next space

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._open(event.row_key.value)

    def action_replay(self) -> None:
        self._open(self._selected_key())

    def _open(self, key: str | None) -> None:
        """Replay the run ``key``; a sweep's row opens the sweep's view."""
        if key is None:
            return
        if key.startswith(SWEEP_KEY):
            self.action_sweep()
        else:
            self.post_message(ReplayRequested(Path(key)))

    def action_sweep(self) -> None:
        """The view of the sweep under the cursor (its row or one of its trials): leaderboard and charts, live."""
        sweep = self._sweep_at(self._selected_key())
        if sweep is None:
            if self.sweeps:
                self.notify("Put the cursor on a sweep's row or one of its trials.", title="Sweep")
            else:
                root = getattr(self.app, "sweeps_root", "sweeps")
                self.notify(f"No sweep in {root} (dl-lab sweep SWEEP.yaml makes one).", title="Sweep")
            return
        from .sweep import SweepScreen

        self.app.push_screen(SweepScreen(sweep.path))

    def action_inspect(self) -> None:
        key = self._selected_key()
        if key is not None and not key.startswith(SWEEP_KEY):
            self.app.inspect_run = Path(key)
            self.app.switch_mode("inspect")

    def action_resume(self) -> None:
        """Continue the selected stopped run on the training screen (space trains on, in its own folder); its
        command is shown and copied too (the terminal's clipboard, OSC 52), for a shell."""
        key = self._selected_key()
        hint = self.query_one("#runs-hint", Static)
        sweep = self._sweep_at(key)
        if sweep is not None:  # its study decides what runs next: a trial is never trained on by hand
            out = shlex.quote(str(sweep.path))
            hint.update(f"the trials of sweep {sweep.name} go on with the sweep: dl-lab sweep SWEEP.yaml --out {out}")
            hint.display = True
            return
        run = next((r for r in self.runs if str(r.path) == key), None)
        if run is None:
            return
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
        every = self.all_runs()
        chosen = [r for r in every if str(r.path) in self.marked] or [r for r in every if str(r.path) == selected]
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
