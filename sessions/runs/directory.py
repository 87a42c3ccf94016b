"""Reading recorded runs: their events (a truncated last line tolerated), summaries, and run listings."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import re
import socket
import stat
import time
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path

from dl_lab.sessions.errors import RunDirError
from dl_lab.sessions.events import EVENT_TYPES, EpochEnded, RunStarted, from_record

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
DAMAGED = "damaged"  # a run list's state for a run whose files cannot be read; what is wrong follows it
NO_END = "no end record"  # the recording process is gone and never wrote how the run ended (kill -9, a crash)
# A run that says "running" with no end record, whose recording process cannot be asked (another machine, or a
# run recorded before processes were noted), counts as dead once its files are this old: a live run writes a
# metrics line every batch, and no batch or evaluation of the examples takes anywhere near this long.
STALE_AFTER_S = 600
# summary.json's "listing" (the recorder writes it): what run lists show of the session (LISTED_KEYS of
# session.yaml) and the sizes of session.yaml and metrics.jsonl when summary.json was written. While the files are
# as summary.json saw them (a run still recording, or killed, may have more metrics lines), a list reads
# summary.json alone instead of parsing every metrics.jsonl (a run of many epochs holds megabytes of them).
LISTING = "listing"
LISTED_KEYS = ("data", "model", "optimizer")
SIZED_FILES = ("session.yaml", "metrics.jsonl")
_STAMP = re.compile(r"-(\d{8}-\d{6})(?:-\d+)?$")  # runs/<name>-YYYYmmdd-HHMMSS[-n], as new_run_dir names them


def runs_root() -> Path:
    """Where runs are recorded by default: $DL_LAB_RUNS, else ./runs."""
    return Path(os.environ.get(RUNS_ENV, "runs"))


NAME_MAX = 80  # characters of a session's name in its run folder's name (a filesystem allows 255 bytes)
LOCK_FILE = ".lock"  # held (flock) by the one process writing a run: RUN_DIR/.lock
PICTURES_DIR = "pictures"  # SVG pictures of the run's panes, saved from the app (ctrl+s): RUN_DIR/pictures


def new_run_dir(name: str, root: Path | None = None) -> Path:
    """Creates runs/<name>-<timestamp> and returns it, made unique with a counter when two runs start in the
    same second (the folder is made with os.mkdir, so two processes never get the same one). The name is cut
    to NAME_MAX characters. RunDirError when the folder cannot be made (a read-only $DL_LAB_RUNS)."""
    root = Path(root) if root else runs_root()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:NAME_MAX] or "run"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirError(f"{root}: cannot create the runs folder ({_reason(exc)})") from None
    if not root.is_dir():
        raise RunDirError(f"{root}: not a folder (set {RUNS_ENV} to a folder for runs)")
    path, n = root / f"{safe}-{stamp}", 2
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            path = root / f"{safe}-{stamp}-{n}"
            n += 1
        except OSError as exc:
            raise RunDirError(f"{path}: cannot create the run folder ({_reason(exc)})") from None


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


READERS_S = 0.25  # how long RunLock tries again while the lock is held: a reader holds it for an instant


class RunLock:
    """The exclusive lock of a run folder (flock on RUN_DIR/.lock), held by the process writing the run.

    ``RunLock(run_dir)`` takes it or raises RunDirError naming the process that holds it; ``release()`` (or
    the process ending, however it ends) gives it back. Where flock is missing (Windows), it locks nothing.

    A list of runs asks whether a run is being written by taking its lock shared for an instant (``is_locked``):
    the lock is tried again for ``READERS_S`` before the run counts as written by another process, so that a
    deletion or a new run is not refused because a runs screen was reading the folder at that moment."""

    def __init__(self, run_dir) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self.fd: int | None = None
        try:
            import fcntl
        except ImportError:
            return
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise RunDirError(f"{self.path.parent}: cannot write the run ({_reason(exc)})") from None
            if not _flock_within(fcntl, fd, READERS_S):
                holder = _read_pid(fd)
                os.close(fd)
                who = f" (pid {holder})" if holder else ""
                raise RunDirError(
                    f"{self.path.parent} is being written by another dl-lab process{who}; wait for it to end, "
                    "or choose another --out"
                ) from None
            try:  # the holder before us may have removed the file after we opened it: lock the one in place
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # while still held: nobody can lock this file in between
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _flock_within(fcntl, fd: int, seconds: float) -> bool:
    """Whether the exclusive lock of ``fd`` was taken within ``seconds`` (tried every few milliseconds)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def is_locked(run_dir) -> bool:
    """Whether a live process holds RUN_DIR's lock (is writing the run now). Asks without waiting."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing gives back a shared lock just taken
    return False


class DamagedRun(RunDirError):
    """A file of a run directory that cannot be read as what it should be: ``str()`` names the file (and line)
    and says what is wrong; ``brief`` says it in a few words for a run list's status column."""

    def __init__(self, path: Path, reason: str, line: int | None = None):
        self.path, self.reason, self.line = Path(path), reason, line
        super().__init__(f"{path}{f':{line}' if line else ''}: {reason}")

    @property
    def brief(self) -> str:
        where = f"{self.path.name} line {self.line}" if self.line else self.path.name
        return f"{where}: {self.reason.split(' (')[0].split(', expected')[0]}"


_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}


def read_regular_file(path: Path) -> bytes | None:
    """The bytes of ``path``, None when it does not exist; DamagedRun when it is not a regular file (a folder, a
    FIFO, a device: never opened, so that nothing blocks) or cannot be read."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # stat never blocks, even on a FIFO
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DamagedRun(path, f"cannot be read ({(exc.strerror or str(exc)).lower()})") from None
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "a device or special file")
        raise DamagedRun(path, f"is {kind}, not a file")
    try:  # O_NONBLOCK: a FIFO put there since the stat still cannot block the open
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise DamagedRun(path, "is not a regular file")
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DamagedRun(path, f"cannot be read ({(exc.strerror or str(exc)).lower()})") from None


def _type_name(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@functools.cache
def _accepted(tp) -> tuple[tuple[type, ...], bool] | None:
    """The Python types a JSON value of annotation ``tp`` may be, and whether true/false is one of them; None
    when anything goes. Worked out once per annotation: run lists check every run's summary.json with it."""
    union = typing.get_origin(tp) in (typing.Union, types.UnionType)
    kinds: list[type] = []
    bool_ok = False
    for alt in typing.get_args(tp) if union else (tp,):
        origin = typing.get_origin(alt)
        if alt is bool:
            bool_ok = True
        elif alt in (type(None), int, str):
            kinds.append(alt)
        elif alt is float:
            kinds += [int, float]
        elif alt is list or origin is list:
            kinds.append(list)
        elif alt is dict or origin is dict or typing.is_typeddict(alt):
            kinds.append(dict)
        else:
            return None  # typing.Any, or a type JSON does not have
    return tuple(kinds), bool_ok


def _expected(tp) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", type(None): "null"}
    alternatives = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    words = []
    for alt in alternatives:
        origin = typing.get_origin(alt)
        if alt in names:
            words.append(names[alt])
        elif alt is list or origin is list:
            words.append("a list")
        elif alt is dict or origin is dict or typing.is_typeddict(alt):
            words.append("a mapping")
    return " or ".join(words) or "something else"


_FIELD_TYPES: dict[type, dict[str, object]] = {}


def _field_types(cls) -> dict[str, object]:
    """The fields an event is made from, with their resolved annotations (cached)."""
    if cls not in _FIELD_TYPES:
        hints = typing.get_type_hints(cls)
        _FIELD_TYPES[cls] = {f.name: hints[f.name] for f in fields(cls) if f.init}
    return _FIELD_TYPES[cls]


def _check_fields(data: dict, types_: dict[str, object], prefix: str = "") -> str | None:
    """What is wrong with ``data``'s values for ``types_`` (keys it lacks or does not know are left alone)."""
    for key, kinds, bool_ok in _checks(types_):
        if key in data:
            value = data[key]
            if not (bool_ok if isinstance(value, bool) else isinstance(value, kinds)):
                tp = types_[key]
                return f"'{prefix}{key}' is {_type_name(value)}, expected {_expected(tp)}"
    return None


_CHECKS: dict[int, tuple[dict, list[tuple[str, tuple[type, ...], bool]]]] = {}


def _checks(types_: dict[str, object]) -> list[tuple[str, tuple[type, ...], bool]]:
    """(key, the Python types its value may be, whether true/false is one) for each key of ``types_`` that is
    checked (``_accepted``), worked out once per dict: a list of runs checks five of them in each summary.json."""
    kept = _CHECKS.get(id(types_))
    if kept is None or kept[0] is not types_:
        checks = [(key, *accepted) for key, tp in types_.items() if (accepted := _accepted(tp)) is not None]
        kept = _CHECKS[id(types_)] = (types_, checks)
    return kept[1]


def _check_record(record: dict) -> str | None:
    """What is wrong with a metrics.jsonl record: an event it names whose values have the wrong types."""
    kind = record.get("event")
    if kind == "end" and record.get("status") in ("failed", "cancelled"):
        kind = record["status"]
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None or cls is RunStarted:
        return None  # a line of a kind this version does not know: left to newer readers
    if cls is EpochEnded and "epoch" not in record:
        return "an epoch line with no 'epoch'"
    return _check_fields(record, _field_types(cls))


def read_records(path: Path) -> list[dict]:
    """metrics.jsonl as dicts; a last line cut short by a crash (or still being written) is skipped, a bad line
    elsewhere is an error: not UTF-8, not JSON, not a JSON object, or an event whose values have the wrong types."""
    data = read_regular_file(path)
    if data is None:
        raise RunDirError(f"{path}: no such file (is this a dl-lab run directory?)")
    records = []
    lines = data.splitlines()
    for n, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            if n == len(lines):
                break  # the line being written when the run stopped (cut inside a character)
            raise DamagedRun(path, "not UTF-8 text", n) from None
        except json.JSONDecodeError:
            if n == len(lines):
                break  # the line being written when the run stopped
            raise DamagedRun(path, "not a JSON line", n) from None
        if not isinstance(record, dict):
            raise DamagedRun(path, f"not a JSON object (a record), got {_type_name(record)}", n)
        problem = _check_record(record)
        if problem:
            raise DamagedRun(path, problem, n)
        records.append(record)
    return records


@dataclass
class Run:
    """A recorded run: its directory, session, summary and events (in order).

    ``damage`` says, in a few words, what is wrong with a run whose files cannot be read (list_runs with
    ``include_damaged``): such a run has no session, summary or records, and reads as DAMAGED in run lists."""

    path: Path
    session: dict
    summary: dict
    records: list = field(default_factory=list)
    damage: str | None = None

    @property
    def name(self) -> str:
        return str(self.summary.get("name") or self.session.get("name") or self.path.name)

    @property
    def status(self) -> str:
        """The status recorded in summary.json (``running`` until the run's end is recorded)."""
        return self.summary.get("status", "unknown")

    @property
    def state(self) -> str:
        """The run's state in words for run lists: STATE_WORDS of the recorded status, or NO_END.

        A run is still ``running`` only while it has no end record and its recording process is alive: the
        process noted in summary.json when it is on this machine, otherwise files written in the last
        STALE_AFTER_S seconds. Otherwise it ended without saying how (killed, crashed): NO_END. A run whose files
        cannot be read: "damaged: " and what is wrong.
        """
        if self.damage:
            return f"{DAMAGED}: {self.damage}"
        if is_locked(self.path):
            return "running"  # a dl-lab process holds the run's lock: it is writing it now (a resume, say)
        end = self._end_record()
        status = self.status
        if status in ("running", "unknown") and end is not None:
            status = end.get("status", "completed")  # the end line was written, summary.json not yet
        if status in ("running", "unknown"):
            return "running" if self._alive() else NO_END
        return STATE_WORDS.get(status, status)

    def _end_record(self) -> dict | None:
        return next((r for r in reversed(self.records) if r.get("event") == "end"), None)

    @property
    def listed(self) -> dict:
        """The parts of the session that run lists show (LISTED_KEYS: the dataset, the model, the optimizer)."""
        return self.session

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
        modification time, which a copy of the folder changes. None for a damaged run."""
        if self.damage:
            return None
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
    """The run recorded in ``path``; RunDirError (a DamagedRun for a damaged file) naming the file and what is
    wrong when it is not a readable run. No file that is not a regular one is opened (a FIFO would block)."""
    import yaml

    from dl_lab.sessions.config.session import TEXT_PATHS
    from dl_lab.sessions.config.yamlio import parse_yaml
    from dl_lab.sessions.errors import SessionError

    path = Path(path)
    if not path.exists():
        raise RunDirError(f"{path}: no such run directory")
    if not os.path.lexists(path / "session.yaml"):
        raise RunDirError(f"{path}: not a dl-lab run directory (no session.yaml)")
    session_file = path / "session.yaml"
    data = read_regular_file(session_file)
    if data is None:  # a link to nowhere
        raise DamagedRun(session_file, "a link to a file that does not exist")
    try:
        session = (
            parse_yaml(data.decode("utf-8"), str(session_file), TEXT_PATHS)[0] or {}
        )  # no aliases, no deep nesting
    except SessionError as exc:  # "FILE:LINE: PROBLEM" or "FILE: PROBLEM"
        line, _, detail = str(exc).removeprefix(str(session_file)).lstrip(":").partition(": ")
        detail = detail.removeprefix("not valid YAML (").removesuffix(")") if line.isdigit() else str(exc)
        where = f"line {line}: " if line.isdigit() else ""
        raise DamagedRun(session_file, f"not readable as YAML ({where}{detail})") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DamagedRun(session_file, f"not readable as YAML ({_first_line(exc)})") from None
    if not isinstance(session, dict):
        raise DamagedRun(session_file, f"expected a session (a mapping), got {type(session).__name__}")
    problem = _check_fields(session, _SESSION_READ)
    if problem:
        raise DamagedRun(session_file, problem)
    summary = _load_summary(path)
    records = read_records(path / "metrics.jsonl") if with_records and os.path.lexists(path / "metrics.jsonl") else []
    return Run(path, session, summary, records)


class ListedRun(Run):
    """A run as run lists keep it (list_runs, open_listed): its summary, the session's LISTED_KEYS, its last epoch
    and end record, read from summary.json alone where it can. Its session and records are read from its files the
    first time something asks for them (a replay, an overlay of its curves)."""

    def __init__(
        self, path: Path, summary: dict, last_epoch: dict | None = None, listed: dict | None = None, end=None
    ) -> None:
        self.path, self.summary, self.damage = Path(path), summary, None
        self.last_epoch = last_epoch  # an epoch recorded after summary.json was written (a run going, or killed)
        self._listed = listed if listed is not None else summary[LISTING]["session"]
        self._end = end
        self._full: Run | None = None

    @classmethod
    def of(cls, run: Run) -> ListedRun:
        """``run``, read whole (recorded by an older dl-lab), as lists keep it: without its records, which a list
        of many long runs could not hold."""
        listed = {key: run.session.get(key) for key in LISTED_KEYS}
        return cls(run.path, run.summary, run.final() or None, listed, run._end_record())

    def full(self) -> Run:
        """The whole run (session.yaml and metrics.jsonl read once); RunDirError when they cannot be read."""
        if self._full is None:
            self._full = open_run(self.path)
        return self._full

    @property
    def session(self) -> dict:
        return self.full().session

    @session.setter
    def session(self, value: dict) -> None:
        self.full().session = value

    @property
    def records(self) -> list:
        return self.full().records

    @records.setter
    def records(self, value: list) -> None:
        self.full().records = value

    @property
    def listed(self) -> dict:
        return self._listed if self._full is None else self._full.session

    def _end_record(self) -> dict | None:
        return self._end if self._full is None else self._full._end_record()

    def final(self) -> dict:
        if self._full is not None:
            return self._full.final()
        return self.last_epoch or self.summary.get("final") or {}

    def __repr__(self) -> str:
        return f"ListedRun({str(self.path)!r}, status={self.status!r})"

    def __eq__(self, other: object) -> bool:
        return self is other  # Run's == compares sessions and records: reading them to compare is not wanted

    __hash__ = object.__hash__


def open_listed(path) -> ListedRun:
    """The run in ``path`` as run lists need it (a ListedRun): from its summary.json alone when that stands for
    its files, else from open_run's reading of them (a run recorded by an older dl-lab, or files changed since).
    Its files are never written. RunDirError as open_run's."""
    path = Path(path)
    return _from_summary(path) or ListedRun.of(open_run(path))


def _from_summary(path: Path) -> ListedRun | None:
    """A ListedRun when summary.json has a listing and session.yaml and metrics.jsonl are regular files of the
    sizes it noted; metrics.jsonl may be longer only for a run that summary.json says is running (its process
    still writing, or killed), whose later lines are then read for a later epoch. Else None (open_run reads it)."""
    try:
        summary = _load_summary(path)
    except RunDirError:
        return None  # open_run says what is wrong, in the order it reads the files
    listing = summary.get(LISTING)
    if not isinstance(listing, dict) or not isinstance(listing.get("sizes"), dict):
        return None
    session = listing.get("session")
    if not isinstance(session, dict) or _check_fields(session, _SESSION_READ):
        return None
    sizes: dict[str, int] = {}
    folder = os.fspath(path)
    for name in SIZED_FILES:
        try:
            info = os.stat(os.path.join(folder, name))  # (a string: a thousand runs' Paths cost a tenth of a second)
        except OSError:
            return None
        noted = listing["sizes"].get(name)
        if not stat.S_ISREG(info.st_mode) or not isinstance(noted, int) or info.st_size < noted:
            return None
        sizes[name] = info.st_size
    if sizes["session.yaml"] != listing["sizes"]["session.yaml"]:
        return None
    later = None
    if sizes["metrics.jsonl"] > listing["sizes"]["metrics.jsonl"]:
        later = _later_epoch(path / "metrics.jsonl", listing["sizes"]["metrics.jsonl"])
        if summary.get("status") != "running" or later is None:
            return None
    return ListedRun(path, summary, later or None)


def _later_epoch(metrics: Path, offset: int) -> dict | None:
    """The last whole epoch line of metrics.jsonl after byte ``offset`` (where summary.json's "final" was its last
    one), {} when there is none; None when the lines there hold an end record (the run ended, summary.json not yet
    rewritten) or an epoch line that is not one (open_run says what is wrong)."""
    try:
        with open(metrics, "rb") as f:
            f.seek(offset)
            tail = f.read()
    except OSError:
        return None
    if b'{"event":"end"' in tail:
        return None
    end = tail.rfind(b"\n")  # a last line without its newline is still being written
    start = tail.rfind(b'{"event":"epoch"', 0, end) if end >= 0 else -1
    if start < 0:
        return {}
    try:
        record = json.loads(tail[start : tail.index(b"\n", start)])
    except ValueError:
        return None
    if not isinstance(record, dict) or _check_fields(record, _field_types(EpochEnded)):
        return None
    return record


# The parts of session.yaml that run lists read before any session is built from it.
_SESSION_READ: dict[str, object] = {
    "name": str | int | float | None,
    "data": dict | None,
    "optimizer": dict | str | None,
}

# What summary.json holds (the recorder writes it): each key's type; "final" and "started" are events' fields.
_SUMMARY_TYPES: dict[str, object] = {
    "name": str | None,
    "status": str,
    "final": dict | None,
    "epochs_done": int,
    "steps": int,
    "wall_time": float,
    "train_time": float,
    "train_samples_per_s": float,
    "failure": dict,
    "message": str,
    "backend": str,
    "dtype": str,
    "param_count": int,
    "dataset": dict | str | None,
    "started": dict | None,
    "started_at": str | None,
    "updated": str | None,
    "process": dict | None,
    "versions": dict,
    LISTING: dict | None,
}
_PROCESS_TYPES: dict[str, object] = {"pid": int | None, "host": str | None}


def json_object(path: Path, data: bytes) -> dict:
    """``data`` (read from ``path``) as a JSON object, or DamagedRun saying why it is not one."""
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise DamagedRun(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise DamagedRun(path, f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise DamagedRun(path, f"expected a JSON object, got {_type_name(value)}")
    return value


def _load_summary(run_dir: Path) -> dict:
    """summary.json checked: {} when there is none (a run killed before writing it), else DamagedRun when it is not
    a JSON object with the types the recorder writes."""
    path = Path(run_dir) / "summary.json"
    data = read_regular_file(path)
    if data is None:
        return {}
    summary = json_object(path, data)
    problem = (
        _check_fields(summary, _SUMMARY_TYPES)
        or _check_fields(summary.get("final") or {}, _field_types(EpochEnded), "final.")
        or _check_fields(summary.get("started") or {}, _field_types(RunStarted), "started.")
        or _check_fields(summary.get("process") or {}, _PROCESS_TYPES, "process.")
    )
    if problem:
        raise DamagedRun(path, problem)
    return summary


def read_summary(run_dir: Path) -> dict:
    """A run's summary.json, or {} when it is missing or unreadable (a run killed before writing it; a damaged
    file: open_run says what is wrong with it)."""
    try:
        return _load_summary(run_dir)
    except RunDirError:
        return {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(text[:1] + [line.strip() for line in text[1:3]]) if text else type(exc).__name__


def list_runs(root: Path | None = None, include_damaged: bool = False) -> list[Run]:
    """Every run directory directly under ``root`` (the most recently started first), each as open_listed reads
    it: from its summary.json alone where it can, its records read when first asked for.

    A folder with a session.yaml whose files cannot be read is left out, or with ``include_damaged`` listed as
    a Run whose ``damage`` says what is wrong (run lists show it as damaged); it never stops the listing."""
    runs = [run for folder in run_folders(root) if (run := listed_run(folder, include_damaged)) is not None]
    return sort_by_start(runs)


def run_folders(root: Path | None = None) -> list[Path]:
    """The folders directly under ``root`` (default: runs_root()) that hold a session.yaml: runs, not yet read
    (a front end says how many it is reading, then reads them with listed_run)."""
    root = Path(root) if root else runs_root()
    if not root.is_dir():
        return []
    with os.scandir(root) as entries:
        folders = [entry.path for entry in entries if os.path.lexists(os.path.join(entry.path, "session.yaml"))]
    return [Path(folder) for folder in folders]


def listed_run(folder: Path, include_damaged: bool = False) -> Run | None:
    """The run in ``folder`` as open_listed reads it; one that cannot be read is None, or with
    ``include_damaged`` a Run whose ``damage`` says what is wrong."""
    try:
        return open_listed(folder)
    except RunDirError as exc:
        if not include_damaged:
            return None
        brief = exc.brief if isinstance(exc, DamagedRun) else str(exc).removeprefix(f"{folder}: ")
        return Run(folder, {}, {}, [], damage=brief)


def sort_by_start(runs: list[Run]) -> list[Run]:
    """``runs`` as run lists order them: the most recently started first (then by folder name)."""
    return sorted(runs, key=lambda r: (r.started_ts() or 0.0, r.path.name), reverse=True)
