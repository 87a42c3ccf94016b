"""Why a run diverged, in words: where the numbers first broke, the likely cause, and what to try."""

from __future__ import annotations

import numpy as np

from dl_lab.sessions.config.typed import SessionConfig


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
    what = (
        "NaN"
        if loss_value != loss_value
        else ("infinite" if abs(loss_value) == float("inf") else f"{loss_value:.3g} (exploded)")
    )
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
    advice = [f"lower optimizer.lr to {lr / 10:g} (dl-lab run ... --set optimizer.lr={lr / 10:g})"]
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
