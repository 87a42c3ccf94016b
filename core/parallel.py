"""A training step on two halves of the batch at once, one thread each: both cores busy for the whole step.

Why: a convolution step is mostly memory-bound element-wise passes (im2col copies, pooling, activation masks), and
NumPy runs each on one core, whatever the BLAS threads; the GEMMs between them are thin and split poorly between
two BLAS threads. Two halves of the batch, forward and backward side by side, each GEMM on one BLAS thread, keep
both cores working on every pass (NumPy releases the GIL inside array operations). The gradient of the batch mean
is the halves' gradients weighted by their sizes, the same maths as one pass up to rounding.

Only convolutional models split: a dense network's step is a few large GEMMs that two BLAS threads share well.
The second half runs through a replica of the model: its own layers (scratch arrays, kept activations) whose
parameters are views of the model's own values, with a gradient buffer of its own. Only models without layers that
couple the samples of a batch or draw random numbers split (no batchnorm, whose statistics are the whole batch's;
no dropout, whose masks would come from two generators): the result stays exactly reproducible, run after run,
whatever the number of cores. Small steps stay whole: a thread hand-off costs tens of microseconds.

BLAS threads: OpenBLAS's ``openblas_set_num_threads_local`` (OpenBLAS 0.3.27 and later, as bundled with NumPy)
sets the calling thread's own count; both halves use one, and so does the rest of a split step (TrainStep keeps it
to the end, and evaluates a split model in halves too): a BLAS call on two threads wakes OpenBLAS's own worker, which
then spins for a while, on a core the halves need. Where the setter is missing (another BLAS) steps stay whole.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import blas
from .layers.base import prod
from .memory import layer_footprint
from .model import Sequential, _walk

# A step splits when its batch has at least this many samples and its forward pass at least this many FLOPs
# (W2, the small MNIST CNN, at batch 64: 37 MFLOP; the Playground's 2-8-8-1 net at batch 10: 2 kFLOP).
SPLIT_MIN_BATCH = 16
SPLIT_MIN_FLOPS = 10_000_000
# Each half trains in micro-batches whose largest layer (its kept arrays, scratch and work: core/memory.py) holds
# about this many bytes. Measured on W4 (CIFAR CNN, halves of 64, 0.86 MB a sample in its second convolution), one
# core: micro-batches of 64 took 42-45 ms, of 32 38 ms, of 16 29.5 ms, of 8 29 ms, of 4 31 ms: its passes then
# work in the cache instead of memory. W2 (0.24 MB a sample, halves of 32) is as fast whole as in 16s.
MICRO_BYTES = 16 << 20
# Layers whose result for one sample depends on the rest of the batch or on a random generator.
COUPLED = ("batchnorm", "dropout")
# The layers whose steps are mostly element-wise passes: a model splits only with one of them. A dense network's
# step is its GEMMs, which two BLAS threads share well: split, W1 (784-256-128-10) trained 20-45% slower.
SPLITS = ("conv2d",)


def micro_batch(model: Sequential, training: bool = True) -> int:
    """Samples per micro-batch: as many as keep the largest layer's footprint near MICRO_BYTES, in a training step
    (kept arrays, scratch and work) or in an evaluation (its work, input and output)."""
    largest = 0
    for layer in model.layers:
        f = layer_footprint(layer)
        ends = prod(layer.input_shape) + prod(layer.output_shape)
        size = f.kept + f.scratch + f.work if training else f.eval_work + ends
        largest = max(largest, size)
    return max(1, MICRO_BYTES // max(1, largest * model.dtype.itemsize))


def micro_batches(n: int, micro: int) -> int:
    """How many micro-batches ``n`` samples go in: at least ``ceil(n / micro)``, and rather a number that divides n, up
    to twice as many: micro-batches of one size keep the layers' scratch arrays (kept for one shape at a time, see
    Conv2D._buffer) from being allocated again at each change of size."""
    least = -(-n // micro)
    for k in range(least, min(2 * least, n) + 1):
        if n % k == 0:
            return k
    return least


def splittable(model: Sequential) -> bool:
    """Whether ``model``'s steps may be split (NumPy backend, a convolution, no batch-coupled or random layers, and
    control of BLAS threads)."""
    if model.backend.name != "numpy":
        return False
    kinds = {layer.kind for _, layer in _walk(model.layers)}
    if kinds & set(COUPLED) or not kinds & set(SPLITS):
        return False
    return blas.has_threads_local()


class Halves:
    """Trains ``model`` on two halves of each batch at once (see the module's docstring). ``step(x, y)`` returns
    (batch-mean loss as a 0-d array, the model's outputs for the whole batch) and leaves the batch's gradient in
    ``model.grads``, as a whole-batch forward and backward would. Its caller holds one BLAS thread
    (``blas.one_thread``, as TrainStep does); the second half's thread sets its own."""

    def __init__(self, model: Sequential, loss) -> None:
        self.model, self.loss = model, loss
        self.replica: Sequential | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.micro = micro_batch(model)
        self.eval_micro = micro_batch(model, training=False)
        self._sums: dict[int, Any] = {}  # per model (the model, its replica): the gradient summed over micro-batches

    def worth(self, n: int) -> bool:
        return n >= SPLIT_MIN_BATCH and self.model.flops * n >= SPLIT_MIN_FLOPS

    def _replica(self) -> Sequential:
        model = self.model
        rep = Sequential(model.specs, model.input_shape, backend=model.backend, dtype=model.dtype, init=model.init)
        grads = model.xp.zeros_like(model.grads)
        for (_, mine), (_, theirs) in zip(model.named_parameters(), rep.named_parameters(), strict=True):
            theirs.bind(mine.data, mine.view(grads), mine.offset)
        rep.params, rep.grads = model.params, grads
        for (_, a), (_, b) in zip(_walk(model.layers), _walk(rep.layers), strict=True):
            b.needs_input_grad, b.frozen = a.needs_input_grad, a.frozen
            if hasattr(a, "act"):
                b.act = a.act  # the output activation a loss fused (fuse_output)
        rep.fused = model.fused
        return rep

    def _half(self, model: Sequential, x, y):
        """Forward and backward on one half, in micro-batches of about ``self.micro`` samples (see micro_batch):
        each micro-batch's gradient is that of its own mean loss, so the half's is their sum weighted by size."""
        n = len(x)
        k = micro_batches(n, self.micro)
        if k <= 1:
            out = model.forward(x, training=True)
            loss, dout = self.loss(out, y)
            model.backward(dout)
            return loss, out
        xp, grads = model.xp, model.grads
        total = self._sums.get(id(model))
        if total is None:
            total = self._sums[id(model)] = xp.empty_like(grads)
        bounds = [n * i // k for i in range(k + 1)]
        outs, loss = [], None
        for i, (a, b) in enumerate(itertools.pairwise(bounds)):
            out = model.forward(x[a:b], training=True)
            part, dout = self.loss(out, y[a:b])
            model.backward(dout)
            w = (b - a) / n
            if i == 0:
                xp.multiply(grads, w, out=total)
            elif not blas.axpy(w, grads, total):
                total += grads * w
            loss = part * w if loss is None else loss + part * w
            outs.append(out)
        grads[...] = total
        return loss, xp.concatenate(outs)

    def _start(self) -> tuple[Sequential, ThreadPoolExecutor]:
        if self.replica is None or self.pool is None:
            self.replica = self._replica()
            self.pool = ThreadPoolExecutor(1, "dl-lab-half", initializer=blas.threads_local, initargs=(1,))
        return self.replica, self.pool

    def predict(self, x, batch_size: int):
        """The model's outputs on host array ``x`` in evaluation mode, as ``predict_batches`` gives them, each
        batch of ``batch_size`` run as two halves at once where that is worth it. Like ``step``, for a caller on one
        BLAS thread (TrainStep)."""
        model = self.model
        replica, pool = self._start()
        chunks = []
        batch_size = min(batch_size, 2 * self.eval_micro)  # W4, 2,048 images: 370 ms in batches of 1,024, 180 in 76s
        for i in range(0, len(x), batch_size):
            batch = model.backend.asarray(x[i : i + batch_size])
            n = len(batch)
            if not self.worth(n):
                chunks.append(model.forward(batch, training=False))
                continue
            h = (n + 1) // 2
            second = pool.submit(replica.forward, batch[h:], False)
            chunks.append(model.forward(batch[:h], training=False))
            chunks.append(second.result())
        return model.xp.concatenate(chunks) if len(chunks) > 1 else chunks[0]

    def step(self, x, y):
        replica, pool = self._start()
        model, xp = self.model, self.model.xp
        n = len(x)
        h = (n + 1) // 2
        second = pool.submit(self._half, replica, x[h:], y[h:])
        loss1, out1 = self._half(model, x[:h], y[:h])  # on one BLAS thread: TrainStep holds it (blas.one_thread)
        loss2, out2 = second.result()
        a, b = h / n, (n - h) / n  # each half's loss is its own mean
        grads, other = model.grads, replica.grads
        if not blas.scal(a, grads):  # through the BLAS (one thread): one pass for grads += b other
            grads *= a
        if not blas.axpy(b, other, grads):
            other *= b
            grads += other
        return loss1 * a + loss2 * b, xp.concatenate([out1, out2])
