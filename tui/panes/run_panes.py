"""The panes of the training and replay screens: each derives what it draws from a RunState and redraws on change.

A pane keeps a ``revision`` (a small key of what it last drew: counts of epochs, snapshots, the chosen layer...);
``show(state)`` updates it and ``watch_revision`` draws, so a pane whose data did not change costs nothing.
"""

from __future__ import annotations

import numpy as np
from rich.table import Table
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import Static

from dl_lab.sessions.formatting import significant
from dl_lab.sessions.runs.state import RunState, layer_label, quality_name
from dl_lab.tui.widgets import ConfusionMatrix, DecisionMap, Histogram, ImageGrid, LineChart

IMAGE_SAMPLES = 48  # validation images drawn in the samples pane at most (mistakes first), as many as fit
LIVE_RES = 96  # the most grid points a side of a boundary computed from the run's weights


def set_text(widget: Static, content) -> None:
    """Update a fixed-height Static only when its content changed, without a layout pass (they are costly
    while the training thread competes for the GIL)."""
    if isinstance(content, str) and getattr(widget, "_shown", None) == content:
        return
    widget._shown = content if isinstance(content, str) else None
    widget.update(content, layout=False)


def set_display(widget, shown: bool) -> None:
    if widget.display != shown:
        widget.display = shown


class Pane(Vertical):
    """A titled box in the run view."""

    title = "pane"
    label = "pane"  # its name in the pane strip
    key = "pane"  # its id: pane-<key>
    # While training, out-of-date panes are redrawn one at a time (run_view.rotation): a pane that changes every
    # step (curves, the boundary) is redrawn in every round, the others once in turn.
    every_round = False
    revision = var(None, always_update=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="run-pane", **kwargs)
        self.border_title = self.title
        self.state: RunState | None = None
        self._failed = False

    def show(self, state: RunState) -> None:
        self.state = state
        self.revision = (id(state), self.revision_of(state))

    def on_resize(self) -> None:
        """A pane whose picture depends on its size (the boundary, the network) draws again at the new size, once
        its widgets have theirs."""
        self.call_after_refresh(self._resized)

    def _resized(self) -> None:
        if self.state is not None and self.display and self.stale(self.state):
            self.show(self.state)

    def stale(self, state: RunState) -> bool:
        """Whether this pane's picture is older than ``state``."""
        return self.revision != (id(state), self.revision_of(state))

    def revision_of(self, state: RunState):
        return (len(state.epochs), state.snapshots, len(state.steps))

    def watch_revision(self) -> None:
        if self.state is None or not self.is_mounted:
            return
        try:
            self.draw(self.state)
        except Exception as exc:  # a pane that cannot draw some data says so; the app and the run go on
            if not self._failed:
                self._failed = True
                self.app.notify(
                    f"{type(exc).__name__}: {exc}",
                    title=f"The {self.label} pane cannot draw this",
                    severity="warning",
                    timeout=8,
                )

    def draw(self, state: RunState) -> None:
        """Show ``state``; every pane overrides it (the base pane shows nothing)."""

    def name_for(self, task: str) -> None:
        """Title and label for a classification or regression run, known before its first event."""


class LossPane(Pane):
    """Train and validation loss per epoch, and the batch loss as it streams in."""

    key = "loss"  # its id: pane-loss
    every_round = True
    label = "Loss"
    title = "loss"

    def compose(self):
        yield LineChart()

    def revision_of(self, state):
        return (len(state.epochs), len(state.steps), state.failure is not None)

    def draw(self, state):
        # a diverged run's last loss is NaN, infinite or exploded: not drawable, so the chart's title says it
        title = state.divergence_note() or ""
        self.query_one(LineChart).set_series(state.loss_series(), title=title, x_label="epoch")


class QualityPane(Pane):
    """Accuracy (classification) or R² (regression), train vs validation, per epoch."""

    key = "quality"  # its id: pane-quality
    every_round = True
    label = "Accuracy"
    title = "accuracy"

    def compose(self):
        yield LineChart()

    def revision_of(self, state):
        return (len(state.epochs), state.task)

    def draw(self, state):
        self.name_for(state.task)
        self.query_one(LineChart).set_series(state.quality_series()[1], x_label="epoch")

    def name_for(self, task):
        name = quality_name(task)
        self.border_title, self.label = name, name.capitalize()


class NormsPane(Pane):
    """Weight and gradient norms per layer over the run, from the snapshots (gradients on a log scale)."""

    key = "norms"  # its id: pane-norms
    label = "Norms"
    title = "weight / gradient norms"

    def compose(self):
        with Horizontal():
            yield LineChart(id="weight-norms")
            yield LineChart(id="grad-norms")

    def revision_of(self, state):
        return state.snapshots

    def draw(self, state):
        self.query_one("#weight-norms", LineChart).set_series(state.weight_norms, title="‖W‖", x_label="step")
        latest = [points[-1][1] for points in state.grad_norms.values() if points]
        title = "‖∇W‖ all 0: no gradient flows (dead units?)" if latest and not any(latest) else "‖∇W‖"
        self.query_one("#grad-norms", LineChart).set_series(state.grad_norms, title=title, x_label="step", log_y=True)


class LayersPane(Pane):
    """One layer's activation, weight and gradient histograms, with dead-unit and saturation fractions."""

    key = "layers"  # its id: pane-layers
    label = "Layers"
    title = "layers"
    chosen = var(0)  # the layer shown (not `layer`: Widget.layer is the compositor's)

    def compose(self):
        yield Static(id="layer-stats", classes="run-pane-caption")
        with Horizontal():
            yield Histogram(id="activation-histogram")
            yield Histogram(id="weight-histogram")
            yield Histogram(id="gradient-histogram")

    def revision_of(self, state):
        return (state.snapshots, self.chosen)

    def watch_chosen(self) -> None:
        if self.state is not None and self.display:
            self.show(self.state)

    def move(self, delta: int, state: RunState | None) -> None:
        """Show the layer ``delta`` places on (works while the pane is hidden, on a small terminal)."""
        count = len(state.snapshot.layers) if state and state.snapshot else 0
        if count:
            self.chosen = (self.chosen + delta) % count

    def draw(self, state):
        snap = state.snapshot
        caption = self.query_one("#layer-stats", Static)
        if snap is None or not snap.layers:  # before the first snapshot (a replay moved back there, too)
            self.border_title = self.title
            set_text(caption, "no snapshot yet (monitor.every_steps)")
            for selector in ("#activation-histogram", "#weight-histogram", "#gradient-histogram"):
                self.query_one(selector, Histogram).set_histogram([], 0.0, 0.0)
            return
        row = snap.layers[min(self.chosen, len(snap.layers) - 1)]
        self.border_title = f"layer {row['index']} of {len(snap.layers)}: {row['kind']}  [ ] to choose"
        act = row.get("activation") or {}
        set_text(caption, activation_caption(act, row.get("update_ratio")))
        self._histogram("#activation-histogram", act, f"{act.get('function', '')} activations")
        # pooling, flatten, dropout...: no weights, so no weight or gradient histogram will ever come
        none = "no parameters" if not has_parameters(state, row) else "(no data yet)"
        self._histogram("#weight-histogram", row.get("weight"), "weights", none)
        self._histogram("#gradient-histogram", row.get("grad"), "gradients", none)

    def _histogram(self, selector, stats, title, empty="(no data yet)"):
        widget = self.query_one(selector, Histogram)
        if not stats or "histogram" not in stats:
            text = f"{title}: none" if empty == "(no data yet)" else title
            widget.set_histogram([], 0.0, 0.0, title=text, empty=empty)
            return
        h = stats["histogram"]
        text = f"μ {stats['mean']:.3g}  σ {stats['std']:.3g}"
        widget.set_histogram(h["counts"], h["lo"], h["hi"], title=title, stats=text)


def has_parameters(state: RunState, row) -> bool:
    """Whether the snapshot's layer ``row`` has parameters (RunStarted's layer rows count them); unknown: True."""
    rows = state.started.layers if state.started else []
    for layer in rows:
        if str(layer["index"]) == str(row["index"]):
            return bool(layer.get("params"))
    return "weight" in row


def activation_caption(act: dict, update_ratio) -> str:
    parts = []
    if act.get("dead_fraction") is not None:
        dead = act["dead_fraction"]
        parts.append(f"[b]{dead:.0%}[/] dead units" + (" [$warning]⚠[/]" if dead >= 0.5 else ""))
    if act.get("saturated_fraction") is not None:
        sat = act["saturated_fraction"]
        parts.append(f"[b]{sat:.0%}[/] saturated" + (" [$warning]⚠[/]" if sat >= 0.5 else ""))
    if update_ratio is not None:
        parts.append(f"update/weight {update_ratio:.1e}")
    return "  ".join(parts) or " "


class ConfusionPane(Pane):
    """The validation confusion matrix with precision and recall (classification); layer statistics otherwise."""

    key = "confusion"  # its id: pane-confusion
    label = "Confusion"
    title = "confusion (validation)"

    def compose(self):
        yield ConfusionMatrix()
        yield Static(id="layer-table")

    def revision_of(self, state):
        return (len(state.epochs), state.snapshots if state.task == "regression" else 0)

    def name_for(self, task):
        if task == "regression":
            self.border_title, self.label = "layer statistics", "Layer stats"
        else:
            self.border_title, self.label = self.title, "Confusion"

    def draw(self, state):
        matrix = self.query_one(ConfusionMatrix)
        table = self.query_one("#layer-table", Static)
        last = state.last_epoch
        if state.task == "regression" or (last is not None and last.confusion is None):
            self.name_for("regression")
            set_display(matrix, False)
            set_display(table, True)
            set_text(table, layer_table(state))
            return
        set_display(matrix, True)
        set_display(table, False)
        self.name_for("classification")
        names = (state.started.class_names if state.started else None) or []
        if last is not None and last.confusion is not None:
            names = names or [str(i) for i in range(len(last.confusion))]
            matrix.set_matrix(last.confusion, names, precision=last.precision, recall=last.recall)
        else:  # before the first epoch
            matrix.clear()


def layer_table(state: RunState) -> Table:
    table = Table("layer", "act mean", "dead/sat", "‖W‖", "‖∇W‖", "upd", box=None, expand=True)
    for row in state.snapshot.layers if state.snapshot else []:
        act = row.get("activation") or {}
        bad = act.get("dead_fraction", act.get("saturated_fraction"))
        w, g = row.get("weight") or {}, row.get("grad") or {}
        table.add_row(
            layer_label(row),
            _num(act.get("mean")),
            "-" if bad is None else f"{bad:.0%}",
            _num(w.get("norm")),
            _num(g.get("norm")),
            _num(row.get("update_ratio")),
        )
    return table


def _num(value) -> str:
    return significant(value, 3)


class DataPlotPane(Pane):
    """The data as the model sees it: the decision map with the points (2-D), the fitted curve (1-D),
    or validation images with predicted and true labels."""

    key = "data"  # its id: pane-data
    every_round = True
    label = "Data"
    title = "data"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dataset = None
        self.kind = "none"
        self.live = None  # a LiveModel: the boundary is computed from the run's weights at the pane's resolution
        self.network = None  # the network pane (its chosen neuron)
        self._title = self.title

    def compose(self):
        yield DecisionMap()
        yield ImageGrid()
        yield Static(id="data-note", classes="run-pane-caption")

    def configure(self, dataset, started, live=None, network=None) -> None:
        """Choose what to draw for this dataset (None: the dataset could not be loaded, draw what events give);
        ``live``: a LiveModel to draw the boundary from the run's latest weights; ``network``: the network pane,
        whose chosen neuron's map is drawn here instead of the boundary (Playground's hover)."""
        self.dataset = dataset
        self.live = live
        self.network = network
        shape = tuple(started.input_shape) if started else tuple(getattr(dataset, "input_shape", ()) or ())
        if dataset is not None and getattr(dataset, "points_2d", None) is not None:
            self.kind, self.border_title, self.label = "map", "decision boundary", "Boundary"
            self._title = self.border_title
        elif shape == (1,):
            self.kind, self.border_title, self.label = "curve", "fitted curve", "Curve"
            self._title = self.border_title
        elif len(shape) == 3:
            self.kind, self.border_title, self.label = "images", "validation samples: predicted (true)", "Samples"
        else:
            self.kind, self.border_title, self.label = "none", "data", "Data"
        self.revision = None
        set_display(self.query_one(DecisionMap), self.kind in ("map", "curve"))
        set_display(self.query_one(ImageGrid), self.kind == "images")

    def revision_of(self, state):
        live = (state.lives, self._resolution()) if self._live_for(state) else None
        chosen = self.network.chosen() if self.network is not None else None
        return (self.kind, len(state.epochs), state.snapshots, live, chosen)

    def _live_for(self, state) -> bool:
        return self.live is not None and state.live is not None and self.kind in ("map", "curve")

    def _resolution(self) -> int:
        """Grid points a side for the boundary: the map's pixels (half-blocks: two a row), within LIVE_RES."""
        width, height = self.query_one(DecisionMap).size
        return max(8, min(LIVE_RES, max(width, 2 * height)))

    def live_boundary(self, state):
        """The boundary of the run's latest weights at the pane's resolution (None: not drawn from weights)."""
        if not self._live_for(state):
            return None
        self.live.load(state.live)
        return self.live.boundary(self._resolution())

    def draw(self, state):
        note = self.query_one("#data-note", Static)
        if self.kind in ("map", "curve"):
            neuron = self.network.chosen_map(state, self._resolution()) if self.network is not None else None
            self.border_title = neuron["title"] if neuron else self._title
            boundary = neuron or self.live_boundary(state) or (state.snapshot.boundary if state.snapshot else None)
            names = state.started.class_names if state.started else None
            self.query_one(DecisionMap).set_map(boundary, self._points(), class_names=names)
            set_text(note, "" if boundary else "the map appears at the first snapshot (monitor.every_steps)")
        elif self.kind == "images":
            set_text(note, self._draw_images(state))
        else:
            # before the run is prepared the kind is not known yet
            set_text(note, "no picture of this data: see the curves" if state.started else "preparing the data…")

    def _points(self) -> dict | None:
        ds = self.dataset
        if ds is None:
            return None
        if self.kind == "map":
            return ds.points_2d
        return {"x": np.asarray(ds.x_train)[:, 0].tolist(), "y": np.asarray(ds.y_train).reshape(-1).tolist()}

    def _draw_images(self, state) -> str:
        last = state.last_epoch
        if self.dataset is None:
            return "the images are not available offline (download the dataset to see them)"
        if last is None or not last.samples:
            self.query_one(ImageGrid).clear()
            return "validation samples appear after the first epoch"
        s = last.samples
        idx = list(s["indices"])[:IMAGE_SAMPLES]
        images = np.asarray(self.dataset.x_val[idx], dtype=np.float64)
        lo, hi = float(images.min()), float(images.max())
        if lo < 0.0 or hi > 1.0:  # standardized pixels: back to [0, 1] for the picture
            images = (images - lo) / (hi - lo if hi > lo else 1.0)
        names = (state.started.class_names if state.started else None) or []
        label = (lambda k: names[k] if k < len(names) else str(k)) if names else str
        pred, true = s["predicted"][: len(idx)], s["true"][: len(idx)]
        correct = [p == t for p, t in zip(pred, true, strict=True)]
        # a mistake is marked ✗ (and in the error colour): "✗ 3 (8)" is a 3 predicted for an 8
        captions = [
            f"{label(p)} ({label(t)})" if ok else f"✗ {label(p)} ({label(t)})"
            for p, t, ok in zip(pred, true, correct, strict=True)
        ]
        self.query_one(ImageGrid).set_images(images, captions, correct=correct)
        wrong = len(correct) - sum(correct)
        accuracy = f"  val acc {last.val_acc:.1%}" if last.val_acc is not None else ""
        return f"epoch {last.epoch}: mistakes first ({wrong} of these {len(correct)}){accuracy}"
