"""Why a run diverged, in words: where the numbers first broke, the likely cause, and what to try."""

from __future__ import annotations

import re

import numpy as np

from dl_lab.sessions.config.typed import SessionConfig

# The most a remedy suggests, per optimizer: a tenth of a diverging rate can still be far too high (adam at lr 10
# -> 1 trains spiral to ~65%); adaptive optimizers take steps of about lr whatever the gradient, so they are capped
# lower than plain SGD.
LR_CAPS = {"sgd": 0.1, "adam": 0.01, "rmsprop": 0.01, "adagrad": 0.01}
DEFAULT_LR_CAP = 0.01


def suggested_lr(optimizer: str, lr: float) -> float:
    """The learning rate to try after a divergence at ``lr``: a tenth of it, at most the optimizer's cap."""
    return min(lr / 10, LR_CAPS.get(optimizer, DEFAULT_LR_CAP))


def loss_words(value: float) -> str:
    """A failing loss in words: NaN, infinite, or its value and "(exploded)"."""
    if value != value:
        return "NaN"
    if abs(value) == float("inf"):
        return "infinite"
    return f"{value:.3g} (exploded)"


_LOSS_IN_MESSAGE = re.compile(r"loss became (NaN|infinite|\S+) ")


def failed_loss(message: str) -> str | None:
    """The failing loss as ``explain`` wrote it in a RunFailed's message ("NaN", "infinite", "1.2e+12"), or None."""
    found = _LOSS_IN_MESSAGE.search(message)
    return found.group(1) if found else None


def _first_broken(model) -> str | None:
    """The first layer (in model order) whose weights or gradients hold a NaN or an infinity."""
    be = model.backend
    for key, p in model.named_parameters():
        for what, arr in (("weights", p.data), ("gradients", p.grad)):
            if not np.isfinite(be.to_host(arr)).all():
                index, name = key.rsplit(".", 1)
                kind = model.layers[int(index.split(".")[0])].kind
                return f"model[{index}].{kind} {name} {what}"
    return None


def explain(
    config: SessionConfig,
    model,
    recent_losses,
    loss_value: float,
    epoch: int,
    step: int,
    batch: int,
    steps_per_epoch: int,
    *,
    validation: bool = False,
) -> tuple[str, str, list]:
    """(message, cause, advice) for a loss that became NaN/infinite or exploded (``validation``: the validation
    loss at the end of ``epoch``, the training losses having stayed finite)."""
    what = loss_words(loss_value)
    where = _first_broken(model)
    if validation:
        message = f"the validation loss became {what} at the end of epoch {epoch} (step {step})"
    else:
        message = f"the loss became {what} at epoch {epoch}, step {step} (batch {batch} of {steps_per_epoch})"
    if where:
        message += f"; the first non-finite values are in {where}"
    finite = [v for v in recent_losses if np.isfinite(v)]
    opt = config.optimizer
    lr = opt.lr
    growing = len(finite) >= 2 and finite[-1] > 10 * min(finite)
    if growing:
        cause = (
            f"the loss grew from {min(finite):.3g} to {finite[-1]:.3g} over the last {len(finite)} steps: "
            f"the learning rate {lr:g} is too high for {opt.name}, so each update overshoots and the "
            "weights grow until they overflow"
        )
    elif config.data.normalize == "none":
        cause = (
            "the inputs are not normalized (data.normalize: none): large input values make large "
            "activations and gradients that overflow"
        )
    else:
        cause = (
            f"the updates overflowed: the learning rate {lr:g} is likely too high for {opt.name}, or a gradient spiked"
        )
    lower = suggested_lr(opt.name, lr)
    advice = [f"lower optimizer.lr to {lower:g} (dl-lab run ... --set optimizer.lr={lower:g})"]
    clip = config.training.clip_norm
    if clip is None:
        advice.append("clip the gradient: --set training.clip_norm=1.0")
    else:
        advice.append(f"clip the gradient harder (now {clip:g}): --set training.clip_norm={clip / 10:g}")
    if config.data.normalize == "none":
        advice.append("normalize the inputs: --set data.normalize=standard")
    if opt.name == "sgd":
        advice.append("an adaptive optimizer: --set 'optimizer={name: adam, lr: 0.001}'")
    return message, cause, advice
