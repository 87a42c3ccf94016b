"""The runs screen: every recorded run in a sortable table; replay one, overlay the marked runs' curves, delete
runs (runs_delete.py). Each sweep's trials follow the plain runs, grouped under a row for their sweep; w (or enter on
that row) opens the sweep's view (screens/sweep.py).

The runs are read in a thread worker (from their summary.json files: directory.list_runs), each row's cells with
them; the rows are shown as batches arrive on the first visit, and replace the shown ones at once on a reload: the
event loop never waits for the disk.
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from pathlib import Path

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState, get_current_worker

from dl_lab.sessions.formatting import significant
from dl_lab.sessions.runs.directory import STATE_WORDS, Run, listed_run, run_folders, sort_by_start
from dl_lab.sessions.runs.table import columns, sort_runs
from dl_lab.sessions.sweeps.listing import Sweep, find_sweeps

from ..messages import ReplayRequested, ResumeRequested
from ..widgets import LineChart
from ..widgets.footer import LabFooter
from .runs_delete import RunDeletion

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
BATCH_S = 0.15  # the loading worker hands the runs read so far to the screen at most this often
LOADER = "runs-load"  # the loading worker's group
CHUNK_PAUSE_S = 0.001  # a timer, not call_after_refresh: the chunks came back to back, one long stall
FILL_CHUNK = 100  # rows added to the table at a time, then a pause for the event loop (each row's cells are measured)


def row_of(run: Run) -> tuple[list[str], list[object]]:
    """A run's row, worked out once (in the loading worker): every column's cell, and the values it sorts by."""
    return [c.text(run, compact=True) for c in COLUMNS], [c.read(run) for c in COLUMNS]


class RunsRead(Message):
    """Runs read by the screen's loading worker, with their rows; ``done``: the last batch, with the sweeps."""

    def __init__(self, generation: int, total: int, runs: list[Run], rows: dict, sweeps: list[Sweep] | None) -> None:
        super().__init__()
        self.generation, self.total, self.runs, self.rows, self.sweeps = generation, total, runs, rows, sweeps

    @property
    def done(self) -> bool:
        return self.sweeps is not None


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


class RunsScreen(RunDeletion, Screen, inherit_bindings=False):
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
        Binding("d,delete", "delete", "Delete", tooltip="the marked runs, else this one (asks first)"),
        Binding("D", "delete_older", "Delete older", tooltip="the runs started before a date (asks first)", show=False),
        *(dataclasses.replace(b, system=True) for bs in Screen._merged_bindings.key_to_bindings.values() for b in bs),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.runs: list[Run] = []  # the plain runs (under app.runs_root), once a load has read them all
        self.sweeps: list[Sweep] = []  # the sweeps (under app.sweeps_root), each with its trials
        self.folded: set[str] = set()  # the sweeps whose trials are hidden (space on a sweep row)
        self.marked: set[str] = set()
        self.sort_column = COLUMNS.index(columns("date")[0])  # newest first
        self.reverse = False
        self.shown: list[str] = [c.label for c in COLUMNS]  # the columns the screen's width has room for
        self.rows: dict[str, tuple[list[str], list[object]]] = {}  # each run's row (row_of), by its folder
        self.generation = 0  # the reload that messages from the loading worker must belong to
        # (runs read, folders to read) while a load goes on; not "loading", which is Textual's own (a truthy value
        # covers the screen with its loading indicator)
        self.progress: tuple[int, int] | None = (0, 0)
        self.incoming: list[Run] = []  # the runs the current load has read so far
        self.loaded = False  # a load has ended: a reload replaces the rows when it ends, not batch by batch
        self.fills = 0  # the table's fills so far: a fill still adding rows stops when another begins

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
        if self.runs or self.sweeps or self.incoming:
            self._fill()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # --- the table -------------------------------------------------------------------------------
    def action_reload(self) -> None:
        """Read the runs (and sweeps) again, in a thread worker; the rows come as RunsRead messages."""
        self.generation += 1
        self.incoming, self.progress = [], (0, 0)
        generation, root, sweeps_root = self.generation, self.app.runs_root, getattr(self.app, "sweeps_root", None)
        self.run_worker(
            lambda: self._read(generation, root, sweeps_root),
            thread=True,
            exclusive=True,
            group=LOADER,
            exit_on_error=False,
        )
        self._title()

    def _read(self, generation: int, root: Path, sweeps_root: Path | None) -> None:
        """In a thread: the run folders under ``root`` read one by one (a damaged run: a row saying so), handed
        over in batches, then the sweeps with their trials (their best values read here too)."""
        worker = get_current_worker()
        folders = run_folders(root)
        self.post_message(RunsRead(generation, len(folders), [], {}, None))  # how many: "loading N runs…"
        runs: list[Run] = []
        rows: dict = {}
        sent = time.monotonic()
        for n, folder in enumerate(folders, start=1):
            if worker.is_cancelled:
                return
            run = listed_run(folder, include_damaged=True)
            if run is not None:
                runs.append(run)
                rows[str(run.path)] = row_of(run)
            if time.monotonic() - sent >= BATCH_S and n < len(folders):
                self.post_message(RunsRead(generation, len(folders), runs, rows, None))
                runs, rows, sent = [], {}, time.monotonic()
        sweeps = find_sweeps(sweeps_root) if sweeps_root is not None else []
        for sweep in sweeps:
            rows.update((str(trial.path), row_of(trial)) for trial in sweep.trials)
            sweep.best()  # the trials' records, read here and kept
        if not worker.is_cancelled:
            self.post_message(RunsRead(generation, len(folders), runs, rows, sweeps))

    def on_runs_read(self, message: RunsRead) -> None:
        if message.generation != self.generation:
            return  # from a load that a reload replaced
        self.rows.update(message.rows)
        before = len(self.incoming)
        self.incoming.extend(message.runs)
        self.progress = None if message.done else (len(self.incoming), message.total)
        if message.done:
            self.runs, self.loaded = sort_by_start(self.incoming), True  # ``runs``: every run, once all are read
            self.sweeps = message.sweeps or []
            self._fill()
        elif not self.loaded and message.runs:  # the first load shows the runs read so far (_rows)
            if not before:
                self._fill()
            elif self.query_one(DataTable).row_count < self.size.height:
                # below the others, until all are read and sorted; once the table is full they wait for that
                # sorted fill: every change redraws the table's visible lines, slowly (Rich renders each cell)
                self._add_rows(message.runs)
            self._title()
        else:
            self._title()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == LOADER and event.state == WorkerState.ERROR:
            self.progress = None
            self.notify(f"The runs could not be read: {event.worker.error}", title="Runs", severity="error")
            self._title()

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
        index = self.sort_column

        def row(run: Run) -> tuple[list[str], list[object]]:
            key = str(run.path)
            if key not in self.rows:
                self.rows[key] = row_of(run)
            return self.rows[key]

        def by(runs: list[Run]) -> list[Run]:
            return sort_runs(runs, column, reverse=self.reverse, value=lambda run: row(run)[1][index])

        def cells(run: Run, branch: str = "", sweep: Sweep | None = None) -> list[str]:
            texts = row(run)[0]
            if sweep is None:
                return texts
            # a trial: its folder's name under its sweep's row, and its state as the study told it (a pruned
            # trial is a stopped run to dl-lab)
            told = {"run": f"{branch} {run.path.name}", "status": TRIAL_STATES.get(sweep.trial_state(run), "")}
            return [told.get(c.label) or text for c, text in zip(COLUMNS, texts, strict=True)]

        shown = self.runs if self.loaded or self.progress is None else self.incoming  # the first load: those read
        rows = [(str(run.path), cells(run)) for run in by(shown)]
        for sweep in self.sweeps:
            key = SWEEP_KEY + str(sweep.path)
            heading = sweep_cells(sweep, key in self.folded)
            rows.append((key, [heading.get(c.label, "") for c in COLUMNS]))
            if key not in self.folded:
                trials = by(sweep.trials)
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
        self.fills += 1
        self._add_chunk(self.fills, rows, picked, 0, selected)
        self._title()

    def _add_chunk(self, fill: int, rows: list, picked: list[int], start: int, selected: str | None) -> None:
        """Rows ``start`` on of fill number ``fill`` (unless a newer fill began), FILL_CHUNK at a time, the rest after
        a timer: the table measures each new row's cells and draws its visible lines again, a long stall for a
        thousand at once (``call_after_refresh`` ran the chunks back to back); the timer lets keys through between."""
        if fill != self.fills:
            return
        table = self.query_one(DataTable)
        end = start + FILL_CHUNK
        for key, row in rows[start:end]:
            mark = "●" if key in self.marked else " "
            table.add_row(mark, *(Text(row[i], end="") for i in picked), key=key)  # plain: no markup to parse
        if selected is not None and selected in table.rows and start <= table.get_row_index(selected):
            table.move_cursor(row=table.get_row_index(selected))
        if end < len(rows):
            self.set_timer(CHUNK_PAUSE_S, lambda: self._add_chunk(fill, rows, picked, end, selected))

    def _add_rows(self, runs: list[Run]) -> None:
        """``runs`` as rows at the end of the table (the first load shows them so while the rest are read)."""
        picked = [i for i, c in enumerate(COLUMNS) if c.label in self.shown]
        rows = [(str(run.path), self.rows[str(run.path)][0]) for run in runs]
        self._add_chunk(self.fills, rows, picked, 0, None)

    def _title(self) -> None:
        """The title line: how many runs (and sweeps) where, the sort, the marks; while a load goes on, its
        progress."""
        column = COLUMNS[self.sort_column]
        label = column.header(compact=True)
        order = "descending" if column.descending != self.reverse else "ascending"
        sweeps = len(self.sweeps)
        root = getattr(self.app, "sweeps_root", "")
        in_sweeps = f", [b]{sweeps} sweep{'' if sweeps == 1 else 's'}[/] in {root}" if sweeps else ""
        if self.progress is not None and not self.loaded:
            read, total = self.progress
            counted = f"{total} run{'' if total == 1 else 's'}" if total else "runs"
            shown = f"[b]loading {counted}…[/] {read} read in {self.app.runs_root}"
        else:
            shown = f"[b]{len(self.runs)} run{'' if len(self.runs) == 1 else 's'}[/] in {self.app.runs_root}{in_sweeps}"
        idle = self.progress is None and not self.runs
        self.query_one("#runs-title", Static).update(
            f"{shown}   sorted by [b]{label}[/] ({order})"
            f"   {len(self.marked)} marked" + ("   (train one: press 2, then space)" if idle else "")
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
        table = self.query_one(DataTable)
        table.update_cell(key, "mark", "●" if key in self.marked else " ")  # the one cell: the rows stay
        self._title()
        table.action_cursor_down()  # mark the next one with the next space

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
