"""One training step (forward, loss, backward, penalty, clipping, update) and batched evaluation."""

from __future__ import annotations

from typing import Any

from . import blas
from .optimizers import apply_penalty, clip_grad_norm
from .parallel import Halves, splittable


class TrainStep:
    """Binds a model, a loss and an optimizer; calling it with a batch trains on it and returns the loss.

    The returned loss is a 0-d backend array (no device synchronisation until someone reads it). With ``split``
    (the default), a large enough step of a model that allows it trains on two halves of the batch at once, one
    core each (core/parallel.py); ``split=False`` keeps every step whole (the backprop view's worked numbers).
    """

    def __init__(
        self,
        model,
        loss,
        optimizer,
        *,
        l1: float = 0.0,
        l2: float = 0.0,
        clip_norm: float | None = None,
        keep_on_nan: bool = False,
        split: bool = True,
    ):
        self.model, self.loss, self.optimizer = model, loss, optimizer
        # keep_on_nan: a NaN or infinite loss skips the update, so that the weights stay those the loss came from
        # (a diagnosis then tells weights that broke from a step that broke them); it reads the loss each step
        self.keep_on_nan = keep_on_nan
        self.l1, self.l2, self.clip_norm = float(l1), float(l2), clip_norm
        optimizer.bind(model.xp, model.size, model.dtype)
        self.grad_norm: float | None = None  # set by each step when clip_norm is on
        self.out: Any = None
        self.halves = Halves(model, loss) if split and splittable(model) else None

    def __call__(self, x, y, keep: bool = False):
        if self.halves is None:
            return self._step(x, y, keep, split=False)
        # A model that splits trains on one BLAS thread per core, split steps to their end and whole ones (small, or
        # monitored) too. One BLAS call on two threads (the halves' sum, an SGD update) wakes OpenBLAS's own worker
        # thread, which then waits for more work by spinning, on one of the two cores the halves run on: W4's step
        # took 80 ms instead of 44 in three runs of four. A whole step then costs a little more (W4's monitored step:
        # 84 ms on one BLAS thread, 68 on two) than the spinning cost the steps after it (25-40 ms).
        with blas.one_thread():
            return self._step(x, y, keep, split=not keep and self.halves.worth(len(x)))

    def _step(self, x, y, keep: bool, split: bool):
        model = self.model
        if split and self.halves is not None:
            loss, out = self.halves.step(x, y)
        else:
            out = model.forward(x, training=True, keep=keep)
            loss, dout = self.loss(out, y)
            model.backward(dout)
        self.out = out  # kept for running metrics (accuracy, errors) read by whoever drives training
        n = model.n_regularized
        if (self.l1 or self.l2) and n:
            apply_penalty(model.xp, model.params[:n], model.grads[:n], self.l1, self.l2)
        if self.clip_norm:
            self.grad_norm = clip_grad_norm(model.xp, model.grads, self.clip_norm)
        if self.keep_on_nan and not bool(model.xp.isfinite(loss)):
            return loss
        self.optimizer.step(model.params, model.grads)
        return loss

    def predict(self, x, batch_size: int = 1024):
        """``predict_batches`` for the model this step trains (evaluation between epochs). A split model's batches
        run as two halves at once, one BLAS thread each, like its training steps: evaluated on the BLAS's two
        threads, it woke OpenBLAS's worker, whose spinning slowed the next epoch's first steps (W4: 70 and 58 ms
        instead of 44)."""
        if self.halves is None:
            return predict_batches(self.model, x, batch_size)
        with blas.one_thread():
            return self.halves.predict(x, batch_size)


def predict_batches(model, x, batch_size: int = 1024):
    """The model's outputs (logits) on host array ``x``, in evaluation mode, as a backend array."""
    xp = model.xp
    chunks = [
        model.forward(model.backend.asarray(x[i : i + batch_size]), training=False)
        for i in range(0, len(x), batch_size)
    ]
    return xp.concatenate(chunks) if len(chunks) > 1 else chunks[0]
