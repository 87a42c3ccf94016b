#!/usr/bin/env python3
"""dl-lab's engine on the reference workloads W1-W4, timed with the shared harness (common.measure).

    python bench/engine_bench.py --threads 2 [--shared ../shared/bench] [--out FILE] [--backend numpy|cupy]

Writes the common.py JSON layout with impl "dl-lab", so that the shared report.py shows it beside torch.
The shared harness is read from --shared (default: ../shared/bench beside the repository).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench"))


def parse_args(argv=None):
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--shared", default=os.environ.get("DL_LAB_BENCH_SHARED", DEFAULT_SHARED))
    known, _ = pre.parse_known_args(argv)
    if not os.path.exists(os.path.join(known.shared, "common.py")):
        sys.exit(f"bench: the shared harness common.py was not found in {known.shared} (pass --shared DIR)")
    sys.path.insert(0, known.shared)
    import common

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=known.shared)
    ap.add_argument("--backend", default="numpy")
    common.add_common_args(ap)
    return ap.parse_args(argv), common


def layer_specs(spec) -> list[dict]:
    """The workload's layers as dl-lab specs; activations fused into the preceding dense/conv layer."""
    out = []
    for layer in spec["layers"]:
        kind = layer[0]
        if kind == "linear":
            out.append({"dense": {"units": layer[1]}})
        elif kind == "conv":
            out.append({"conv2d": {"filters": layer[1], "kernel": layer[2], "padding": layer[3]}})
        elif kind in ("relu", "tanh"):
            out[-1][next(iter(out[-1]))]["activation"] = kind
        elif kind == "maxpool":
            out.append({"maxpool2d": {"size": layer[1]}})
        elif kind == "flatten":
            out.append({"flatten": {}})
    return out


def bench_workload(common, res, name, backend, args, reps):
    """Train (and, for W1/W2, infer) one workload with fresh models, recording samples/s into ``res``."""
    from dl_lab.core import Sequential, TrainStep, get_loss, make_optimizer

    spec = common.WORKLOADS[name]
    batches = [(backend.asarray(x), backend.asarray(y)) for x, y in common.make_batches(spec)]
    loss_name = "cross_entropy" if spec["loss"] == "softmax_ce" else "bce"

    def make_model():
        return Sequential(layer_specs(spec), spec["input"], backend=backend, seed=0, init="torch_default")

    def make_train_step():
        step = TrainStep(make_model(), get_loss(loss_name), make_optimizer(dict(spec["optimizer"])))
        data = itertools.cycle(batches)
        return lambda: step(*next(data))

    m = common.measure(make_train_step, spec["batch"], common.episode_steps(spec, "train", args.scale), **reps)
    common.add_result(res, name, "train", m)
    common.log(f"dl-lab t={args.threads} {name}/train: {m['samples_per_s']:.0f} samples/s ({m['step_ms']:.3f} ms)")
    if name in common.INFER:
        model = make_model()
        data = itertools.cycle(batches)
        m = common.measure(
            lambda: lambda: model.forward(next(data)[0]),
            spec["batch"],
            common.episode_steps(spec, "infer", args.scale),
            **reps,
        )
        common.add_result(res, name, "infer", m)
        common.log(f"dl-lab t={args.threads} {name}/infer: {m['samples_per_s']:.0f} samples/s")


def main(argv=None):
    args, common = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    from dl_lab.core import get_backend

    backend = get_backend(args.backend)
    timing = dict(repeats=args.repeats, warmup=args.warmup, scale=args.scale)
    res = common.new_result("dl-lab", "0.1.0", args.threads, timing)
    res["host"]["backend"] = backend.name
    reps = dict(repeats=args.repeats, warmup=args.warmup, sync=backend.sync)
    for name in [w for w in args.workloads.split(",") if w]:
        bench_workload(common, res, name, backend, args, reps)
    if not args.no_matmul:
        res["matmul"] = common.matmul_bench(np.matmul, lambda r, c: np.random.rand(r, c).astype(np.float32))
        res["matmul_peak_gflops"] = max(v["gflops"] for v in res["matmul"].values())
    common.emit(res, args.out)


if __name__ == "__main__":
    main()
