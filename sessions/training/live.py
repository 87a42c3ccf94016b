"""What a user interface needs to watch a small network learn: a pace the run keeps, and its weights as it trains.

A paced run waits before each batch so that it makes ``rate`` steps a second (slow motion to Playground's pace);
at full speed it does not wait. Both workers send the model's weights (``LiveWeights``, never recorded) with the
step events that reach the app, so that the app redraws its pictures (the decision boundary at the pane's own
resolution, each neuron's map) from the current weights (``LiveModel``) rather than from the last snapshot.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from dl_lab.sessions.events import FINAL, RunStarted, StepEnded

LIVE_PARAMS = 250_000  # models up to this many parameters send their weights to the app as they train
FULL_SPEED_EVERY_S = 0.25  # at full speed, weights go with a step event at most this often
PACES = (1.0, 3.0, 10.0, 30.0, 60.0, 120.0, 250.0)  # steps a second: slow motion, Playground's frame... (None: full)
FRAMES_PER_S = 30.0  # a paced run delivers at most this many step events (and weights) a second
WATCH_PACE = 120.0  # the default for 2-D and 1-D data: the default spiral session (3000 steps) lasts about 25 s


@dataclass(frozen=True, eq=False)  # compared by identity: arrays have no single truth value
class LiveWeights:
    """The model's parameters (its flat buffer) and buffers (batchnorm's running statistics) after ``step``."""

    epoch: int
    step: int
    params: np.ndarray
    buffers: tuple[np.ndarray, ...] = ()
    grads: np.ndarray | None = None  # the gradients of the last batch (the flat buffer's order)
    event: str = field(default="weights", init=False)


def slower(rate: float | None) -> float:
    """The pace below ``rate`` (full speed -> the fastest pace; the slowest stays)."""
    if rate is None:
        return PACES[-1]
    return next((p for p in reversed(PACES) if p < rate * 0.999), PACES[0])


def faster(rate: float | None) -> float | None:
    """The pace above ``rate`` (the fastest -> full speed, None)."""
    if rate is None:
        return None
    return next((p for p in PACES if p > rate * 1.001), None)


def pace_label(rate: float | None) -> str:
    return "full speed" if rate is None else f"{rate:g} steps/s"


def default_pace(started: RunStarted, has_picture: bool) -> float | None:
    """Playground-sized models on 2-D or 1-D data are watched (``WATCH_PACE``); image and table models train at
    full speed."""
    small = started.param_count <= LIVE_PARAMS
    return WATCH_PACE if has_picture and small else None


class Pace:
    """Keeps a run at ``rate`` steps a second (None: full speed): ``delay()`` is how long to wait before the next
    batch. A run that falls behind (a slow batch, a pause) does not rush to catch up."""

    def __init__(self, rate: float | None = None) -> None:
        self.rate = rate
        self._next = 0.0

    def set(self, rate: float | None) -> None:
        self.rate = None if rate is None or not math.isfinite(rate) or rate <= 0 else float(rate)
        self._next = 0.0

    def delay(self) -> float:
        if self.rate is None:
            return 0.0
        now = time.monotonic()
        if self._next < now - 1.0 / self.rate:  # behind (or the first batch): start counting from now
            self._next = now
        wait = self._next - now
        self._next += 1.0 / self.rate
        return max(0.0, wait)


def throttle_interval(rate: float | None, full_speed: float) -> float:
    """Seconds between step events delivered to the app: every step of a pace up to ``FRAMES_PER_S``, at most
    ``FRAMES_PER_S`` a second of a faster one, ``full_speed`` (the throttle's usual interval) at full speed."""
    if rate is None:
        return full_speed
    return 0.0 if rate <= FRAMES_PER_S else min(full_speed, 1.0 / FRAMES_PER_S)


class LiveFeed:
    """Which delivered events carry the model's weights: every step while paced, at full speed a step every
    ``FULL_SPEED_EVERY_S``, and the last event of the run. Models over ``LIVE_PARAMS`` send none."""

    def __init__(self, trainer, pace: Pace) -> None:
        self.trainer, self.pace = trainer, pace
        self.enabled = trainer.model.size <= LIVE_PARAMS
        self._last = 0.0

    def weights(self, epoch: int, step: int) -> LiveWeights:
        model = self.trainer.model
        be = model.backend
        return LiveWeights(
            epoch=epoch,
            step=step,
            params=np.array(be.to_host(model.params), copy=True),
            buffers=tuple(np.array(be.to_host(b), copy=True) for _, b in model.named_buffers()),
            grads=np.array(be.to_host(model.grads), copy=True),
        )

    def after(self, event, running: bool = True) -> LiveWeights | None:
        """The weights to send after delivering ``event`` (a run not ``running``, paused or stepped one batch,
        always sends them), or None."""
        if not self.enabled or not isinstance(event, (StepEnded, *FINAL)):
            return None
        now = time.monotonic()
        limited = running and self.pace.rate is None
        if isinstance(event, StepEnded) and limited and now - self._last < FULL_SPEED_EVERY_S:
            return None
        self._last = now
        step = getattr(event, "step", None)
        epoch = getattr(event, "epoch", None)
        if step is None:  # RunEnded
            step, epoch = getattr(event, "steps", 0), getattr(event, "epochs_done", 0)
        return self.weights(epoch or 0, step or 0)

    def initial(self) -> LiveWeights | None:
        """The weights before the run's first batch (or where a resumed run stopped), for the untrained picture."""
        if not self.enabled:
            return None
        started = self.trainer.started()
        return self.weights(started.start_epoch, started.start_step)


class LiveModel:
    """The run's model rebuilt in the app (NumPy), loaded with the weights the run sends: the decision boundary
    at any resolution, each unit's output over the input plane, and each layer's output on given samples are
    computed from it, so the pictures follow the weights and not only the snapshots."""

    def __init__(self, session, dataset) -> None:
        from dl_lab.sessions.training.build import build

        built = build(session, dataset=dataset, backend="numpy")
        self.model, self.loss, self.dataset = built.model, built.loss, built.dataset
        self.weights: LiveWeights | None = None
        self.kind = "plane" if dataset.points_2d is not None else "line" if tuple(dataset.input_shape) == (1,) else None
        self._inputs: dict[int, tuple[np.ndarray | None, list]] = {}

    def load(self, weights: LiveWeights) -> None:
        """Take the run's weights (a copy: the run goes on changing its own)."""
        if weights is self.weights:
            return
        model = self.model
        if weights.params.shape != model.params.shape:
            raise ValueError(f"the run sent {weights.params.size} parameters, the model has {model.params.size}")
        np.copyto(model.params, weights.params.astype(model.dtype, copy=False))
        named = [(layer, name) for layer in model.layers for name, _ in layer.buffers()]
        for (layer, name), value in zip(named, weights.buffers, strict=False):
            layer.set_buffer(name, np.array(value, dtype=model.dtype, copy=True))
        self.weights = weights

    def inputs(self, res: int) -> tuple[np.ndarray | None, list]:
        """The model's inputs on the picture's grid (``res`` x ``res`` over the plane, or 4 ``res`` along a line)."""
        if res not in self._inputs:
            if self.kind == "plane":
                from dl_lab.sessions.training.monitor import plane_inputs

                grid, bounds = plane_inputs(self.dataset, res)
            elif self.kind == "line":
                from dl_lab.sessions.training.monitor import line_inputs

                grid, bounds = line_inputs(self.dataset, res * 4)
            else:
                grid, bounds = None, []
            if len(self._inputs) > 8:
                self._inputs.clear()
            self._inputs[res] = (None if grid is None else np.asarray(grid, dtype=self.model.dtype), bounds)
        return self._inputs[res]

    def boundary(self, res: int, outputs: list | None = None):
        """The Boundary (as a snapshot carries it) of the loaded weights at ``res`` x ``res``; None without a
        picture. ``outputs``: each layer's output on that grid, if the caller computed them (``layer_outputs``)."""
        from dl_lab.sessions.training.monitor import describe_boundary

        grid, bounds = self.inputs(res)
        if grid is None:
            return None
        out = outputs[-1] if outputs else self.model.forward(grid, training=False)
        xs = grid[:, 0] if self.kind == "line" else None
        return describe_boundary(self.model.backend, out, self.loss, bounds, res, xs)

    def layer_outputs(self, x) -> list[np.ndarray]:
        """Every layer's output on ``x`` (the last one: the logits)."""
        self.model.forward(np.asarray(x, dtype=self.model.dtype), training=False, keep=True)
        outputs, self.model.outputs = self.model.outputs or [], None
        return list(outputs)


EDITS_FILE = "edits.jsonl"  # in the run folder: the weights and biases set by hand, one JSON object a line


def edit_parameter(trainer, run_dir, index: int, value: float, name: str = "") -> float:
    """Set the flat parameter ``index`` of a paused run's model to ``value`` (between two batches), recording the
    edit in the run folder's edits.jsonl (step, parameter, before, after); returns the value before."""
    import json
    from pathlib import Path

    params = trainer.model.params
    if not 0 <= index < params.size:
        raise ValueError(f"parameter index {index} is outside the model's {params.size} parameters")
    before = float(params[index])
    params[index] = value
    if run_dir is not None and Path(run_dir).is_dir():
        record = {"step": trainer.progress.step, "epoch": trainer.progress.epoch, "parameter": name}
        record.update(index=int(index), before=before, after=float(value))
        with open(Path(run_dir) / EDITS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    return before


def frame_weights(live: LiveModel, path, epoch: int, step: int) -> LiveWeights:
    """The recorded weights in checkpoint ``path`` as the run would have sent them (for a replay)."""
    with np.load(path, allow_pickle=False) as npz:
        live.model.load_state_dict({k: npz[k] for k in npz.files}, source=str(path))
    model = live.model
    weights = LiveWeights(
        epoch=epoch,
        step=step,
        params=np.array(model.params, copy=True),
        buffers=tuple(np.array(b, copy=True) for _, b in model.named_buffers()),
    )
    live.weights = weights  # loaded already
    return weights
