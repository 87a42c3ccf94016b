"""The training loop as a generator of events: the headless runner, the recorder and the app all consume it."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import asdict, dataclass, field

import numpy as np

from dl_lab.core import TrainStep
from dl_lab.core.errors import ConfigError
from dl_lab.sessions.events import (
    EpochEnded,
    LayerRow,
    RunCancelled,
    RunEnded,
    RunFailed,
    RunStarted,
    SnapshotTaken,
    StepEnded,
)
from dl_lab.sessions.training.build import build
from dl_lab.sessions.training.diagnosis import explain
from dl_lab.sessions.training.health import HealthWatch, classes_of
from dl_lab.sessions.training.metrics import EpochTotals, evaluate
from dl_lab.sessions.training.monitor import Monitor

EXPLODED = 1e10  # a finite loss above this has diverged in any task a course sets


def _walk(layers, prefix=""):
    """(index, layer) for every layer, residual blocks' inner layers included ("3.1")."""
    for i, layer in enumerate(layers):
        key = f"{prefix}{i}"
        yield key, layer
        yield from _walk(layer.children(), f"{key}.")


def _one_value_per_channel(layer) -> bool:
    """A batchnorm that normalizes each feature over the batch alone (dense input, or 1x1 images)."""
    if layer.kind != "batchnorm":
        return False
    shape = tuple(layer.output_shape)
    return len(shape) == 1 or shape[1:] == (1, 1)


@dataclass
class Progress:
    """Where a run stands; saved on interruption so that a resumed run continues exactly."""

    epoch: int = 0  # completed epochs
    batch: int = 0  # batches done in the current epoch
    step: int = 0  # global steps done
    totals: dict = field(default_factory=dict)
    best: float | None = None
    bad_epochs: int = 0
    train_time: float = 0.0
    wall_time: float = 0.0
    manual_lr: float | None = None
    rng_state: dict | None = None


class Trainer:
    """Trains a session's model. ``run(should_stop)`` yields RunStarted, StepEnded, SnapshotTaken,
    EpochEnded and finally RunEnded, RunFailed or RunCancelled (``should_stop`` is polled between batches).
    """

    def __new__(cls, session, *args, **kwargs):
        """A boosted session (``boost:``) gets a BoostTrainer (training/boost.py): its rounds through this loop's
        controls and events, wherever a front end makes its trainer with ``Trainer(session)``."""
        if cls is Trainer and session.config.boost is not None:
            from dl_lab.sessions.training.boost import BoostTrainer

            return super().__new__(BoostTrainer)
        return super().__new__(cls)

    def __init__(self, session, *, dataset=None, backend=None, progress=None):
        self.session, self.config = session, session.config
        built = build(session, dataset=dataset, backend=backend, progress=progress)
        self.dataset, self.model, self.loss = built.dataset, built.model, built.loss
        self.optimizer, self.schedule = built.optimizer, built.schedule
        tr, reg = self.config.training, self.config.regularization
        self.step_fn = TrainStep(
            self.model, self.loss, self.optimizer, l1=reg.l1, l2=reg.l2, clip_norm=tr.clip_norm, keep_on_nan=True
        )
        self.epochs, self.batch_size, self.drop_last = tr.epochs, tr.batch_size, tr.drop_last
        self.steps_per_epoch = self.dataset.num_batches("train", self.batch_size, drop_last=self.drop_last)
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"training.drop_last: the training split has {len(self.dataset.y_train)} samples, fewer than "
                f"batch_size {self.batch_size}, so every batch would be dropped; lower batch_size or set "
                "training.drop_last: false"
            )
        self.warnings = self._warnings()
        mon = self.config.monitor
        self.every = mon.every_steps
        self.monitor = Monitor(self.model, self.loss, self.dataset, mon) if self.every else None
        ds = self.dataset
        self.health = HealthWatch(self.config, classes_of(ds.task, ds.output_dim, ds.class_names))
        self.progress = Progress()
        self.recent: deque[float] = deque(maxlen=50)
        self.last_epoch: dict | None = None
        self._before = None
        self.y_val = self.model.backend.asarray(self.dataset.y_val)

    def _warnings(self) -> list[str]:
        """What RunStarted reports before training: setups that train without an error but not as meant, and a
        model close to the machine's memory."""
        out: list[str] = list(self.model.memory.warnings) if self.model.memory is not None else []
        n, b = len(self.dataset.y_train), self.batch_size
        single = b == 1 or (n % b == 1 and not self.drop_last)
        norms = [key for key, layer in _walk(self.model.layers) if _one_value_per_channel(layer)]
        if single and norms:
            where = ", ".join(f"model[{key}]" for key in norms)
            if b == 1:
                out.append(
                    f"batchnorm ({where}) with batch_size 1: every training batch holds one sample per feature, "
                    "so batchnorm outputs its bias, passes no gradient below and drops its running variance; "
                    "use a batch_size of 2 or more"
                )
            else:
                out.append(
                    f"batchnorm ({where}): the training split has {n} samples and batch_size is {b}, so the last "
                    "batch of every epoch holds one sample, on which batchnorm outputs its bias and passes no "
                    "gradient below; set training.drop_last: true (or change batch_size)"
                )
        return out

    # --- controls (safe to call from another thread between batches) ---------------------------
    @property
    def lr(self) -> float:
        return self.optimizer.lr

    def set_lr(self, lr: float) -> None:
        """Change the learning rate now; the schedule no longer applies for the rest of the run."""
        self.progress.manual_lr = float(lr)
        self.optimizer.lr = float(lr)

    def _lr_for(self, epoch: int) -> float:
        manual = self.progress.manual_lr
        return manual if manual is not None else self.schedule.lr_at(epoch)

    # --- the loop ------------------------------------------------------------------------------
    def started(self) -> RunStarted:
        ds, m = self.dataset, self.model
        rows = [
            LayerRow(
                index=r["index"],
                kind=r["kind"],
                output_shape=list(r["output_shape"]),
                params=r["params"],
                flops=r["flops"],
            )
            for r in m.summary()
        ]
        return RunStarted(
            name=self.config.name,
            task=ds.task,
            epochs=self.epochs,
            steps_per_epoch=self.steps_per_epoch,
            train_size=len(ds.y_train),
            val_size=len(ds.y_val),
            batch_size=self.batch_size,
            input_shape=list(ds.input_shape),
            output_dim=ds.output_dim,
            class_names=ds.class_names,
            layers=rows,
            param_count=m.param_count,
            backend=m.backend.name,
            dtype=str(m.dtype),
            start_epoch=self.progress.epoch,
            start_step=self.progress.step,
            warnings=list(self.warnings),
        )

    def run(self, should_stop=None):
        should_stop = should_stop or (lambda: False)
        p = self.progress
        t0 = time.perf_counter() - p.wall_time
        yield self.started()
        while p.epoch < self.epochs:
            epoch = p.epoch + 1
            self.optimizer.lr = self._lr_for(p.epoch)
            totals = EpochTotals.from_dict(p.totals)
            ended = yield from self._train_steps(epoch, self._batches(p.epoch, p.batch), totals, t0, should_stop)
            if ended:
                return
            p.epoch, p.batch, p.totals = epoch, 0, {}
            event = self._end_epoch(epoch, totals, time.perf_counter() - t0)
            if not math.isfinite(event.val_loss):
                yield self._failure(event.val_loss, epoch, time.perf_counter() - t0, validation=True)
                return
            self.last_epoch = {k: v for k, v in asdict(event).items() if k not in ("event", "samples")}
            yield event
            yield from self.health.epoch(event)
            if self._should_stop_early(event):
                yield self._ended("stopped_early", t0, f"no improvement in {p.bad_epochs} epochs")
                return
        yield self._ended("completed", t0)

    def _train_steps(self, epoch: int, batches, totals, t0: float, should_stop):
        """Train on ``batches`` ((x, y) of ``epoch``), yielding each StepEnded and each snapshot (with what the
        health watch finds in it); True when the run ended here (RunCancelled or RunFailed yielded last)."""
        p = self.progress
        for x, y in batches:
            if should_stop():
                p.wall_time, p.totals = time.perf_counter() - t0, totals.to_dict()
                yield RunCancelled(epoch=epoch, step=p.step, batch=p.batch, wall_time=p.wall_time)
                return True
            value = self._train_batch(x, y, totals)
            p.step += 1
            p.batch += 1
            if not math.isfinite(value) or abs(value) > EXPLODED:
                yield self._failure(value, epoch, time.perf_counter() - t0)
                return True
            now = time.perf_counter() - t0
            yield StepEnded(epoch=epoch, step=p.step, batch=p.batch, loss=value, lr=self.optimizer.lr, time=now)
            if self.monitor and p.step % self.every == 0:
                snapshot = self.monitor.snapshot(epoch, p.step, self._before)
                yield snapshot
                yield from self._watch_snapshot(snapshot)
        return False

    def _watch_snapshot(self, snapshot):
        """The problems a snapshot shows (diagnosis events)."""
        return self.health.snapshot(snapshot)

    def _batches(self, epoch_index: int, skip: int):
        shuffle = self.config.training.shuffle
        rng = np.random.default_rng([self.config.seed, epoch_index]) if shuffle else None
        batches = self.dataset.batches("train", self.batch_size, shuffle=shuffle, rng=rng, drop_last=self.drop_last)
        for k, batch in enumerate(batches):
            if k >= skip:
                yield batch

    def _train_batch(self, x, y, totals) -> float:
        be = self.model.backend
        due = self.monitor is not None and (self.progress.step + 1) % self.every == 0
        self._before = be.to_host(self.model.params).copy() if due else None
        start = time.perf_counter()
        yb = be.asarray(y)
        value = float(self.step_fn(be.asarray(x), yb))
        self.progress.train_time += time.perf_counter() - start
        totals.add(self.loss, self.step_fn.out, yb, value, len(y))
        self.recent.append(value)
        return value

    def _end_epoch(self, epoch: int, totals, elapsed: float) -> EpochEnded:
        p = self.progress
        out = self.step_fn.predict(self.dataset.x_val)
        val = evaluate(self.loss, out, self.y_val, self.model.backend, self.dataset)
        train = totals.result(self.loss, self.dataset)
        sps = self._samples_done() / p.train_time if p.train_time > 0 else 0.0
        return EpochEnded(
            epoch=epoch,
            step=p.step,
            lr=self.optimizer.lr,
            time=elapsed,
            train_samples_per_s=sps,
            **{f"train_{k}": v for k, v in train.items()},
            **val,
        )

    def _samples_done(self) -> int:
        p, n = self.progress, len(self.dataset.y_train)
        return p.epoch * n + min(p.batch * self.batch_size, n)

    def _should_stop_early(self, event: EpochEnded) -> bool:
        es = self.config.training.early_stopping
        if es is None:
            return False
        value = getattr(event, es.metric, None)
        if value is None:
            return False
        sign = -1.0 if es.larger_is_better else 1.0
        p = self.progress
        if p.best is None or sign * (value - p.best) < -es.min_delta:
            p.best, p.bad_epochs = value, 0
        else:
            p.bad_epochs += 1
        return p.bad_epochs >= es.patience

    def _ended(self, status: str, t0: float, message: str = "") -> RunEnded:
        p = self.progress
        p.wall_time = time.perf_counter() - t0
        sps = self._samples_done() / p.train_time if p.train_time > 0 else 0.0
        return RunEnded(
            status=status,
            epochs_done=p.epoch,
            steps=p.step,
            wall_time=p.wall_time,
            train_time=p.train_time,
            train_samples_per_s=sps,
            final=dict(self.last_epoch or {}),
            message=message,
        )

    def _failure(self, value: float, epoch: int, elapsed: float, validation: bool = False) -> RunFailed:
        p = self.progress
        message, cause, advice = explain(
            self.config,
            self.model,
            list(self.recent),
            value,
            epoch,
            p.step,
            p.batch,
            self.steps_per_epoch,
            validation=validation,
        )
        return RunFailed(epoch=epoch, step=p.step, message=message, cause=cause, advice=advice, wall_time=elapsed)


__all__ = [
    "EpochEnded",
    "Progress",
    "RunCancelled",
    "RunEnded",
    "RunFailed",
    "RunStarted",
    "SnapshotTaken",
    "StepEnded",
    "Trainer",
]
