#!/usr/bin/env python3
"""Is the app responsive while it trains? Event-loop lag in the real app, and its throughput against headless.

    python bench/tui_lag.py [PRESET ...] [--epochs N] [--repeat N] [--size 160x50] [--switch SECONDS]
                            [--worker thread|process|both]
    (default: digits_cnn spiral; digits_cnn 30 epochs, spiral 150; both workers)

For each session: train it headless (Trainer + Recorder, as `dl-lab run` does) and in the app (headless Textual
driver, the training screen at --size, 160x50 by default: every pane drawing), while a 10 ms timer in the app
records how late each tick fires. Prints p50/p95/max lag, the samples/s of both (training-step time only, as
summary.json counts it, and over the run's wall time), and the share of a CPU the UI thread used.
Targets: p95 lag < 50 ms, in-app throughput >= 85% of headless.
Each is run --repeat times, headless and the app with each worker interleaved; the table gives the best
throughputs (the least disturbed by other processes), the median of each app run over the headless run just before it,
and the median lag percentiles (the worst max). "same run"
says whether every app run recorded the same metrics.jsonl as the headless run beside it (clock readings apart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dl_lab.sessions import Recorder, Trainer, preset_session
from dl_lab.sessions.events import RunEnded
from dl_lab.sessions.training.controller import WORKER_ENV

TICK_S = 0.010
CLOCK = {"time", "wall_time", "train_time", "train_samples_per_s"}  # fields that differ between identical runs
EPOCHS = {"digits_cnn": 30, "spiral": 150}  # a few seconds each here


def session_for(name: str, epochs: int | None):
    n = epochs or EPOCHS.get(name, 5)
    return preset_session(name, [f"training.epochs={n}"])


def rates(end: RunEnded) -> dict:
    """Samples/s over the training steps only (as summary.json counts it) and over the run's wall time."""
    samples = end.train_samples_per_s * end.train_time
    return {"step_sps": end.train_samples_per_s, "wall_sps": samples / end.wall_time}


def records(run_dir: Path) -> list[dict]:
    """metrics.jsonl without its clock readings (nested ones too: the final epoch in the end record)."""

    def untimed(v):
        return {k: untimed(x) for k, x in v.items() if k not in CLOCK} if isinstance(v, dict) else v

    return [untimed(json.loads(line)) for line in (run_dir / "metrics.jsonl").open()]


def headless(session, out: Path) -> dict:
    trainer = Trainer(session)
    with Recorder(out, trainer) as recorder:
        for event in trainer.run():
            recorder.record(event)
    return {**rates(event), "run_dir": out}


async def in_app(session, root: Path, size=(160, 50), worker: str = "thread") -> dict:
    from dl_lab.tui.app import make_app

    os.environ[WORKER_ENV] = worker
    app = make_app(session, runs_root=root, mode="train")
    lags: list[float] = []
    async with app.run_test(size=size):
        screen = app.screen
        while screen.controller is None:
            await asyncio.sleep(0.05)
        # Full speed (f): a small model on the plane is watched at a pace by default; the targets are full speed's,
        # with every pane drawing, the network and projection panes included (the run sends its weights).
        if screen.controller.pace is not None:
            screen.action_full_speed()
        # The probe is a bare asyncio timer (a Textual timer would add its own messages to what it measures).
        loop = asyncio.get_running_loop()
        due = [time.perf_counter() + TICK_S]
        done = []

        def tick():
            now = time.perf_counter()
            lags.append(max(0.0, now - due[0]))
            due[0] = now + TICK_S
            if not done:
                loop.call_later(TICK_S, tick)

        loop.call_later(TICK_S, tick)
        cpu0, wall0 = time.thread_time(), time.perf_counter()
        screen.action_toggle()  # what space does
        while not isinstance(screen.state.end, RunEnded):  # a bare sleep: pilot.pause would post messages
            await asyncio.sleep(0.05)
        done.append(True)
        ui_cpu = (time.thread_time() - cpu0) / (time.perf_counter() - wall0)
    lags.sort()
    return {
        **rates(screen.state.end),
        "run_dir": screen.controller.run_dir,
        "p50": statistics.median(lags) * 1e3,
        "p95": lags[int(0.95 * (len(lags) - 1))] * 1e3,
        "max": lags[-1] * 1e3,
        "ui_cpu": ui_cpu,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", default=["digits_cnn", "spiral"])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--switch", type=float, default=None, help="sys.setswitchinterval for the app run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (best throughput, median lag)")
    parser.add_argument("--size", default="160x50", help="terminal size of the app, COLUMNSxROWS")
    parser.add_argument("--worker", choices=["thread", "process", "both"], default="both")
    args = parser.parse_args(argv)
    workers = ["thread", "process"] if args.worker == "both" else [args.worker]
    if args.switch:
        sys.setswitchinterval(args.switch)
    size = tuple(int(n) for n in args.size.split("x"))
    print(f"app at {size[0]}x{size[1]}; switch interval {sys.getswitchinterval() * 1e3:g} ms; tick {TICK_S * 1e3:g} ms")
    print(
        "| session | worker | headless samples/s (steps / wall) | app samples/s (steps / wall) "
        "| app/headless (wall, best) | app/headless (wall, median of pairs) | lag p50 | lag p95 | lag max "
        "| UI thread CPU | same run |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.presets:
            heads, apps = [], {w: [] for w in workers}
            for k in range(args.repeat):  # interleaved, so that a busy moment of the machine hits them all
                session = session_for(name, args.epochs)
                heads.append(headless(session, Path(tmp) / f"headless-{name}-{k}"))
                for worker in workers:
                    run = asyncio.run(in_app(session, Path(tmp) / f"app-{worker}", size, worker))
                    run["same"] = records(run["run_dir"]) == records(heads[-1]["run_dir"])
                    apps[worker].append(run)
            h = max(heads, key=lambda r: r["wall_sps"])
            for worker, runs in apps.items():
                print(row(name, worker, h, runs, heads), flush=True)
    return 0


def row(name: str, worker: str, h: dict, runs: list[dict], heads: list[dict]) -> str:
    a = max(runs, key=lambda r: r["wall_sps"])
    paired = statistics.median(r["wall_sps"] / hr["wall_sps"] for r, hr in zip(runs, heads, strict=True))
    p50 = statistics.median(r["p50"] for r in runs)
    p95 = statistics.median(r["p95"] for r in runs)
    worst = max(r["max"] for r in runs)
    cpu = statistics.median(r["ui_cpu"] for r in runs)
    same = "yes" if all(r["same"] for r in runs) else "NO"
    return (
        f"| {name} | {worker} | {h['step_sps']:,.0f} / {h['wall_sps']:,.0f} | {a['step_sps']:,.0f} / "
        f"{a['wall_sps']:,.0f} | {a['wall_sps'] / h['wall_sps']:.0%} | {paired:.0%} | {p50:.1f} ms | "
        f"{p95:.1f} ms | {worst:.0f} ms | {cpu:.0%} | {same} |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
