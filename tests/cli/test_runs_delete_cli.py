"""`dl-lab runs --delete`: the runs named, or those started before a date, listed and deleted once confirmed;
a folder that is not a run, a bad date or a running run is refused (exit 2) and nothing is deleted."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from dl_lab.sessions.runs.directory import RunLock


@pytest.fixture
def runs(cli, tmp_path):
    """Three runs under runs/: a, b and c, started on 2026-11-01, 2026-11-20 and 2026-12-02."""
    assert cli("run", "s.yaml", "--out", "runs/a", "-q").exit_code == 0
    for name, day in (("a", 1), ("b", 20)):
        if name != "a":
            shutil.copytree(tmp_path / "runs" / "a", tmp_path / "runs" / name)
        start("runs/" + name, dt.datetime(2026, 11, day, 12))
    shutil.copytree(tmp_path / "runs" / "a", tmp_path / "runs" / "c")
    start("runs/c", dt.datetime(2026, 12, 2, 12))
    return tmp_path / "runs"


def start(run_dir, when: dt.datetime) -> None:
    path = Path(run_dir) / "summary.json"
    summary = json.loads(path.read_text())
    summary["started_at"] = when.astimezone().isoformat(timespec="seconds")
    path.write_text(json.dumps(summary))


def refused(result, *needles) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output
    return result.output


def left(root) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def test_the_named_runs_are_listed_and_deleted_only_when_the_answer_is_yes(cli, runs):
    no = cli("runs", "--delete", "runs/a", "runs/b", input="n\n")
    assert no.exit_code == 1 and "nothing deleted" in no.output
    assert "2 runs to delete" in no.output and "runs/a" in no.output and "runs/b" in no.output
    assert left(runs) == ["a", "b", "c"]
    closed = cli("runs", "--delete", "runs/a")  # no answer at all (stdin closed): no
    assert closed.exit_code == 1 and left(runs) == ["a", "b", "c"]
    yes = cli("runs", "--delete", "runs/a", "runs/b", input="y\n")
    assert yes.exit_code == 0, yes.output
    assert left(runs) == ["c"]
    assert "deleted runs/a" in yes.output and "deleted runs/b" in yes.output


def test_a_folder_that_is_not_a_run_is_refused_before_anything_is_deleted(cli, runs, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    refused(cli("runs", "--delete", "runs/a", "notes", "--yes"), "notes", "not a dl-lab run folder")
    refused(cli("runs", "--delete", "runs/zz", "--yes"), "runs/zz", "not a run folder")
    assert left(runs) == ["a", "b", "c"] and (tmp_path / "notes" / "keep.txt").exists()


def test_a_running_run_is_never_deleted(cli, runs):
    with RunLock(runs / "b"):
        refused(cli("runs", "--delete", "runs/b", "--yes"), "runs/b", "still running")
        older = cli("runs", "--delete", "--older-than", "2026-12-01", "--dir", "runs", "--yes")
    assert older.exit_code == 0, older.output
    assert "kept" in older.output and "still running" in older.output
    assert left(runs) == ["b", "c"]


def test_runs_started_before_a_date_are_deleted_after_the_question(cli, runs):
    asked = cli("runs", "--delete", "--older-than", "2026-11-20", "--dir", "runs", input="yes\n")
    assert asked.exit_code == 0, asked.output
    assert "1 run to delete" in asked.output and "runs/a" in asked.output
    assert left(runs) == ["b", "c"]
    none = cli("runs", "--delete", "--older-than", "2026-11-02", "--dir", "runs")
    assert none.exit_code == 0 and "nothing deleted" in none.output and left(runs) == ["b", "c"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--delete", "--older-than", "2026-13-01"], "--older-than: expected a date as YYYY-MM-DD"),
        (["--delete", "--older-than", "last week"], "'last week'"),
        (["--older-than", "2026-11-30"], "--older-than: goes with --delete"),
        (["runs/a"], "RUN_DIR: goes with --delete"),
        (["--delete"], "name the run folders to delete"),
        (["--delete", "runs/a", "--older-than", "2026-11-30"], "not both"),
    ],
)
def test_bad_delete_requests_exit_2_with_one_message(cli, runs, args, needle):
    refused(cli("runs", *args, "--yes"), needle)
    assert left(runs) == ["a", "b", "c"]
