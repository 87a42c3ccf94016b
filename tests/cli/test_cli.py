"""The `dl-lab` command: Typer's CliRunner for each command, and real processes for Ctrl-C and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from dl_lab.cli.main import app

SESSION = """\
name: cli-small
seed: 1
data: {dataset: moons, samples: 200, noise: 0.1}
model:
  - dense: {units: 16, activation: relu}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.02}
training: {epochs: 3, batch_size: 20}
"""


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "s.yaml").write_text(SESSION)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, list(args))

    return invoke


def test_run_writes_a_run_directory_and_prints_a_summary(cli, tmp_path):
    result = cli("run", "s.yaml", "--out", "r1")
    assert result.exit_code == 0, result.output
    assert "val_acc" in result.output and "loss" in result.output
    assert (tmp_path / "r1" / "checkpoints" / "final.npz").exists()


def test_run_json_prints_the_summary_and_epochs_overrides_the_session(cli):
    result = cli("run", "s.yaml", "--out", "r2", "--json", "--epochs", "2")
    summary = json.loads(result.output)
    assert summary["final"]["epoch"] == 2 and summary["train_samples_per_s"] > 0 and summary["run_dir"] == "r2"


def test_quiet_prints_nothing_on_success(cli):
    result = cli("run", "s.yaml", "--out", "r3", "--quiet")
    assert result.exit_code == 0 and result.output.strip() == ""


@pytest.mark.parametrize(
    "args,message",
    [
        (["run", "missing.yaml"], "missing.yaml: no such session file"),
        (["run", "s.yaml", "--set", "training.epochs=zero"], "training.epochs: expected an integer >= 1"),
        (["run", "s.yaml", "--set", "model[1].dense.units=5"], "the model gives 5 outputs, but cross_entropy needs 2"),
        (["run", "s.yaml", "--backend", "tpu"], "backend: expected one of numpy, cupy, auto, got 'tpu'"),
        (["validate", "s.yaml", "--set", "model[0].dense.activation=relux"], "did you mean 'relu'"),
        (["replay", "nowhere"], "nowhere: no such run directory"),
    ],
)
def test_bad_input_is_one_message_and_exit_status_2(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_diverging_run_exits_3_with_its_explanation(cli):
    result = cli("run", "s.yaml", "--out", "bad", "--quiet", "--set", "optimizer={name: sgd, lr: 1.0e+7}")
    assert result.exit_code == 3
    assert "the run failed" in result.output and "try: lower optimizer.lr" in result.output


def test_validate_prints_the_model_summary(cli):
    result = cli("validate", "s.yaml")
    assert result.exit_code == 0
    assert "dense (relu)" in result.output and "82" in result.output and "valid session" in result.output


def test_gradcheck_passes_on_a_session(cli):
    result = cli("gradcheck", "s.yaml")
    assert result.exit_code == 0, result.output
    assert "0.weight" in result.output and "MISMATCH" not in result.output


def test_runs_compare_export_and_replay_read_recorded_runs(cli, tmp_path):
    assert cli("run", "s.yaml", "--out", "runs/sgd", "-q", "--set", "optimizer={name: sgd, lr: 0.1}").exit_code == 0
    assert cli("run", "s.yaml", "--out", "runs/adam", "-q").exit_code == 0
    listing = cli("runs", "--sort", "val_acc")
    assert "runs/sgd" in listing.output and "runs/adam" in listing.output
    compared = cli("compare", "runs/sgd", "runs/adam")
    assert compared.exit_code == 0 and "sgd lr=0.1" in compared.output
    exported = cli("export", "runs/sgd", "runs/adam", "--csv", "all.csv")
    assert exported.exit_code == 0
    rows = (tmp_path / "all.csv").read_text().splitlines()
    assert rows[0].startswith("run,name,epoch") and len(rows) == 1 + 2 * 3
    replayed = cli("replay", "runs/adam", "--headless")
    assert replayed.exit_code == 0 and "3 epochs" in replayed.output


def test_new_writes_a_preset_and_lists_presets(cli, tmp_path):
    assert cli("new", "spiral", "--out", "mine.yaml").exit_code == 0
    assert "dataset: spiral" in (tmp_path / "mine.yaml").read_text()
    again = cli("new", "spiral", "--out", "mine.yaml")
    assert again.exit_code == 2 and "already exists" in again.output
    assert "spiral" in cli("new", "--list").output


def test_datasets_lists_every_dataset_with_offline_availability(cli):
    result = cli("datasets")
    for name in ("spiral", "digits", "mnist", "cifar10", "csv"):
        assert name in result.output


def test_ctrl_c_saves_a_checkpoint_exits_130_and_resume_finishes_the_run(tmp_path):
    session = SESSION.replace("epochs: 3", "epochs: 25").replace("samples: 200", "samples: 2000")
    (tmp_path / "s.yaml").write_text(session)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "dl_lab.cli.main", "run", "s.yaml", "--out", "r", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "r" / "metrics.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not metrics.exists() or metrics.stat().st_size < 2000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "checkpoint saved" in err and "dl-lab run --resume" in err
    with np.load(tmp_path / "r" / "checkpoints" / "last.npz", allow_pickle=False) as data:
        assert "0.weight" in data.files
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "cancelled"
    resume = [sys.executable, "-m", "dl_lab.cli.main", "run", "--resume", "r", "--quiet"]
    refused = subprocess.run([*resume, "--epochs", "3"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "continues with its recorded session" in refused.stderr
    resumed = subprocess.run(resume, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_done"] == 25
    assert not (tmp_path / "r" / "resume").exists()
