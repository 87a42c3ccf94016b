"""What the panes show about one run, built by applying its events in order: the same for live and replay."""

from __future__ import annotations

from bisect import bisect_left

from dl_lab.sessions.events import (
    BoostRound,
    Diagnosis,
    EpochEnded,
    LayerRow,
    LayerSnapshot,
    RunCancelled,
    RunEnded,
    RunFailed,
    RunStarted,
    SnapshotTaken,
    StepEnded,
)
from dl_lab.sessions.training.diagnosis import failed_loss
from dl_lab.sessions.training.live import LiveWeights

MAX_STEP_POINTS = 400  # the batch-loss series is thinned to this many points before drawing


def spread(points: list[tuple[int, float]], n: int) -> list[tuple[int, float]]:
    """At most about ``n`` of ``points`` (in step order), evenly spread over their steps, the last one included.

    Spread by step rather than by position: a recorded run keeps its early steps densely and later ones ever more
    sparsely (runs/thinning.py), so every k-th point would crowd the curve's start and starve its end."""
    if len(points) <= n:
        return points
    first, last = points[0][0], points[-1][0]
    picks = {bisect_left(points, first + (last - first) * k / n, key=_first) for k in range(n)}
    return [points[i] for i in sorted(picks)] + ([points[-1]] if len(points) - 1 not in picks else [])


def _first(point: tuple[int, float]) -> int:
    return point[0]


def quality_name(task: str) -> str:
    """What the quality curve measures: accuracy for classification, R² for regression."""
    return "R²" if task == "regression" else "accuracy"


def layer_label(row: LayerRow | LayerSnapshot) -> str:
    return f"{row['index']} {row['kind']}"


class RunState:
    """A run so far: curves, the latest snapshot, weight/gradient norm histories and how it ended.

    Applying an event is cheap (appends), so a replay can rebuild any moment from the start in milliseconds.
    """

    def __init__(self, started: RunStarted | None = None) -> None:
        self.started = started
        self.steps: list[tuple[int, float]] = []  # (global step, batch loss)
        self.epochs: list[EpochEnded] = []
        self.snapshot: SnapshotTaken | None = None
        self.snapshots = 0
        self.weight_norms: dict[str, list[tuple[int, float]]] = {}
        self.grad_norms: dict[str, list[tuple[int, float]]] = {}
        self.last_step: StepEnded | None = None
        self.end: RunEnded | RunFailed | RunCancelled | None = None
        self.crash: str | None = None  # the training thread raised: the exception, in words
        self.resumes = 0  # how many times a recorded run went on after being stopped
        self.live: LiveWeights | None = None  # the latest weights the run sent (small models, in the app)
        self.live_before: LiveWeights | None = None  # the ones before (a weight's update is the difference)
        self.lives = 0  # how many it sent (the panes drawn from them redraw when it changes)
        self.boost_rounds: list[BoostRound] = []  # a boosted session's rounds (AdaBoost), in order
        self.diagnoses: list[Diagnosis] = []  # the problems the run's health watch found, in order (one per kind)

    # --- building --------------------------------------------------------------------------------
    def apply(self, event) -> None:
        if isinstance(self.end, RunCancelled) and isinstance(event, (StepEnded, EpochEnded, SnapshotTaken, BoostRound)):
            self.end, self.resumes = None, self.resumes + 1  # the run was stopped, then resumed (--resume)
        if isinstance(event, RunStarted):
            self.started = event
        elif isinstance(event, StepEnded):
            self.steps.append((event.step, event.loss))
            self.last_step = event
        elif isinstance(event, EpochEnded):
            self.epochs.append(event)
        elif isinstance(event, SnapshotTaken):
            self._apply_snapshot(event)
        elif isinstance(event, BoostRound):
            self.boost_rounds.append(event)
        elif isinstance(event, Diagnosis):  # a resumed run watches afresh: a kind found again replaces the first
            self.diagnoses = [d for d in self.diagnoses if d.kind != event.kind] + [event]
        elif isinstance(event, (RunEnded, RunFailed, RunCancelled)):
            self.end = event
        elif isinstance(event, LiveWeights):
            self.live_before, self.live = self.live, event
            self.lives += 1

    def _apply_snapshot(self, event: SnapshotTaken) -> None:
        self.snapshot = event
        self.snapshots += 1
        for row in event.layers:
            for stats, series in ((row.get("weight"), self.weight_norms), (row.get("grad"), self.grad_norms)):
                if stats and stats.get("norm") is not None:
                    series.setdefault(layer_label(row), []).append((event.step, float(stats["norm"])))

    # --- reading ---------------------------------------------------------------------------------
    @property
    def task(self) -> str:
        return self.started.task if self.started else "classification"

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.started.steps_per_epoch) if self.started else 1

    @property
    def total_steps(self) -> int:
        return self.started.epochs * self.steps_per_epoch if self.started else 0

    @property
    def step(self) -> int:
        values = [self.last_step.step if self.last_step else 0]
        if self.epochs:
            values.append(self.epochs[-1].step)
        if self.snapshot:
            values.append(self.snapshot.step)
        return max(values)

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return self.epochs[-1].epoch if self.epochs else (self.started.start_epoch if self.started else 0)

    @property
    def lr(self) -> float | None:
        if self.last_step:
            return self.last_step.lr
        return self.epochs[-1].lr if self.epochs else None

    @property
    def failure(self) -> RunFailed | None:
        return self.end if isinstance(self.end, RunFailed) else None

    def divergence_note(self) -> str | None:
        """What the loss chart cannot draw: "diverged at step 11: loss NaN" (None unless the run diverged)."""
        failed = self.failure
        if failed is None:
            return None
        loss = failed_loss(failed.message)
        where = f"at the end of epoch {failed.epoch}" if "validation loss" in failed.message else ""
        what = "val loss" if where else "loss"
        text = f"diverged {where or f'at step {failed.step}'}"
        return f"{text}: {what} {loss}" if loss else text

    @property
    def last_epoch(self) -> EpochEnded | None:
        return self.epochs[-1] if self.epochs else None

    def loss_series(self) -> dict[str, list[tuple[float, float]]]:
        """Batch loss (thinned) at fractional epochs, and per-epoch train/val loss at whole epochs."""
        spe = self.steps_per_epoch
        batch = [(s / spe, v) for s, v in spread(self.steps, MAX_STEP_POINTS)]
        series = {"batch": batch} if batch else {}
        series["train"] = [(e.epoch, e.train_loss) for e in self.epochs]
        series["val"] = [(e.epoch, e.val_loss) for e in self.epochs]
        return series

    def quality_series(self) -> tuple[str, dict[str, list[tuple[int, float]]]]:
        """Accuracy for classification, R^2 for regression: (name, series)."""
        name = quality_name(self.task)
        train, val = ("train_r2", "val_r2") if self.task == "regression" else ("train_acc", "val_acc")
        series = {
            "train": [(e.epoch, getattr(e, train)) for e in self.epochs if getattr(e, train) is not None],
            "val": [(e.epoch, getattr(e, val)) for e in self.epochs if getattr(e, val) is not None],
        }
        return name, series

    def eta_seconds(self) -> float | None:
        """Remaining wall time at the pace so far (training, evaluation and monitoring included)."""
        last = self.last_step
        if last is None or not self.started or last.time <= 0:
            return None
        done = last.step - self.started.start_step
        if done <= 0:
            return None
        return max(0.0, (self.total_steps - last.step) * last.time / done)

    def samples_per_s(self) -> float | None:
        if self.epochs:
            return self.epochs[-1].train_samples_per_s
        last = self.last_step
        if last is None or not self.started or last.time <= 0:
            return None
        return (last.step - self.started.start_step) * self.started.batch_size / last.time
