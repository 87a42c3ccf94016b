"""AdaBoost of perceptrons, as seed 002 states it: a boosted session (``boost: {rounds: T}`` beside a one-unit model)
trains T perceptrons one after the other, each on the training sample weighted by w_t, and combines their votes.

    w_1(i) = 1/n                                                   (n training points, labels y_i in {-1, +1})
    for t = 1 .. T:
        h_t     = the session's perceptron, trained on the sample weighted by w_t
        eps_t   = sum_i w_t(i) [h_t(x_i) != y_i]                   (over the training split)
        alpha_t = 1/2 ln((1 - eps_t) / eps_t)
        w_{t+1}(i) = w_t(i) exp(-alpha_t y_i h_t(x_i)) / Z_{t+1}   (Z_{t+1}: the weights sum to 1)
    H_T(x) = sign(F_T(x)),  F_T = sum_t alpha_t h_t

A perceptron votes h(x) = +1 where its score w.x + b is above 0, else -1 (the class the session's binary loss
predicts). eps_t is kept inside [EPS, 1 - EPS], so that a perfect (or perfectly wrong) learner gets a large but
finite vote; a learner worse than chance under w_t (eps_t > 1/2) gets a negative vote: its opposite is better.

The weighted sample, by resampling ("boosting by resampling"): round t trains on n points drawn with replacement
with probabilities w_t, so that the session's loss, optimizer and batches train each perceptron unchanged (the
perceptron criterion has no per-sample weights). Round 1's weights are uniform and it trains on the training split
itself, exactly as a plain run of the session would: ``rounds: 1`` is the perceptron alone. Every round starts a
fresh perceptron (round 1 as the session builds it, round t from the initializer seeded ``seed + t - 1``) and a fresh
optimizer state, and trains it ``training.epochs`` epochs. eps_t is measured on the training points themselves.

A boosted run's epochs are its rounds: RunStarted.epochs is T and an epoch's steps are a round's. Each round ends
with a BoostRound event (eps_t, alpha_t, the perceptron's weights, w_{t+1}) then an EpochEnded of the combined
classifier H_t, whose losses are the session's loss of the vote F_t taken as the score. checkpoints/initial.npz and
final.npz hold the first perceptron's start and the last perceptron (the run directory's contract);
checkpoints/boost.npz the whole ensemble: ``alpha`` (T,), ``weight`` (T, inputs), ``bias`` (T,) (plain arrays).
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from dl_lab.core.errors import ConfigError
from dl_lab.sessions.events import BoostRound, EpochEnded
from dl_lab.sessions.runs.directory import DamagedRun, read_regular_file
from dl_lab.sessions.training.metrics import EpochTotals, evaluate
from dl_lab.sessions.training.trainer import Trainer

EPS = 1e-10  # eps_t is kept inside [EPS, 1 - EPS]: alpha_t stays finite (at most about 11.5)
SAMPLE_WEIGHTS_MAX = 5000  # BoostRound lists every point's weight for training splits up to this size
ENSEMBLE_FILE = "boost.npz"  # in checkpoints/: every round's alpha, weight and bias


def votes(x: np.ndarray, weight: np.ndarray, bias: float) -> np.ndarray:
    """A perceptron's votes h(x) in {-1, +1}: +1 where w.x + b > 0."""
    score = np.asarray(x, dtype=np.float64).reshape(len(x), -1) @ np.asarray(weight, dtype=np.float64) + bias
    return np.where(score > 0, 1.0, -1.0)


def adaboost_step(w: np.ndarray, y: np.ndarray, h: np.ndarray) -> tuple[float, float, np.ndarray]:
    """One round's update: (eps_t, alpha_t, w_{t+1}) from the weights ``w`` = w_t, the labels ``y`` and the votes
    ``h`` = h_t(x) (both in {-1, +1})."""
    eps = min(max(float(w[h != y].sum()), EPS), 1.0 - EPS)
    alpha = 0.5 * math.log((1.0 - eps) / eps)
    w_next = w * np.exp(-alpha * y * h)
    return eps, alpha, w_next / w_next.sum()


def ensemble_votes(x: np.ndarray, alphas, weights, biases) -> np.ndarray:
    """F(x) = sum_t alpha_t h_t(x), the combined vote (H = sign F: class 1 where F > 0)."""
    out = np.zeros(len(x))
    for alpha, weight, bias in zip(alphas, weights, biases, strict=True):
        out += alpha * votes(x, weight, bias)
    return out


class BoostTrainer(Trainer):
    """A Trainer for a boosted session (``Trainer(session)`` makes one when the session has ``boost``): the same
    controls and events, its epochs the AdaBoost rounds, plus a BoostRound event per round. (The plain trainer's
    health watch is left out: a weak learner near chance is what boosting expects, not a problem to report.)"""

    def __init__(self, session, **kwargs):
        super().__init__(session, **kwargs)
        ds, boost = self.dataset, self.config.boost
        assert boost is not None
        if ds.task != "classification" or ds.num_classes != 2:
            raise session.located(
                ConfigError(f"boost: AdaBoost here combines binary classifiers, but {ds.name} has {ds.num_classes}")
            )
        params = [(key, p) for key, p in self.model.named_parameters()]
        self.weight_key = next(key for key, p in params if key.endswith(".weight"))
        self.bias_key = next((key for key, p in params if key.endswith(".bias")), None)
        self.rounds, self.learner_epochs = boost.rounds, self.config.training.epochs
        self.batches_per_epoch = self.steps_per_epoch
        self.epochs, self.steps_per_epoch = self.rounds, self.learner_epochs * self.batches_per_epoch
        self.x_train = np.asarray(ds.x_train, dtype=np.float64).reshape(len(ds.y_train), -1)
        self.x_val = np.asarray(ds.x_val, dtype=np.float64).reshape(len(ds.y_val), -1)
        self.y = np.where(np.asarray(ds.y_train).reshape(-1) > 0, 1.0, -1.0)
        self.n = len(self.y)
        self.first = self.model.backend.to_host(self.model.params).copy()  # round 1 starts as the session builds it
        self._forget()

    def _forget(self) -> None:
        """No round done: uniform weights, no learner."""
        self.alphas: list[float] = []
        self.learners: list[tuple[np.ndarray, float]] = []
        self.sample_weights = np.full(self.n, 1.0 / self.n)
        self.f_train = np.zeros(self.n)
        self.f_val = np.zeros(len(self.x_val))

    # --- the ensemble ----------------------------------------------------------------------------
    def learner(self) -> tuple[np.ndarray, float]:
        """The perceptron being trained: its weights (one per input) and bias."""
        state = self.model.state_dict()
        weight = np.asarray(state[self.weight_key], dtype=np.float64).reshape(-1)
        bias = float(np.asarray(state[self.bias_key]).reshape(-1)[0]) if self.bias_key else 0.0
        return weight, bias

    def ensemble(self) -> dict[str, np.ndarray]:
        """The rounds done, as checkpoints/boost.npz holds them."""
        width = self.x_train.shape[1]
        return {
            "alpha": np.asarray(self.alphas, dtype=np.float64),
            "weight": np.asarray([w for w, _ in self.learners], dtype=np.float64).reshape(len(self.learners), width),
            "bias": np.asarray([b for _, b in self.learners], dtype=np.float64),
        }

    def checkpoint_extras(self) -> dict[str, dict[str, np.ndarray]]:
        """Files beside the model's checkpoints that the recorder keeps up to date (at each round and at the end)."""
        return {ENSEMBLE_FILE: self.ensemble()}

    def _add_round(self, weight: np.ndarray, bias: float, recorded: float | None = None) -> tuple[float, np.ndarray]:
        """Weigh the perceptron (``weight``, ``bias``) on the current sample weights and add it to the ensemble;
        ``recorded``: the vote a stopped run gave it (restore_extras). Returns (eps_t, its votes on the points)."""
        h = votes(self.x_train, weight, bias)
        eps, alpha_t, self.sample_weights = adaboost_step(self.sample_weights, self.y, h)
        if recorded is not None:
            alpha_t = recorded
        self.alphas.append(alpha_t)
        self.learners.append((weight, bias))
        self.f_train += alpha_t * h
        self.f_val += alpha_t * votes(self.x_val, weight, bias)
        return eps, h

    def restore_extras(self, run_dir) -> None:
        """After load_resume: the rounds the stopped run had finished, from its checkpoints/boost.npz."""
        path = Path(run_dir) / "checkpoints" / ENSEMBLE_FILE
        done = self.progress.epoch
        self._forget()
        if done == 0:
            return
        data = read_regular_file(path)
        if data is None:
            raise DamagedRun(path, f"missing (the {done} AdaBoost rounds the run finished)")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                alpha, weight, bias = (np.asarray(npz[k], dtype=np.float64) for k in ("alpha", "weight", "bias"))
        except Exception as exc:
            raise DamagedRun(path, f"not a readable ensemble ({exc})") from None
        if len(alpha) < done or weight.shape[1:] != (self.x_train.shape[1],) or len(weight) < done:
            raise DamagedRun(path, f"holds {len(alpha)} rounds of shape {weight.shape}, the run finished {done}")
        for t in range(done):
            self._add_round(weight[t], float(bias[t]), float(alpha[t]))

    # --- the loop --------------------------------------------------------------------------------
    def _new_learner(self, t: int) -> None:
        """A fresh perceptron and optimizer state for round ``t``."""
        model, opt = self.model, self.optimizer
        if t == 1:
            model.params[...] = model.backend.asarray(self.first)
        else:
            model.reset_parameters(self.config.seed + t - 1)
        opt.t = 0
        for buf in opt.state.values():
            buf[...] = 0

    def _sample(self, t: int) -> np.ndarray:
        """Round ``t``'s training sample: the split itself (uniform w_1), else n indices drawn with probabilities
        w_t (deterministic: seeded by the session's seed and the round)."""
        if t == 1:
            return np.arange(self.n)
        rng = np.random.default_rng([self.config.seed, 7919, t])
        return rng.choice(self.n, size=self.n, replace=True, p=self.sample_weights)

    def _round_batches(self, t: int, skip: int):
        """(epoch within the round, x, y) for every batch of round ``t`` after the first ``skip``."""
        tr, ds = self.config.training, self.dataset
        sample, n, size = self._sample(t), self.n, self.batch_size
        end = n - n % size if self.drop_last else n
        x, y = ds.x_train, ds.y_train
        for e in range(self.learner_epochs):
            if (e + 1) * self.batches_per_epoch <= skip:
                continue
            # round 1 shuffles as a plain run does (Trainer._batches), so that rounds: 1 is the perceptron alone
            key = [self.config.seed, e] if t == 1 else [self.config.seed, e, t]
            order = sample[np.random.default_rng(key).permutation(n)] if tr.shuffle else sample
            for k, start in enumerate(range(0, end, size)):
                if e * self.batches_per_epoch + k >= skip:
                    rows = order[start : start + size]
                    yield e, x[rows], y[rows]

    def run(self, should_stop=None):
        should_stop = should_stop or (lambda: False)
        p = self.progress
        t0 = time.perf_counter() - p.wall_time
        yield self.started()
        while p.epoch < self.epochs:
            t = p.epoch + 1
            if p.batch == 0:
                self._new_learner(t)
            totals = EpochTotals.from_dict(p.totals)
            if (yield from self._train_steps(t, self._learner_batches(t, p.batch), totals, t0, should_stop)):
                return
            p.epoch, p.batch, p.totals = t, 0, {}
            boosted, event = self._end_round(t, time.perf_counter() - t0)
            if not math.isfinite(event.val_loss):
                yield self._failure(event.val_loss, t, time.perf_counter() - t0, validation=True)
                return
            yield boosted
            self.last_epoch = {k: v for k, v in asdict(event).items() if k not in ("event", "samples")}
            yield event
            if self._should_stop_early(event):
                yield self._ended("stopped_early", t0, f"no improvement in {p.bad_epochs} rounds")
                return
        yield self._ended("completed", t0)

    def _learner_batches(self, t: int, skip: int):
        """Round ``t``'s batches as (x, y), each at the learning rate of the perceptron's epoch it belongs to."""
        for e, x, y in self._round_batches(t, skip):
            self.optimizer.lr = self._lr_for(e)
            yield x, y

    def _watch_snapshot(self, snapshot):
        return ()  # no health watch: a weak learner near chance is what boosting expects

    def _end_round(self, t: int, elapsed: float) -> tuple[BoostRound, EpochEnded]:
        """Weigh round ``t``'s perceptron (eps_t, alpha_t), reweigh the points and evaluate H_t."""
        weight, bias = self.learner()
        eps, h = self._add_round(weight, bias)
        alpha, w = self.alphas[-1], self.sample_weights
        be, ds, dtype = self.model.backend, self.dataset, self.model.dtype
        score = be.asarray(self.f_train.reshape(-1, 1).astype(dtype))
        train_loss = float(self.loss(score, be.asarray(ds.y_train))[0])
        train_acc = float(np.mean((self.f_train > 0) == (self.y > 0)))
        val = evaluate(self.loss, be.asarray(self.f_val.reshape(-1, 1).astype(dtype)), self.y_val, be, ds)
        p = self.progress
        sps = self._samples_done() / p.train_time if p.train_time > 0 else 0.0
        boosted = BoostRound(
            round=t,
            step=p.step,
            time=elapsed,
            epsilon=eps,
            alpha=alpha,
            learner_acc=float(np.mean(h == self.y)),
            train_acc=train_acc,
            val_acc=val.get("val_acc"),
            exp_loss=float(np.mean(np.exp(-self.y * self.f_train))),
            weight=[float(v) for v in weight],
            bias=bias,
            sample_weights=[float(v) for v in w] if self.n <= SAMPLE_WEIGHTS_MAX else None,
            weight_max=float(w.max()),
            effective_size=float(1.0 / np.sum(w * w)),
        )
        event = EpochEnded(
            epoch=t,
            step=p.step,
            lr=self.optimizer.lr,
            time=elapsed,
            train_samples_per_s=sps,
            train_loss=train_loss,
            train_acc=train_acc,
            **val,
        )
        return boosted, event

    def _samples_done(self) -> int:
        """Training samples seen so far: a round is ``training.epochs`` passes over its n-point sample."""
        p, n = self.progress, self.n
        per_round = self.learner_epochs * n
        return p.epoch * per_round + min(p.batch * self.batch_size, per_round)


def round_line(event: BoostRound) -> str:
    """One line for a round, as `dl-lab run` prints it."""
    val = f", H val acc {event.val_acc:.1%}" if event.val_acc is not None else ""
    return (
        f"round {event.round}: eps {event.epsilon:.4f}, alpha {event.alpha:+.4f}, h alone {event.learner_acc:.1%}, "
        f"H train acc {event.train_acc:.1%}{val}"
    )
