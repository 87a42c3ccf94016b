"""Reading recorded runs: their events (a truncated last line tolerated), summaries, and run listings."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RunDirError
from .events import from_record

RUNS_ENV = "DL_LAB_RUNS"


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
        return self.summary.get("status", "unknown")

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
    summary = {}
    if (path / "summary.json").exists():
        try:
            summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            summary = {}
        if not isinstance(summary, dict):
            summary = {}
    records = read_records(path / "metrics.jsonl") if with_records and (path / "metrics.jsonl").exists() else []
    return Run(path, session, summary, records)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(text[:1] + [line.strip() for line in text[1:3]]) if text else type(exc).__name__


def list_runs(root: Path | None = None) -> list[Run]:
    """Every run directory directly under ``root`` (newest first), with its records."""
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
    runs.sort(key=lambda r: r.path.stat().st_mtime, reverse=True)
    return runs
