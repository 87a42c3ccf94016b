"""Training diagnosed in plain words: the problems a run shows while it trains, each told once, with what to try.

``HealthWatch`` is fed the trainer's snapshots and epochs and returns ``Diagnosis`` events. Eight kinds:

- from the monitor's snapshots (none without them: ``monitor.every_steps: 0``), each held at ``SUSTAINED``
  snapshots in a row, since one batch can mislead (a layer wholly dead with no gradient reaching its weights is
  conclusive at one: the default cadence, a snapshot every 200 steps, may take only one in a short run):
  ``dead_units`` (a ReLU layer with ``DEAD_FRACTION`` of its units zero on every monitored sample),
  ``saturation`` (a hidden tanh/sigmoid layer with ``SATURATED_FRACTION`` of its outputs pinned at a bound),
  ``vanishing_gradients`` and ``exploding_gradients`` (the first weighted layer's gradient norm below
  ``VANISHING_RATIO`` or above ``EXPLODING_RATIO`` times the last one's);
- from the epochs: ``plateau`` (loss near ln K and accuracy at chance for ``PLATEAU_EPOCHS``), ``overfitting``
  (the validation loss risen well above its best for ``OVERFIT_PATIENCE`` epochs while the training loss fell, in
  a model that has learned something),
  ``lr_too_high`` (the training loss climbing twice within the last ``HIGH_WINDOW`` epochs, or back above what
  guessing scores) and ``lr_too_low`` (the training loss moving under ``LOW_MOVE`` over ``LOW_WINDOW`` epochs while
  still above ``LOW_LEARNED`` of where it began).

Each kind is reported once per run (a resumed run watches afresh). The thresholds were checked against the
presets that train well (spiral, xor, circle_width, perceptron, logistic_regression, sine, digits_mlp: no
finding, tests/sessions/test_health.py) with a margin noted beside each.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import replace
from typing import Any

from dl_lab.sessions.config.typed import SessionConfig
from dl_lab.sessions.events import Diagnosis, EpochEnded, SnapshotTaken
from dl_lab.sessions.training.diagnosis import DEFAULT_LR_CAP, LR_CAPS, suggested_lr

KINDS = (
    "dead_units",
    "saturation",
    "vanishing_gradients",
    "exploding_gradients",
    "plateau",
    "overfitting",
    "lr_too_high",
    "lr_too_low",
)

SUSTAINED = 2  # consecutive snapshots a snapshot finding must hold at
# Dead units get no gradient and, under gradient descent, never come back: a layer with three quarters of its
# units dead trains at a quarter of its width. Half is common in a healthy ReLU net measured on a small sample
# (the spiral preset ends with 53% of its second layer silent on the 128 monitored samples, at 100% accuracy).
DEAD_FRACTION = 0.75
# ... except a layer with every unit dead and a zero gradient for the weights that feed it: nothing can revive it
# (no gradient reaches it), so one snapshot is conclusive (a partial fraction still has to hold at SUSTAINED).
ALL_DEAD = 1.0
# A saturated tanh/sigmoid output (within 1% of its bound, monitor.SATURATION) passes back under 2% of the
# gradient: when most of a hidden layer's outputs are pinned, it has stopped learning. The output layer is left
# out (a confident classifier's sigmoid is meant to sit at 0 or 1). The xor preset peaks at 31%. It counts only while
# the model has learned little (the last epoch's training loss at least SATURATED_LEARNING of what guessing scores):
# a trained tanh net saturates where it is sure (the activations preset's last tanh layer: 63% at 99% accuracy).
SATURATED_FRACTION = 0.5
SATURATED_LEARNING = 0.5
# Gradient norms of the first and last weighted layers (batchnorm's scale left out): healthy nets keep them within
# a factor of about ten of each other (0.16 to 12 in the presets); three orders of magnitude means the first layers
# learn a thousand times slower (vanishing: deep sigmoid stacks, 8 layers give 1e-5) or faster (exploding: 40
# dense-batchnorm-relu blocks give 2e3 to 3e4 under adam) than the last.
VANISHING_RATIO = 1e-3
EXPLODING_RATIO = 1e3
# Plateau at chance: a classifier that guesses has cross-entropy ln K (K classes); stuck there means the training
# loss within PLATEAU_LOSS of ln K (a tenth either side: far above it the model is confidently wrong, which is
# no plateau) and the validation accuracy within CHANCE_MARGIN of chance (the larger of 1/K and the biggest class's
# share), for PLATEAU_EPOCHS epochs in a row (xor leaves chance after 2 epochs, spiral after 1).
PLATEAU_LOSS = 0.1
CHANCE_MARGIN = 0.05
PLATEAU_EPOCHS = 5
# Its advice about the learning rate: a rate too high keeps a model at chance as surely as one too low (sgd at lr 2
# on spiral bounces around ln 2 at 50%; ten times more explodes it). So it says lower (diagnosis.suggested_lr) when
# the rate is above what diagnosis.LR_CAPS allows the optimizer or the loss has oscillated over the plateau (at
# least PLATEAU_CLIMBS climbs while averaging PLATEAU_ABOVE above ln K: a model stuck at chance by a timid step
# sits at ln K, not above it), raise (to at most the cap) only when the rate is below the cap.
PLATEAU_CLIMBS = 2
PLATEAU_ABOVE = 0.02
# Overfitting: the validation loss has not improved for OVERFIT_PATIENCE epochs and stands above its best by a
# tenth of that best and a tenth of what the run had gained on it since epoch 1 (small validation sets wobble at
# tiny losses: spiral's goes 0.003 -> 0.03), while the training loss went on falling (to at most TRAIN_FALL of its
# value at that best epoch).
OVERFIT_PATIENCE = 3
OVERFIT_RISE = 0.1
TRAIN_FALL = 0.95
# ... and only in a model that has learned something: a classifier's training loss at most LEARNED_LOSS of ln K or
# its training accuracy LEARNED_ACC above chance (a model at chance whose validation loss wanders up is not
# memorizing anything: it is a plateau's business, and no overfitting is told in an epoch at chance).
LEARNED_LOSS = 0.8
LEARNED_ACC = 0.1
# A learning rate too high: the epoch's training loss oscillates (two separate climbs, each at least HIGH_RISE of
# the loss's scale, within the last HIGH_WINDOW epoch-to-epoch moves) or has risen back above that scale (by
# HIGH_RISE of it, for the last HIGH_RISING epochs, having been below it): all it had learned is lost. The scale is
# what guessing scores (ln K) for a classifier, else the first epoch's loss. A single spike that recovers is not
# enough (adam's: spiral's loss goes 0.015 -> 0.016 -> 0.034 -> 0.086 -> 0.196 -> 0.035 once, at epoch 41), nor is
# noise at small losses (spiral's other climbs are at most 3.4% of the scale, the other presets' under 1%).
HIGH_RISE = 0.1
HIGH_WINDOW = 5
HIGH_RISING = 2
# A learning rate too low: the training loss moved under LOW_MOVE over LOW_WINDOW epochs (at that pace halving it
# takes a hundred epochs) while still above LOW_LEARNED of the first epoch's (not converged: a trained model's loss
# also stops moving, far below where it began). Slow starters move more: spiral and xor fall 5-6% over their first
# three epochs. A classifier's flat loss near ln K is a plateau's business (spiral_deep and activations sit at 97%
# of ln 2 for their first 6 and 15 epochs, then learn), and a flat loss that dead units, saturation or vanishing
# gradients explain is not blamed on the learning rate.
LOW_WINDOW = 3
# The recent epochs the checks read (the longest window, plus the epoch before it).
KEPT_EPOCHS = max(PLATEAU_EPOCHS, HIGH_WINDOW, LOW_WINDOW) + 1
LOW_MOVE = 0.02
LOW_LEARNED = 0.9
CHANCE_LOSSES = ("cross_entropy", "bce")  # the losses whose value for a guessing model is ln K
# The perceptron criterion mean max(0, -t s) has no scale of its own: it is 0 for an all-zero output and grows with
# the weights, so its value and its ups and downs measure the weights' size, not how well the rule learns. From a
# zero init (the perceptron and adaline presets) the learning rate only scales every weight by the same factor and
# leaves every decision unchanged (`dl-lab run adaline --set loss=perceptron` at lr 0.01 or 0.001: the same run,
# the losses ten times smaller): no learning rate finding applies to it.
SCALELESS_LOSSES = ("perceptron",)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _set(path: str, value) -> str:
    return f"--set {path}={value}"


class HealthWatch:
    """Watches one run: ``snapshot(event)`` and ``epoch(event)`` return the new findings (each kind once).

    ``classes``: K for a classifier (2 for one logit), None for regression."""

    def __init__(self, config: SessionConfig, classes: int | None) -> None:
        self.config, self.classes = config, classes
        self.reported: dict[str, str] = {}  # kind -> its advice
        self.held: dict[str, int] = {}  # snapshot findings: how many snapshots in a row they have held
        # Bounded, so that a run's memory stays flat however long it trains: the last few epochs (slim: no
        # confusion matrix or samples), the first, the one with the lowest validation loss, and the lowest
        # training loss before the last HIGH_RISING epochs. That is all the checks below read.
        self.epochs: deque[EpochEnded] = deque(maxlen=KEPT_EPOCHS)
        self.count = 0  # epochs seen
        self.first: EpochEnded | None = None
        self.best: tuple[int, EpochEnded] | None = None  # (index, epoch) of the first lowest validation loss
        self.older_min = math.inf  # the lowest training loss of all epochs but the last HIGH_RISING

    # --- feeding ---------------------------------------------------------------------------------
    def snapshot(self, event: SnapshotTaken) -> list[Diagnosis]:
        found: dict[str, tuple[str, dict, str]] = {}
        for check in (self._dead, self._saturated, self._gradients):
            for kind, finding in check(event).items():
                found[kind] = finding
        if self.epochs and self.epochs[-1].train_loss < SATURATED_LEARNING * self._scale():
            found.pop("saturation", None)  # it learned: its units saturate where it is sure
        for kind in ("dead_units", "saturation", "vanishing_gradients", "exploding_gradients"):
            self.held[kind] = self.held.get(kind, 0) + 1 if kind in found else 0
        conclusive = {"dead_units"} if found.get("dead_units", ("", {}, ""))[1].get("grad_norm") == 0 else set()
        held = {k: f for k, f in found.items() if self.held[k] >= SUSTAINED or k in conclusive}
        return self._report(held, event.epoch, event.step)

    def epoch(self, event: EpochEnded) -> list[Diagnosis]:
        self._keep(replace(event, confusion=None, precision=None, recall=None, samples=None))
        found: dict[str, tuple[str, dict, str]] = {}
        plateau = self._plateau()
        if plateau:
            found["plateau"] = plateau
        overfit = None if plateau or "plateau" in found else self._overfitting()
        if overfit:
            found["overfitting"] = overfit
        high = self._lr_high()
        if high:
            found["lr_too_high"] = high
        explained = {"plateau", "dead_units", "saturation", "vanishing_gradients"} & set(self.reported)
        low = None if plateau or explained or self._near_guessing(event) else self._lr_low()
        if low:
            found["lr_too_low"] = low
        return self._report(found, event.epoch, event.step)

    def _keep(self, event: EpochEnded) -> None:
        self.epochs.append(event)
        self.count += 1
        if self.first is None:
            self.first = event
        if self.best is None or event.val_loss < self.best[1].val_loss:
            self.best = (self.count - 1, event)
        if self.count > HIGH_RISING:
            self.older_min = min(self.older_min, self.epochs[-HIGH_RISING - 1].train_loss)

    def _report(self, found: dict, epoch: int, step: int) -> list[Diagnosis]:
        out = []
        for kind in KINDS:
            if kind in found and kind not in self.reported:
                message, evidence, advice = found[kind]
                self.reported[kind] = advice
                out.append(
                    Diagnosis(kind=kind, epoch=epoch, step=step, message=message, evidence=evidence, advice=advice)
                )
        return out

    # --- the settings the advice names -----------------------------------------------------------
    @property
    def _lr(self) -> float:
        return float(self.config.optimizer.lr)

    def _lower_lr(self) -> str:
        lower = suggested_lr(self.config.optimizer.name, self._lr)
        return f"lower optimizer.lr to {lower:g} ({_set('optimizer.lr', f'{lower:g}')})"

    def _raise_lr(self, cap: float | None = None) -> str:
        higher = self._lr * 10 if cap is None else min(self._lr * 10, cap)
        return f"raise optimizer.lr to {higher:g} ({_set('optimizer.lr', f'{higher:g}')})"

    def _layer_path(self, index: int, option: str) -> str | None:
        """``model.3.dense.activation`` for layer 3's option, when the layer has it (None otherwise)."""
        specs = self.config.model
        if not 0 <= index < len(specs):
            return None
        kind, options = next(iter(specs[index].items()))
        if kind == "activation" and option == "activation":  # an activation layer names its function "name"
            option = "name"
        return f"model.{index}.{kind}.{option}" if isinstance(options, dict) and option in options else None

    # --- snapshot findings -----------------------------------------------------------------------
    def _dead(self, event: SnapshotTaken) -> dict:
        rows = [r for r in event.layers if r["activation"].get("dead_fraction") is not None]
        worst = max(rows, key=lambda r: r["activation"]["dead_fraction"], default=None)
        if worst is None or worst["activation"]["dead_fraction"] < DEAD_FRACTION:
            return {}
        i, fraction = worst["index"], worst["activation"]["dead_fraction"]
        fn = worst["activation"].get("function", "relu")
        message = (
            f"{_pct(fraction)} of model[{i}]'s {fn} units output zero for every monitored sample: dead units get "
            "no gradient and stop learning"
        )
        path = self._layer_path(i, "activation")
        advice = (
            f"use leaky_relu there ({_set(path, 'leaky_relu')}), or {self._lower_lr()}" if path else self._lower_lr()
        )
        evidence: dict[str, Any] = {"layer": i, "function": fn, "dead_fraction": fraction, "threshold": DEAD_FRACTION}
        feeding = [r for r in event.layers if r["index"] <= i and "grad" in r]  # the weights that feed the layer
        if fraction >= ALL_DEAD and feeding and float(feeding[-1]["grad"]["norm"]) == 0:
            evidence["grad_norm"] = 0.0  # conclusive: no gradient reaches it, nothing can revive it
        return {"dead_units": (message, evidence, advice)}

    def _saturated(self, event: SnapshotTaken) -> dict:
        weighted = [r["index"] for r in event.layers if "weight" in r]
        output = weighted[-1] if weighted else len(event.layers) - 1  # the output layer and what follows it
        rows = [
            r for r in event.layers if r["index"] < output and r["activation"].get("saturated_fraction") is not None
        ]
        worst = max(rows, key=lambda r: r["activation"]["saturated_fraction"], default=None)
        if worst is None or worst["activation"]["saturated_fraction"] < SATURATED_FRACTION:
            return {}
        i, fraction = worst["index"], worst["activation"]["saturated_fraction"]
        fn = worst["activation"].get("function", "tanh")
        bounds = "±1" if fn == "tanh" else "0 or 1"
        message = (
            f"{_pct(fraction)} of model[{i}]'s {fn} outputs are pinned at {bounds}: a saturated unit passes back "
            "almost no gradient"
        )
        cfg = self.config
        own_init = self._layer_path(i, "init")
        if own_init and not _options_of(cfg.model[i]).get("init"):
            own_init = None  # the layer takes the model's init
        if cfg.data.normalize == "none":
            advice = f"normalize the inputs ({_set('data.normalize', 'standard')})"
        elif own_init or not str(_init_name(cfg.init)).startswith("glorot"):
            # weights too large for tanh/sigmoid: Glorot's scale keeps their inputs in the responsive range
            advice = f"initialize for {fn} ({_set(own_init or 'init', 'glorot_uniform')})"
        else:
            advice = self._lower_lr()
            path = self._layer_path(i, "activation")
            if path:
                advice += f", or use relu there ({_set(path, 'relu')})"
        evidence = {"layer": i, "function": fn, "saturated_fraction": fraction, "threshold": SATURATED_FRACTION}
        return {"saturation": (message, evidence, advice)}

    def _gradients(self, event: SnapshotTaken) -> dict:
        rows = [r for r in event.layers if "grad" in r and r["kind"] != "batchnorm"]
        if len(rows) < 2:
            return {}
        first, last = rows[0], rows[-1]
        g0, g1 = float(first["grad"]["norm"]), float(last["grad"]["norm"])
        if not (g1 > 0 and math.isfinite(g0) and math.isfinite(g1)):
            return {}
        ratio = g0 / g1
        evidence: dict[str, Any] = {
            "first_layer": first["index"],
            "last_layer": last["index"],
            "first_grad_norm": g0,
            "last_grad_norm": g1,
            "ratio": float(f"{ratio:.3g}"),
        }
        where = f"model[{first['index']}]'s gradient norm is {ratio:.2g} times model[{last['index']}]'s"
        if ratio < VANISHING_RATIO:
            evidence["threshold"] = VANISHING_RATIO
            saturating = [
                i for i, spec in enumerate(self.config.model[:-1]) if _activation_of(spec) in ("sigmoid", "tanh")
            ]
            path = self._layer_path(saturating[0], "activation") if saturating else None
            if path:
                advice = f"use relu in the hidden layers ({_set(path, 'relu')}, and the same for the others)"
            else:
                advice = f"initialize for the depth ({_set('init', 'he_uniform')})"
            message = f"{where}, so the first layers barely learn"
            return {"vanishing_gradients": (message, evidence, advice)}
        if ratio > EXPLODING_RATIO:
            evidence["threshold"] = EXPLODING_RATIO
            clip = self.config.training.clip_norm
            clip_to = 1.0 if clip is None else clip / 10
            advice = f"clip the gradient ({_set('training.clip_norm', f'{clip_to:g}')})"
            if self.config.data.normalize == "none":
                advice = f"normalize the inputs ({_set('data.normalize', 'standard')}), or " + advice
            elif len(rows) > 8:
                advice += f", or use fewer layers ({len(rows)} weighted layers now)"
            message = f"{where}, so the first layers take huge, unstable steps"
            return {"exploding_gradients": (message, evidence, advice)}
        return {}

    # --- epoch findings --------------------------------------------------------------------------
    def _chance(self, e: EpochEnded) -> float:
        k = self.classes or 2
        chance = 1.0 / k
        if e.confusion:
            counts = [sum(row) for row in e.confusion]
            total = sum(counts)
            if total:
                chance = max(chance, max(counts) / total)
        return chance

    def _near_guessing(self, e: EpochEnded) -> bool:
        """A classifier's epoch whose training loss is near what guessing scores (ln K)."""
        if self.classes is None or self.config.loss not in CHANCE_LOSSES:
            return False
        ln_k = math.log(self.classes)
        return abs(e.train_loss - ln_k) <= PLATEAU_LOSS * ln_k

    def _at_chance(self, e: EpochEnded) -> bool:
        """A classifier's epoch that scores what guessing does: loss near ln K, validation accuracy at chance."""
        return self._near_guessing(e) and e.val_acc is not None and e.val_acc <= self._chance(e) + CHANCE_MARGIN

    def _plateau(self):
        if self.classes is None or self.count < PLATEAU_EPOCHS:
            return None
        if not all(self._at_chance(e) for e in list(self.epochs)[-PLATEAU_EPOCHS:]):
            return None
        ln_k = math.log(self.classes)
        last = self.epochs[-1]
        chance = self._chance(last)
        message = (
            f"the loss has stayed at {last.train_loss:.3g}, near ln {self.classes} = {ln_k:.3g} (what guessing "
            f"scores), and validation accuracy at {_pct(last.val_acc or 0.0)} (chance: {_pct(chance)}) for "
            f"{PLATEAU_EPOCHS} epochs: the model has learned nothing yet"
        )
        weighted = [spec for spec in self.config.model if next(iter(spec)) in ("dense", "conv2d")]
        cause = next((k for k in ("dead_units", "vanishing_gradients", "saturation") if k in self.reported), None)
        if cause:
            advice = f"the {cause.replace('_', ' ')} reported before explain it: {self.reported[cause]}"
        elif len(weighted) < 2:
            units = next(iter(self.config.model[-1].values())).get("units", self.classes) if weighted else self.classes
            advice = (
                "add a hidden layer, as a linear model cannot separate classes that no straight line separates "
                f"(--set 'model=[{{dense: {{units: 16, activation: relu}}}}, {{dense: {{units: {units}}}}}]')"
            )
        else:
            advice = ", or ".join(self._plateau_remedies())
        evidence = {
            "train_loss": last.train_loss,
            "ln_k": float(f"{ln_k:.6g}"),
            "val_acc": last.val_acc,
            "chance": float(f"{chance:.4g}"),
            "epochs": PLATEAU_EPOCHS,
        }
        return message, evidence, advice

    def _oscillating(self) -> bool:
        """The loss has bounced above what guessing scores over the plateau's epochs: steps too big, not too small."""
        window = [e.train_loss for e in list(self.epochs)[-PLATEAU_EPOCHS - 1 :]]
        climbs = sum(1 for a, b in itertools.pairwise(window) if b > a)
        ln_k = math.log(self.classes or 2)
        return climbs >= PLATEAU_CLIMBS and sum(window) / len(window) >= (1 + PLATEAU_ABOVE) * ln_k

    def _plateau_remedies(self) -> list[str]:
        """What to try for a deep enough model stuck at chance: the learning rate (lowered when it is high for the
        optimizer or the loss oscillates, raised only below the optimizer's cap), an init that suits the hidden
        activations (Glorot's for sigmoid/tanh, He's for the ReLU family) unless it is the one in use, and adam for
        plain SGD at its cap."""
        opt = self.config.optimizer
        cap = LR_CAPS.get(opt.name, DEFAULT_LR_CAP)
        remedies = []
        if self._lr > cap or self._oscillating():
            remedies.append(self._lower_lr())
        elif self._lr < cap:
            remedies.append(self._raise_lr(cap))
        elif opt.name == "sgd":
            remedies.append("an adaptive optimizer (--set 'optimizer={name: adam, lr: 0.01}')")
        hidden = [_activation_of(spec) for spec in self.config.model[:-1]]
        init = "glorot_uniform" if {"sigmoid", "tanh"} & set(hidden) else "he_uniform"
        if _init_name(self.config.init) != init or not remedies:
            remedies.append(f"initialize for the depth ({_set('init', init)})")
        return remedies

    def _learned(self, e: EpochEnded) -> bool:
        """A classifier's epoch that shows it learned something: its training loss clearly below what guessing
        scores, or its training accuracy clearly above chance (a regression's falling loss is its own evidence)."""
        if self.classes is None:
            return True
        if self.config.loss in CHANCE_LOSSES and e.train_loss <= LEARNED_LOSS * math.log(self.classes):
            return True
        return e.train_acc is not None and e.train_acc >= self._chance(e) + LEARNED_ACC

    def _overfitting(self):
        if self.count <= OVERFIT_PATIENCE or not self._learned(self.epochs[-1]):
            return None
        if self._at_chance(self.epochs[-1]) or self.best is None or self.first is None:
            return None
        best, b = self.best
        now = self.epochs[-1]
        if self.count - 1 - best < OVERFIT_PATIENCE:
            return None
        gain = self.first.val_loss - b.val_loss
        rise = now.val_loss - b.val_loss
        if not rise > 0 or rise < OVERFIT_RISE * max(b.val_loss, gain):
            return None
        if now.train_loss > TRAIN_FALL * b.train_loss:
            return None
        message = (
            f"the validation loss rose from {b.val_loss:.3g} (epoch {b.epoch}) to {now.val_loss:.3g} "
            f"while the training loss fell from {b.train_loss:.3g} to {now.train_loss:.3g}: the model is "
            "memorizing the training split"
        )
        reg = self.config.regularization
        l2 = 1e-3 if reg.l2 == 0 else reg.l2 * 10
        advice = f"regularize ({_set('regularization.l2', f'{l2:g}')})"
        if self.config.training.early_stopping is None:
            advice += ", or stop at the best epoch (--set 'training.early_stopping={metric: val_loss, patience: 3}')"
        evidence = {
            "best_epoch": b.epoch,
            "best_val_loss": b.val_loss,
            "val_loss": now.val_loss,
            "train_loss_at_best": b.train_loss,
            "train_loss": now.train_loss,
        }
        return message, evidence, advice

    def _scale(self) -> float:
        """The size of the loss for a model that knows nothing: ln K for a classifier, else the first epoch's, at
        least what an all-zero output scores for the margin losses (hinge: 1 a sample for one output, (K - 1) / K
        for K; lms: 1/2), so that a first epoch that already learned much does not make noise look like climbs."""
        loss = self.config.loss
        if self.classes is not None and loss in CHANCE_LOSSES:
            return math.log(self.classes)
        first = self.first.train_loss if self.first is not None else 0.0
        if loss == "hinge":
            units = _options_of(self.config.model[-1]).get("units", 1) if self.config.model else 1
            return max(first, 1.0 if units == 1 else (units - 1) / units)
        if loss == "lms":
            return max(first, 0.5)
        return first

    def _lr_high(self):
        losses = [e.train_loss for e in self.epochs]  # the last KEPT_EPOCHS
        if self.config.loss in SCALELESS_LOSSES or self.count < HIGH_WINDOW + 1 or not self._scale() > 0:
            return None
        window = losses[-HIGH_WINDOW - 1 :]
        climbs: list[list[int]] = []  # runs of consecutive moves up: the epochs (in the window) they end at
        for i in range(1, len(window)):
            if window[i] > window[i - 1]:
                if climbs and climbs[-1][-1] == i - 1:
                    climbs[-1].append(i)
                else:
                    climbs.append([i])
        scale = self._scale()
        big = [c for c in climbs if window[c[-1]] - window[c[0] - 1] >= HIGH_RISE * scale]
        above = all(v >= (1 + HIGH_RISE) * scale for v in losses[-HIGH_RISING:])
        rising = above and self.older_min < scale
        if len(big) < 2 and not rising:
            return None
        how = f"climbed back above {scale:.3g}" if rising and len(big) < 2 else f"climbed {len(big)} times"
        message = (
            f"the training loss {how} over the last {HIGH_WINDOW} epochs ("
            + " -> ".join(f"{v:.3g}" for v in window)
            + f"): the learning rate {self._lr:g} overshoots"
        )
        evidence = {"train_losses": [float(f"{v:.4g}") for v in window], "climbs": len(big), "lr": self._lr}
        return message, evidence, self._lower_lr()

    def _lr_low(self):
        losses = [e.train_loss for e in self.epochs]  # the last KEPT_EPOCHS
        first = self.first.train_loss if self.first is not None else 0.0
        if self.config.loss in SCALELESS_LOSSES or self.count < LOW_WINDOW + 1 or not first > 0:
            return None
        cap = LR_CAPS.get(self.config.optimizer.name, DEFAULT_LR_CAP)
        if self._lr >= cap:  # at the most the remedies ever advise: a slow start there is the model's, not the rate's
            return None
        then, now = losses[-LOW_WINDOW - 1], losses[-1]
        if not then > 0 or abs(then - now) >= LOW_MOVE * then or now < LOW_LEARNED * first:
            return None
        moved = abs(then - now) / then
        message = (
            f"the training loss moved {100 * moved:.2g}% in {LOW_WINDOW} epochs ({then:.4g} -> {now:.4g}) and is "
            f"still {_pct(now / first)} of the first epoch's: the learning rate {self._lr:g} is too small to "
            "make progress"
        )
        evidence = {"train_loss_then": then, "train_loss": now, "first_train_loss": first, "lr": self._lr}
        return message, evidence, self._raise_lr(cap)


def _options_of(spec) -> dict:
    options = next(iter(spec.values()))
    return options if isinstance(options, dict) else {}


def _init_name(init) -> str:
    return str(init.get("name", "")) if isinstance(init, dict) else str(init)


def _activation_of(spec) -> str:
    """A layer spec's activation function ("" when it names none)."""
    options = next(iter(spec.values()))
    return str(options.get("activation") or "") if isinstance(options, dict) else ""


def classes_of(task: str, output_dim: int, class_names) -> int | None:
    """K for the plateau check: the classes a classifier tells apart (2 for one logit), None for regression."""
    if task != "classification":
        return None
    return len(class_names) if class_names else max(2, output_dim)
