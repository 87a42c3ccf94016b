"""Four views of what a trained image model computes (issue 13), each ``compute(ins, ...) -> dict``:

``filters``  {"view": "filters", "checkpoint", "layers": [{"index", "kind", "shape", "filters"}]}: each conv layer's
             kernels, ``filters[o][i]`` an (kh, kw) grid of weights (out channel o, in channel i); for a model whose
             first weighted layer is dense on image inputs, that layer's rows reshaped to the image,
             ``filters[unit][c]`` an (H, W) grid, ``shape`` [units, C, H, W].
``features`` {"view": "features", "checkpoint", "sample", "true", "predicted", "probability", "image",
             "layers": [{"index", "kind", "after", "maps"}]}: for validation sample ``sample``, every conv layer's
             output after its activation (``after`` "activation") and every pooling layer's (``after``
             "pooling"), ``maps[c]`` an (H, W) grid; ``image`` the sample in raw units (C, H, W).
``saliency`` {"view": "saliency", "checkpoint", "sample", "true", "predicted", "probability", "image", "maps":
             [{"class", "name", "score", "saliency"}]} (Simonyan et al. 2013): |∂S_c/∂x| of the class's
             unnormalized score, the max over channels ((H, W) for images, one value a feature otherwise), for the
             predicted class and for ``cls`` when given.

Class names are the dataset's; numbers are rounded to 6 significant digits. Errors (a view that does not apply, a
sample out of range) are InspectError with what works instead.
"""

from __future__ import annotations

import numpy as np

from dl_lab.core.inspect import class_score_gradient, layer_output
from dl_lab.sessions.inspect.common import Inspected, InspectError


def rounded(values) -> list:
    """Nested lists of floats with 6 significant digits (NaN and infinities as None)."""
    arr = np.asarray(values, dtype=np.float64)
    out = np.where(np.isfinite(arr), arr, 0.0)
    out = np.array([float(f"{v:.6g}") for v in out.reshape(-1)]).reshape(arr.shape)
    listed = out.tolist()
    if np.all(np.isfinite(arr)):
        return listed
    mask = np.isfinite(arr).tolist()

    def merge(v, m):
        return [merge(a, b) for a, b in zip(v, m, strict=True)] if isinstance(v, list) else (v if m else None)

    return merge(listed, mask)


def predictions(ins: Inspected, out) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's predicted class and its probability, from the model's outputs ``out`` (one logit: the
    probability of class 1 against class 0)."""
    prob = np.asarray(ins.loss.probabilities(out), dtype=np.float64)
    if prob.ndim == 1 or prob.shape[1] == 1:
        p1 = prob.reshape(-1)
        prob = np.stack([1 - p1, p1], axis=1)
    return prob.argmax(axis=1), prob.max(axis=1)


def _about_sample(ins: Inspected, view: str, sample: int, x: np.ndarray, true: int, out) -> tuple[dict, int]:
    """The keys every one-sample view starts with, and the predicted class."""
    pred, conf = predictions(ins, out)
    predicted = int(pred[0])
    about = {
        "view": view,
        "checkpoint": ins.checkpoint,
        "sample": sample,
        "true": _class_name(ins, true),
        "predicted": _class_name(ins, predicted),
        "probability": round(float(conf[0]), 6),
        "image": rounded(_raw(ins, x)[0]),
    }
    return about, predicted


def _class_name(ins: Inspected, k: int) -> str:
    names = ins.dataset.class_names or []
    return names[k] if k < len(names) else str(k)


def _sample(ins: Inspected, sample: int) -> tuple[np.ndarray, int]:
    x, y = ins.validation()
    if not 0 <= sample < len(x):
        raise InspectError(f"--sample {sample}: the run's validation split has samples 0 to {len(x) - 1}")
    return x[sample : sample + 1], int(np.asarray(y[sample]).reshape(-1)[0])


def _raw(ins: Inspected, x: np.ndarray) -> np.ndarray:
    shift, scale, _, _ = ins.raw_scale()
    return np.asarray(x, dtype=np.float64) * scale + shift


def _needs_classes(ins: Inspected, view: str) -> None:
    if ins.dataset.task != "classification":
        raise InspectError(
            f"{view}: needs a classification run (class scores); this one is a regression: try landscape"
        )


def filters(ins: Inspected) -> dict:
    layers = []
    for i, layer in enumerate(ins.model.layers):
        weight = layer.weight_parameter()
        if layer.kind == "conv2d" and weight is not None:
            w = np.asarray(weight.data)
            layers.append({"index": i, "kind": "conv2d", "shape": list(w.shape), "filters": rounded(w)})
    if not layers:
        first = next((i for i, layer in enumerate(ins.model.layers) if layer.weight_parameter() is not None), None)
        if first is None or not ins.is_image or ins.model.layers[first].kind != "dense":
            raise InspectError(
                "filters: this model has no conv layer and no dense layer on images; try saliency, gradients or "
                "landscape"
            )
        w = np.asarray(ins.model.layers[first].weight_parameter().data)  # type: ignore[union-attr]
        shape = [w.shape[0], *ins.dataset.input_shape]
        layers.append({"index": first, "kind": "dense", "shape": shape, "filters": rounded(w.reshape(shape))})
    return {"view": "filters", "checkpoint": ins.checkpoint, "layers": layers}


def features(ins: Inspected, sample: int = 0) -> dict:
    kinds = [layer.kind for layer in ins.model.layers]
    if not any(k == "conv2d" for k in kinds):
        raise InspectError("features: feature maps need conv layers and this model has none; try filters or saliency")
    _needs_classes(ins, "features")
    x, true = _sample(ins, sample)
    about, _ = _about_sample(ins, "features", sample, x, true, ins.model.forward(x, training=False))
    layers = []
    for i, kind in enumerate(kinds):
        if kind == "conv2d" or kind.endswith("pool2d"):
            maps = np.asarray(layer_output(ins.model, x, i))[0]
            after = "activation" if kind == "conv2d" else "pooling"
            layers.append({"index": i, "kind": kind, "after": after, "maps": rounded(maps)})
    return {**about, "layers": layers}


def saliency(ins: Inspected, sample: int = 0, cls: int | None = None) -> dict:
    _needs_classes(ins, "saliency")
    x, true = _sample(ins, sample)
    k = ins.dataset.num_classes or 0
    if cls is not None and not 0 <= cls < k:
        raise InspectError(f"--class {cls}: the classes are 0 to {k - 1} ({', '.join(ins.dataset.class_names or [])})")
    out = ins.model.forward(x, training=False)
    about, predicted = _about_sample(ins, "saliency", sample, x, true, out)
    chosen = [predicted] + ([cls] if cls is not None and cls != predicted else [])
    if out.shape[1] == 1:  # one logit (bce): the score of class 1; class 0's is its negative
        scores = [float(out[0, 0]) * (1 if c == 1 else -1) for c in chosen]
        grads = [class_score_gradient(ins.model, x, [0])[1][0] * (1 if c == 1 else -1) for c in chosen]
    else:
        _, dx = class_score_gradient(ins.model, np.repeat(x, len(chosen), axis=0), chosen)
        scores = [float(out[0, c]) for c in chosen]
        grads = list(dx)
    maps = []
    for c, score, grad in zip(chosen, scores, grads, strict=True):
        grad = np.abs(np.asarray(grad, dtype=np.float64))
        values = grad.max(axis=0) if ins.is_image else grad
        maps.append({"class": c, "name": _class_name(ins, c), "score": round(score, 6), "saliency": rounded(values)})
    return {**about, "maps": maps}
