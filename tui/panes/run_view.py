"""The panes of one run, laid out as a grid on a large terminal or one at a time on a small one (or zoomed)."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.reactive import var
from textual.widgets import Static

from dl_lab.sessions.runs.state import RunState
from dl_lab.tui.panes.boost import BoostPane
from dl_lab.tui.panes.network import NetworkPane
from dl_lab.tui.panes.projection import ProjectionPane
from dl_lab.tui.panes.run_panes import (
    ConfusionPane,
    DataPlotPane,
    LayersPane,
    LossPane,
    NormsPane,
    Pane,
    QualityPane,
)
from dl_lab.tui.widgets import DecisionMap

WIDE = (120, 34)  # the smallest view (columns, rows) that gets the grid


def rotation(panes: tuple[type[Pane], ...]) -> tuple[str, ...]:
    """The order in which out-of-date panes are redrawn while training, derived from the panes themselves (so
    that no pane can be left out): in each round the ``every_round`` panes, then the next of the others."""
    often = [p.key for p in panes if p.every_round]
    rest = [p.key for p in panes if not p.every_round]
    return tuple(key for other in rest for key in (*often, other)) if rest else tuple(often)


# in the grid's order (train.tcss): the data and the network side by side on top, the curves and matrices below
# (a boosted session shows the boost pane in the network pane's place: RunView.configure)
PANES = (
    DataPlotPane,
    NetworkPane,
    BoostPane,
    LossPane,
    QualityPane,
    ConfusionPane,
    NormsPane,
    LayersPane,
    ProjectionPane,
)
ROTATION = rotation(PANES)  # data, network, loss, quality, confusion, data, network, loss, quality, norms, ...


# Keys of the panes, shared by the training and replay screens (their actions live on each screen).
PANE_BINDINGS = [
    Binding("left_square_bracket", "layer(-1)", "Previous layer", key_display="[", show=False),
    Binding("right_square_bracket", "layer(1)", "Next layer", key_display="]", show=False),
    Binding("v", "pane(1)", "Pane", tooltip="after this one"),
    Binding("V", "pane(-1)", "Previous pane", show=False),
    Binding("z", "zoom", "Zoom", tooltip="on one pane, or the grid again", show=False),
    Binding("d", "discretize", "Discretize", tooltip="the boundary: classes, no confidence", show=False),
]


# The network pane's cursor, on the training screen (the replay's arrows move its timeline).
NETWORK_BINDINGS = [
    # the network pane's cursor (Playground's hover): a neuron's map fills the boundary pane
    Binding("up", "neuron('unit', -1)", "Neuron above", key_display="↑", show=False),
    Binding("down", "neuron('unit', 1)", "Neuron below", key_display="↓", show=False),
    Binding("left", "neuron('column', -1)", "Layer to the left", key_display="←", show=False),
    Binding("right", "neuron('column', 1)", "Layer to the right", key_display="→", show=False),
    Binding("w", "neuron('link', 1)", "Next link", tooltip="into the chosen neuron (weight, gradient)", show=False),
]


class PaneActions:
    """The actions of PANE_BINDINGS, for a screen that shows a RunView (training and replay)."""

    def action_layer(self, delta: int) -> None:
        self.query_one(RunView).move_layer(delta)

    def action_pane(self, delta: int) -> None:
        self.query_one(RunView).cycle(delta)

    def action_zoom(self) -> None:
        self.query_one(RunView).toggle_zoom()

    def action_discretize(self) -> None:
        widget = self.query_one(RunView).query_one(DecisionMap)
        widget.discretize = not widget.discretize
        shown = "classes only (discretized)" if widget.discretize else "with confidence"
        self.notify(f"boundary: {shown}", timeout=2)

    def action_neuron(self, how: str, delta: int) -> None:
        view = self.query_one(RunView)
        view.query_one(NetworkPane).move(how, delta)
        view.show_pane("network")
        if view.state is not None:
            view.show(view.state)

    def action_leave_network(self) -> None:
        view = self.query_one(RunView)
        if view.query_one(NetworkPane).leave() and view.state is not None:
            view.show(view.state)


class RunView(Vertical):
    """Every pane of a run; ``show(state)`` hands the state to each pane (a pane redraws only what changed)."""

    current = var(0)
    zoomed = var(False)
    narrow = var(True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._layout_key = None
        self._turn = 0
        self.state: RunState | None = None

    def compose(self):
        yield Static(id="pane-strip")
        with Grid(id="pane-grid"):
            for cls in PANES:
                yield cls(id=f"pane-{cls.key}")

    def on_mount(self) -> None:
        self._update_layout()

    @property
    def panes(self) -> list[Pane]:
        """The panes this run shows (the boost pane or the network pane: ``configure``)."""
        return [pane for pane in self.query(Pane) if getattr(pane, "wanted", True)]

    def on_resize(self, event: events.Resize) -> None:
        self.narrow = event.size.width < WIDE[0] or event.size.height < WIDE[1]

    def watch_current(self) -> None:
        self._relayout()

    def watch_zoomed(self) -> None:
        self._relayout()

    def watch_narrow(self) -> None:
        self._relayout()

    def _relayout(self) -> None:
        """A pane that comes into view is brought up to date at once (hidden panes are not drawn)."""
        self._update_layout()
        if self.state is not None and self.is_mounted:
            self.show(self.state)

    def _update_layout(self) -> None:
        if not self.is_mounted:
            return
        single = self.narrow or self.zoomed
        panes = self.panes
        key = (single, self.current, tuple(p.label for p in panes))
        if key == self._layout_key:
            return
        self._layout_key = key
        self.set_class(single, "-single")
        for i, pane in enumerate(panes):
            pane.set_class(i == self.current, "-current")
        strip = Text()
        for i, pane in enumerate(panes):
            label = f" {pane.label} "
            strip.append(label, style="reverse bold" if i == self.current else "")
            strip.append("│", style="dim")
        strip.append("  v/V: pane  z: zoom" if single else "", style="dim")
        self.query_one("#pane-strip", Static).update(strip, layout=False)

    # --- what the screens call -------------------------------------------------------------------
    def configure(self, dataset, started, live=None, session=None) -> None:
        """Lay the panes out for ``dataset`` and the run ``started`` describes; ``live``: a LiveModel (the run
        sends its weights: pictures are computed from them) of ``session``."""
        network = self.query_one(NetworkPane)
        network.configure(dataset, session, live)
        boosted = session is not None and session.config.boost is not None
        self.query_one(BoostPane).configure(dataset, boosted)
        network.wanted = not boosted  # a perceptron's network says little; AdaBoost's combined boundary, much
        for pane in self.query(Pane):
            unused = not getattr(pane, "wanted", True)
            pane.set_class(unused, "-unused")  # hidden (train.tcss), and not one of the run's panes (.run-pane)
            pane.set_class(not unused, "run-pane")
            if unused:
                pane.remove_class("-current")
        self.current = min(self.current, len(self.panes) - 1)
        self.query_one(ProjectionPane).configure(dataset, live)
        self.query_one(DataPlotPane).configure(dataset, started, live, network)
        task = started.task if started else "classification"
        for pane in self.panes:
            pane.name_for(task)
        self._update_layout()

    @property
    def single(self) -> bool:
        return self.narrow or self.zoomed

    def visible_panes(self) -> list[Pane]:
        panes = self.panes
        return [panes[self.current]] if self.single else panes

    def show(self, state: RunState, everything: bool = True) -> bool:
        """Hand ``state`` to the visible panes: all of them, or (``everything=False``) only the next one in
        ``ROTATION`` whose picture is out of date, so that a redraw never blocks the event loop for long.
        Returns whether a pane was given new data."""
        self.state = state
        visible = {p.key: p for p in self.visible_panes() if p.stale(state)}
        if everything:
            chosen = list(visible.values())
        else:
            chosen = []
            for k in range(len(ROTATION)):
                turn = (self._turn + k) % len(ROTATION)
                if ROTATION[turn] in visible:
                    chosen, self._turn = [visible[ROTATION[turn]]], turn + 1
                    break
        for pane in chosen:
            pane.show(state)
        self._update_layout()
        return bool(chosen)

    def cycle(self, delta: int) -> None:
        self.current = (self.current + delta) % len(self.panes)

    def toggle_zoom(self) -> None:
        self.zoomed = not self.zoomed

    def show_pane(self, key: str) -> None:
        """Bring pane ``key`` into view on a small terminal (on a large one every pane shows)."""
        keys = [p.key for p in self.panes]
        if self.single and key in keys:
            self.current = keys.index(key)

    def move_layer(self, delta: int) -> None:
        """The layer the layers and projection panes show."""
        self.query_one(LayersPane).move(delta, self.state)
        if self.state is not None:
            self.show(self.state)
