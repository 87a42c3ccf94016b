"""Start-up time of `dl-lab`: the `--help` of a few commands, and the app's first screen (issue 17).

(a) ``--help``: the wall time of ``dl-lab [COMMAND] --help`` as a subprocess, stdout to a pipe.
(b) First screen: ``dl-lab`` (no argument: the app on the default session) in a detached tmux session at 160x50,
    its pane read with ``capture-pane -p`` every ``--poll`` seconds until every marker text shows (texts the fully
    drawn build screen alone shows: the data preview's legend, the status line, the footer); the time from the
    launch to that capture. The time to the first capture that shows any text at all is recorded too.

Each executable is measured in turn, round after round (A B A B ...), after one warm-up of each, in a fresh empty
folder (no ./runs or ./sweeps to read) and without COLORTERM, DL_LAB_RUNS or DL_LAB_SWEEPS. Medians go to stdout
and, with every sample, to the JSON file.

    .venv/bin/python bench/startup_bench.py --exe before=../before/.venv/bin/dl-lab --exe after=.venv/bin/dl-lab
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HELP_COMMANDS = ((), ("run",), ("runs",), ("sweep",), ("validate",))
MARKERS = ("● negative", "✓ valid", "Quit")  # the spiral preview's legend, the status line, the footer
WIDTH, HEIGHT = 160, 50
CLEAN_ENV = ("COLORTERM", "DL_LAB_RUNS", "DL_LAB_SWEEPS", "DL_LAB_DEBUG", "TMUX")


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}


def time_help(exe: str, args: tuple[str, ...], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([exe, *args, "--help"], cwd=cwd, env=child_env(), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{exe} {' '.join(args)} --help: exit {done.returncode}\n{done.stderr}")
    return elapsed


class Tmux:
    """A tmux server of our own (``-L``), killed at the end."""

    def __init__(self, name: str, cwd: Path) -> None:
        self.name, self.cwd = name, cwd

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["tmux", "-L", self.name, "-f", "/dev/null", *args],
            cwd=self.cwd,
            env=child_env(),
            capture_output=True,
            text=True,
            check=check,
        )

    def kill(self) -> None:
        self("kill-server", check=False)


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user + system) process ``pid`` has used so far (Linux), None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_first_screen(
    tmux: Tmux, exe: str, session: str, markers: tuple[str, ...], poll: float, timeout: float
) -> tuple[float, float | None, float | None]:
    """(seconds to the first capture showing every marker, seconds to the first capture showing any text, the CPU
    seconds the app had used by then: less sensitive than the wall time to other programs on the machine)."""
    env_args = [arg for key in CLEAN_ENV for arg in ("-u", key)]
    command = ["env", *env_args, exe]  # env execs the app: the pane's process is the app's
    start = time.perf_counter()
    tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        str(WIDTH),
        "-y",
        str(HEIGHT),
        "-c",
        str(tmux.cwd),
        "-P",
        "-F",
        "#{pane_pid}",
        *command,
    )
    pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").stdout)
    first_text = None
    try:
        while True:
            screen = tmux("capture-pane", "-p", "-t", session, check=False).stdout
            now = time.perf_counter() - start
            if first_text is None and screen.strip():
                first_text = now
            if all(marker in screen for marker in markers):
                return now, first_text, cpu_seconds(pid)
            if now > timeout:
                raise SystemExit(f"{exe}: no first screen after {timeout} s; the pane shows:\n{screen}")
            time.sleep(poll)
    finally:
        tmux("kill-session", "-t", session, check=False)
        time.sleep(0.2)  # the app's process goes before the next launch


def median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exe", action="append", required=True, metavar="LABEL=PATH", help="a dl-lab executable")
    parser.add_argument("-n", type=int, default=10, help="samples of each measurement (default 10)")
    parser.add_argument("--poll", type=float, default=0.01, help="seconds between captures (default 0.01)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for a first screen")
    parser.add_argument("--marker", action="append", help=f"text of the drawn first screen (default {MARKERS})")
    parser.add_argument("--skip-screen", action="store_true", help="time the --help commands only")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/startup-YYYYMMDD.json)")
    args = parser.parse_args()
    exes = dict(spec.split("=", 1) for spec in args.exe)
    for label, exe in exes.items():
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"--exe {label}={exe}: not an executable file")
    markers = tuple(args.marker or MARKERS)
    out = args.out or Path(__file__).parent / "results" / f"startup-{datetime.now(timezone.utc):%Y%m%d}.json"

    results: dict[str, dict] = {
        label: {"exe": Path(exe).name, "help": {}, "first_screen": [], "first_text": [], "first_screen_cpu": []}
        for label, exe in exes.items()
    }
    with tempfile.TemporaryDirectory(prefix="dl-lab-startup-") as folder:
        cwd = Path(folder)
        tmux = Tmux(f"dl-lab-startup-{os.getpid()}", cwd)
        # the server stays up between launches; its windows are 160x50 from the start (not 80x24, then resized)
        tmux(
            "start-server",
            ";",
            "set-option",
            "-g",
            "default-size",
            f"{WIDTH}x{HEIGHT}",
            ";",
            "new-session",
            "-d",
            "-s",
            "keep",
            "sleep",
            "100000",
        )
        try:
            for exe in exes.values():  # warm-up: the page cache, the .pyc files
                for command in HELP_COMMANDS:
                    time_help(exe, command, cwd)
                if not args.skip_screen:
                    time_first_screen(tmux, exe, "warm", markers, args.poll, args.timeout)
            for i in range(args.n):
                for label, exe in exes.items():
                    for command in HELP_COMMANDS:
                        key = " ".join([*command, "--help"])
                        results[label]["help"].setdefault(key, []).append(time_help(exe, command, cwd))
                    if not args.skip_screen:
                        screen, text, cpu = time_first_screen(tmux, exe, f"s{i}", markers, args.poll, args.timeout)
                        results[label]["first_screen"].append(screen)
                        results[label]["first_text"].append(text)
                        results[label]["first_screen_cpu"].append(cpu)
        finally:
            tmux.kill()

    summary: dict[str, dict[str, float | None]] = {}
    for label, result in results.items():
        summary[label] = {key: median(samples) for key, samples in result["help"].items()}
        if result["first_screen"]:
            summary[label]["first_screen"] = median(result["first_screen"])
            summary[label]["first_text"] = median([t for t in result["first_text"] if t is not None])
            cpu_samples = [t for t in result["first_screen_cpu"] if t is not None]
            summary[label]["first_screen_cpu"] = median(cpu_samples) if cpu_samples else None
    report = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()},
        "n": args.n,
        "size": f"{WIDTH}x{HEIGHT}",
        "markers": markers,
        "medians_s": summary,
        "samples_s": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
