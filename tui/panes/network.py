"""The network pane: TensorFlow Playground's picture of the network, drawn from the weights the run sends.

Each dense layer is a column of neurons; on 2-D data each neuron is a small map of its output over the input plane
(a ``LiveModel`` computes it from the latest weights), on other data a box with its activation on one validation
sample. A cursor moves over neurons and their incoming links: a chosen neuron's map fills the boundary pane, a
chosen link shows its weight, gradient and last update, and ``e`` edits a weight or bias in a paused run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.widgets import Static

from dl_lab.datasets.features import DEFAULT_FEATURES
from dl_lab.sessions.formatting import significant
from dl_lab.sessions.runs.state import RunState
from dl_lab.tui.panes.run_panes import Pane, set_text
from dl_lab.tui.widgets.network_view import NetworkPicture, NetworkView, NeuronColumn


@dataclass(frozen=True)
class Column:
    """A column of the picture in the model: the dense layer ``layer`` (None: the inputs), whose units' output is
    layer ``end``'s (the dense layer's own, or of the activation, dropout or batchnorm layers after it)."""

    layer: int | None
    end: int
    units: int
    title: str


def columns_of(model, input_labels: tuple[str, ...] = ()) -> list[Column]:
    """The input column and one column per dense layer, each ending where the next dense layer starts."""
    dense = [i for i, layer in enumerate(model.layers) if layer.kind == "dense"]
    if not dense:
        return []
    first = dense[0]
    inputs = model.layers[first].weight.shape[1]
    where = "input" if first == 0 else f"into {first} {model.layers[first].kind}"
    cols = [Column(None, first - 1, inputs, where)]
    for k, i in enumerate(dense):
        end = (dense[k + 1] if k + 1 < len(dense) else len(model.layers)) - 1
        layer = model.layers[i]
        act = layer.activation_function()
        name = "output" if k == len(dense) - 1 else f"{i} dense"
        fn = act.name if act is not None and act.name != "identity" else ""
        if k == len(dense) - 1 and model.fused:
            fn = f"{model.fused} in the loss"
        cols.append(Column(i, end, layer.weight.shape[0], f"{name} {layer.weight.shape[0]} {fn}".strip()))
    return cols


def input_labels(session, width: int) -> tuple[str, ...]:
    """The input features' names (Playground's x1, x2, sin(x1)...) when the inputs are the plane's features."""
    features = session.config.data.get("features") if session is not None else None
    names = tuple(features) if features else DEFAULT_FEATURES
    return names if len(names) == width else ()


class NetworkPane(Pane):
    """The network as Playground draws it, from the run's latest weights."""

    key = "network"  # its id: pane-network
    every_round = True
    label = "Network"
    title = "network"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.live = None  # a LiveModel
        self.session = None
        self.dataset = None
        self.columns: list[Column] = []
        self.sample_index = 0  # the validation sample whose activations are shown (data that is not 2-D)
        self.active = False  # the cursor shows (a key moved it) until esc

    def compose(self):
        yield NetworkView()
        yield Static(id="network-note", classes="run-pane-caption")

    def on_mount(self) -> None:
        self.view.show_cursor = self.active

    def configure(self, dataset, session, live) -> None:
        self.dataset, self.session, self.live = dataset, session, live
        self.columns = columns_of(live.model) if live is not None else []
        self.revision = None

    def revision_of(self, state):
        view = self.query_one(NetworkView)
        return (state.lives, tuple(view.size), view.cursor, self.active)

    # --- the cursor --------------------------------------------------------------------------------
    @property
    def view(self) -> NetworkView:
        return self.query_one(NetworkView)

    def chosen(self) -> tuple | None:
        """("neuron", column, unit) or ("link", column, source unit, unit), in picture terms; None: no cursor."""
        return self.view.selected() if self.active and self.view.picture is not None else None

    def move(self, how: str, delta: int) -> None:
        """The cursor: ``unit`` up or down a column, ``column`` left or right, ``link`` through the incoming
        links; the first key shows it where it is."""
        view = self.view
        if self.active:
            {"unit": view.move_unit, "column": view.move_column, "link": view.cycle_link}[how](delta)
        self.active = True
        view.show_cursor = True

    def leave(self) -> bool:
        """Hide the cursor (the boundary pane shows the boundary again); False if it was not shown."""
        shown, self.active = self.active, False
        self.view.show_cursor = False
        return shown

    def chosen_map(self, state: RunState, res: int):
        """The chosen neuron's output over the plane as a Boundary of kind "neuron" (None: not a plane, none
        chosen, or the input column's x1/x2, which the boundary pane shows anyway)."""
        pick = self.chosen()
        if pick is None or self.live is None or self.live.kind != "plane" or state.live is None:
            return None
        column, unit = pick[1], pick[-1]
        col = self.columns[column]
        self.live.load(state.live)
        grid, bounds = self.live.inputs(res)
        if grid is None:
            return None
        values = grid if col.layer is None and col.end < 0 else self.live.layer_outputs(grid)[col.end]
        values = np.asarray(values).reshape(len(grid), -1)[:, unit]
        return {
            "kind": "neuron",
            "resolution": res,
            "bounds": bounds,
            "values": np.round(values, 4).tolist(),
            "title": f"{col.title}: unit {unit}",
        }

    def parameter(self, state: RunState) -> tuple[str, int, str] | None:
        """The chosen link's weight or the chosen neuron's bias: (what, flat index, name) in the run's buffer."""
        pick = self.chosen()
        if pick is None or self.live is None:
            return None
        col = self.columns[pick[1]]
        if col.layer is None:
            return None
        layer = self.live.model.layers[col.layer]
        unit = pick[-1]
        if pick[0] == "link":
            index = layer.weight.flat_index((unit, pick[2]))
            return "weight", index, f"model[{col.layer}].weight[{unit}, {pick[2]}]"
        if layer.bias is None:
            return None
        return "bias", layer.bias.flat_index((unit,)), f"model[{col.layer}].bias[{unit}]"

    # --- drawing -----------------------------------------------------------------------------------
    def draw(self, state):
        note = self.query_one("#network-note", Static)
        view = self.view
        if self.live is None:
            view.set_picture(None)
            count = state.started.param_count if state.started else 0
            set_text(note, f"a model of {count:,} parameters trains at full speed: no live picture of it")
            return
        if not self.columns:
            view.set_picture(None)
            set_text(note, "no dense layers to draw")
            return
        if state.live is None:
            view.set_picture(None)
            set_text(note, "the picture appears when the run sends its weights")
            return
        width, height = view.size
        count, _, ch = NetworkView.capacity(width, max(1, height), len(self.columns))
        self.live.load(state.live)
        view.set_picture(self._picture(state, count, 2 * ch))
        set_text(note, self._describe(state))

    def _picture(self, state: RunState, count: int, res: int) -> NetworkPicture:
        live, cols = self.live, self.columns
        plane = live.kind == "plane"
        if plane:
            x, _ = live.inputs(res)
        else:
            ds = self.dataset
            pool = ds.x_val if len(ds.y_val) else ds.x_train
            x = pool[self.sample_index % len(pool) : self.sample_index % len(pool) + 1]
        outputs = live.layer_outputs(x)
        labels = input_labels(self.session, cols[0].units)
        columns, weights = [], []
        for k, col in enumerate(cols):
            shown = min(count, col.units)
            out = np.asarray(x if col.end < 0 else outputs[col.end]).reshape(len(x), -1)[:, :shown]
            maps = values = biases = None
            if plane:
                maps = out.T.reshape(shown, res, res)
            else:
                values = out[0]
            if col.layer is not None:
                layer = live.model.layers[col.layer]
                biases = np.asarray(layer.bias.data[:shown]) if layer.bias is not None else np.zeros(shown)
                before = min(count, cols[k - 1].units)
                weights.append(np.asarray(layer.weight.data[:shown, :before]).T)
            columns.append(
                NeuronColumn(
                    title=col.title,
                    total=col.units,
                    labels=labels[:shown] if k == 0 else (),
                    maps=maps,
                    values=values,
                    biases=biases,
                )
            )
        return NetworkPicture(tuple(columns), tuple(weights))

    def _describe(self, state: RunState) -> str:
        """The chosen neuron or link in numbers (a link: weight, gradient, last update), or the keys."""
        found = self.parameter(state)
        pick = self.chosen()
        if pick is None:
            return ""
        if found is None:
            col = self.columns[pick[1]]
            return f"{col.title}: unit {pick[-1]}  ←→↑↓ move  w: links  esc: the boundary again"
        what, index, name = found
        live = state.live
        value = float(live.params[index])
        parts = [f"{name} = {significant(value, 4)}"]
        if live.grads is not None:
            parts.append(f"∇ {significant(float(live.grads[index]), 3)}")
        if state.live_before is not None and state.live_before.params.shape == live.params.shape:
            parts.append(f"Δ {significant(value - float(state.live_before.params[index]), 3)}")
        keys = "e edit  w next" if what == "weight" else "e edit  w links"
        return "  ".join(parts) + "   " + keys
