"""The events a training run emits: frozen records of plain numbers, consumed by the CLI, the recorder and the app.

Four kinds are written to metrics.jsonl (``step``, ``epoch``, ``snapshot``, ``end``); a failed or cancelled run
is recorded as an ``end`` event with its status. RunStarted describes the run and lives in summary.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


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
    input_shape: list
    output_dim: int
    class_names: list | None
    layers: list  # rows of the model summary: index, kind, output_shape, params, flops
    param_count: int
    backend: str
    dtype: str
    start_epoch: int = 0
    start_step: int = 0
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
    confusion: list | None = None  # rows: true class, columns: predicted class (validation split)
    precision: list | None = None
    recall: list | None = None
    samples: dict | None = None  # a few validation samples: indices, predicted, true
    event: str = field(default="epoch", init=False)


@dataclass(frozen=True)
class SnapshotTaken:
    """Inside the network at one moment: per-layer statistics and, for 2-D data, the decision map."""

    epoch: int
    step: int
    layers: list  # per layer: index, kind, activation stats, weight/grad stats, update ratio
    boundary: dict | None = None
    event: str = field(default="snapshot", init=False)


@dataclass(frozen=True)
class RunEnded:
    """The run finished: ``completed`` or ``stopped_early`` (early stopping)."""

    status: str
    epochs_done: int
    steps: int
    wall_time: float
    train_time: float
    train_samples_per_s: float
    final: dict
    message: str = ""
    event: str = field(default="end", init=False)


@dataclass(frozen=True)
class RunFailed:
    """The loss or the weights stopped being finite (or exploded): why, where, and what to try."""

    epoch: int
    step: int
    message: str
    cause: str
    advice: list
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


Event = RunStarted | StepEnded | EpochEnded | SnapshotTaken | RunEnded | RunFailed | RunCancelled
FINAL = (RunEnded, RunFailed, RunCancelled)  # the events a run ends with

EVENT_TYPES = {cls.__dataclass_fields__["event"].default: cls for cls in
               (RunStarted, StepEnded, EpochEnded, SnapshotTaken, RunEnded, RunFailed, RunCancelled)}  # fmt: skip


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


def from_record(record: dict):
    """The event a metrics.jsonl line stands for (unknown keys ignored, so old readers survive new fields)."""
    kind = record.get("event")
    if kind == "end" and record.get("status") in ("failed", "cancelled"):
        kind = record["status"]
    cls = EVENT_TYPES.get(kind)
    if cls is None or kind == "started":
        return None
    names = {f.name for f in fields(cls) if f.init}
    try:
        return cls(**{k: v for k, v in record.items() if k in names})
    except TypeError:
        return None
