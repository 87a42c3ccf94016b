"""How long run lists take with many recorded runs: `dl-lab runs` and the app's runs screen.

One small run (the perceptron preset) is recorded with a given dl-lab, then copied into N run folders (distinct
names and start times; the files a list may read are copied, the checkpoints and frames hard-linked). Timed:
`dl-lab runs --dir` (a subprocess, the median of --repeat, and once on an empty folder: the start-up share), and
the app's runs screen (headless, Textual's pilot, in a subprocess of the given dl-lab's Python) until every run
is a row, with the event loop's longest stall meanwhile (how late a 10 ms timer fired at worst).

    python bench/runs_bench.py --dl-lab PATH/TO/bin/dl-lab --label after --out bench/results/runs-bench-DATE.json
    python bench/runs_bench.py --dl-lab NEW/bin/dl-lab --record-with OLD/bin/dl-lab --label after-on-old-runs ...

The Python of the app is the one beside the dl-lab executable (or --python). Results are added under --label to
the JSON file --out (created if missing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LISTED_FILES = ("session.yaml", "summary.json", "metrics.jsonl")  # copied; everything else is hard-linked

# Run by the app's Python: the runs screen, headless, until it shows every run (argv: runs folder, count).
PILOT = r"""
import asyncio, json, sys, time
from pathlib import Path

async def main(root, count):
    from textual.widgets import DataTable
    from dl_lab.tui.app import make_app
    loop = asyncio.get_running_loop()
    stalls = [0.0]
    ticking = True

    async def tick():
        while ticking:
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            stalls[0] = max(stalls[0], loop.time() - due)

    ticker = asyncio.create_task(tick())
    t0 = time.perf_counter()
    app = make_app(runs_root=Path(root), mode="runs", sweeps_root=Path(root) / "no-sweeps")
    async with app.run_test(size=(160, 50)) as pilot:
        first = None
        while True:
            table = app.screen.query(DataTable)
            rows = len(table.first().rows) if table else 0
            if rows and first is None:
                first = time.perf_counter() - t0
            if rows >= count:
                break
            if time.perf_counter() - t0 > LIMIT:
                break
            await pilot.pause(0.01)
        shown = time.perf_counter() - t0 if rows >= count else None
    ticking = False
    await ticker
    print(json.dumps({"all_rows_s": shown, "first_rows_s": first, "longest_stall_s": stalls[0], "rows": rows}))

LIMIT = float(sys.argv[3])  # seconds to wait for every row (all_rows_s: null when they did not come)
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def record_one(dl_lab: Path, where: Path) -> Path:
    """The perceptron preset recorded into where/source with ``dl_lab``."""
    out = where / "source"
    subprocess.run([str(dl_lab), "run", "perceptron", "--out", str(out), "-q"], check=True, cwd=where)
    return out


def copy_runs(source: Path, root: Path, count: int) -> None:
    """``count`` copies of ``source`` under ``root``: perceptron-YYYYmmdd-HHMMSS folders a minute apart, each
    summary.json naming its own start time."""
    root.mkdir(parents=True)
    summary = json.loads((source / "summary.json").read_text())
    start = time.time() - count * 60
    for i in range(count):
        stamp = time.localtime(start + 60 * i)
        folder = root / f"perceptron-{time.strftime('%Y%m%d-%H%M%S', stamp)}"
        shutil.copytree(source, folder, copy_function=os.link)
        for name in LISTED_FILES:
            target = folder / name
            if target.exists():
                target.unlink()
                shutil.copy2(source / name, target)
        at = dt.datetime.fromtimestamp(start + 60 * i).astimezone().isoformat(timespec="seconds")
        (folder / "summary.json").write_text(json.dumps({**summary, "started_at": at}, indent=1))


def time_cli(dl_lab: Path, root: Path, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([str(dl_lab), "runs", "--dir", str(root)], check=True, capture_output=True, cwd=root.parent)
        times.append(time.perf_counter() - t0)
    return times


def time_screen(python: Path, root: Path, count: int, limit: float) -> dict:
    env = {**os.environ, "COLUMNS": "160", "LINES": "50"}
    done = subprocess.run(
        [str(python), "-c", PILOT, str(root), str(count), str(limit)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=root.parent,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dl-lab", type=Path, required=True, help="the dl-lab executable that lists the runs")
    parser.add_argument("--record-with", type=Path, help="the dl-lab that records the run (default: --dl-lab)")
    parser.add_argument("--python", type=Path, help="the app's Python (default: beside --dl-lab)")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5, help="timings of `dl-lab runs` (the median is kept)")
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--no-screen", action="store_true", help="time `dl-lab runs` only")
    parser.add_argument("--screen-limit", type=float, default=900, help="seconds to wait for the screen's rows")
    args = parser.parse_args()
    dl_lab = args.dl_lab.absolute()
    python = (args.python or dl_lab.parent / "python").absolute()
    with tempfile.TemporaryDirectory(prefix="runs-bench-") as tmp:
        where = Path(tmp)
        source = record_one((args.record_with or dl_lab).absolute(), where)
        empty = where / "empty"
        empty.mkdir()
        root = where / "runs"
        copy_runs(source, root, args.runs)
        result: dict = {
            "dl_lab": args.label,  # the executables' paths stay out of a result meant to be committed
            "recorded_with": "another dl-lab (--record-with)" if args.record_with else args.label,
            "runs": args.runs,
            "run_folder_bytes": sum(f.stat().st_size for f in source.rglob("*") if f.is_file()),
            "metrics_bytes": (source / "metrics.jsonl").stat().st_size,
            "cli_empty_s": statistics.median(time_cli(dl_lab, empty, args.repeat)),
        }
        result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        cli = time_cli(dl_lab, root, args.repeat)
        result.update(cli_runs_s=statistics.median(cli), cli_runs_all_s=cli)
        save(args.out, args.label, result)  # kept should the screen's timing fail
        if not args.no_screen:
            result["screen"] = time_screen(python, root, args.runs, args.screen_limit)
            save(args.out, args.label, result)
    json.dump({args.label: result}, sys.stdout, indent=1)
    print()


def save(out: Path, label: str, result: dict) -> None:
    """``result`` under ``label`` in the JSON file ``out``, beside the other labels' results."""
    results = json.loads(out.read_text()) if out.exists() else {}
    results[label] = result
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
