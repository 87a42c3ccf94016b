"""`dl-lab runs`: the run history listed, and runs deleted (--delete).

Apart from the other commands: listing runs reads their summaries and never needs the engine, the datasets or NumPy,
so that `dl-lab runs` starts in a fraction of the time a command that trains does.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.text import Text

from dl_lab.sessions.errors import RunDirError, SessionError
from dl_lab.sessions.runs.directory import list_runs, runs_root
from dl_lab.sessions.runs.table import SORT_KEYS, sort_runs
from dl_lab.sessions.runs.table import columns as table_columns

from .render import console, print_listing

# The columns of `dl-lab runs`, in its order (dl_lab.sessions.runs.table declares them), and which to leave out
# first when a terminal is too narrow for all of them.
RUNS_COLUMNS = table_columns(
    "run", "status", "epochs", "train loss", "val loss", "val acc/R²", "samples/s", "dataset", "model", "optimizer",
    "date",
)  # fmt: skip  # one row of labels reads as the table's header
RUNS_DROP_ORDER = ("samples/s", "date", "optimizer", "model", "dataset", "train loss", "epochs")


def check_root(root: Path | None, command: str = "runs") -> Path:
    """The folder of runs a command reads: ``--dir`` checked, else runs_root()."""
    if root is not None:
        if not root.exists():
            raise RunDirError(f"--dir {root}: no such folder")
        if not root.is_dir():
            raise RunDirError(f"--dir {root}: not a folder")
        if (root / "session.yaml").exists():
            raise RunDirError(
                f"--dir {root}: this is a run directory; list its folder with: dl-lab {command} --dir {root.parent}"
            )
    return root if root is not None else runs_root()


def runs_or_all(run_dirs: list[Path] | None, root: Path | None) -> list[Path]:
    """The run directories named, or with none named every readable run under ``--dir`` (default: the runs
    folder), the oldest first. RunDirError when there is none."""
    if run_dirs:
        if root is not None:
            raise SessionError("--dir: give run directories or --dir, not both")
        return list(run_dirs)
    where = check_root(root)
    found = [r.path for r in reversed(list_runs(where))]  # damaged runs left out; the oldest first
    if not found:
        raise RunDirError(f"no runs in {where} (name run directories, or choose a folder with --dir)")
    return found


def runs(root: Path | None, sort: str) -> None:
    if sort not in SORT_KEYS:
        raise SessionError(f"--sort: expected one of {', '.join(SORT_KEYS)}, got {sort!r}")
    where = check_root(root)
    found = list_runs(where, include_damaged=True)  # a damaged run is listed as such, never breaks the list
    con = console()
    if not found:
        con.print(f"no runs in {where} (record one with: dl-lab run spiral)", soft_wrap=True)
        return
    header = {c.label: c.header() for c in RUNS_COLUMNS}
    rows = [[c.text(r) for c in RUNS_COLUMNS] for r in sort_runs(found, SORT_KEYS[sort])]
    con.print(f"{_runs_count(len(found))} in {where}, sorted by {sort}", soft_wrap=True)
    print_listing(
        con,
        list(header.values()),
        rows,
        drop_order=tuple(header[label] for label in RUNS_DROP_ORDER),
        numeric=tuple(c.header() for c in RUNS_COLUMNS if c.numeric),
        breakable=(header["status"], header["date"]),
    )


def delete_runs(run_dirs: list[Path], root: Path | None, older_than: str | None, *, delete: bool, yes: bool) -> int:
    """`dl-lab runs --delete`: the run folders named, or the runs under ``root`` started before ``older_than``,
    listed, then deleted once confirmed (``yes``: without asking). Every folder named is checked before any is
    deleted: one that is not a dl-lab run, or a run still being written, is an error (exit 2). Returns 0, or 1
    when the answer was no."""
    from dl_lab.sessions.formatting import minute
    from dl_lab.sessions.runs.removal import delete_run, parse_date, run_to_delete, running_reason, runs_older_than

    if not delete:
        given = "RUN_DIR" if run_dirs else "--older-than"
        raise SessionError(
            f"{given}: goes with --delete (dl-lab runs --delete RUN_DIR..., or dl-lab runs --delete --older-than DATE)"
        )
    if run_dirs and older_than is not None:
        raise SessionError("--delete: name run folders or give --older-than DATE, not both")
    con = console()
    if run_dirs:
        if root is not None:
            raise SessionError("--dir: goes with --older-than; named run folders are deleted wherever they are")
        named: dict[Path, Path] = {}
        for path in run_dirs:  # each folder once, as first named
            named.setdefault(Path(path).absolute(), Path(path))
        chosen = [run_to_delete(path) for path in named.values()]
    elif older_than is not None:
        date, where = parse_date(older_than), check_root(root)
        chosen, running = runs_older_than(where, date)
        for run in running:
            con.print(f"kept {run.path}: {running_reason(run)}", soft_wrap=True)
        if not chosen:
            con.print(f"no other runs started before {date} in {where}; nothing deleted", soft_wrap=True)
            return 0
    else:
        raise SessionError("--delete: name the run folders to delete, or give --older-than DATE")
    con.print(f"{_runs_count(len(chosen))} to delete, each folder with everything in it:", soft_wrap=True)
    for run in chosen:
        con.print(f"  {run.path}  ({run.state}, started {minute(run.started_at)})", soft_wrap=True)
    if not yes and not _confirmed(con, f"Delete {_runs_count(len(chosen))}? [y/N] "):
        con.print("nothing deleted")
        return 1
    for run in chosen:
        delete_run(run)  # a run started again since it was listed: an error, and the rest are kept
        con.print(f"deleted {run.path}", soft_wrap=True)
    return 0


def _runs_count(n: int) -> str:
    return f"{n} run{'' if n == 1 else 's'}"


def _confirmed(con, question: str) -> bool:
    """Whether the answer to ``question`` is yes (y or yes); no input at all (a closed stdin) is no."""
    try:
        answer = con.input(Text(question))
    except EOFError:
        answer = ""
    if not sys.stdin.isatty():  # the answer came from a pipe: shown, as a terminal echoes it
        con.print(answer, markup=False)
    return answer.strip().lower() in ("y", "yes")
