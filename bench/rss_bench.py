#!/usr/bin/env python3
"""Resident memory of a long headless run: is it flat?

    python bench/rss_bench.py [--preset digits_cnn] [--minutes 10] [--every 5] [--out FILE.json]

Starts `dl-lab run PRESET --epochs 100000 --quiet` into a temporary run directory, reads the process's
resident set size (VmRSS in /proc/PID/status, Linux) every few seconds for the given minutes, then stops the
run with Ctrl-C (SIGINT: it saves a checkpoint and exits 130) and prints RSS after 1 minute, after the last
minute, the largest seen, the epochs done and the size of the run directory. Samples go to --out as JSON.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_mib(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return None


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def epochs_done(run: Path) -> int:
    metrics = run / "metrics.jsonl"
    if not metrics.exists():
        return 0
    with metrics.open("rb") as handle:
        return sum(1 for line in handle if b'"event": "epoch"' in line or b'"event":"epoch"' in line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="digits_cnn")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dl-lab-rss-") as tmp:
        run = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "dl_lab.cli.main", "run", args.preset, "--epochs", "100000", "--quiet"]
        cmd += ["--out", str(run)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        start = time.monotonic()
        samples: list[tuple[float, float]] = []
        end = start + args.minutes * 60.0
        while time.monotonic() < end and proc.poll() is None:
            value = rss_mib(proc.pid)
            if value is not None:
                samples.append((round(time.monotonic() - start, 1), round(value, 1)))
            time.sleep(args.every)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        err = proc.stderr.read().decode() if proc.stderr else ""
        size = folder_size(run) if run.exists() else 0
        epochs = epochs_done(run)

    if not samples:
        print("no samples: the run ended at once", err, file=sys.stderr)
        return 1

    def at(seconds: float) -> float:
        return min(samples, key=lambda s: abs(s[0] - seconds))[1]

    result = {
        "preset": args.preset,
        "minutes": args.minutes,
        "rss_mib_after_1_min": at(60.0),
        "rss_mib_at_end": samples[-1][1],
        "rss_mib_max": max(v for _, v in samples),
        "epochs": epochs,
        "run_dir_bytes": size,
        "exit_status": proc.returncode,
        "samples": samples,
    }
    print(
        f"{args.preset}: RSS {result['rss_mib_after_1_min']:.1f} MiB after 1 min, "
        f"{result['rss_mib_at_end']:.1f} MiB after {samples[-1][0] / 60:.1f} min (max {result['rss_mib_max']:.1f}); "
        f"{epochs} epochs, run folder {size / 1e6:.1f} MB, exit {proc.returncode}"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
