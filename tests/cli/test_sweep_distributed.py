"""Sweeps across machines, on a real PostgreSQL server the suite starts itself (the pgserver wheel bundles its
binaries): `dl-lab sweep --storage URL` and `dl-lab sweep worker` processes sharing one study, one of them killed
with SIGKILL in the middle of a trial, the study still reaching its budget with the killed trial run again."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dl_lab.cli.main import app

pytestmark = pytest.mark.distributed

# A trial trains for 1-3 s on a free core (30 epochs were over in 0.2 s on a fast machine, before the kill came):
# the killed worker's trial is failed by the heartbeat check (3 missed beats of 1 s) while the live workers still
# train theirs.
SESSION = """\
name: tiny
seed: 1
data: {dataset: spiral, samples: 2000}
model:
  - dense: {units: 16, activation: relu}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.05}
training: {epochs: 300, batch_size: 16}
"""

SWEEP = """\
session: tiny.yaml
metric: {name: val_acc, goal: max}
sampler: random
pruner: none
trials: 4
space:
  optimizer.lr: {loguniform: [1.0e-3, 1.0e-1]}
  model[0].dense.units: {choice: [8, 16]}
"""


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of its own in a temporary folder (its socket there: no port, no password), stopped
    after the module's tests."""
    import pgserver  # in the test extra: these tests run, never skip (pip install -e '.[test]')

    folder = tempfile.mkdtemp(prefix="dl-lab-pg-")  # short: a unix socket's path has at most 107 bytes
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server.get_uri()  # postgresql://postgres:@/postgres?host=FOLDER
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def dl_lab(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-m", "dl_lab.cli.main", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def study_trials(url: str, name: str):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
    except KeyError:  # not created yet
        return []


def wait_for(what, timeout: float = 60.0):
    end = time.time() + timeout
    while time.time() < end:
        found = what()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what.__doc__ or what}")


def test_workers_on_a_database_survive_a_killed_worker_and_reach_the_budget(postgres, tmp_path):
    (tmp_path / "tiny.yaml").write_text(SESSION)
    (tmp_path / "search.yaml").write_text(SWEEP)
    url = postgres
    # the second machine: no sweep file there, only the storage and the study's name; its own trials folder
    other = tmp_path / "machine-b"
    other.mkdir()

    # a worker for a study nobody started is told so (checked at the end)
    lost = dl_lab("sweep", "worker", "--storage", url, "--study", "nothing", cwd=tmp_path)

    # the study as `dl-lab sweep --storage` starts it (it keeps the sweep), so that the other machine's worker
    # can take the first trial before this machine's workers take the budget
    from dl_lab.sessions.sweeps import study as sweeps
    from dl_lab.sessions.sweeps.config import load_sweep

    sweeps.open_study(load_sweep(tmp_path / "search.yaml"), sweeps.storage(None, url, 1))
    worker = dl_lab(
        "sweep", "worker", "--storage", url, "--study", "search", "--workers", "1", "--heartbeat", "1",
        cwd=other, start_new_session=True,  # its own process group: killed whole below, as a lost machine
    )  # fmt: skip

    def its_trial_runs():
        """the worker's first trial to run"""
        return [
            t
            for t in study_trials(url, "search")
            if t.state.name == "RUNNING" and str(other) in t.user_attrs.get("run_dir", "")
        ]

    killed = wait_for(its_trial_runs)[0]
    main = dl_lab("sweep", "search.yaml", "--storage", url, "--workers", "2", "--heartbeat", "1", cwd=tmp_path)
    time.sleep(0.5)  # mid-trial: a few epochs recorded
    os.killpg(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=30)

    _, err = main.communicate(timeout=150)
    assert main.returncode == 0, err

    trials = study_trials(url, "search")
    states = {t.number: t.state.name for t in trials}
    assert states[killed.number] == "FAIL"  # failed by the heartbeat check, not left RUNNING
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retries) == 1, states
    retry = retries[0]
    assert retry.state.name == "COMPLETE" and retry.params == killed.params  # the same point, run again
    # the budget: 4 trials that count, all complete (the live workers' trials were never failed: their heartbeat
    # went on), the killed one besides
    assert sorted(states.values()).count("COMPLETE") == 4 and len(trials) == 5, states
    # the killed trial's run folder lies on its machine, the others on this one, each a complete run
    assert Path(killed.user_attrs["run_dir"]).parent == (other / "sweeps" / "search" / "trials").resolve()
    for t in trials:
        if t.state.name == "COMPLETE":
            run = Path(t.user_attrs["run_dir"])
            assert run.parent == (tmp_path / "sweeps" / "search" / "trials").resolve()
            summary = json.loads((run / "summary.json").read_text())
            assert summary["sweep"] == {"study": "search", "trial": t.number, "state": "COMPLETE"}

    # status from the storage alone, anywhere: the trials, their states, where each run lies, the retry
    status = CliRunner().invoke(app, ["sweep", "status", "search", "--storage", url, "--json"])
    assert status.exit_code == 0, status.output
    listed = json.loads(status.stdout)
    assert [t["state"] for t in listed["trials"]] == [states[n] for n in sorted(states)]
    assert next(t for t in listed["trials"] if t["number"] == retry.number)["retry_of"] == killed.number
    assert listed["best"]["value"] == max(t.value for t in trials if t.state.name == "COMPLETE")
    assert all(t["worker"] for t in listed["trials"])

    _, err = lost.communicate(timeout=60)
    assert lost.returncode == 2 and "no study named 'nothing'" in err
