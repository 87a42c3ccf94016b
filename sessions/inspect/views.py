"""The inspect views by name: one dispatcher for `dl-lab inspect` and the app's inspect screen."""

from __future__ import annotations

from dl_lab.sessions.inspect.common import Inspected, InspectError

VIEWS = ("filters", "features", "saliency", "adversarial", "dream", "landscape", "gradients")
ABOUT = {
    "filters": "conv kernels (an image MLP: its first layer's weights over the image)",
    "features": "every conv and pooling layer's maps for one validation image",
    "saliency": "|d class score / d input| for the predicted class (and a chosen one)",
    "adversarial": "FGSM and PGD: validation accuracy against eps, and fooled examples",
    "dream": "the input each class scores highest (gradient ascent from zero)",
    "landscape": "the loss around the weights, two filter-normalized directions",
    "gradients": "|dL/dW| per layer over training and for one batch now",
}


def compute(
    view: str,
    ins: Inspected,
    *,
    sample: int = 0,
    cls: int | None = None,
    eps=None,
    steps: int | None = None,
    samples: int | None = None,
    layer: int | None = None,
    channel: int | None = None,
    mode: str = "2d",
    grid: int = 21,
    span: float = 1.0,
    batch: int = 64,
    l2: float = 1e-3,
    jitter: int = 1,
    blur: float = 0.0,
    directions: str = "random",
) -> dict:
    """The numbers of ``view`` for the inspected run (options a view does not use are ignored)."""
    from dl_lab.sessions.inspect import adversarial, dream, gradients, landscape, pictures

    if view == "filters":
        return pictures.filters(ins)
    if view == "features":
        return pictures.features(ins, sample)
    if view == "saliency":
        return pictures.saliency(ins, sample, cls)
    if view == "adversarial":
        return adversarial.compute(ins, eps=eps, steps=5 if steps is None else steps, samples=samples)
    if view == "dream":
        chosen = None if cls is None else [cls]
        return dream.compute(
            ins,
            classes=chosen,
            layer=layer,
            channel=channel,
            steps=100 if steps is None else steps,
            l2=l2,
            jitter=jitter,
            blur=blur,
        )
    if view == "landscape":
        return landscape.compute(
            ins, mode=mode, steps=grid, span=span, samples=256 if samples is None else samples, directions=directions
        )
    if view == "gradients":
        return gradients.compute(ins, batch=batch)
    raise InspectError(f"VIEW {view!r}: expected one of {', '.join(VIEWS)}")
