"""What input a trained image model would most like to see: class-model visualization (Simonyan et al. 2013) and,
for a hidden channel, DeepDream-style activation maximization.

For each class c, gradient ascent on the input, from zero in the model's input units (the training data's mean
for standardized runs; a channel's dream starts from faint noise drawn from ``seed``, as a ReLU unit that is off at
zero has no gradient there), of S_c(I) - l2·‖I‖², with S_c the unnormalized class score (the logit; for a
one-logit binary classifier S_1 = z and S_0 = -z). With ``layer`` and ``channel`` the objective is instead the mean
over positions of that layer's output channel (a unit for a dense layer), after its activation. Every step:

- jitter: the image is rolled by a random offset of up to ``jitter`` pixels in each direction before the gradient
  is taken (the gradient is rolled back), so that the image cannot rely on exact pixel positions;
- the step x += lr·(∇S - 2·l2·x);
- every ``BLUR_EVERY`` steps (and after the last one), when ``blur`` > 0, a Gaussian blur of ``blur`` pixels
  (sigma; a separable convolution, edges repeated) to keep high frequencies down (Olah et al., Distill 2017);
- the image is clipped to the raw training data's range [lo, hi], in the model's input units.

All tiles are optimized together, as one batch; jitter offsets are drawn from ``seed``.

``compute(ins, classes=None, channel=None, layer=None, steps=100, lr=0.1, l2=1e-3, jitter=1, blur=0.0, seed=0,
every=10)`` ->
{"view": "dream",
 "checkpoint": the checkpoint's name,
 "target": "class" (one tile a class) or "channel" (one tile for ``layer``'s ``channel``),
 "steps", "lr", "l2", "jitter", "blur", "every": the settings used,
 "range": [lo, hi] the raw data's range the images are clipped to,
 "tiles": [
   {"class": the class id (target "class"),
    "name": the class's name (target "class"), or "layer L channel C" (target "channel"),
    "layer", "channel", "kind": the layer's index, the channel and the layer's kind (target "channel" only),
    "image": the optimized input in raw units (raw = x·scale + shift), nested lists shaped (C, H, W),
    "score": the objective's value on the final image without its l2 term (S_c, or the channel's mean),
    "probability": the model's probability of the tile's class on the final image (target "class" only;
                   for target "channel": the probability of ``predicted``),
    "predicted": the name of the class the model predicts for the final image (null for a regression model),
    "progress": [{"step": the number of ascent steps taken, "score": the objective then}] at step 0 and every
                ``every`` steps, and at the last step}]}
Numbers are rounded to 6 significant digits; non-finite ones are null. Inputs that are not images (2-D points,
tables) raise InspectError: saliency and landscape work for them.
"""

from __future__ import annotations

import numpy as np

from dl_lab.core.inspect import class_score_gradient, evaluation_gradients, input_gradient, layer_output
from dl_lab.sessions.inspect.common import Inspected, InspectError, number
from dl_lab.sessions.inspect.pictures import _class_name, _needs_classes, rounded

BLUR_EVERY = 4  # steps between blurs
CHANNEL_NOISE = 0.1  # a channel's dream starts from Gaussian noise of this std (model input units), not zero


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """``x`` (..., H, W) blurred by a Gaussian of ``sigma`` pixels: one 1-D kernel along H then along W (the edges
    repeated, so a constant image stays constant)."""
    if sigma <= 0:
        return x
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).astype(x.dtype)
    for axis in (-2, -1):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (radius, radius)
        windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, pad, mode="edge"), len(kernel), axis=axis)
        x = windows @ kernel
    return x


def _check(steps, lr, l2, jitter, blur, every) -> None:
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise InspectError(f"--steps {steps}: expected a whole number of ascent steps, at least 1")
    if not np.isfinite(lr) or lr <= 0:
        raise InspectError(f"--lr {lr}: expected a positive step size")
    if not np.isfinite(l2) or l2 < 0:
        raise InspectError(f"--l2 {l2}: expected a non-negative weight of the ‖I‖² penalty")
    if not isinstance(jitter, (int, np.integer)) or jitter < 0:
        raise InspectError(f"--jitter {jitter}: expected a whole number of pixels, 0 or more")
    if not np.isfinite(blur) or blur < 0:
        raise InspectError(f"--blur {blur}: expected a non-negative sigma in pixels (0: no blur)")
    if not isinstance(every, (int, np.integer)) or every < 1:
        raise InspectError(f"--every {every}: expected a whole number of steps between progress records, at least 1")


def _n_classes(ins: Inspected) -> int:
    out = int(np.prod(ins.model.output_shape)) if hasattr(ins.model, "output_shape") else None
    if out is None:
        out = int(ins.model.layers[-1].output_shape[0])
    return 2 if out == 1 else out


def _resolve_classes(ins: Inspected, classes) -> list[int]:
    k = _n_classes(ins)
    if classes is None:
        return list(range(k))
    if isinstance(classes, (int, str, np.integer)):
        classes = [classes]
    names = list(ins.dataset.class_names or [])
    out = []
    for c in classes:
        if isinstance(c, str) and c in names:
            out.append(names.index(c))
            continue
        try:
            i = int(c)
        except (TypeError, ValueError):
            i = -1
        if isinstance(c, bool) or not 0 <= i < k or (isinstance(c, float) and c != i):
            shown = ", ".join(names) if names else f"0 to {k - 1}"
            raise InspectError(f"--classes {c!r}: not a class of this run (it has {k}: {shown})")
        out.append(i)
    if not out:
        raise InspectError("--classes: expected at least one class")
    return out


def _channel_target(ins: Inspected, layer, channel) -> tuple[int, int]:
    n = len(ins.model.layers)
    if not isinstance(layer, (int, np.integer)) or not 0 <= layer < n:
        raise InspectError(f"--layer {layer}: expected a layer index from 0 to {n - 1}")
    channels = int(ins.model.layers[layer].output_shape[0])
    if not isinstance(channel, (int, np.integer)) or not 0 <= channel < channels:
        raise InspectError(
            f"--channel {channel}: layer {layer} ({ins.model.layers[layer].kind}) has channels 0 to {channels - 1}"
        )
    return int(layer), int(channel)


def _channel_gradient(model, x, index: int, channel: int) -> np.ndarray:
    """∂ mean(layer ``index``'s output channel ``channel``)/∂x for each sample, through the evaluation function,
    running only the layers up to ``index``."""
    stack = model.layers[: index + 1]
    with evaluation_gradients(model):
        h = x
        for layer in stack:
            h = layer.forward(h, True)
        d = np.zeros_like(h)
        d[:, channel] = 1.0 / max(1, int(np.prod(h.shape[2:])))
        for layer in reversed(stack):
            d = layer.backward(d)
    return d


def _channel_score(model, x, index: int, channel: int) -> np.ndarray:
    h = np.asarray(layer_output(model, x, index))
    return h[:, channel].reshape(len(x), -1).mean(axis=1)


def compute(
    ins: Inspected,
    *,
    classes=None,
    channel=None,
    layer=None,
    steps: int = 100,
    lr: float = 0.1,
    l2: float = 1e-3,
    jitter: int = 1,
    blur: float = 0.0,
    seed: int = 0,
    every: int = 10,
) -> dict:
    if not ins.is_image:
        shape = tuple(ins.dataset.input_shape)
        raise InspectError(
            f"dream: needs image data (inputs shaped (C, H, W)); this run's inputs are shaped {shape}: "
            "try saliency or landscape"
        )
    _check(steps, lr, l2, jitter, blur, every)
    if channel is not None and layer is None:
        raise InspectError(f"--channel {channel}: needs --layer (the index of the layer whose channel to maximize)")
    if layer is not None and channel is None:
        raise InspectError(f"--layer {layer}: needs --channel (which of its channels to maximize)")
    target = "channel" if layer is not None else "class"
    if target == "channel" and classes is not None:
        raise InspectError("--classes: not with --layer/--channel (a channel's dream has no class)")
    model = ins.model
    dtype = model.dtype
    classification = ins.dataset.task == "classification"
    if target == "class":
        _needs_classes(ins, "dream")
        ids = _resolve_classes(ins, classes)
        one_logit = _n_classes(ins) == 2 and int(model.layers[-1].output_shape[0]) == 1
    else:
        index, ch = _channel_target(ins, layer, channel)
        ids = [0]
        one_logit = False
    shift, scale, lo, hi = ins.raw_scale()
    bound_a, bound_b = (lo - shift) / scale, (hi - shift) / scale
    lo_m, hi_m = np.minimum(bound_a, bound_b).astype(dtype), np.maximum(bound_a, bound_b).astype(dtype)
    rng = np.random.default_rng(seed)
    k = len(ids)
    x = np.zeros((k, *ins.dataset.input_shape), dtype=dtype)
    if target == "channel":  # a ReLU unit that is off at zero would stay there: start from faint noise
        x += np.asarray(rng.normal(0.0, CHANNEL_NOISE, size=x.shape), dtype=dtype)
    x = np.clip(x, lo_m, hi_m)
    cls = np.asarray(ids)
    sign = np.where(cls == 1, 1.0, -1.0).astype(dtype)[:, None]  # one-logit binary: S_1 = z, S_0 = -z

    def gradient(xb):
        if target == "channel":
            return _channel_gradient(model, xb, index, ch)
        if one_logit:
            return input_gradient(model, xb, lambda out: np.broadcast_to(sign, out.shape))[1]
        return class_score_gradient(model, xb, ids)[1]

    def scores(xb):
        if target == "channel":
            return _channel_score(model, xb, index, ch)
        out = np.asarray(model.forward(xb, training=False), dtype=np.float64)
        return out[:, 0] * sign[:, 0] if one_logit else out[np.arange(k), cls]

    progress: list[list[dict]] = [[] for _ in range(k)]

    def record(step):
        for i, s in enumerate(scores(x)):
            progress[i].append({"step": step, "score": number(s)})

    record(0)
    for step in range(1, steps + 1):
        if jitter:
            dy, dx = (int(v) for v in rng.integers(-jitter, jitter + 1, size=2))
            g = np.roll(gradient(np.roll(x, (dy, dx), axis=(-2, -1))), (-dy, -dx), axis=(-2, -1))
        else:
            g = gradient(x)
        x = x + lr * (np.asarray(g, dtype=dtype) - 2 * l2 * x)
        if blur and (step % BLUR_EVERY == 0 or step == steps):
            x = gaussian_blur(x, blur)
        x = np.clip(x, lo_m, hi_m)
        if step % every == 0 or step == steps:
            record(step)

    final = scores(x)
    probs, predicted = None, None
    if classification:
        out = model.forward(x, training=False)
        probs = np.asarray(ins.loss.probabilities(out), dtype=np.float64)
        if probs.ndim == 1 or probs.shape[1] == 1:
            p1 = probs.reshape(-1)
            probs = np.stack([1 - p1, p1], axis=1)
        predicted = probs.argmax(axis=1)
    raw = np.asarray(x, dtype=np.float64) * scale + shift
    tiles = []
    for i, c in enumerate(ids):
        tile: dict = {}
        if target == "class":
            tile.update({"class": c, "name": _class_name(ins, c)})
        else:
            tile.update({"name": f"layer {index} channel {ch}", "layer": index, "channel": ch})
            tile["kind"] = model.layers[index].kind
        tile["image"] = rounded(raw[i])
        tile["score"] = number(final[i])
        if probs is not None and predicted is not None:
            p = int(predicted[i])
            tile["probability"] = number(probs[i, c] if target == "class" else probs[i, p])
            tile["predicted"] = _class_name(ins, p)
        else:
            tile["probability"], tile["predicted"] = None, None
        tile["progress"] = progress[i]
        tiles.append(tile)
    return {
        "view": "dream",
        "checkpoint": ins.checkpoint,
        "target": target,
        "steps": int(steps),
        "lr": float(lr),
        "l2": float(l2),
        "jitter": int(jitter),
        "blur": float(blur),
        "every": int(every),
        "range": [lo, hi],
        "tiles": tiles,
    }
