"""Run directories as the contract lays them out, read back tolerantly."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml

from dl_lab.sessions import Recorder, RunDirError, Trainer, list_runs, open_run
from dl_lab.sessions.runs.directory import NO_END, STALE_AFTER_S, read_records


def record(trainer, run_dir):
    with Recorder(run_dir, trainer) as rec:
        for e in trainer.run():
            rec.record(e)
    return run_dir


def test_a_run_directory_holds_exactly_the_contract_files(small_session, tmp_path):
    run_dir = record(Trainer(small_session(training__checkpoint_every=2)), tmp_path / "run")
    files = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())
    files = [f for f in files if not f.startswith("frames/")]  # beside the contract: test_frames_are_the_weights...
    assert files == [
        "checkpoints/epoch-2.npz",
        "checkpoints/epoch-4.npz",
        "checkpoints/final.npz",
        "checkpoints/initial.npz",
        "metrics.jsonl",
        "session.yaml",
        "summary.json",
    ]


def test_frames_are_the_weights_at_each_snapshot_of_a_small_model(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "run")
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    snapshots = [r["step"] for r in records if r["event"] == "snapshot"]
    frames = sorted((run_dir / "frames").glob("*.npz"))
    assert [int(p.stem.split("-")[1]) for p in frames] == snapshots and len(snapshots) >= 3
    middle = snapshots[len(snapshots) // 2]
    trainer = Trainer(small_session())  # the same run again, stopped after that step
    steps = iter(range(10**6))
    for _ in trainer.run(lambda: next(steps) >= middle):
        pass
    with np.load(run_dir / "frames" / f"step-{middle:08d}.npz", allow_pickle=False) as frame:
        state = trainer.model.state_dict()
        assert frame.files == list(state)
        for key in frame.files:
            np.testing.assert_array_equal(frame[key], state[key])


def test_session_yaml_is_the_completed_session(small_session, tmp_path):
    trainer = Trainer(small_session())
    run_dir = record(trainer, tmp_path / "run")
    assert yaml.safe_load((run_dir / "session.yaml").read_text()) == trainer.session.spec


def test_metrics_lines_carry_the_contract_fields(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "run")
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {r["event"] for r in records} == {"step", "epoch", "snapshot", "end"}
    epoch = next(r for r in records if r["event"] == "epoch")
    assert {"epoch", "train_loss", "val_loss", "train_acc", "val_acc"} <= epoch.keys()
    assert records[-1]["event"] == "end" and records[-1]["status"] == "completed"


def test_summary_reports_throughput_and_final_metrics(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "run")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["train_samples_per_s"] > 0 and summary["final"]["epoch"] == 4
    assert summary["status"] == "completed" and summary["backend"] == "numpy"
    assert {"python", "numpy", "dl_lab"} <= summary["versions"].keys()


def test_checkpoints_load_with_allow_pickle_false_and_match_the_model(small_session, tmp_path):
    trainer = Trainer(small_session())
    run_dir = record(trainer, tmp_path / "run")
    with np.load(run_dir / "checkpoints" / "final.npz", allow_pickle=False) as data:
        assert data.files == ["0.weight", "0.bias", "2.weight", "2.bias"]
        assert data["0.weight"].shape == (8, 2) and data["0.weight"].dtype == np.float32
        assert np.array_equal(data["2.bias"], trainer.model.layers[2].bias.data)


def test_a_truncated_last_line_is_tolerated_but_a_broken_middle_line_is_not(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "run")
    path = run_dir / "metrics.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    assert len(read_records(path)) == len(lines) - 1
    path.write_text("\n".join(["{oops", *lines]))
    with pytest.raises(RunDirError, match=r"metrics\.jsonl:1: not a JSON line"):
        read_records(path)


def test_runs_are_listed_and_replayed_as_the_same_events(small_session, tmp_path):
    trainer = Trainer(small_session())
    live = []
    with Recorder(tmp_path / "a", trainer) as rec:
        for e in trainer.run():
            rec.record(e)
            live.append(e)
    run = open_run(tmp_path / "a")
    assert run.events() == live[1:]  # everything but RunStarted, which lives in summary.json
    assert [r.path.name for r in list_runs(tmp_path)] == ["a"]
    with pytest.raises(RunDirError, match="not a dl-lab run directory"):
        open_run(tmp_path)


@pytest.mark.parametrize(
    "text,message",
    [("foo: [", "session.yaml: not readable as YAML"), ("- a list", r"expected a session \(a mapping\), got list")],
)
def test_a_run_whose_session_file_is_broken_is_an_error_and_left_out_of_the_list(
    small_session, tmp_path, text, message
):
    trainer = Trainer(small_session())
    with Recorder(tmp_path / "good", trainer) as rec:
        for e in trainer.run():
            rec.record(e)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "session.yaml").write_text(text)
    with pytest.raises(RunDirError, match=message):
        open_run(tmp_path / "broken")
    assert [r.path.name for r in list_runs(tmp_path)] == ["good"]
    with pytest.raises(RunDirError, match="no such run directory"):
        open_run(tmp_path / "missing")


def as_if_killed(run_dir, **process):
    """The run directory as a run killed mid-way leaves it: no end line, summary.json saying "running"."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    (run_dir / "metrics.jsonl").write_text("\n".join(line for line in lines if '"event":"end"' not in line) + "\n")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary.update(status="running", process=process or None)
    (run_dir / "summary.json").write_text(json.dumps(summary))


def age(run_dir, seconds):
    then = time.time() - seconds
    for f in run_dir.iterdir():
        os.utime(f, (then, then))


def test_a_run_without_an_end_record_is_running_only_while_its_process_lives(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "run")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["process"] == {"pid": os.getpid(), "host": socket.gethostname()}
    assert open_run(run_dir).state == "completed"
    as_if_killed(run_dir, pid=os.getpid(), host=socket.gethostname())
    age(run_dir, 3600)
    assert open_run(run_dir).state == "running"  # this process is alive: paused for an hour, say
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    as_if_killed(run_dir, pid=gone.pid, host=socket.gethostname())
    assert open_run(run_dir).state == NO_END


def test_without_a_process_to_ask_a_run_is_running_until_its_files_are_stale(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "run")
    as_if_killed(run_dir, pid=os.getpid(), host="another-machine")
    assert open_run(run_dir).state == "running"
    age(run_dir, STALE_AFTER_S + 60)
    assert open_run(run_dir).state == NO_END
    as_if_killed(run_dir)  # recorded before processes were noted
    age(run_dir, 5)
    assert open_run(run_dir).state == "running"


def test_an_end_line_written_before_summary_json_counts(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "run")
    summary = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").write_text(json.dumps({**summary, "status": "running"}))
    assert open_run(run_dir).state == "completed"


@pytest.mark.parametrize(
    "status,word",
    [("cancelled", "stopped"), ("stopped_early", "stopped early"), ("failed", "failed"), ("completed", "completed")],
)
def test_recorded_statuses_read_as_words(small_session, tmp_path, status, word):
    run_dir = record(Trainer(small_session()), tmp_path / "run")
    summary = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").write_text(json.dumps({**summary, "status": status}))
    assert open_run(run_dir).state == word


def test_the_start_time_is_the_recorded_one_not_the_folder_s(small_session, tmp_path):
    run_dir = record(Trainer(small_session()), tmp_path / "x-20200102-030405")
    recorded = json.loads((run_dir / "summary.json").read_text())["started_at"]
    age(run_dir, 10 * 86400)
    assert open_run(run_dir).started_at == dt.datetime.fromisoformat(recorded)
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["started_at"]  # a run recorded before started_at: the time in its folder's name
    (run_dir / "summary.json").write_text(json.dumps(summary))
    assert open_run(run_dir).started_at.replace(tzinfo=None) == dt.datetime(2020, 1, 2, 3, 4, 5)
    copied = shutil.copytree(run_dir, tmp_path / "copied")  # no time in the name: the last update less wall time
    summary.update(updated="2021-05-06T07:08:09", wall_time=9.0)
    (copied / "summary.json").write_text(json.dumps(summary))
    assert open_run(copied).started_at.replace(tzinfo=None) == dt.datetime(2021, 5, 6, 7, 8, 0)


def test_runs_are_listed_by_start_time_newest_first(small_session, tmp_path):
    for name in ("a", "b"):
        record(Trainer(small_session()), tmp_path / name)
    for name, stamp in (("a", "2024-01-01T10:00:00+00:00"), ("b", "2023-01-01T10:00:00+00:00")):
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        (tmp_path / name / "summary.json").write_text(json.dumps({**summary, "started_at": stamp}))
    age(tmp_path / "a", 86400)  # file times say nothing
    assert [r.path.name for r in list_runs(tmp_path)] == ["a", "b"]


def test_quality_is_accuracy_for_classification_and_r2_for_regression(small_session, tmp_path):
    classified = open_run(record(Trainer(small_session()), tmp_path / "c"))
    kind, value = classified.quality()
    assert kind == "acc" and value == classified.final()["val_acc"]
    assert classified.quality_text(3) == f"{value:.3f}"
    regression = small_session(data="{dataset: sine, samples: 120}", loss="mse", **{"model[2].dense.units": 1})
    fitted = open_run(record(Trainer(regression), tmp_path / "r"))
    assert fitted.final()["val_acc"] is None
    kind, value = fitted.quality()
    assert kind == "R²" and value == fitted.final()["val_r2"]
    assert fitted.quality_text() == f"R² {value:.4f}"
