"""`dl-lab sweep`: real worker processes on the journal file, pruning, resuming, `sweep status`, and Optuna
imported only when a sweep runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dl_lab.cli.main import app
from dl_lab.sessions.sweeps.config import load_sweep

SESSION = """\
name: tiny
seed: 1
data: {dataset: spiral, samples: 100}
model:
  - dense: {units: 8, activation: relu}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.05}
training: {epochs: 3, batch_size: 16}
"""

# val_loss, lower is better; the trials are enqueued below: the first five at a good rate (the same numbers
# each time: no ties are pruned), then three at a rate too small to move: once the five are complete (the
# first `--trials 5`), the median pruner stops those at their first epoch.
SWEEP = """\
session: tiny.yaml
metric: {name: val_loss, goal: min}
sampler: random
pruner: median
trials: 8
space:
  optimizer.lr: {choice: [1.0e-7, 0.05]}
"""

GRID = """\
session: tiny.yaml
metric: {name: val_acc, goal: max}
sampler: grid
space:
  optimizer.lr: {choice: [0.01, 0.1]}
  model[0].dense.units: {choice: [2, 4]}
"""


def dl_lab(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "dl_lab.cli.main", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def status_json(folder: Path) -> dict:
    result = CliRunner().invoke(app, ["sweep", "status", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def sweep_dir(tmp_path):
    (tmp_path / "tiny.yaml").write_text(SESSION)
    (tmp_path / "search.yaml").write_text(SWEEP)
    (tmp_path / "grid.yaml").write_text(GRID)
    return tmp_path


def test_the_command_and_the_app_never_import_optuna():
    code = (
        "import sys, dl_lab.cli.main, dl_lab.tui.app, dl_lab.sessions.sweeps.config; "
        "print([m for m in ('optuna', 'sqlalchemy', 'psycopg') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_two_workers_prune_record_and_resume_to_the_budget(sweep_dir):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    out = sweep_dir / "out"
    out.mkdir()
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(out / "journal.log")))
    study = optuna.create_study(study_name="search", storage=storage, direction="minimize")
    for lr in [0.05] * 5 + [1e-7] * 3:
        study.enqueue_trial({"optimizer.lr": lr})

    first = dl_lab("sweep", "search.yaml", "--out", "out", "--workers", "2", "--trials", "5", cwd=sweep_dir)
    assert first.returncode == 0, first.stderr
    assert "5/5 trials done (5 complete, 0 pruned, 0 failed)" in first.stderr
    assert [t["state"] for t in status_json(out)["trials"]].count("COMPLETE") == 5

    again = dl_lab("sweep", "search.yaml", "--out", "out", "--workers", "2", cwd=sweep_dir)  # resumed: to trials: 8
    assert again.returncode == 0, again.stderr
    assert "8/8 trials done" in again.stderr and "best val_loss" in again.stderr
    assert "all trials: dl-lab sweep status out" in again.stdout

    status = status_json(out)
    trials = status["trials"]
    assert sorted(t["number"] for t in trials) == list(range(8))
    assert all(set(t) >= {"number", "state", "params", "value", "run_dir"} for t in trials)
    states = {t["number"]: t["state"] for t in trials}
    assert [states[n] for n in range(5)] == ["COMPLETE"] * 5
    assert [states[n] for n in range(5, 8)] == ["PRUNED"] * 3
    assert len({t["run_dir"] for t in trials}) == 8
    for t in trials:
        run = sweep_dir / t["run_dir"]
        assert run.name == f"trial-{t['number']:04d}" and run.parent == out / "trials"
        last = "checkpoints/final.npz" if t["state"] == "COMPLETE" else "checkpoints/last.npz"  # a pruned run: stopped
        for name in ("session.yaml", "metrics.jsonl", "summary.json", "checkpoints/initial.npz", last):
            assert (run / name).is_file(), (run, name)
        summary = json.loads((run / "summary.json").read_text())
        assert summary["sweep"] == {"study": "search", "trial": t["number"], "state": t["state"]}
        assert summary["status"] == ("completed" if t["state"] == "COMPLETE" else "cancelled")
    best = status["best"]
    assert best["state"] == "COMPLETE" and best["value"] == min(t["value"] for t in trials if t["state"] == "COMPLETE")
    assert best["params"] == {"optimizer.lr": 0.05}

    # the trials are ordinary runs: dl-lab runs lists them
    listing = CliRunner().invoke(app, ["runs", "--dir", str(out / "trials")])
    assert listing.exit_code == 0 and "8 runs" in listing.output and "trial-0007" in listing.output

    table = CliRunner().invoke(app, ["sweep", "status", str(out)], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "PRUNED" in table.output and "best: trial" in table.output
    assert "val_loss against optimizer.lr" in table.output  # the slice plot of the complete trials

    done = CliRunner().invoke(app, ["sweep", str(sweep_dir / "search.yaml"), "--out", str(out)])  # nothing to do
    assert done.exit_code == 0 and "already has 8 trials" in done.output
    assert len(status_json(out)["trials"]) == 8


def test_a_grid_with_two_workers_runs_each_combination_once(sweep_dir):
    result = dl_lab("sweep", "grid.yaml", "--workers", "2", cwd=sweep_dir)
    assert result.returncode == 0, result.stderr
    trials = status_json(sweep_dir / "sweeps" / "grid")["trials"]
    combos = sorted((t["params"]["optimizer.lr"], t["params"]["model[0].dense.units"]) for t in trials)
    assert combos == [(0.01, 2), (0.01, 4), (0.1, 2), (0.1, 4)]
    assert {t["state"] for t in trials} == {"COMPLETE"}


def test_a_database_storage_takes_the_study(sweep_dir):
    """--storage URL: the study on a database (RDBStorage with heartbeats; SQLite here, one worker in this process:
    never SQLite for parallel workers), the trials still recorded under the sweep folder."""
    from dl_lab.sessions.sweeps import study as sweeps

    url = f"sqlite:///{sweep_dir / 'study.db'}"
    out = sweep_dir / "db-out"
    assert sweeps.work(sweeps.Worker(load_sweep(sweep_dir / "grid.yaml"), out, url, 2)) == 2
    result = CliRunner().invoke(app, ["sweep", "status", "grid", "--storage", url, "--json"])
    assert result.exit_code == 0, result.output
    trials = json.loads(result.stdout)["trials"]
    assert [t["state"] for t in trials] == ["COMPLETE", "COMPLETE"]
    assert all(Path(t["run_dir"]).parent == (out / "trials").resolve() for t in trials)
    assert not (out / "journal.log").exists()
    missing = CliRunner().invoke(app, ["sweep", "status", "other", "--storage", url])
    assert missing.exit_code == 2 and "no study named 'other'" in missing.output


def test_ctrl_c_stops_the_workers_and_leaves_the_study_consistent(sweep_dir):
    (sweep_dir / "tiny.yaml").write_text(SESSION.replace("epochs: 3", "epochs: 400"))  # trials that last
    (sweep_dir / "search.yaml").write_text(SWEEP.replace("pruner: median", "pruner: none"))
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dl_lab.cli.main", "sweep", "search.yaml", "--workers", "2", "--out", "out"],
        cwd=sweep_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # wait for both workers to be training
        if "2 running" in line:
            break
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal sends Ctrl-C: to every process of the group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run the same command again to continue" in err
    trials = status_json(sweep_dir / "out")["trials"]
    assert trials and "RUNNING" not in {t["state"] for t in trials}
    stopped = [t for t in trials if t["state"] == "FAIL"]
    assert len(stopped) == 2 and all(t["message"] == "stopped by a signal" for t in stopped)
    for t in stopped:  # each stopped run recorded as stopped, resumable
        assert json.loads((Path(t["run_dir"]) / "summary.json").read_text())["status"] == "cancelled"


def test_errors_exit_2_with_one_line(sweep_dir, monkeypatch):
    monkeypatch.chdir(sweep_dir)
    runner = CliRunner()
    (sweep_dir / "bad.yaml").write_text(SWEEP.replace("optimizer.lr", "optimizer.rate"))
    result = runner.invoke(app, ["sweep", "bad.yaml"])
    assert result.exit_code == 2 and "space.optimizer.rate: the base session has no 'rate'" in result.output
    assert "bad.yaml:7: space.optimizer.rate" in result.output  # the line of the sweep file
    result = runner.invoke(app, ["sweep", "worker", "--study", "x"])
    assert result.exit_code == 2 and "--storage URL" in result.output
    result = runner.invoke(app, ["sweep", "bad.yaml", "--study", "x"])
    assert result.exit_code == 2 and "--study goes with dl-lab sweep worker" in result.output
    result = runner.invoke(app, ["sweep", "status", "nowhere"])
    assert result.exit_code == 2 and "nowhere: not a sweep folder" in result.output
    result = runner.invoke(app, ["sweep", "status"])
    assert result.exit_code == 2 and "status needs the sweep folder" in result.output
    (sweep_dir / "notime.yaml").write_text(SWEEP.replace("trials: 8\n", ""))
    result = runner.invoke(app, ["sweep", "notime.yaml"])
    assert result.exit_code == 2 and "give trials: or timeout_s:" in result.output


def test_a_folder_keeps_its_sweep(sweep_dir, monkeypatch):
    """Resuming in a folder must search the same space; the budget may change."""
    from dl_lab.cli.sweep import _same_sweep
    from dl_lab.sessions.sweeps.config import SweepError

    folder = sweep_dir / "kept"
    folder.mkdir()
    _same_sweep(folder, load_sweep(sweep_dir / "search.yaml"))
    (sweep_dir / "search.yaml").write_text(SWEEP.replace("trials: 8", "trials: 30"))
    _same_sweep(folder, load_sweep(sweep_dir / "search.yaml"))
    (sweep_dir / "search.yaml").write_text(SWEEP.replace("0.05]", "0.1]"))
    with pytest.raises(SweepError, match="holds a sweep of another file or space"):
        _same_sweep(folder, load_sweep(sweep_dir / "search.yaml"))
