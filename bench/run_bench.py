#!/usr/bin/env python3
"""Training throughput through `dl-lab run` against PyTorch on the shared workloads W1-W4, measured in turns.

    python bench/run_bench.py --dl-lab after=.venv/bin/dl-lab [--dl-lab before=OTHER/bin/dl-lab]
        [--torch-python .venv-torch/bin/python] [--shared ../shared/bench] [--rounds 5] [--threads 2]
        [--workloads W1,W2,W3,W4] [--out bench/results/run-bench.json]

The shared reference (`torch_ref.py`) times fresh PyTorch models on fixed synthetic batches. dl-lab's side is
what a user runs: a session file per workload (the same layers, loss, optimizer and batch size as
``common.WORKLOADS``) trained by `dl-lab run SESSION --quiet` in a fresh process, and its ``train_samples_per_s``
from summary.json (training steps only: forward, backward, update; the contract's measure). The data is written
once as CSV files of the workload's shape (pixels 0-255, scaled to [0, 1] by ``normalize: minmax``, as the
reference's U[0, 1) inputs; W3 is the Playground xor set, the reference's labels). Each round runs every
implementation once per workload, in an order that alternates between rounds, so each round's ratio comes from
runs a few seconds apart on a shared, noisy machine; the table gives the median of the per-round ratios.
BLAS/OpenMP threads are set to --threads for every process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_bench import layer_specs  # a script beside this one

HERE = Path(__file__).resolve().parent
DEFAULT_SHARED = HERE.parent.parent / "shared" / "bench"

# id -> (shared workload name, rows of training data, epochs)
WORKLOADS = {
    "W1": ("mlp-mnist", 8192, 12),
    "W2": ("cnn-mnist", 4096, 3),
    "W3": ("mlp-2d", 1000, 10),
    "W4": ("cnn-cifar", 1024, 3),
}
VAL_ROWS = 128


def session_text(wid: str, spec: dict, data_dir: Path) -> str:
    name, rows, epochs = WORKLOADS[wid]
    layers = layer_specs(spec)  # the same conversion as engine_bench.py
    opt = dict(spec["optimizer"])
    if opt.get("momentum") == 0.0:
        opt.pop("momentum")
    loss = {"softmax_ce": "cross_entropy", "sigmoid_bce": "bce"}[spec["loss"]]
    if wid == "W3":
        data = {"dataset": "xor", "samples": rows + VAL_ROWS, "val_fraction": VAL_ROWS / (rows + VAL_ROWS)}
    else:
        data = {
            "dataset": "csv",
            "train": str(data_dir / f"{wid}-train.csv"),
            "val": str(data_dir / f"{wid}-val.csv"),
            "target": "label",
            "task": "classification",
            "normalize": "minmax",
        }
        if len(spec["input"]) == 3:
            data["shape"] = list(spec["input"])
    session = {
        "name": f"bench-{wid}-{name}",
        "seed": 0,
        "data": data,
        "model": layers,
        "loss": loss,
        "optimizer": opt,
        "training": {"epochs": epochs, "batch_size": spec["batch"], "shuffle": True},
    }
    return json.dumps(session, indent=1)  # JSON is YAML


def write_csv(path: Path, rows: int, shape: tuple, classes: int, rng: np.random.Generator) -> None:
    width = int(np.prod(shape))
    pixels = rng.integers(0, 256, size=(rows, width))
    labels = rng.integers(0, classes, size=(rows, 1))
    table = np.concatenate([pixels, labels], axis=1)
    header = ",".join([f"p{i}" for i in range(width)] + ["label"])
    np.savetxt(path, table, fmt="%d", delimiter=",", header=header, comments="")


def threads_env(threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    return env


def run_dl_lab(exe: str, session: Path, out: Path, env: dict) -> float:
    result = subprocess.run(
        [exe, "run", str(session), "--out", str(out), "--quiet", "--force"], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"{exe} run {session}: exit {result.returncode}\n{result.stderr[-2000:]}")
    return float(json.loads((out / "summary.json").read_text())["train_samples_per_s"])


def run_torch(python: str, shared: Path, name: str, threads: int, out: Path, env: dict) -> float:
    cmd = [
        python,
        str(shared / "torch_ref.py"),
        "--threads",
        str(threads),
        "--workloads",
        name,
        "--no-matmul",
        "--out",
        str(out),
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=shared)
    if result.returncode != 0:
        raise SystemExit(f"torch_ref.py {name}: exit {result.returncode}\n{result.stderr[-2000:]}")
    data = json.loads(out.read_text())
    return float(data["results"][f"{name}/train"]["samples_per_s"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--dl-lab",
        action="append",
        required=True,
        metavar="LABEL=EXE",
        help="a dl-lab executable to measure, with a label (repeatable: before=..., after=...)",
    )
    ap.add_argument("--torch-python", default=str(HERE.parent / ".venv-torch" / "bin" / "python"))
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    sys.path.insert(0, str(args.shared))
    import common  # the shared workload definitions

    impls = {}
    for item in args.dl_lab:
        label, _, exe = item.partition("=")
        impls[label] = exe
    env = threads_env(args.threads)
    wids = [w.strip() for w in args.workloads.split(",") if w.strip()]
    samples: dict[str, dict[str, list[float]]] = {w: {k: [] for k in ["torch", *impls]} for w in wids}
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="dl-lab-run-bench-") as tmp:
        work = Path(tmp)
        sessions = {}
        for wid in wids:
            name, rows, _ = WORKLOADS[wid]
            spec = common.WORKLOADS[name]
            if wid != "W3":
                write_csv(work / f"{wid}-train.csv", rows, spec["input"], spec["classes"], rng)
                write_csv(work / f"{wid}-val.csv", VAL_ROWS, spec["input"], spec["classes"], rng)
            sessions[wid] = work / f"{wid}.yaml"
            sessions[wid].write_text(session_text(wid, spec, work))
        order = ["torch", *impls]
        for r in range(args.rounds):
            turn = order if r % 2 == 0 else order[::-1]
            for wid in wids:
                name = WORKLOADS[wid][0]
                for impl in turn:
                    t0 = time.monotonic()
                    if impl == "torch":
                        value = run_torch(args.torch_python, args.shared, name, args.threads, work / "torch.json", env)
                    else:
                        value = run_dl_lab(impls[impl], sessions[wid], work / f"run-{impl}-{wid}", env)
                    samples[wid][impl].append(value)
                    print(
                        f"round {r + 1} {wid} {impl:>8}: {value:10,.0f} samples/s ({time.monotonic() - t0:.1f} s)",
                        file=sys.stderr,
                        flush=True,
                    )

    rows = []
    for wid in wids:
        torch_values = samples[wid]["torch"]
        row = {"workload": wid, "name": WORKLOADS[wid][0], "torch": statistics.median(torch_values)}
        for impl in impls:
            ratios = [a / t for a, t in zip(samples[wid][impl], torch_values, strict=True)]
            row[impl] = statistics.median(samples[wid][impl])
            row[f"{impl}_ratio"] = statistics.median(ratios)
            row[f"{impl}_ratios"] = sorted(round(x, 3) for x in ratios)
        rows.append(row)

    head = "| workload | torch samples/s | " + " | ".join(f"{k} samples/s | {k} / torch" for k in impls) + " |"
    print(head)
    print("|" + " --- |" * (2 + 2 * len(impls)))
    for row in rows:
        cells = [f"{row['workload']} {row['name']}", f"{row['torch']:,.0f}"]
        for impl in impls:
            ratios = ", ".join(map(str, row[impl + "_ratios"]))
            cells += [f"{row[impl]:,.0f}", f"**{row[impl + '_ratio']:.2f}** ({ratios})"]
        print("| " + " | ".join(cells) + " |")
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "threads": args.threads,
                    "rounds": args.rounds,
                    "impls": list(impls),
                    "samples": samples,
                    "rows": rows,
                },
                indent=1,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
