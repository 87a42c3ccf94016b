"""How brittle a classifier is (issue 13): FGSM (Goodfellow et al. 2014, x + ε·sign(∇ₓ loss)) and its iterated
version PGD, swept over ε.

ε is in the units of the raw input data (pixels in [0, 1] for the image sets, before the run's normalization), the
same ε for every input; each perturbed input is clipped to the raw training data's range [lo, hi]. The default
sweep is the PyTorch tutorial's on [0, 1] pixels, scaled to the data's range: ε = (hi - lo) * 0, .05, .1, .15, .2,
.25, .3. PGD takes ``steps`` steps of 2.5·ε/steps, each projected back into the ε-ball and the data's range.

``compute(ins, eps=None, steps=5, samples=None, examples=6)`` ->
{"view": "adversarial", "checkpoint", "units": "raw input", "range": [lo, hi], "samples", "eps": [...],
 "fgsm_accuracy": [...], "pgd_accuracy": [...], "pgd_steps", "clean_accuracy", "run_val_acc",
 "examples": [{"index", "true", "eps", "clean": {"predicted", "confidence"}, "fgsm": {"predicted", "confidence"},
 "image", "perturbation", "adversarial_image"}]}
At ε = 0 the accuracy is the clean one, which equals the run's validation accuracy at its final checkpoint
(``run_val_acc``, from summary.json) when every validation sample is used (the default). Examples are the first
validation samples the model gets right, attacked by FGSM at the sweep's middle ε (images in raw units).
"""

from __future__ import annotations

import numpy as np

from dl_lab.core.inspect import fgsm, pgd
from dl_lab.sessions.inspect.common import Inspected, InspectError
from dl_lab.sessions.inspect.pictures import _class_name, _needs_classes, predictions, rounded

TUTORIAL_EPS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)  # fractions of the raw data's range
BATCH = 256


def _predict(ins: Inspected, x) -> tuple[np.ndarray, np.ndarray]:
    return predictions(ins, ins.model.forward(x, training=False))


def compute(ins: Inspected, eps=None, steps: int = 5, samples: int | None = None, examples: int = 6) -> dict:
    _needs_classes(ins, "adversarial")
    shift, scale, lo, hi = ins.raw_scale()
    sweep = [round((hi - lo) * f, 6) for f in TUTORIAL_EPS] if eps is None else [float(e) for e in eps]
    if not sweep or any(not np.isfinite(e) or e < 0 for e in sweep):
        raise InspectError(f"--eps: expected non-negative numbers in raw input units (the data spans {lo:g}..{hi:g})")
    if steps < 1:
        raise InspectError(f"--steps {steps}: PGD needs at least one step")
    x, y = ins.validation(samples)
    if samples is not None and samples < 1:
        raise InspectError(f"--samples {samples}: expected at least 1")
    y = np.asarray(y).reshape(len(x), -1)[:, 0].astype(np.int64)
    lo_m, hi_m = (lo - shift) / scale, (hi - shift) / scale  # the raw range, in the model's input units
    fgsm_acc, pgd_acc = [], []
    for e in sweep:
        e_m = e / scale
        hits_f = hits_p = 0
        for start in range(0, len(x), BATCH):
            xb, yb = x[start : start + BATCH], y[start : start + BATCH]
            if e == 0:
                pred, _ = _predict(ins, xb)
                hits_f += int((pred == yb).sum())
                hits_p += int((pred == yb).sum())
                continue
            pred, _ = _predict(ins, fgsm(ins.model, ins.loss, xb, yb, e_m, lo_m, hi_m))
            hits_f += int((pred == yb).sum())
            pred, _ = _predict(ins, pgd(ins.model, ins.loss, xb, yb, e_m, steps=steps, lo=lo_m, hi=hi_m))
            hits_p += int((pred == yb).sum())
        fgsm_acc.append(round(hits_f / len(x), 6))
        pgd_acc.append(round(hits_p / len(x), 6))
    clean_pred, clean_conf = _predict(ins, x)
    middle = sweep[len(sweep) // 2]
    right = np.flatnonzero(clean_pred == y)[:examples]
    strip = []
    if len(right):
        xs, ys = x[right], y[right]
        adv = fgsm(ins.model, ins.loss, xs, ys, middle / scale, lo_m, hi_m)
        adv_pred, adv_conf = _predict(ins, adv)
        raw_clean = np.asarray(xs, dtype=np.float64) * scale + shift
        raw_adv = np.asarray(adv, dtype=np.float64) * scale + shift
        for k, i in enumerate(right):
            strip.append(
                {
                    "index": int(i),
                    "true": _class_name(ins, int(ys[k])),
                    "eps": middle,
                    "clean": {
                        "predicted": _class_name(ins, int(clean_pred[i])),
                        "confidence": round(float(clean_conf[i]), 4),
                    },
                    "fgsm": {
                        "predicted": _class_name(ins, int(adv_pred[k])),
                        "confidence": round(float(adv_conf[k]), 4),
                    },
                    "image": rounded(raw_clean[k]),
                    "perturbation": rounded(raw_adv[k] - raw_clean[k]),
                    "adversarial_image": rounded(raw_adv[k]),
                }
            )
    from dl_lab.sessions.runs.directory import open_run

    final = open_run(ins.run_dir, with_records=False).final() or {}
    return {
        "view": "adversarial",
        "checkpoint": ins.checkpoint,
        "units": "raw input",
        "range": [lo, hi],
        "samples": len(x),
        "eps": sweep,
        "fgsm_accuracy": fgsm_acc,
        "pgd_accuracy": pgd_acc,
        "pgd_steps": steps,
        "clean_accuracy": round(float((clean_pred == y).mean()), 6),
        "run_val_acc": final.get("val_acc"),
        "examples": strip,
    }
