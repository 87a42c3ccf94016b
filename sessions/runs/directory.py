"""Reading recorded runs: their events (a truncated last line tolerated), summaries, and run listings."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from dl_lab.sessions.errors import RunDirError
from dl_lab.sessions.events import from_record

RUNS_ENV = "DL_LAB_RUNS"

# How a run's state reads in run lists (`dl-lab runs`, the app's runs table). summary.json keeps the recorded
# status words (``cancelled`` for a run stopped by Ctrl-C or the app's stop key); people read these.
STATE_WORDS = {
    "running": "running",
    "completed": "completed",
    "stopped_early": "stopped early",  # early stopping ended it: a finished run
    "cancelled": "stopped",  # stopped on request, a checkpoint saved: `dl-lab run --resume` continues it
    "failed": "failed",
}
NO_END = "no end record"  # the recording process is gone and never wrote how the run ended (kill -9, a crash)
# A run that says "running" with no end record, whose recording process cannot be asked (another machine, or a
# run recorded before processes were noted), counts as dead once its files are this old: a live run writes a
# metrics line every batch, and no batch or evaluation of the examples takes anywhere near this long.
STALE_AFTER_S = 600
_STAMP = re.compile(r"-(\d{8}-\d{6})(?:-\d+)?$")  # runs/<name>-YYYYmmdd-HHMMSS[-n], as new_run_dir names them


def runs_root() -> Path:
    """Where runs are recorded by default: $DL_LAB_RUNS, else ./runs."""
    return Path(os.environ.get(RUNS_ENV, "runs"))


def new_run_dir(name: str, root: Path | None = None) -> Path:
    """runs/<name>-<timestamp>, made unique with a counter when two runs start in the same second."""
    root = Path(root) if root else runs_root()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "run"
    path = root / f"{safe}-{stamp}"
    n = 2
    while path.exists():
        path = root / f"{safe}-{stamp}-{n}"
        n += 1
    return path


def read_records(path: Path) -> list[dict]:
    """metrics.jsonl as dicts; a last line cut short by a crash is skipped, a bad line elsewhere is an error."""
    records = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise RunDirError(f"{path}: no such file (is this a dl-lab run directory?)") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if n == len(lines):
                break  # the line being written when the run stopped
            raise RunDirError(f"{path}:{n}: not a JSON line") from None
    return records


@dataclass
class Run:
    """A recorded run: its directory, session, summary and events (in order)."""

    path: Path
    session: dict
    summary: dict
    records: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.summary.get("name") or self.session.get("name") or self.path.name

    @property
    def status(self) -> str:
        """The status recorded in summary.json (``running`` until the run's end is recorded)."""
        return self.summary.get("status", "unknown")

    @property
    def state(self) -> str:
        """The run's state in words for run lists: STATE_WORDS of the recorded status, or NO_END.

        A run is still ``running`` only while it has no end record and its recording process is alive: the
        process noted in summary.json when it is on this machine, otherwise files written in the last
        STALE_AFTER_S seconds. Otherwise it ended without saying how (killed, crashed): NO_END.
        """
        end = next((r for r in reversed(self.records) if r.get("event") == "end"), None)
        status = self.status
        if status in ("running", "unknown") and end is not None:
            status = end.get("status", "completed")  # the end line was written, summary.json not yet
        if status in ("running", "unknown"):
            return "running" if self._alive() else NO_END
        return STATE_WORDS.get(status, status)

    def _alive(self) -> bool:
        proc = self.summary.get("process") or {}
        if os.name == "posix" and proc.get("host") == socket.gethostname() and isinstance(proc.get("pid"), int):
            try:
                os.kill(proc["pid"], 0)  # signal 0: only asks whether the process exists
            except ProcessLookupError:
                return False
            except PermissionError:
                return True  # it exists, run by someone else
            return True
        files = [self.path / name for name in ("metrics.jsonl", "summary.json", "session.yaml")]
        newest = max((f.stat().st_mtime for f in files if f.exists()), default=0.0)
        return time.time() - newest < STALE_AFTER_S

    @property
    def started_at(self) -> dt.datetime | None:
        """When the run started (local time): summary.json's ``started_at``, else the time in the folder's name
        (runs/NAME-YYYYmmdd-HHMMSS), else summary.json's last update less the wall time. Never a file's
        modification time, which a copy of the folder changes."""
        recorded = self.summary.get("started_at")
        if isinstance(recorded, str):
            try:
                return dt.datetime.fromisoformat(recorded)
            except ValueError:
                pass
        match = _STAMP.search(self.path.name)
        if match:
            try:
                return dt.datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").astimezone()
            except ValueError:
                pass
        updated = self.summary.get("updated")
        if isinstance(updated, str):
            try:
                wall = self.summary.get("wall_time") or 0.0
                return dt.datetime.fromisoformat(updated).astimezone() - dt.timedelta(seconds=float(wall))
            except (ValueError, TypeError):
                pass
        return None

    def started_ts(self) -> float | None:
        """started_at as seconds since the epoch (for sorting), or None when the run does not say."""
        at = self.started_at
        return at.timestamp() if at is not None else None

    def samples_per_s(self) -> float | None:
        """Training samples per second: summary.json's for the run, else its last epoch's (a run still going, or
        one that ended without a record), else None."""
        for value in (self.summary.get("train_samples_per_s"), self.final().get("train_samples_per_s")):
            if isinstance(value, (int, float)) and value > 0:
                return float(value)
        return None

    def quality(self) -> tuple[str, float] | None:
        """The final validation quality: ("acc", accuracy) for classification, ("R²", R²) for regression,
        or None when neither was recorded. Bigger is better for both."""
        final = self.final()
        for kind, key in (("acc", "val_acc"), ("R²", "val_r2")):
            value = final.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return kind, float(value)
        return None

    def quality_text(self, digits: int = 4) -> str:
        """quality() for a table cell: "0.9500" for an accuracy, "R² 0.9976" for an R², "-" when unknown."""
        q = self.quality()
        if q is None:
            return "-"
        kind, value = q
        return f"{value:.{digits}f}" if kind == "acc" else f"R² {value:.{digits}f}"

    def events(self) -> list:
        return [e for e in (from_record(r) for r in self.records) if e is not None]

    def epochs(self) -> list[dict]:
        return [r for r in self.records if r.get("event") == "epoch"]

    def final(self) -> dict:
        eps = self.epochs()
        return eps[-1] if eps else (self.summary.get("final") or {})


def open_run(path, with_records: bool = True) -> Run:
    import yaml

    path = Path(path)
    if not path.exists():
        raise RunDirError(f"{path}: no such run directory")
    if not (path / "session.yaml").exists():
        raise RunDirError(f"{path}: not a dl-lab run directory (no session.yaml)")
    try:
        session = yaml.safe_load((path / "session.yaml").read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise RunDirError(f"{path / 'session.yaml'}: not readable as YAML ({_first_line(exc)})") from None
    if not isinstance(session, dict):
        raise RunDirError(f"{path / 'session.yaml'}: expected a session (a mapping), got {type(session).__name__}")
    summary = read_summary(path)
    records = read_records(path / "metrics.jsonl") if with_records and (path / "metrics.jsonl").exists() else []
    return Run(path, session, summary, records)


def read_summary(run_dir: Path) -> dict:
    """A run's summary.json, or {} when it is missing or unreadable (a run killed before writing it)."""
    try:
        summary = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: bad JSON or bad UTF-8
        return {}
    return summary if isinstance(summary, dict) else {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(text[:1] + [line.strip() for line in text[1:3]]) if text else type(exc).__name__


def list_runs(root: Path | None = None) -> list[Run]:
    """Every run directory directly under ``root`` (the most recently started first), with its records."""
    root = Path(root) if root else runs_root()
    if not root.is_dir():
        return []
    runs = []
    for child in root.iterdir():
        if (child / "session.yaml").exists():
            try:
                runs.append(open_run(child))
            except RunDirError:
                continue
    runs.sort(key=lambda r: (r.started_ts() or 0.0, r.path.name), reverse=True)
    return runs
