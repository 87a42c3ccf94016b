"""The boost pane (a boosted session, ``boost:``): AdaBoost's combined boundary H_t over the plane, round by round,
the training points as bright as their weight w_{t+1}, and each round's eps_t and alpha_t.

It takes the network pane's place in a boosted run (a perceptron's network is two inputs and one unit; the data
pane shows the perceptron being trained). Everything comes from the run's BoostRound events, so a replay draws it
the same.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from rich.table import Table
from rich.text import Text
from textual.containers import Horizontal
from textual.widgets import Static

from dl_lab.sessions.events import BoostRound
from dl_lab.sessions.runs.state import RunState
from dl_lab.sessions.training.boost import ensemble_votes
from dl_lab.sessions.training.monitor import plane_inputs
from dl_lab.tui.panes.run_panes import LIVE_RES, Pane, set_text
from dl_lab.tui.widgets import DecisionMap
from dl_lab.tui.widgets.map_data import PointSet, prepare_map

# H's weakest vote is still a class: its cells are tinted at least this much (strength = FLOOR + (1 - FLOOR) x the
# votes' agreement), so both classes read in their colours even where the perceptrons disagree most (and at 256
# colours, where a faint tint on a dark background comes out as a near-black grey).
H_MIN_STRENGTH = 0.5


def boundary_of(rounds: list[BoostRound], grid: np.ndarray, bounds: list, res: int) -> dict:
    """H_t's vote over a ``res`` x ``res`` grid of model inputs, as a snapshot's Boundary: class 1 where
    F = sum alpha h > 0, as sure as the vote's margin |F| / sum |alpha| (1: every perceptron agrees)."""
    alphas = [r.alpha for r in rounds]
    f = ensemble_votes(grid, alphas, [np.asarray(r.weight) for r in rounds], [r.bias for r in rounds])
    margin = f / max(sum(abs(a) for a in alphas), 1e-12)
    values = np.where(f > 0, 0.5 + 0.5 * np.abs(margin), 0.5 - 0.5 * np.abs(margin))
    return {"kind": "probability", "bounds": bounds, "resolution": res, "values": values.tolist()}


def rounds_table(rounds: list[BoostRound], rows: int) -> Table:
    """The last ``rows`` rounds: t, eps_t, alpha_t, h_t alone and H_t on validation."""
    table = Table("t", "ε", "α", "h", "H val", box=None, padding=(0, 1), show_edge=False, header_style="bold")
    for r in rounds[-max(1, rows) :]:
        val = "-" if r.val_acc is None else f"{r.val_acc:.0%}"
        alpha = Text(f"{r.alpha:+.2f}", style="red" if r.alpha < 0 else "")
        table.add_row(str(r.round), f"{r.epsilon:.3f}", alpha, f"{r.learner_acc:.0%}", val)
    return table


class BoostPane(Pane):
    """AdaBoost of perceptrons: H_t = sign(sum_s alpha_s h_s) over the plane, the points by weight, eps and alpha."""

    key = "boost"  # its id: pane-boost
    label = "Boost"
    title = "AdaBoost: H = sign(Σ α h)"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dataset = None
        self.wanted = False  # shown for boosted sessions only (RunView.configure)
        self.add_class("-unused")  # until a boosted run is configured: hidden, and out of the run's panes
        self.remove_class("run-pane")
        self._grids: dict[int, tuple[np.ndarray | None, list]] = {}

    def compose(self):
        with Horizontal():
            yield DecisionMap(id="boost-map", min_strength=H_MIN_STRENGTH)
            yield Static(id="boost-table")
        yield Static(id="boost-note", classes="run-pane-caption")

    def configure(self, dataset, boosted: bool) -> None:
        self.dataset, self.wanted = dataset, boosted
        self._grids = {}
        self.revision = None

    def revision_of(self, state: RunState):
        return (len(state.boost_rounds), self._resolution(), self.size.height)

    def _resolution(self) -> int:
        width, height = self.query_one("#boost-map", DecisionMap).size
        return max(8, min(LIVE_RES, max(width, 2 * height)))

    def _grid(self, res: int) -> tuple[np.ndarray | None, list]:
        if res not in self._grids:
            grid, bounds = plane_inputs(self.dataset, res) if self.dataset is not None else (None, [])
            self._grids = {res: (grid, bounds)}
        return self._grids[res]

    def draw(self, state: RunState) -> None:
        rounds = state.boost_rounds
        note = self.query_one("#boost-note", Static)
        table = self.query_one("#boost-table", Static)
        table.update(rounds_table(rounds, self.size.height - 3) if rounds else "ε and α appear\nafter round 1")
        points = self.dataset.points_2d if self.dataset is not None else None
        total = state.started.epochs if state.started else None
        if points is None:
            set_text(note, "no plane to draw: the data is not 2-D")
            return
        res = self._resolution()
        grid, bounds = self._grid(res)
        boundary = boundary_of(rounds, grid, bounds, res) if rounds and grid is not None else None
        shown = {k: v for k, v in points.items() if not k.startswith("val")}  # the weights are the training points'
        names = state.started.class_names if state.started else None
        data = prepare_map(boundary, shown, names)
        weights = rounds[-1].sample_weights if rounds else None
        n = len(shown.get("train_labels", ()))
        if data.train is not None and n:
            w = np.asarray(weights, dtype=float) if weights is not None and len(weights) == n else np.full(n, 1.0 / n)
            data = replace(data, train=PointSet(data.train.xy, data.train.cls, w / w.max()))
        self.query_one("#boost-map", DecisionMap).data = data
        if not rounds:
            set_text(note, f"round 1 of {total}: the first perceptron trains on every point (w₁ = 1/n)")
            return
        last = rounds[-1]
        val = f", val {last.val_acc:.0%}" if last.val_acc is not None else ""
        marks = f"brightness w_{last.round + 1}: max {last.weight_max:.3f}, eff. n {last.effective_size:.0f}/{n}"
        text = f"round {last.round}/{total}: H train {last.train_acc:.0%}{val}; {marks}"
        if len(text) > (note.size.width or 78):  # 78: an 80-column pane's inside
            text = f"H_{last.round}: train {last.train_acc:.0%}{val}; {marks}"
        set_text(note, text)
