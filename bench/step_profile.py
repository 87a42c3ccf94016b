#!/usr/bin/env python3
"""Where a training step's time goes: per layer (forward, backward), the loss, the optimizer, and the GEMMs' share.

    python bench/step_profile.py [--workload cnn-cifar] [--steps 20] [--batch N] [--shared ../shared/bench]

Builds the shared workload (``common.WORKLOADS``) with dl-lab's engine as engine_bench.py does and times one
whole step at a time (no split into halves), each layer's forward and backward wrapped with a timer, and every
``matmul`` the layers call counted apart (the layers' array module is swapped for a proxy that times matmul).
Times are CPU seconds of the calling thread (``time.thread_time``), so a busy machine inflates them less than wall
time; run it with OPENBLAS_NUM_THREADS=1 to see one core's work (a split step gives each half one core), with 2
for a whole step's. ``--batch`` overrides the workload's batch (half of it: what one half of a split step does).
``--micro`` runs that batch as a split step's half does (core/parallel.py, dl-lab versions that have it): in
micro-batches of the size the engine picks for the model (``--micro N`` forces N), the gradients summed; the
layers' times are then summed over the micro-batches of a step.
Works on any dl-lab version with Sequential and TrainStep, for before/after profiles.
"""

from __future__ import annotations

import argparse
import collections
import inspect
import itertools
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parent.parent / "shared" / "bench"


class TimedXP:
    """The layers' array module, with ``matmul`` timed into ``log``."""

    def __init__(self, xp, log):
        self._xp, self._log = xp, log

    def __getattr__(self, name):
        return getattr(self._xp, name)

    def matmul(self, *args, **kwargs):
        t = time.thread_time()
        out = self._xp.matmul(*args, **kwargs)
        self._log.append(time.thread_time() - t)
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="cnn-cifar")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--micro", type=int, nargs="?", const=0, default=None, help="micro-batches (0: the engine's)")
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    args = ap.parse_args()
    sys.path.insert(0, str(args.shared))
    sys.path.insert(0, str(HERE))
    import common
    from engine_bench import layer_specs

    from dl_lab.core import Sequential, TrainStep, get_loss, make_optimizer

    spec = common.WORKLOADS[args.workload]
    batch = args.batch or spec["batch"]
    batches = [(x[:batch], y[:batch]) for x, y in common.make_batches(spec)]
    model = Sequential(layer_specs(spec), spec["input"], seed=0, init="torch_default")
    loss = get_loss("cross_entropy" if spec["loss"] == "softmax_ce" else "bce")
    optimizer = make_optimizer(dict(spec["optimizer"]))
    whole = {"split": False} if "split" in inspect.signature(TrainStep).parameters else {}
    step = TrainStep(model, loss, optimizer, **whole)
    loss_owner = step
    if args.micro is not None:
        from dl_lab.core.parallel import Halves

        halves = Halves(model, loss)
        halves.micro = args.micro or halves.micro
        print(f"micro-batches of {halves.micro} (of {batch})")

        def half_step(x, y):  # what one core does in a split step: its half, then (here) the update
            out = halves._half(model, x, y)
            optimizer.step(model.params, model.grads)
            return out

        step, loss_owner = half_step, halves

    times: dict[str, list[float]] = collections.defaultdict(list)
    gemms: list[float] = []

    def timed(obj, method, label):
        fn = getattr(obj, method)

        def wrapper(*a, **k):
            t = time.thread_time()
            out = fn(*a, **k)
            times[label].append(time.thread_time() - t)
            return out

        setattr(obj, method, wrapper)

    for i, layer in enumerate(model.layers):
        layer.ctx = type(layer.ctx)(**{**vars(layer.ctx), "xp": TimedXP(layer.ctx.xp, gemms)})
        timed(layer, "forward", f"{i} {layer.kind} forward")
        timed(layer, "backward", f"{i} {layer.kind} backward")
    timed(loss_owner, "loss", "loss")
    timed(optimizer, "step", "optimizer")
    data = itertools.cycle(batches)
    for _ in range(3):
        step(*next(data))
    times.clear()
    totals, gemm_share = [], []
    for _ in range(args.steps):
        gemms.clear()
        t = time.thread_time()
        step(*next(data))
        total = time.thread_time() - t
        totals.append(total)
        gemm_share.append(sum(gemms) / total)
    med = statistics.median(totals)
    print(
        f"{args.workload}, batch {batch}: step {med * 1e3:.1f} ms CPU ({batch / med:,.0f} samples/s on this thread); "
        f"GEMMs {100 * statistics.median(gemm_share):.0f}% of it"
    )
    order = sorted(times, key=lambda k: (k.split()[-1] == "backward", k in ("loss", "optimizer")))
    for label in order:
        calls = len(times[label]) / args.steps  # more than one a step in micro-batches
        value = statistics.median(times[label]) * calls
        print(f"  {label:28s} {value * 1e3:7.2f} ms  {100 * value / med:4.0f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
