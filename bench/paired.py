#!/usr/bin/env python3
"""Paired, interleaved training throughput of PyTorch and dl-lab: a ratio that survives a shared machine.

    python bench/paired.py [--workloads cnn-mnist,cnn-cifar] [--rounds 12] [--threads 2]

torch_ref.py and engine_bench.py each run for minutes; on a machine shared with other work the load can
change between them, and their ratio then drifts by tens of percent. Here one PyTorch process and one
dl-lab process stay alive and take turns, episode by episode (A B B A in each round, each episode from a
fresh model, of common.episode_steps steps, as common.measure does, after a few untimed steps of another
model, since back-to-back episodes there find threads awake and caches warm), and each round gives its own ratio
dl-lab / torch from episodes seconds apart. Prints each workload's median ratio, its quartiles, and the
median samples/s of each side. It complements, and does not replace, the two reference scripts.

Each round also records the share of the machine's CPU time used by other processes (from /proc); rounds
above --max-foreign (default 10%) are reported apart as "quiet" vs all rounds, since two-thread BLAS and
OpenMP both stall badly when another program holds a core.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "bench"))


def torch_episode_maker(common, name):
    import torch
    import torch_ref

    spec = common.WORKLOADS[name]
    batches = torch_ref.torch_batches(spec)

    def make():
        torch.manual_seed(0)
        model = torch_ref.build_model(spec)
        model.train()
        loss_fn, opt = torch_ref.make_loss(spec), torch_ref.make_optimizer(spec, model.parameters())
        data = itertools.cycle(batches)

        def step():
            x, y = next(data)
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()

        return step

    return make


def engine_episode_maker(common, name):
    from engine_bench import layer_specs

    from dl_lab.core import Sequential, TrainStep, get_loss, make_optimizer

    spec = common.WORKLOADS[name]
    batches = common.make_batches(spec)
    loss_name = "cross_entropy" if spec["loss"] == "softmax_ce" else "bce"

    def make():
        model = Sequential(layer_specs(spec), spec["input"], seed=0, init="torch_default")
        step = TrainStep(model, get_loss(loss_name), make_optimizer(dict(spec["optimizer"])))
        data = itertools.cycle(batches)
        return lambda: step(*next(data))

    return make


def worker(impl: str, shared: str, threads: int) -> None:
    """Answer each workload name read on stdin with the samples/s of one fresh episode."""
    sys.path[:0] = [shared, HERE]
    import common

    if impl == "torch":
        import torch

        torch.set_num_threads(threads)
    makers = {}
    for line in sys.stdin:
        name = line.strip()
        if name not in makers:
            maker = torch_episode_maker if impl == "torch" else engine_episode_maker
            makers[name] = maker(common, name)
        spec = common.WORKLOADS[name]
        steps = common.episode_steps(spec, "train")
        warm = makers[name]()  # a few untimed steps first: threads awake and caches warm, as in measure()
        for _ in range(max(2, steps // 10)):
            warm()
        step = makers[name]()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        print(steps * spec["batch"] / (time.perf_counter() - t), flush=True)


def cpu_jiffies(pids) -> tuple[int, int, int]:
    """(all jiffies, busy jiffies, jiffies of ``pids``) from /proc; zeros where /proc is unavailable."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        own = 0
        for pid in pids:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            own += int(fields[11]) + int(fields[12])  # utime, stime
        return sum(v), sum(v) - v[3] - v[4], own
    except (OSError, ValueError, IndexError):
        return 0, 0, 0


def summary(rounds) -> str:
    ratios = sorted(r["ratio"] for r in rounds)
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return (
        f"ratio median {statistics.median(ratios):.2f} (quartiles {q[0]:.2f}-{q[2]:.2f}), "
        f"samples/s torch {statistics.median(r['torch'] for r in rounds):,.0f}, "
        f"dl-lab {statistics.median(r['dl_lab'] for r in rounds):,.0f}"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workloads", default="mlp-mnist,cnn-mnist,mlp-2d,cnn-cifar")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shared", default=os.environ.get("DL_LAB_BENCH_SHARED", DEFAULT_SHARED))
    ap.add_argument("--torch-python", default=os.environ.get("TORCH_PYTHON", ".venv-torch/bin/python"))
    ap.add_argument("--quiet", type=int, default=0, help="run until this many quiet rounds (0: just --rounds)")
    ap.add_argument("--max-rounds", type=int, default=60, help="at most this many rounds per workload")
    ap.add_argument("--settle", type=float, default=0.3, help="seconds idle before each episode")
    ap.add_argument("--max-foreign", type=float, default=0.10, help="quiet round: others' CPU share below this")
    ap.add_argument("--out", help="also write the per-round numbers as JSON to this file")
    ap.add_argument("--worker", choices=("torch", "dl-lab"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.shared, args.threads)
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(args.threads)
    base = [os.path.abspath(__file__), "--shared", args.shared, "--threads", str(args.threads), "--worker"]
    procs = {
        impl: subprocess.Popen([py, *base, impl], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        for impl, py in (("torch", args.torch_python), ("dl-lab", sys.executable))
    }

    def episode(impl, name):
        # Let the other process's BLAS/OpenMP threads stop spinning (OpenBLAS spins ~0.1 s after a GEMM).
        time.sleep(args.settle)
        procs[impl].stdin.write(name + "\n")
        procs[impl].stdin.flush()
        return float(procs[impl].stdout.readline())

    report = {}
    for name in [w for w in args.workloads.split(",") if w]:
        for impl in procs:  # warm-up episode, untimed
            episode(impl, name)
        rounds = []
        pids = [p.pid for p in procs.values()]
        # --rounds rounds, or with --quiet N as many as it takes (up to --max-rounds) to get N quiet ones.
        while len(rounds) < args.max_rounds and (
            len(rounds) < args.rounds
            if not args.quiet
            else sum(r["foreign"] <= args.max_foreign for r in rounds) < args.quiet
        ):
            all0, busy0, own0 = cpu_jiffies(pids)
            t1, d1, d2, t2 = (episode(i, name) for i in ("torch", "dl-lab", "dl-lab", "torch"))
            all1, busy1, own1 = cpu_jiffies(pids)
            foreign = max(0, (busy1 - busy0) - (own1 - own0)) / max(1, all1 - all0)
            rounds.append(dict(torch=(t1 + t2) / 2, dl_lab=(d1 + d2) / 2, ratio=(d1 + d2) / (t1 + t2), foreign=foreign))
        quiet = [r for r in rounds if r["foreign"] <= args.max_foreign]
        report[name] = dict(rounds=rounds, quiet_rounds=len(quiet))
        shares = ", ".join(f"{r['foreign']:.0%}" for r in rounds)
        print(
            f"{name:10s} all {len(rounds)} rounds: {summary(rounds)}; others' CPU share per round: {shares}", flush=True
        )
        if quiet:
            print(f"{'':10s} {len(quiet)} quiet rounds: {summary(quiet)}", flush=True)
    for p in procs.values():
        p.stdin.close()
        p.wait()
    if args.out:
        with open(args.out, "w") as f:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            json.dump(dict(threads=args.threads, time=stamp, workloads=report), f, indent=1)


if __name__ == "__main__":
    main()
