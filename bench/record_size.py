#!/usr/bin/env python3
"""How much a recorded run takes on disk: every offline preset with its own epochs, and spiral at 1,000 epochs.

    python bench/record_size.py --dl-lab before=OTHER/.venv/bin/dl-lab --dl-lab after=.venv/bin/dl-lab
        [--max-epochs N] [--spiral-epochs 1000] [--presets spiral,xor] [--out bench/results/record-sizes.json]

Each preset is trained by `dl-lab run PRESET --out DIR --quiet` (with ``--epochs`` where --max-epochs caps it, or
for the long spiral run) by each executable in turn, into a temporary folder; the script then counts the run
folder's bytes (every file), metrics.jsonl's bytes and its lines by event kind, and the frames/ folder (the
weights recorded at snapshots). Presets whose data is downloaded (the dataset is not offline in dl-lab's registry)
are skipped and listed as such. Sizes do not depend on the machine's speed (the record holds the same lines run
after run); the seconds are only there to size a run of this script.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PRESETS = HERE.parent / "sessions" / "presets"
LONG = ("spiral", 1000)  # the case: a Playground-sized model for 1,000 epochs


def offline_presets(names: list[str] | None) -> tuple[list[tuple[str, int]], list[str]]:
    """(name, epochs) of the presets that train without a download, in file order, and the names of the others."""
    from dl_lab.datasets.registry import lookup

    runs, skipped = [], []
    for path in sorted(PRESETS.glob("*.yaml")):
        if names and path.stem not in names:
            continue
        spec = yaml.safe_load(path.read_text())
        if lookup(spec["data"]["dataset"]).offline:
            runs.append((path.stem, int(spec["training"]["epochs"])))
        else:
            skipped.append(path.stem)
    return runs, skipped


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.name != ".lock") if path.is_dir() else 0


def measure(run_dir: Path) -> dict:
    metrics = run_dir / "metrics.jsonl"
    lines, sizes = Counter(), Counter()
    for line in metrics.read_bytes().splitlines(keepends=True):
        kind = json.loads(line).get("event", "?")
        lines[kind] += 1
        sizes[kind] += len(line)
    frames = run_dir / "frames"
    return {
        "total_bytes": folder_bytes(run_dir),
        "metrics_bytes": metrics.stat().st_size,
        "frames_bytes": folder_bytes(frames),
        "frames": len(list(frames.glob("*.npz"))) if frames.is_dir() else 0,
        "checkpoints_bytes": folder_bytes(run_dir / "checkpoints"),
        "lines": dict(lines),
        "line_bytes": dict(sizes),
    }


def record(exe: str, preset: str, epochs: int, planned: int, work: Path) -> dict:
    out = work / f"{preset}-{epochs}"
    cmd = [exe, "run", preset, "--out", str(out), "--quiet"] + (["--epochs", str(epochs)] if epochs != planned else [])
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return {"epochs": epochs, "error": (done.stderr or done.stdout).strip()[-500:], "seconds": seconds}
    return {"epochs": epochs, "planned_epochs": planned, "seconds": round(seconds, 1), **measure(out)}


def mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.2f}"


def table(results: dict) -> str:
    labels = list(results)
    head = "| run | epochs | " + " | ".join(f"{x} total MB | {x} metrics MB | {x} frames MB (n)" for x in labels) + " |"
    rows = [head, "|" + " --- |" * (2 + 3 * len(labels))]
    for key in results[labels[0]]:
        cells = [key, str(results[labels[0]][key].get("epochs"))]
        for label in labels:
            r = results[label].get(key, {})
            if "error" in r:
                cells += ["failed", "", ""]
                continue
            cells += [
                mb(r.get("total_bytes")),
                mb(r.get("metrics_bytes")),
                f"{mb(r.get('frames_bytes'))} ({r.get('frames')})",
            ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--dl-lab", action="append", required=True, metavar="LABEL=EXE", help="an executable to measure"
    )
    parser.add_argument("--max-epochs", type=int, default=0, help="cap each preset's epochs (0: its own)")
    parser.add_argument("--spiral-epochs", type=int, default=LONG[1], help="epochs of the long spiral run (0: none)")
    parser.add_argument("--presets", default="", help="comma-separated preset names (default: every offline one)")
    parser.add_argument("--out", type=Path, help="JSON file for the results")
    args = parser.parse_args()
    executables = dict(item.split("=", 1) for item in args.dl_lab)
    runs, skipped = offline_presets([n for n in args.presets.split(",") if n] or None)
    plan = [(name, min(e, args.max_epochs) if args.max_epochs else e, e) for name, e in runs]
    if args.spiral_epochs:
        plan.append((LONG[0], args.spiral_epochs, next((e for n, e in runs if n == LONG[0]), args.spiral_epochs)))
    results: dict = {label: {} for label in executables}
    with tempfile.TemporaryDirectory(prefix="record-size-") as tmp:
        for label, exe in executables.items():
            for name, epochs, planned in plan:
                key = f"{name}@{epochs}"
                results[label][key] = r = record(exe, name, epochs, planned, Path(tmp) / label)
                print(f"{label:>8} {key:<24} {mb(r.get('total_bytes'))} MB  {r.get('seconds')} s", file=sys.stderr)
    print(table(results))
    if skipped:
        print(f"\nskipped (data downloaded on first use): {', '.join(skipped)}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "labels": list(executables),  # the executables themselves stay out: paths of one machine
            "max_epochs": args.max_epochs,
            "skipped": skipped,
            "results": results,
        }
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
