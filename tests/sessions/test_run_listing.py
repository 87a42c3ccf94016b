"""Run lists read summary.json alone (its "listing"): the same table as reading every file, for runs finished,
still recording and killed; runs recorded before the listing still list; deleting runs refuses running ones."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys

import pytest

from dl_lab.sessions import Recorder, RunDirError, Trainer, list_runs, open_run
from dl_lab.sessions.events import EpochEnded
from dl_lab.sessions.runs import directory
from dl_lab.sessions.runs.directory import LISTING, NO_END, ListedRun, RunLock
from dl_lab.sessions.runs.removal import delete_run, parse_date, run_to_delete, runs_older_than
from dl_lab.sessions.runs.table import COLUMNS


def record(trainer, run_dir):
    with Recorder(run_dir, trainer) as rec:
        for e in trainer.run():
            rec.record(e)
    return run_dir


def texts(run) -> list[str]:
    return [column.text(run) for column in COLUMNS] + [column.text(run, compact=True) for column in COLUMNS]


def listed_without_records(root, monkeypatch) -> dict:
    """list_runs with metrics.jsonl's parser broken: what it lists came from summary.json alone."""

    def refuse(path):
        raise AssertionError(f"list_runs parsed {path}")

    with monkeypatch.context() as m:
        m.setattr(directory, "read_records", refuse)
        runs = list_runs(root, include_damaged=True)
        rows = {run.path.name: texts(run) for run in runs}
    return {"runs": {run.path.name: run for run in runs}, "rows": rows}


def test_a_finished_run_lists_from_its_summary_as_from_its_files(small_session, tmp_path, monkeypatch):
    run_dir = record(Trainer(small_session()), tmp_path / "done")
    listed = listed_without_records(tmp_path, monkeypatch)
    assert isinstance(listed["runs"]["done"], ListedRun)
    assert listed["rows"]["done"] == texts(open_run(run_dir))
    assert listed["rows"]["done"][2] == "completed"


def test_a_running_run_lists_its_latest_epoch_from_the_lines_after_its_summary(small_session, tmp_path, monkeypatch):
    trainer = Trainer(small_session(training__epochs=6))
    events = trainer.run()
    with Recorder(tmp_path / "live", trainer) as rec:
        epochs = 0
        for event in events:
            rec.record(event)
            epochs += isinstance(event, EpochEnded)
            if epochs == 3:
                break
        lines = [json.loads(line) for line in (tmp_path / "live" / "metrics.jsonl").read_text().splitlines()]
        listed = listed_without_records(tmp_path, monkeypatch)  # the recorder holds the run's lock
        assert listed["rows"]["live"] == texts(open_run(tmp_path / "live"))
        assert listed["runs"]["live"].state == "running"
        assert listed["runs"]["live"].final()["epoch"] == 3 == [r for r in lines if r["event"] == "epoch"][-1]["epoch"]
    events.close()


KILLED = """
import os, signal, sys
from dl_lab.sessions import Recorder, Trainer, session_from_text
from dl_lab.sessions.events import EpochEnded
trainer = Trainer(session_from_text(sys.stdin.read()).with_overrides(["training.epochs=8"]))
rec = Recorder(sys.argv[1], trainer)
for event in trainer.run():
    rec.record(event)
    if isinstance(event, EpochEnded) and event.epoch == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("epoch", [1, 3])
def test_a_killed_run_lists_as_from_its_files(small_session, tmp_path, monkeypatch, epoch):
    run_dir = tmp_path / "killed"
    text = small_session().to_yaml()
    done = subprocess.run([sys.executable, "-c", KILLED, str(run_dir), str(epoch)], input=text, text=True)
    assert done.returncode == -signal.SIGKILL
    listed = listed_without_records(tmp_path, monkeypatch)
    assert isinstance(listed["runs"]["killed"], ListedRun)
    assert listed["rows"]["killed"] == texts(open_run(run_dir))
    assert listed["runs"]["killed"].state == NO_END and listed["runs"]["killed"].final()["epoch"] == epoch


def test_a_run_recorded_before_the_listing_lists_from_its_files_which_stay_as_they_were(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "old")
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary[LISTING]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    before = {f.name: f.read_bytes() for f in run_dir.iterdir() if f.is_file()}
    reads = []
    parse = directory.read_records
    with pytest.MonkeyPatch.context() as m:
        m.setattr(directory, "read_records", lambda path: reads.append(path) or parse(path))
        [run] = list_runs(tmp_path)
        assert reads == [run_dir / "metrics.jsonl"]  # read whole, once
        assert texts(run) == texts(open_run(run_dir))
    assert run.epochs() == open_run(run_dir).epochs()  # read again when asked: a list keeps no records
    assert {f.name: f.read_bytes() for f in run_dir.iterdir() if f.is_file()} == before


def test_a_finished_run_whose_metrics_changed_is_read_from_its_files(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "edited")
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"event":"epoch","epoch":99,"val_loss":"oops"}\n')
    [run] = list_runs(tmp_path, include_damaged=True)
    assert run.state.startswith("damaged: metrics.jsonl")


def test_a_listed_run_reads_its_session_and_records_when_asked(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "r")
    [run] = list_runs(tmp_path)
    full = open_run(run_dir)
    assert isinstance(run, ListedRun)
    assert run.epochs() == full.epochs() and run.session == full.session and run.final() == full.final()


def test_a_resumed_run_lists_its_last_recorded_epoch_until_it_ends_another(small_session, tmp_path):
    from dl_lab.sessions import load_resume
    from dl_lab.sessions.events import RunCancelled

    session = small_session(training__epochs=4)
    trainer = Trainer(session)
    with Recorder(tmp_path / "r", trainer) as rec:
        for event in trainer.run(should_stop=lambda: trainer.progress.epoch >= 2):
            rec.record(event)
            if isinstance(event, RunCancelled):
                break
    again = Trainer(session)
    load_resume(again, tmp_path / "r")
    events = again.run()
    with Recorder(tmp_path / "r", again, resume=True) as rec:
        rec.record(next(events))  # RunStarted: summary.json rewritten, "running"
        [run] = list_runs(tmp_path)
        assert run.final()["epoch"] == open_run(tmp_path / "r").final()["epoch"] == 2
    events.close()


def test_deleting_refuses_a_folder_that_is_not_a_run_and_a_run_being_written(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "runs" / "r")
    (tmp_path / "runs" / "notes").mkdir()
    with pytest.raises(RunDirError, match=r"no session\.yaml"):
        run_to_delete(tmp_path / "runs" / "notes")
    with pytest.raises(RunDirError, match="not a run folder"):
        run_to_delete(tmp_path / "runs" / "missing")
    with RunLock(run_dir), pytest.raises(RunDirError, match="still running"):
        run_to_delete(run_dir)
    assert (run_dir / "session.yaml").exists()
    run = run_to_delete(run_dir)
    delete_run(run)
    assert not run_dir.exists() and (tmp_path / "runs" / "notes").exists()


def test_runs_older_than_a_date_are_those_started_before_it_running_ones_kept(small_session, tmp_path):
    root = tmp_path / "runs"
    for name, started in (("old", "2026-11-29T23:59:00"), ("edge", "2026-11-30T00:00:00"), ("live", "2026-11-01")):
        run_dir = record(Trainer(small_session()), root / name)
        summary = json.loads((run_dir / "summary.json").read_text())
        at = dt.datetime.fromisoformat(started).astimezone().isoformat()
        (run_dir / "summary.json").write_text(json.dumps({**summary, "started_at": at}))
    with RunLock(root / "live"):
        old, running = runs_older_than(root, parse_date("2026-11-30"))
    assert [r.path.name for r in old] == ["old"] and [r.path.name for r in running] == ["live"]
    with pytest.raises(Exception, match="expected a date as YYYY-MM-DD"):
        parse_date("30/11/2026")
    assert sorted(os.listdir(root)) == ["edge", "live", "old"]


def test_a_run_is_locked_for_writing_while_a_list_reads_it_an_instant_but_never_while_a_writer_holds_it(tmp_path):
    import fcntl
    import threading

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / directory.LOCK_FILE).write_text("")
    reader = os.open(run_dir / directory.LOCK_FILE, os.O_RDONLY)
    fcntl.flock(reader, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a runs screen asking is_locked, as it reads the run
    threading.Timer(0.05, os.close, (reader,)).start()
    with RunLock(run_dir) as lock:  # taken once the reader has let go, not refused
        assert lock.fd is not None and directory.is_locked(run_dir)
        with pytest.raises(RunDirError, match="being written by another dl-lab process"):
            RunLock(run_dir)  # a writer holds it: refused after READERS_S
    assert not directory.is_locked(run_dir)
