"""The `dl-lab` command: Typer's CliRunner for each command, and real processes for Ctrl-C and resume."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_runner import SESSION
from typer.testing import CliRunner

from dl_lab.cli.main import app


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
        (["tui", "s.yaml", "--set", "training.epochs=zero"], "training.epochs: expected an integer >= 1"),
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
    assert listing.exit_code == 0 and "2 runs in runs" in listing.output
    assert {row[0] for row in table_rows(listing.output)} == {"sgd", "adam"}
    compared = cli("compare", "runs/sgd", "runs/adam")
    assert compared.exit_code == 0 and "sgd lr=0.1" in compared.output
    exported = cli("export", "runs/sgd", "runs/adam", "--csv", "all.csv")
    assert exported.exit_code == 0
    rows = (tmp_path / "all.csv").read_text().splitlines()
    assert rows[0].startswith("run,name,epoch") and len(rows) == 1 + 2 * 3
    replayed = cli("replay", "runs/adam", "--headless")
    assert replayed.exit_code == 0 and "3 epochs" in replayed.output


SINE = """\
name: cli-sine
seed: 2
data: {dataset: sine, samples: 200}
model:
  - dense: {units: 16, activation: tanh}
  - dense: {units: 1}
loss: mse
optimizer: {name: adam, lr: 0.02}
training: {epochs: 3, batch_size: 20}
"""


def table_rows(output: str) -> list[list[str]]:
    """The rows of a `dl-lab runs`/`compare` table as printed into a pipe: cells split at runs of 2+ spaces."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    return [re.split(r" {2,}", line.strip()) for line in lines[start + 1 :] if line.strip()]


def test_export_writes_scalar_columns_to_a_file_or_stdout_and_refuses_a_path_it_cannot_write(cli, tmp_path):
    (tmp_path / "sine.yaml").write_text(SINE)
    assert cli("run", "sine.yaml", "--out", "runs/sine", "-q").exit_code == 0
    assert cli("run", "s.yaml", "--out", "runs/moons", "-q").exit_code == 0
    result = cli("export", "runs/sine", "runs/moons", "--csv", "-")
    assert result.exit_code == 0 and not (tmp_path / "-").exists()
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 6 and {r["name"] for r in rows} == {"cli-sine", "cli-small"}
    header = rows[0].keys()
    assert {"val_r2", "val_acc", "val_loss", "epoch"} <= header
    assert not {"confusion", "precision", "recall", "samples"} & header  # per-class values stay in metrics.jsonl
    assert all(any(r[k] for r in rows) for k in header)  # no column that is never filled
    assert rows[0]["val_r2"] and not rows[0]["val_acc"] and rows[-1]["val_acc"] and not rows[-1]["val_r2"]
    for target, reason in [(tmp_path / "nowhere" / "x.csv", "no such folder"), (tmp_path, "is a directory")]:
        refused = cli("export", "runs/sine", "--csv", str(target))
        assert refused.exit_code == 2 and "Traceback" not in refused.output
        assert f"--csv {target}: cannot write the file ({reason})" in refused.output


def test_runs_and_compare_show_r2_for_regression_and_sort_it_with_accuracies(cli, tmp_path):
    (tmp_path / "sine.yaml").write_text(SINE)
    assert cli("run", "sine.yaml", "--out", "runs/sine", "-q").exit_code == 0
    assert cli("run", "s.yaml", "--out", "runs/moons", "-q").exit_code == 0
    assert cli("run", "s.yaml", "--out", "runs/slow", "-q", "--set", "optimizer.lr=0.0001").exit_code == 0
    finals = {
        name: json.loads((tmp_path / "runs" / name / "summary.json").read_text())["final"]
        for name in ("sine", "moons", "slow")
    }
    quality = {"sine": finals["sine"]["val_r2"], "moons": finals["moons"]["val_acc"], "slow": finals["slow"]["val_acc"]}
    listing = cli("runs", "--sort", "val_acc")
    rows = {row[0]: row for row in table_rows(listing.output)}
    assert f"R² {quality['sine']:.4f}" in rows["sine"] and f"{quality['moons']:.4f}" in rows["moons"]
    assert [row[0] for row in table_rows(listing.output)] == sorted(quality, key=quality.get, reverse=True)
    compared = cli("compare", "runs/sine", "runs/moons")
    assert f"R² {quality['sine']:.4f}" in {row[0]: row for row in table_rows(compared.output)}["sine"]


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["runs", "--sort", "bogus"],
            "--sort: expected one of time, run, status, epochs, train_loss, val_loss, val_acc",
        ),
        (["runs", "--dir", "nowhere"], "--dir nowhere: no such folder"),
        (["runs", "--dir", "s.yaml"], "--dir s.yaml: not a folder"),
    ],
)
def test_runs_refuses_a_bad_sort_key_or_folder(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_runs_in_a_pipe_prints_every_value_whole_whatever_the_width(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    for _ in range(2):
        assert cli("run", "s.yaml", "-q").exit_code == 0  # runs/cli-small-YYYYmmdd-HHMMSS[-2]
    ids = sorted(p.name for p in (tmp_path / "runs").iterdir())
    listing = cli("runs")
    assert "…" not in listing.output
    rows = table_rows(listing.output)
    assert sorted(row[0] for row in rows) == ids and all(len(row) == 11 for row in rows)  # model, optimizer too
    for run_id in ids:  # `dl-lab runs | grep ID` finds it
        assert [line for line in listing.output.splitlines() if run_id in line]


def run_in_terminal(args: list[str], cwd: Path, columns: int) -> str:
    """`dl-lab ARGS` with its output on a pseudo-terminal of ``columns`` columns; what it printed."""
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dl_lab.cli.main", *args],
        cwd=cwd,
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    os.close(leader)
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", out.decode("utf-8")).replace("\r\n", "\n")


def test_runs_and_compare_in_an_80_column_terminal_keep_run_ids_whole(cli, tmp_path):
    (tmp_path / "sine.yaml").write_text(SINE)
    assert cli("run", "sine.yaml", "-q").exit_code == 0
    for _ in range(2):
        assert cli("run", "s.yaml", "-q").exit_code == 0
    ids = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert len(ids) == 3 and all(len(i) >= len("cli-sine-20260101-000000") for i in ids)
    listing = run_in_terminal(["runs"], tmp_path, 80)
    lines = listing.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in listing
    for run_id in ids:
        assert any(line.startswith(run_id + " ") for line in lines), listing
    sine = next(line for line in lines if line.startswith("cli-sine"))
    assert re.search(r"completed +3 .* R² [-0-9.]+$", sine), listing  # the columns that matter stay
    compared = run_in_terminal(["compare", *(f"runs/{i}" for i in ids)], tmp_path, 80)
    lines = compared.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in compared
    for run_id in ids:
        assert any(line.startswith(run_id + " ") for line in lines), compared


def test_new_writes_a_preset_and_lists_presets(cli, tmp_path):
    assert cli("new", "spiral", "--out", "mine.yaml").exit_code == 0
    assert "dataset: spiral" in (tmp_path / "mine.yaml").read_text()
    again = cli("new", "spiral", "--out", "mine.yaml")
    assert again.exit_code == 2 and "already exists" in again.output
    assert "spiral" in cli("new", "--list").output


def test_a_folder_named_like_a_preset_does_not_hide_it(cli, tmp_path):
    (tmp_path / "adaline").mkdir()  # e.g. `dl-lab run adaline --out adaline`
    result = cli("validate", "adaline")
    assert result.exit_code == 0 and "is a valid session" in result.output, result.output


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
    assert "dl-lab: stopped at epoch" in err and "checkpoint saved" in err and "dl-lab run --resume" in err
    with np.load(tmp_path / "r" / "checkpoints" / "last.npz", allow_pickle=False) as data:
        assert "0.weight" in data.files
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "cancelled"  # the recorded word; people read "stopped", as in the app
    started_at = summary["started_at"]
    listed = subprocess.run([*cmd[:3], "runs", "--dir", "."], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert table_rows(listed.stdout)[0][:2] == ["r", "stopped"]
    resume = [sys.executable, "-m", "dl_lab.cli.main", "run", "--resume", "r", "--quiet"]
    refused = subprocess.run([*resume, "--epochs", "3"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "continues with its recorded session" in refused.stderr
    resumed = subprocess.run(resume, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_done"] == 25
    assert summary["started_at"] == started_at  # the run started when it first started
    assert not (tmp_path / "r" / "resume").exists()


@pytest.mark.parametrize(
    "command,shown",
    [
        ("compare", ["RUN_DIR...", "--metric NAME"]),
        ("export", ["RUN_DIR...", "--csv FILE"]),
        ("run", ["[SESSION]", "--set KEY=VALUE", "--resume RUN_DIR", "--epochs N"]),
        ("replay", ["RUN_DIR"]),
        ("runs", ["--dir DIR", "--sort KEY"]),
        ("validate", ["SESSION", "--set KEY=VALUE"]),
    ],
)
def test_help_names_values_by_what_they_are_not_by_python_types(cli, command, shown):
    result = cli(command, "--help")
    assert result.exit_code == 0
    for text in shown:
        assert text in result.output
    assert not re.search(r"<(list|str|path|int)", result.output), result.output


def test_the_run_path_is_printed_whole_on_one_line_and_the_bar_ends_on_the_last_batch(cli, tmp_path, monkeypatch):
    result = cli("run", "s.yaml", "--out", "r")
    bars = re.findall(r"epoch (\d+)/(\d+).*?batch (\d+)/(\d+)", result.output)
    assert bars and bars[-1] == ("3", "3", "8", "8")  # 160 training samples in batches of 20
    monkeypatch.setenv("COLUMNS", "40")
    out = "a folder with a long name/and another one/the run itself"
    result = cli("run", "s.yaml", "--out", out)
    assert result.exit_code == 0
    assert f"run: {out}" in result.output.splitlines()


def test_the_progress_bar_counts_the_whole_run():
    """The bar's total is every batch of every epoch, so that its ETA covers the epochs still to come."""
    from dl_lab.cli.runner import _progress, _update_bar
    from dl_lab.sessions import EpochEnded, Trainer, session_from_text

    trainer = Trainer(session_from_text(SESSION))
    bar = _progress(quiet=False)  # never started: nothing drawn, the task's numbers kept
    task, seen, eta = None, [], []
    for event in trainer.run():
        task = _update_bar(bar, task, event, trainer)
        if isinstance(event, EpochEnded):
            t = bar.tasks[task]
            seen.append((t.completed, t.total, t.fields["batch"], t.fields["batches"], t.finished))
            eta.append(t.time_remaining)
    steps = seen[0][3]
    assert steps > 1
    assert seen == [(steps * e, steps * 3, steps, steps, e == 3) for e in (1, 2, 3)]
    assert eta[0] > 0 and eta[-1] == 0  # after the first epoch, two more to go


def test_a_closed_pipe_ends_the_command_quietly(tmp_path):
    """`dl-lab run ... | head`: the run is recorded, then the report meets a closed pipe: exit 141, no noise."""
    (tmp_path / "s.yaml").write_text(SESSION)
    cmd = [sys.executable, "-m", "dl_lab.cli.main", "run", "s.yaml", "--out", "r"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err and "error" not in err
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "completed"


def test_a_killed_run_is_listed_as_having_no_end_record_and_by_its_recorded_start(tmp_path):
    session = SESSION.replace("epochs: 3", "epochs: 500").replace("samples: 200", "samples: 2000")
    (tmp_path / "s.yaml").write_text(session)
    cmd = [sys.executable, "-m", "dl_lab.cli.main", "run", "s.yaml", "--out", "runs/killed", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = tmp_path / "runs" / "killed" / "metrics.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and (not metrics.exists() or metrics.stat().st_size < 2000):
        time.sleep(0.05)
    listed = subprocess.run(
        [sys.executable, "-m", "dl_lab.cli.main", "runs"], cwd=tmp_path, capture_output=True, text=True
    )
    assert table_rows(listed.stdout)[0][:2] == ["killed", "running"]
    proc.kill()  # kill -9: no end record, summary.json still says "running"
    proc.wait(timeout=30)
    summary = json.loads((tmp_path / "runs" / "killed" / "summary.json").read_text())
    assert summary["status"] == "running"
    shutil.copytree(tmp_path / "runs" / "killed", tmp_path / "runs" / "copy")  # new file times, same run
    old = time.time() - 3 * 86400
    os.utime(tmp_path / "runs" / "killed", (old, old))
    listed = subprocess.run(
        [sys.executable, "-m", "dl_lab.cli.main", "runs"], cwd=tmp_path, capture_output=True, text=True
    )
    rows = {row[0]: row for row in table_rows(listed.stdout)}
    assert rows["killed"][1] == rows["copy"][1] == "no end record"
    assert float(rows["killed"][6].replace(",", "")) > 0  # samples/s: its last epoch's, with no summary figure
    started = summary["started_at"][:16].replace("T", " ")
    assert rows["killed"][-1] == rows["copy"][-1] == started


def test_the_run_list_counts_one_run_as_one(tmp_path):
    runner = CliRunner()
    runs = tmp_path / "runs"
    assert runner.invoke(app, ["run", "xor", "--epochs", "1", "-q", "--out", str(runs / "one")]).exit_code == 0
    listed = runner.invoke(app, ["runs", "--dir", str(runs)], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and f"1 run in {runs}, sorted by time" in " ".join(listed.output.split())
