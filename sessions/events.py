"""The events a training run emits: frozen records of plain numbers, consumed by the CLI, the recorder and the app.

Four kinds are written to metrics.jsonl (``step``, ``epoch``, ``snapshot``, ``end``), ``diagnosis`` when the run's
health watch spots a problem, and ``boost`` for a boosted session's rounds; a failed or cancelled run is recorded
as an ``end`` event with its status. RunStarted describes the run and lives in summary.json. A long run's record
keeps fewer ``step`` and ``snapshot`` lines as it goes on (runs/thinning.py); a step line that stands for more than
its own step (those since the line before) carries ``span``, how many, and ``mean_loss``, their mean batch loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypedDict, TypeVar


# --- the records inside events: JSON-ready dicts, typed for readers (metrics.jsonl holds them as they are) ----
class LayerRow(TypedDict):
    """One row of the model summary (RunStarted.layers)."""

    index: str  # "3", or "3.1" inside a residual block
    kind: str
    output_shape: list[int]
    params: int
    flops: int


class Histogram(TypedDict):
    counts: list[int]
    lo: float
    hi: float


class TensorStats(TypedDict):
    """A tensor's statistics at a snapshot (non-finite values left out of every figure)."""

    norm: float
    mean: float
    std: float
    histogram: Histogram


class ActivationStats(TypedDict, total=False):
    """A layer's output on a few validation samples: TensorStats less the norm, and what its function does."""

    mean: float
    std: float
    histogram: Histogram
    function: str  # the activation function's name (identity for layers without one)
    dead_fraction: float  # ReLU-like functions: units zero on every sample
    saturated_fraction: float  # tanh and sigmoid: outputs within 1% of their bounds


class _LayerSnapshotRequired(TypedDict):
    index: int
    kind: str
    activation: ActivationStats


class LayerSnapshot(_LayerSnapshotRequired, total=False):
    """One layer at a snapshot: its activations, and for layers with a weight, weight and gradient statistics."""

    weight: TensorStats
    grad: TensorStats
    update_ratio: float  # |step| / |W| of the last update


class Boundary(TypedDict, total=False):
    """The model's output over the input plane (2-D data) or along the input (1-D regression)."""

    kind: str  # probability | classes | value (a grid of resolution x resolution) | curve (1-D)
    bounds: list[list[float]]  # [[x0, x1], [y0, y1]] (one pair for a curve)
    resolution: int
    values: list[float]
    classes: list[int]  # kind "classes": the most likely class at each grid point
    x: list[float]  # kind "curve": where the values are


class SampleRecord(TypedDict):
    """A few validation samples with their predicted and true labels (EpochEnded.samples)."""

    indices: list[int]
    predicted: list[Any]
    true: list[Any]


@dataclass(frozen=True)
class RunStarted:
    """Training is about to begin (or resume): what will run."""

    name: str
    task: str
    epochs: int
    steps_per_epoch: int
    train_size: int
    val_size: int
    batch_size: int
    input_shape: list[int]
    output_dim: int
    class_names: list[str] | None
    layers: list[LayerRow]
    param_count: int
    backend: str
    dtype: str
    start_epoch: int = 0
    start_step: int = 0
    warnings: list[str] = field(default_factory=list)  # setups that train, but not as meant (shown before the run)
    event: str = field(default="started", init=False)


@dataclass(frozen=True)
class StepEnded:
    """One training batch done."""

    epoch: int  # 1-based epoch being trained
    step: int  # global, 1-based
    batch: int  # 1-based within the epoch
    loss: float
    lr: float
    time: float  # seconds since the run started (wall clock)
    event: str = field(default="step", init=False)


@dataclass(frozen=True)
class EpochEnded:
    """An epoch done, evaluated on the training running averages and on the validation split."""

    epoch: int
    step: int
    lr: float
    train_loss: float
    val_loss: float
    time: float
    train_samples_per_s: float
    train_acc: float | None = None
    val_acc: float | None = None
    train_mae: float | None = None
    val_mae: float | None = None
    train_r2: float | None = None
    val_r2: float | None = None
    confusion: list[list[int]] | None = None  # rows: true class, columns: predicted class (validation split)
    precision: list[float | None] | None = None
    recall: list[float | None] | None = None
    samples: SampleRecord | None = None
    event: str = field(default="epoch", init=False)


@dataclass(frozen=True)
class SnapshotTaken:
    """Inside the network at one moment: per-layer statistics and, for 2-D data, the decision map."""

    epoch: int
    step: int
    layers: list[LayerSnapshot]
    boundary: Boundary | None = None
    event: str = field(default="snapshot", init=False)


@dataclass(frozen=True)
class BoostRound:
    """An AdaBoost round done (sessions/training/boost.py): the weak learner h_t (a perceptron, sign(w.x + b)), its
    weighted error and vote, the combined H_t = sign(sum_s alpha_s h_s) so far, and the sample weights w_{t+1} that
    the next round trains on. Recorded just before the round's EpochEnded (a boosted run's epochs are its rounds)."""

    round: int
    step: int
    time: float  # seconds since the run started
    epsilon: float  # sum_i w_t(i) [h_t(x_i) != y_i] over the training split (kept inside [EPS, 1 - EPS])
    alpha: float  # 1/2 ln((1 - epsilon) / epsilon)
    learner_acc: float  # h_t alone on the training split, every point counted once
    train_acc: float  # H_t on the training split
    val_acc: float | None
    exp_loss: float  # mean exp(-y_i F_t(x_i)) over the training split, F_t = sum_s alpha_s h_s: what AdaBoost lowers
    weight: list[float]  # h_t's weights, one per model input (feature)
    bias: float
    sample_weights: list[float] | None  # w_{t+1}, one per training point (None for large training splits)
    weight_max: float  # the largest w_{t+1}(i)
    effective_size: float  # 1 / sum_i w_{t+1}(i)^2: n when the weights are uniform, 1 when one point has them all
    event: str = field(default="boost", init=False)


@dataclass(frozen=True)
class Diagnosis:
    """A training problem spotted while the run goes on (sessions/training/health.py), once per kind and run: the
    kind (health.KINDS), what was seen in words, the numbers that show it, and what to try."""

    kind: str  # dead_units | saturation | vanishing_gradients | exploding_gradients | plateau | overfitting | ...
    epoch: int  # the epoch being trained (at a snapshot) or just ended
    step: int
    message: str
    evidence: dict[str, Any]
    advice: str
    event: str = field(default="diagnosis", init=False)


@dataclass(frozen=True)
class RunEnded:
    """The run finished: ``completed`` or ``stopped_early`` (early stopping)."""

    status: str
    epochs_done: int
    steps: int
    wall_time: float
    train_time: float
    train_samples_per_s: float
    final: dict[str, Any]  # the last epoch's metrics
    message: str = ""
    event: str = field(default="end", init=False)


@dataclass(frozen=True)
class RunFailed:
    """The loss or the weights stopped being finite (or exploded): why, where, and what to try."""

    epoch: int
    step: int
    message: str
    cause: str
    advice: list[str]
    wall_time: float
    event: str = field(default="failed", init=False)


@dataclass(frozen=True)
class RunCancelled:
    """Stopped on request (Ctrl-C, the app's stop key) between two batches; resumable."""

    epoch: int
    step: int
    batch: int
    wall_time: float
    event: str = field(default="cancelled", init=False)


Event = (
    RunStarted | StepEnded | EpochEnded | SnapshotTaken | BoostRound | Diagnosis | RunEnded | RunFailed | RunCancelled
)
FINAL = (RunEnded, RunFailed, RunCancelled)  # the events a run ends with

EVENT_TYPES = {
    cls.__dataclass_fields__["event"].default: cls
    for cls in (
        RunStarted,
        StepEnded,
        EpochEnded,
        SnapshotTaken,
        BoostRound,
        Diagnosis,
        RunEnded,
        RunFailed,
        RunCancelled,
    )
}


def to_record(event) -> dict:
    """The metrics.jsonl line for an event: ``event`` first; failed and cancelled runs become ``end`` lines."""
    # Shallow: events hold plain lists and dicts already, and asdict's deep copy of a snapshot costs more than
    # taking the snapshot.
    data = {f.name: getattr(event, f.name) for f in fields(event)}
    kind = data.pop("event")
    if kind == "failed":
        return {"event": "end", "status": "failed", **data}
    if kind == "cancelled":
        return {"event": "end", "status": "cancelled", **data}
    return {"event": kind, **data}


def from_record(record: dict) -> Event | None:
    """The event a metrics.jsonl line stands for (None for a line that is none)."""
    kind = record.get("event")
    if kind == "end" and record.get("status") in ("failed", "cancelled"):
        kind = record["status"]
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None or cls is RunStarted:
        return None
    return decode(cls, record)


E = TypeVar("E", bound=Event)


def decode(cls: type[E], data: dict | None) -> E | None:
    """An event of type ``cls`` from its recorded fields (metrics.jsonl, or summary.json's ``started``), or None
    when they do not make one. Unknown keys are ignored, so that old readers survive new fields."""
    if not data:
        return None
    names = {f.name for f in fields(cls) if f.init}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError:
        return None
