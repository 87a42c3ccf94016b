"""Run directories as the contract lays them out, read back tolerantly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from dl_lab.session import Recorder, RunDirError, Trainer, list_runs, open_run
from dl_lab.session.runs import read_records


def record(trainer, run_dir):
    with Recorder(run_dir, trainer) as rec:
        for e in trainer.run():
            rec.record(e)
    return run_dir


def test_a_run_directory_holds_exactly_the_contract_files(small_session, tmp_path):
    run_dir = record(Trainer(small_session(training__checkpoint_every=2)), tmp_path / "run")
    files = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())
    assert files == [
        "checkpoints/epoch-2.npz", "checkpoints/epoch-4.npz", "checkpoints/final.npz", "checkpoints/initial.npz",
        "metrics.jsonl", "session.yaml", "summary.json",
    ]  # fmt: skip


def test_session_yaml_is_the_completed_session(small_session, tmp_path):
    trainer = Trainer(small_session())
    run_dir = record(trainer, tmp_path / "run")
    assert yaml.safe_load((run_dir / "session.yaml").read_text()) == trainer.spec


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
def test_a_run_whose_session_file_is_broken_is_an_error_and_left_out_of_the_list(small_session, tmp_path, text,
                                                                                message):  # fmt: skip
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
