"""The data as a hidden layer sees it: the validation points in that layer's two units, or in the first two
principal components of its output (seed 002's PCA), coloured by class and moving as the network learns (seed
004's picture of layers untangling the spiral). Computed from the run's latest weights (a ``LiveModel``)."""

from __future__ import annotations

import numpy as np
from textual.widgets import Static

from dl_lab.sessions.runs.state import RunState
from dl_lab.tui.panes.run_panes import LayersPane, Pane, set_text
from dl_lab.tui.widgets import ScatterPlot

POINTS = 600  # validation points projected at most


def principal_plane(out: np.ndarray, before: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """(N, D) -> the points in their first two principal components, the components (2, D) and the share of the
    variance they hold. Each component's sign follows ``before`` (the last frame's), else its largest loading is
    positive, so the picture does not flip from frame to frame."""
    centred = out - out.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:2]
    if len(comps) < 2:  # a single feature: its values on a line
        comps = np.vstack([comps, np.zeros_like(comps)])
    for k in range(2):
        ref = before[k] if before is not None and before.shape == comps.shape else comps[k]
        anchor = (
            np.dot(comps[k], ref) if before is not None and before.shape == comps.shape else ref[np.argmax(abs(ref))]
        )
        if anchor < 0:
            comps[k] = -comps[k]
    total = float((s**2).sum())
    share = float((s[:2] ** 2).sum() / total) if total > 0 else 1.0
    return centred @ comps.T, comps, share


class ProjectionPane(Pane):
    """The validation points as the layer chosen in the layers pane ([ ]) represents them."""

    key = "projection"  # its id: pane-projection
    label = "Projection"
    title = "the data as a layer sees it"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.live = None
        self.dataset = None
        self._components: dict[int, np.ndarray] = {}

    def compose(self):
        yield ScatterPlot(keep_aspect=False)
        yield Static(id="projection-note", classes="run-pane-caption")

    def configure(self, dataset, live) -> None:
        self.dataset, self.live = dataset, live
        self._components = {}
        self.revision = None

    def layer_index(self, state: RunState) -> int:
        """The layer the layers pane shows (its sibling in the run view)."""
        found = self.parent.query(LayersPane) if self.parent is not None else None
        chosen = found.first().chosen if found else 0
        count = len(self.live.model.layers) if self.live is not None else 1
        return chosen % count

    def revision_of(self, state):
        return (state.lives, self.layer_index(state) if self.live is not None else None)

    def draw(self, state):
        note = self.query_one("#projection-note", Static)
        plot = self.query_one(ScatterPlot)
        if self.live is None or state.live is None or self.dataset is None:
            plot.set_points(np.zeros((0, 2)), np.zeros(0))
            set_text(note, "drawn from the weights a small model sends as it trains")
            return
        ds = self.dataset
        x, y = (ds.x_val, ds.y_val) if len(ds.y_val) else (ds.x_train, ds.y_train)
        x, y = x[:POINTS], np.asarray(y[:POINTS]).reshape(len(x), -1)
        self.live.load(state.live)
        index = self.layer_index(state)
        out = np.asarray(self.live.layer_outputs(x)[index], dtype=float).reshape(len(x), -1)
        layer = self.live.model.layers[index]
        if out.shape[1] == 2:
            xy, how = out, "its two units"
        else:
            xy, self._components[index], share = principal_plane(out, self._components.get(index))
            how = f"{out.shape[1]} units → PC 1, 2 ({share:.0%} of variance)"
        self.border_title = f"the data as layer {index} {layer.kind} sees it"
        regression = state.task == "regression"
        labels = y[:, 0] if regression else (y.argmax(axis=1) if y.shape[1] > 1 else y[:, 0]).astype(np.int64)
        names = state.started.class_names if state.started else None
        plot.set_points(xy, labels, regression=regression, class_names=None if regression else names)
        set_text(note, f"{how}  [ ] layer")
