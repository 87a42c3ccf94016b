"""Gradient flow: how large each layer's weight gradient ∂L/∂W was during training and is at the inspected weights,
to see vanishing or exploding gradients at a glance (plot on a log scale).

Layers "with weights" are those the run's monitor describes: dense, conv2d and batchnorm (its scale); only the
weight parameter counts, not the bias.

``recorded`` comes from the run's snapshots (metrics.jsonl, event "snapshot", every ``monitor.every_steps``): the
monitor records each weight gradient's norm and a histogram over its [lo, hi] range, so the largest |g| is
max(|lo|, |hi|); the mean |g| is not recorded.

``now`` is one batch: the first ``batch`` training samples, forward and backward of the run's loss (the data loss
alone: no weight-decay penalty) at the inspected checkpoint's weights, through the evaluation function (dropout
off, batchnorm on its running statistics, via ``core.inspect.evaluation_gradients``), so it is deterministic. The
model's parameters, gradients and buffers are left as they were.

``compute(ins, batch=64)`` ->
{"view": "gradients",
 "checkpoint": the checkpoint's name,
 "batch": the number of training samples in the "now" batch,
 "loss": the loss on that batch,
 "layers": [
   {"index": the layer's position in the model,
    "kind": its kind (dense, conv2d, batchnorm),
    "size": the number of values in its weight,
    "recorded": [{"step": the training step of the snapshot, "epoch": its epoch, "norm": ‖∂L/∂W‖ (L2, over the
                  weight's values), "max": max |∂L/∂W|}] in step order,
    "now": {"mean_abs": mean |∂L/∂W|, "max_abs": max |∂L/∂W|, "norm": ‖∂L/∂W‖}}]}
Numbers are rounded to 6 significant digits; non-finite ones (a diverged run) are null.
"""

from __future__ import annotations

import numpy as np

from dl_lab.core.inspect import evaluation_gradients
from dl_lab.sessions.inspect.common import Inspected, InspectError, number


def _recorded(ins: Inspected, indices: set[int]) -> dict[int, list[dict]]:
    from dl_lab.sessions.runs.directory import open_run

    out: dict[int, list[dict]] = {i: [] for i in indices}
    for rec in open_run(ins.run_dir).records:
        if rec.get("event") != "snapshot":
            continue
        for row in rec.get("layers") or []:
            grad, i = row.get("grad"), row.get("index")
            if i not in out or not isinstance(grad, dict):
                continue
            hist = grad.get("histogram") or {}
            lo, hi = hist.get("lo"), hist.get("hi")
            peak = max(abs(float(lo)), abs(float(hi))) if lo is not None and hi is not None else None
            out[i].append(
                {
                    "step": rec.get("step"),
                    "epoch": rec.get("epoch"),
                    "norm": number(grad.get("norm")),
                    "max": number(peak),
                }
            )
    for rows in out.values():
        rows.sort(key=lambda r: (r["step"] is None, r["step"] or 0))
    return out


def compute(ins: Inspected, *, batch: int = 64) -> dict:
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise InspectError(f"--batch {batch}: expected a whole number of training samples, at least 1")
    model = ins.model
    weighted = [(i, layer, p) for i, layer in enumerate(model.layers) if (p := layer.weight_parameter()) is not None]
    if not weighted:
        raise InspectError(
            "gradients: this model has no layer with weights (dense, conv2d, batchnorm): nothing to show"
        )
    ds = ins.dataset
    x, y = ds.x_train[:batch], ds.y_train[:batch]
    if len(x) == 0:
        raise InspectError("gradients: the run has no training samples")
    xp = model.xp
    with evaluation_gradients(model):  # restores the gradients afterwards
        out = model.forward(xp.asarray(x, dtype=model.dtype), training=True)
        value, d = ins.loss(out, xp.asarray(y))
        model.backward(d)
        grads = [
            np.abs(np.asarray(model.backend.to_host(p.grad), dtype=np.float64)).reshape(-1) for _, _, p in weighted
        ]
    recorded = _recorded(ins, {i for i, _, _ in weighted})
    layers = []
    for (i, layer, p), g in zip(weighted, grads, strict=True):
        now = {"mean_abs": number(g.mean()), "max_abs": number(g.max()), "norm": number(np.sqrt(np.dot(g, g)))}
        layers.append({"index": i, "kind": layer.kind, "size": int(p.size), "recorded": recorded[i], "now": now})
    return {
        "view": "gradients",
        "checkpoint": ins.checkpoint,
        "batch": len(x),
        "loss": number(value),
        "layers": layers,
    }
