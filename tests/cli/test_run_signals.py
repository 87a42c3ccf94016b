"""`dl-lab run` under signals, kills, full disks, busy and occupied folders: real processes where it matters."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dl_lab.cli.main import app
from dl_lab.cli.runner import StopFlag, stop_signals_set

SESSION = """\
name: sig
seed: 1
data: {dataset: moons, samples: 2000, noise: 0.1}
model:
  - dense: {units: 16, activation: relu}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.02}
training: {epochs: 3, batch_size: 20}
"""
LONG = SESSION.replace("epochs: 3", "epochs: 40")  # a few seconds: still training when signalled
DL_LAB = [sys.executable, "-m", "dl_lab.cli.main"]


def env(**extra) -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def start(tmp_path: Path, *args, text: str = LONG, **extra) -> subprocess.Popen:
    (tmp_path / "s.yaml").write_text(text)
    return subprocess.Popen(
        [*DL_LAB, "run", *args, "--quiet"],
        cwd=tmp_path,
        env=env(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def training(run_dir: Path, size: int = 2000):
    metrics = run_dir / "metrics.jsonl"
    return lambda: metrics.exists() and metrics.stat().st_size > size


def loads(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k].copy() for k in data.files}


def resume(tmp_path: Path, run: str = "r") -> subprocess.CompletedProcess:
    return subprocess.run(
        [*DL_LAB, "run", "--resume", run, "--quiet"], cwd=tmp_path, env=env(), capture_output=True, text=True
    )


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "s.yaml").write_text(SESSION)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


# --- signals --------------------------------------------------------------------------------------------------


def test_a_double_tapped_ctrl_c_asks_for_one_stop_and_never_aborts(capfd):
    # Two separate deliveries, the second before the trainer has seen the first (a human double tap while a
    # large model's batch is under way): the run must still stop after the batch and save, not abort.
    flag = StopFlag()
    with stop_signals_set(flag):
        signal.raise_signal(signal.SIGINT)
        signal.raise_signal(signal.SIGINT)
    assert flag.set and flag.exit_status == 130
    assert "stopping after this batch and saving the checkpoint" in capfd.readouterr().err


def test_a_second_ctrl_c_while_saving_is_ignored_until_the_checkpoint_is_saved(tmp_path):
    proc = start(tmp_path, "s.yaml", "--out", "r", DL_LAB_TEST_SAVE_DELAY="1.5")
    wait_for(training(tmp_path / "r"))
    proc.send_signal(signal.SIGINT)
    err_lines = []
    # the save starts after the current batch; wait for the test delay's line, then interrupt again, twice
    line = proc.stderr.readline()
    while line and "test delay: saving" not in line:
        err_lines.append(line)
        line = proc.stderr.readline()
    began = time.time()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, rest
    assert time.time() - began >= 1.2  # the save window the test opened: 1.5 s, the second Ctrl-Cs inside it
    assert rest.count("saving the checkpoint, one moment") == 2 and "Traceback" not in rest
    assert "dl-lab: stopped at epoch" in rest
    assert "0.weight" in loads(tmp_path / "r" / "checkpoints" / "last.npz")
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "cancelled"
    done = resume(tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("sig,status,word", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")])
def test_sigterm_and_sighup_stop_like_ctrl_c_with_128_plus_the_signal(tmp_path, sig, status, word):
    proc = start(tmp_path, "s.yaml", "--out", "r")
    wait_for(training(tmp_path / "r"))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert f"dl-lab: stopped by {word} at epoch" in err and "Traceback" not in err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "cancelled"
    records = (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(records[-1])["status"] == "cancelled"
    assert "0.weight" in loads(tmp_path / "r" / "checkpoints" / "last.npz")
    assert (tmp_path / "r" / "resume" / "state.json").exists()


def test_ctrl_c_while_the_data_loads_is_one_line_and_130(tmp_path):
    proc = start(tmp_path, "s.yaml", "--out", "r", DL_LAB_TEST_START_DELAY="30")
    line = proc.stderr.readline()
    assert "test delay: starting" in line, line
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.strip() == "dl-lab: interrupted; nothing more was recorded"
    assert not (tmp_path / "r").exists()


def test_after_kill_9_a_periodic_checkpoint_resumes_to_the_uninterrupted_weights(tmp_path):
    text = SESSION.replace("epochs: 3", "epochs: 12").replace("batch_size: 20", "batch_size: 20, checkpoint_every: 1")
    (tmp_path / "s.yaml").write_text(text)
    whole = subprocess.run(
        [*DL_LAB, "run", "s.yaml", "--out", "whole", "--quiet"], cwd=tmp_path, env=env(), capture_output=True, text=True
    )
    assert whole.returncode == 0, whole.stderr
    proc = start(tmp_path, "s.yaml", "--out", "r", text=text)
    wait_for(lambda: (tmp_path / "r" / "checkpoints" / "epoch-3.npz").exists())
    proc.kill()
    proc.wait(timeout=30)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "running"  # killed: no end record
    done = resume(tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_done"] == 12
    a, b = loads(tmp_path / "whole" / "checkpoints" / "final.npz"), loads(tmp_path / "r" / "checkpoints" / "final.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)


# --- one writer per run folder --------------------------------------------------------------------------------


def test_a_run_folder_being_written_is_refused_to_a_second_process_and_listed_as_running(tmp_path):
    from dl_lab.sessions.runs.directory import is_locked

    first = start(tmp_path, "s.yaml", "--out", "runs/r", text=SESSION.replace("epochs: 3", "epochs: 2000"))
    try:
        wait_for(training(tmp_path / "runs" / "r"))
        assert is_locked(tmp_path / "runs" / "r")
        for args in (["s.yaml", "--out", "runs/r"], ["--resume", "runs/r"]):
            second = subprocess.run(
                [*DL_LAB, "run", *args, "--quiet"], cwd=tmp_path, env=env(), capture_output=True, text=True
            )
            assert second.returncode == 2, second.stderr
            assert f"runs/r is being written by another dl-lab process (pid {first.pid})" in second.stderr
            assert "Traceback" not in second.stderr
        listed = subprocess.run([*DL_LAB, "runs"], cwd=tmp_path, env=env(), capture_output=True, text=True)
        assert any(line.split()[:2] == ["r", "running"] for line in listed.stdout.splitlines()), listed.stdout
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 130
    assert not is_locked(tmp_path / "runs" / "r") and not (tmp_path / "runs" / "r" / ".lock").exists()


# --- where a run may be written -------------------------------------------------------------------------------


def test_out_onto_a_folder_of_other_files_is_refused_even_with_force(cli, tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "session.yaml").write_text(SESSION)
    for extra in ([], ["--force"]):
        result = cli("run", "exp/session.yaml", "--out", "exp", *extra)
        assert result.exit_code == 2, result.output
        assert "--out exp: the folder holds the session file being run; choose another --out" in result.output
    assert (exp / "session.yaml").read_text() == SESSION and sorted(p.name for p in exp.iterdir()) == ["session.yaml"]
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    result = cli("run", "s.yaml", "--out", "notes", "--force")
    assert result.exit_code == 2 and "holds files that are not a dl-lab run's" in result.output
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


def test_out_onto_a_run_is_refused_unless_forced(cli, tmp_path):
    assert cli("run", "s.yaml", "--out", "r", "-q").exit_code == 0
    before = (tmp_path / "r" / "summary.json").read_text()
    refused = cli("run", "s.yaml", "--out", "r", "-q")
    assert refused.exit_code == 2
    assert "--out r: already holds a run; choose another --out, or --resume it, or --force to replace it" in (
        refused.output
    )
    assert (tmp_path / "r" / "summary.json").read_text() == before
    replaced = cli("run", "s.yaml", "--out", "r", "-q", "--force", "--epochs", "2")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["epochs_done"] == 2
    lines = (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines if '"event":"epoch"' in x] == [1, 2]  # the old run's lines went
    assert cli("run", "s.yaml", "--out", "empty-but-there", "-q").exit_code == 0
    (tmp_path / "fresh").mkdir()
    assert cli("run", "s.yaml", "--out", "fresh", "-q").exit_code == 0  # an empty folder is fine


def test_out_onto_a_file_or_an_unwritable_place_is_one_message(cli, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = cli("run", "s.yaml", "--out", "afile")
    assert result.exit_code == 2 and "--out afile: not a folder; choose another --out" in result.output
    assert (tmp_path / "afile").read_text() == "x"
    result = cli("run", "s.yaml", "--out", "afile/sub")
    assert result.exit_code == 2 and "--out afile/sub: cannot create the folder (not a directory)" in result.output
    assert "Traceback" not in result.output


@contextlib.contextmanager
def mounted_tmpfs(where: Path, options: str):
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_read_only_runs_folder_or_out_is_one_message(cli, tmp_path, monkeypatch):
    with mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        monkeypatch.setenv("DL_LAB_RUNS", str(ro / "runs"))
        result = cli("run", "s.yaml")
        assert result.exit_code == 2, result.output
        assert f"{ro / 'runs'}: cannot create the runs folder (read-only file system)" in result.output
        result = cli("run", "s.yaml", "--out", str(ro / "r"))
        assert result.exit_code == 2 and "cannot create the folder (read-only file system)" in result.output
        result = cli("run", "s.yaml", "--out", str(ro))  # exists, empty, cannot be written
        assert result.exit_code == 2 and "read-only file system" in result.output
        assert "Traceback" not in result.output


def test_a_name_of_300_characters_records_a_run(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DL_LAB_RUNS", str(tmp_path / "runs"))
    (tmp_path / "long.yaml").write_text(SESSION.replace("name: sig", "name: " + "n" * 300))
    result = cli("run", "long.yaml", "-q")
    assert result.exit_code == 0, result.output
    (made,) = (tmp_path / "runs").iterdir()
    assert made.name.startswith("n" * 80 + "-") and len(made.name) < 100


# --- a full disk ----------------------------------------------------------------------------------------------


def test_a_full_disk_stops_with_one_message_naming_the_file_and_keeps_what_was_saved(cli, tmp_path, monkeypatch):
    from dl_lab.core import Sequential

    real_save, calls = Sequential.save, {"n": 0}

    def save_until_full(self, path):
        calls["n"] += 1
        if calls["n"] == 4:  # initial, epoch-1 (and its resume weights), then epoch-2: the disk fills mid-write
            with open(path, "wb") as f:
                f.write(b"PK\x03\x04 half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(self, path)

    monkeypatch.setattr(Sequential, "save", save_until_full)
    result = cli("run", "s.yaml", "--out", "r", "--set", "training.checkpoint_every=1")
    assert result.exit_code == 2, result.output
    assert "dl-lab: error: cannot write the run: r/checkpoints/epoch-2.npz: No space left on device" in result.output
    assert "Traceback" not in result.output
    checkpoints = sorted(p.name for p in (tmp_path / "r" / "checkpoints").iterdir())
    assert checkpoints == ["epoch-1.npz", "initial.npz"]  # no half file, no temporary file
    assert "0.weight" in loads(tmp_path / "r" / "checkpoints" / "epoch-1.npz")
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "failed" and "No space left on device" in summary["failure"]["message"]


def test_a_real_full_disk_is_one_message_and_the_run_files_stay_readable(tmp_path):
    with mounted_tmpfs(tmp_path / "small", "size=1m") as small:
        text = SESSION.replace("units: 16", "units: 256").replace(
            "batch_size: 20", "batch_size: 20, checkpoint_every: 1"
        )
        text = text.replace("  - dense: {units: 2}", "  - dense: {units: 256, activation: relu}\n  - dense: {units: 2}")
        (tmp_path / "s.yaml").write_text(text.replace("epochs: 3", "epochs: 50"))
        done = subprocess.run(
            [*DL_LAB, "run", "s.yaml", "--out", str(small / "r"), "--quiet"],
            cwd=tmp_path,
            env=env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert "dl-lab: error: cannot write the run: " in done.stderr and "No space left on device" in done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
        for npz in (small / "r").rglob("*.npz"):
            assert loads(npz)  # every checkpoint left is whole
        assert not [p for p in (small / "r").rglob("*") if ".tmp" in p.name]


# --- export --csv ---------------------------------------------------------------------------------------------


def test_export_refuses_an_existing_file_unless_forced_and_never_a_run_s_own(cli, tmp_path):
    assert cli("run", "s.yaml", "--out", "r", "-q").exit_code == 0
    (tmp_path / "m.csv").write_text("mine")
    refused = cli("export", "r", "--csv", "m.csv")
    assert refused.exit_code == 2 and "--csv m.csv: already exists (use --force to replace it)" in refused.output
    assert (tmp_path / "m.csv").read_text() == "mine"
    assert cli("export", "r", "--csv", "m.csv", "--force").exit_code == 0
    assert (tmp_path / "m.csv").read_text().startswith("run,name")
    before = (tmp_path / "r" / "summary.json").read_bytes()
    for target in ("r/summary.json", "r/new.csv", "r/checkpoints/x.csv"):
        result = cli("export", "r", "--csv", target, "--force")
        assert result.exit_code == 2 and "inside a run's folder" in result.output, result.output
    assert (tmp_path / "r" / "summary.json").read_bytes() == before
