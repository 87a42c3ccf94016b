"""The sweep view: a sweep's trials as a leaderboard (best first), the metric of each trial and the best so far
against the trial's number, and the metric against each searched parameter; it follows the sweep live.

Every REFRESH_S a thread worker reads the study (Optuna imported there, on the first read, never when the app
starts) and the screen redraws what changed; enter on a trial replays its run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from textual.binding import Binding
from textual.containers import Container, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import DataTable, Static
from textual.worker import Worker, WorkerState

from dl_lab.sessions.formatting import significant
from dl_lab.sessions.sweeps.listing import Param, read_sweep, trial_dir

from ..messages import ReplayRequested
from ..widgets import LineChart
from ..widgets.drawn import DrawnWidget
from ..widgets.footer import LabFooter
from ..widgets.raster import too_small
from ..widgets.ticks import compact
from .runs import RunsTable

REFRESH_S = 1.0  # how often the study is read again
WIDE = 130  # columns from which the leaderboard and the charts sit side by side
STATE_WORDS = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}
# The leaderboard's order after the complete trials (best first): those under way, then those that ended early.
STATE_ORDER = {"RUNNING": 0, "WAITING": 1, "PRUNED": 2, "FAIL": 3}


@dataclass
class StudyView:
    """What one read of the study gives the screen: the trials as records (sessions/sweeps/study.trial_records)
    and the goal; ``problem`` says why there is nothing to read yet (no journal, no study)."""

    records: list[dict] = field(default_factory=list)
    goal: str = "max"
    problem: str | None = None


def read_study(folder: Path, study: Any = None) -> tuple[StudyView, Any]:
    """The study's trials now (run in a thread worker: Optuna is imported here). ``study``: the one a previous
    read opened (its journal is read on from where it stopped); returns it for the next read."""
    from dl_lab.sessions.sweeps.config import SweepError
    from dl_lab.sessions.sweeps.study import open_status, trial_records

    try:
        if study is None:
            study, _ = open_status(str(folder), None)
        records = trial_records(study)
    except (SweepError, OSError, ValueError, KeyError) as exc:
        return StudyView(problem=str(exc).splitlines()[0] if str(exc) else type(exc).__name__), None
    goal = "max" if study.direction.name == "MAXIMIZE" else "min"
    return StudyView(records, goal), study


def leaderboard(records: list[dict], goal: str) -> list[dict]:
    """The trials best first: the complete ones by value for the goal (ties: the earlier trial first), then those
    running or waiting, then the pruned and the failed, each by number."""
    complete = [r for r in records if r["state"] == "COMPLETE" and r.get("value") is not None]
    sign = -1.0 if goal == "max" else 1.0
    complete.sort(key=lambda r: (sign * float(r["value"]), r["number"]))
    rest = [r for r in records if r not in complete]
    rest.sort(key=lambda r: (STATE_ORDER.get(r["state"], len(STATE_ORDER)), r["number"]))
    return complete + rest


def progress(records: list[dict], goal: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The complete trials by number: their numbers, values and the best value so far at each."""
    done = sorted(
        ((r["number"], float(r["value"])) for r in records if r["state"] == "COMPLETE" and r.get("value") is not None),
    )
    pairs = np.asarray(done, dtype=float).reshape(-1, 2)
    numbers, values = pairs[:, 0], pairs[:, 1]
    best = (np.maximum if goal == "max" else np.minimum).accumulate(values) if values.size else values
    return numbers, values, best


def axis(param: Param, values: list) -> tuple[np.ndarray, list[tuple[float, str]], tuple[float, float]]:
    """Where each value of ``param`` sits on its slice plot's x axis, the labels of that axis (position, text) and
    its range: a choice at its index among the choices (labelled by them), a log range on log10, others as they are.
    A value that is not a number (or not a choice) is NaN: not drawn."""
    choices = list(param.choices) or (
        sorted({str(v) for v in values}) if any(not isinstance(v, (int, float)) for v in values) else []
    )
    if choices:
        index = {str(c): i for i, c in enumerate(choices)}
        xs = np.array([index.get(str(v), math.nan) for v in values], dtype=float)
        return xs, [(float(i), str(c)) for i, c in enumerate(choices)], (-0.5, len(choices) - 0.5)
    raw = np.array([v if isinstance(v, (int, float)) else math.nan for v in values], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = np.where(raw > 0, np.log10(np.where(raw > 0, raw, 1.0)), math.nan) if param.log else raw
    finite = xs[np.isfinite(xs)]
    if not finite.size:
        return xs, [], (0.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    shown = (lambda x: compact(10**x)) if param.log else compact
    return xs, [(lo, shown(lo)), (hi, shown(hi))], (lo, hi)


@dataclass(frozen=True)
class SliceData:
    """A slice plot: the metric (ys) of the complete trials against one parameter (xs, on its axis)."""

    title: str
    xs: np.ndarray
    ys: np.ndarray
    best: int | None  # the index of the best trial among the points
    x_labels: tuple[tuple[float, str], ...]
    x_range: tuple[float, float]


class SlicePlot(DrawnWidget):
    """The metric against one parameter: a dot per complete trial (the best one in the accent colour), the
    metric's range on the left, the parameter's values (or choices) below."""

    DEFAULT_CSS = """
    SlicePlot { height: 1fr; min-height: 4; }
    SlicePlot > .slice-plot--title { text-style: bold; }
    SlicePlot > .slice-plot--axis { color: $text-muted; }
    SlicePlot > .slice-plot--dot { color: $primary; }
    SlicePlot > .slice-plot--best { color: $accent; }
    """
    COMPONENT_CLASSES = {"slice-plot--title", "slice-plot--axis", "slice-plot--dot", "slice-plot--best"}

    data: reactive[SliceData | None] = reactive(None, always_update=True)

    def watch_data(self) -> None:
        self.redraw()

    def draw(self, width: int, height: int) -> list[Strip]:
        data = self.data
        grid = self.new_grid(width, height)
        axis_style = self.component("slice-plot--axis")
        if data is None:
            return grid.strips()
        grid.put(0, 0, data.title, self.component("slice-plot--title"))
        keep = np.isfinite(data.xs) & np.isfinite(data.ys)
        if not keep.any():
            grid.put(1, 0, "(no complete trial yet)", axis_style)
            return grid.strips()
        y0, y1 = float(data.ys[keep].min()), float(data.ys[keep].max())
        if y1 - y0 < 1e-12:
            y0, y1 = y0 - abs(y0) * 0.05 - 1e-3, y1 + abs(y1) * 0.05 + 1e-3
        labels = (compact(y1), compact(y0))
        margin = max(len(t) for t in labels) + 1
        rows, cols = height - 2, width - margin
        if rows < 1 or cols < 4:
            return too_small(grid)
        (x0, x1) = data.x_range

        def column(x):  # a cell's column; one cell of room each side, so that the first and last values show whole
            return margin + 1 + np.rint((x - x0) / ((x1 - x0) or 1.0) * (cols - 3)).astype(np.int64)

        xs, ys = np.where(keep, data.xs, x0), np.where(keep, data.ys, y0)
        px = column(xs)
        py = 1 + np.rint((y1 - ys) / (y1 - y0) * (rows - 1)).astype(np.int64)
        best = np.zeros(len(px), dtype=bool)
        if data.best is not None:
            best[data.best] = True
        for pick, style in ((keep & ~best, "slice-plot--dot"), (keep & best, "slice-plot--best")):  # best on top
            grid.chars[py[pick], px[pick]] = "●"
            grid.codes[py[pick], px[pick]] = grid.style_code(self.component(style))
        grid.chars[1 : rows + 1, margin - 1] = "│"
        grid.codes[1 : rows + 1, margin - 1] = grid.style_code(axis_style)
        grid.put(1, margin - 1 - len(labels[0]), labels[0] + "┤", axis_style)
        if rows > 1:
            grid.put(rows, margin - 1 - len(labels[1]), labels[1] + "┤", axis_style)
        free = margin
        for x, text in data.x_labels:
            col = int(column(np.float64(x)))
            start = min(max(col - len(text) // 2, free), width - len(text))
            if start >= free:
                free = grid.put(height - 1, start, text, axis_style) + 1
        return grid.strips()


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return significant(value)
    return str(value)


class SweepScreen(Screen):
    """One sweep (``sweep_dir``): the leaderboard, the best so far and each parameter's slice, live."""

    CSS_PATH = "sweep.tcss"
    PALETTE_GROUP = "Sweep"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]
    BINDINGS = [
        Binding("enter", "replay", "Replay", tooltip="the trial"),
        Binding("f5,ctrl+r", "refresh", "Refresh", tooltip="read the study now", show=False),
        Binding("escape,q", "back", "Back", tooltip="to the runs", key_display="esc"),
    ]

    def __init__(self, sweep_dir, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sweep_dir = Path(sweep_dir)
        self.spec = read_sweep(self.sweep_dir, with_trials=False)  # metric, goal, space: the sweep file's
        self.view = StudyView(goal=self.spec.goal)
        self.ranked: list[dict] = []
        self._study: Any = None  # the study the worker opened (read on at each refresh)
        self._reading: Worker[tuple[StudyView, Any]] | None = None
        self._shown: object = None  # what the panes were last drawn from

    @property
    def metric(self) -> str:
        return self.spec.metric or "value"

    def compose(self):
        yield Static(id="sweep-title")
        with Container(id="sweep-body"):
            yield RunsTable(id="sweep-board", cursor_type="row", zebra_stripes=True)
            with Vertical(id="sweep-charts"):
                yield LineChart(id="sweep-progress")
                with Container(id="sweep-params"):
                    for i, _ in enumerate(self.spec.params):
                        yield SlicePlot(id=f"sweep-param-{i}")
        yield LabFooter()

    def on_mount(self) -> None:
        params = self.query_one("#sweep-params")
        params.styles.grid_size_columns = max(1, min(3, len(self.spec.params)))
        params.display = bool(self.spec.params)
        self._title()
        self.action_refresh()
        self.set_interval(REFRESH_S, self.action_refresh)

    # --- reading the study ---------------------------------------------------------------------------
    def action_refresh(self) -> None:
        """Read the study again in a thread (a read still under way: this one is skipped)."""
        if self._reading is not None and self._reading.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        folder, study = self.sweep_dir, self._study
        self._reading = self.run_worker(
            lambda: read_study(folder, study), thread=True, group="sweep-read", exit_on_error=False
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._reading:
            return
        event.stop()
        result = event.worker.result
        if event.state == WorkerState.SUCCESS and isinstance(result, tuple):
            view, self._study = result
            self.show(view)
        elif event.state == WorkerState.ERROR:
            self.show(StudyView(goal=self.view.goal, problem=str(event.worker.error)))

    def show(self, view: StudyView) -> None:
        """Redraw from ``view`` (the title always; the table and charts when the trials changed)."""
        self.view = view
        self._title()
        if view.problem is not None:
            return
        key = [
            (r["number"], r["state"], r["value"], str(r["params"]), r.get("run_dir"), r.get("message"))
            for r in view.records
        ]
        if key == self._shown:
            return
        self._shown = key
        self.ranked = leaderboard(view.records, view.goal)
        self._fill_board()
        self._draw_charts()

    # --- what is shown -------------------------------------------------------------------------------
    def _title(self) -> None:
        records, goal = self.view.records, self.view.goal
        states = [r["state"] for r in records]
        counts = ", ".join(f"{states.count(s)} {STATE_WORDS[s]}" for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING"))
        text = (
            f"[b]sweep {self.sweep_dir.name}[/]   {self.metric} ({'higher' if goal == 'max' else 'lower'} is better)"
            f"   {len(records)} trial{'' if len(records) == 1 else 's'}: {counts}"
        )
        best = self.ranked[0] if self.ranked and self.ranked[0]["state"] == "COMPLETE" else None
        if best is not None:
            text += f"   best [b]{significant(best['value'])}[/] (trial {best['number']})"
        if self.view.problem is not None:
            text += f"\n[dim]{self.view.problem}[/]"
        self.query_one("#sweep-title", Static).update(text)

    def _params(self) -> list[Param]:
        """The searched parameters: the sweep file's, then any other a trial has (a sweep file changed since)."""
        known = [p.path for p in self.spec.params]
        extra = dict.fromkeys(k for r in self.view.records for k in r["params"] if k not in known)
        return [*self.spec.params, *(Param(k, "") for k in extra)]

    def run_dir(self, record: dict) -> Path | None:
        """The trial's run: its folder in this sweep folder (trials/trial-NNNN) where it is there, else where the
        study says it was written (another machine's worker, or a sweep folder since moved: None if missing)."""
        here = trial_dir(self.sweep_dir, record["number"])
        if (here / "session.yaml").is_file():
            return here
        told = record.get("run_dir")
        return Path(told) if told and (Path(told) / "session.yaml").is_file() else None

    def _run_text(self, record: dict) -> str:
        path = self.run_dir(record)
        if path is None:
            return str(record.get("run_dir") or "-")
        try:
            return str(path.relative_to(self.sweep_dir))
        except ValueError:
            return str(path)

    def _fill_board(self) -> None:
        table = self.query_one("#sweep-board", DataTable)
        selected = None
        if table.row_count:
            try:
                selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            except Exception:  # no row under the cursor
                selected = None
        params = self._params()
        table.clear(columns=True)
        for label in ("#", "trial", "state", self.metric):
            table.add_column(label, key=label)
        for p in params:
            table.add_column(p.path, key=f"param:{p.path}")
        table.add_column("run", key="run")
        said = any(r.get("message") for r in self.ranked)
        if said:  # why a trial failed (a diverged run, parameters the session refused, a stop signal)
            table.add_column("message", key="message")
        rank = 0
        for r in self.ranked:
            complete = r["state"] == "COMPLETE" and r["value"] is not None
            rank += complete
            table.add_row(
                str(rank) if complete else "",
                f"trial-{r['number']:04d}",
                STATE_WORDS.get(r["state"], r["state"].lower()),
                _cell(r["value"]),
                *(_cell(r["params"].get(p.path)) for p in params),
                self._run_text(r),
                *([r.get("message") or ""] if said else []),
                key=str(r["number"]),
            )
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))

    def _draw_charts(self) -> None:
        records, goal = self.view.records, self.view.goal
        numbers, values, best = progress(records, goal)
        self.query_one("#sweep-progress", LineChart).set_series(
            {
                self.metric: np.column_stack([numbers, values]).tolist(),
                "best so far": np.column_stack([numbers, best]).tolist(),
            },
            title=f"{self.metric} per trial",
            x_label="trial",
        )
        done = [r for r in records if r["state"] == "COMPLETE" and r.get("value") is not None]
        ys = np.array([float(r["value"]) for r in done], dtype=float)
        top = None
        if ys.size:
            top = int(np.argmax(ys) if goal == "max" else np.argmin(ys))
        for i, p in enumerate(self.spec.params):
            xs, labels, span = axis(p, [r["params"].get(p.path) for r in done])
            title = p.path + (" (log)" if p.log else "")
            self.query_one(f"#sweep-param-{i}", SlicePlot).data = SliceData(title, xs, ys, top, tuple(labels), span)

    # --- actions -------------------------------------------------------------------------------------
    def _selected(self) -> dict | None:
        table = self.query_one("#sweep-board", DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except Exception:  # no row under the cursor
            return None
        return next((r for r in self.ranked if str(r["number"]) == key), None)

    def action_replay(self) -> None:
        record = self._selected()
        if record is None:
            return
        run_dir = self.run_dir(record)
        if run_dir is None:
            self.notify(f"trial {record['number']} has no recorded run yet", title="Replay", severity="warning")
            return
        self.post_message(ReplayRequested(run_dir))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_replay()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
