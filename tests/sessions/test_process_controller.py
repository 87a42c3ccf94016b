"""The process worker: the thread worker's controls and events, a run directory like a headless run's, and a
child that reports its crashes and dies with its parent."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict

import numpy as np
import pytest

from dl_lab.sessions import Recorder, Trainer, load_resume
from dl_lab.sessions.events import EpochEnded, RunCancelled, RunEnded, RunStarted, SnapshotTaken, StepEnded
from dl_lab.sessions.runs.thinning import STEP_DENSE
from dl_lab.sessions.training.controller import WORKER_ENV, Controller, make_controller
from dl_lab.sessions.training.live import LiveWeights
from dl_lab.sessions.training.process_worker import BLAS_ENV, ChildTraceback, ProcessController, blas_threads
from dl_lab.sessions.training.thread_worker import TrainingController

# Clock readings differ by run, and so does the recording process (summary.json's "process").
TIMES = {"time", "wall_time", "train_time", "train_samples_per_s", "updated", "started_at", "process"}


class Events:
    """What ``on_event`` received, in order (it is called from the controller's thread)."""

    def __init__(self) -> None:
        self.items: list = []
        self._changed = threading.Condition()

    def __call__(self, event) -> None:
        with self._changed:
            self.items.append(event)
            self._changed.notify_all()

    def wait(self, predicate, what: str, timeout: float = 30.0) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.items), timeout):
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; got {self.kinds()[-5:]}")

    def kinds(self) -> list[str]:
        return [type(e).__name__ for e in self.items]

    def of(self, kind) -> list:
        return [e for e in self.items if isinstance(e, kind)]


class CrashingTrainer(Trainer):
    """Breaks after two batches (a bug in the engine, say); the child imports it from this module."""

    def run(self, should_stop=None):
        for event in super().run(should_stop):
            yield event
            if isinstance(event, StepEnded) and event.step == 2:
                raise ValueError("the GPU caught fire")


def untimed(value):
    """``value`` (an event as a dict, a metrics line) without its clock readings, at any depth."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def records(run_dir) -> list[dict]:
    return [untimed(json.loads(line)) for line in (run_dir / "metrics.jsonl").open()]


def recorded_steps(run_dir) -> int:
    """The steps the record accounts for: a step line stands for ``span`` steps (one without it); the record thins
    its step lines after the first 256 (sessions/runs/thinning.py), so the last few trained may be held back."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return 0
    return sum(json.loads(line).get("span", 1) for line in path.open() if '"event":"step"' in line)


def headless(session, run_dir) -> None:
    trainer = Trainer(session)
    with Recorder(run_dir, trainer) as recorder:
        for event in trainer.run():
            recorder.record(event)


def test_a_process_run_delivers_the_events_of_a_thread_run_in_the_same_order(small_session, tmp_path):
    runs = {}
    for cls in (TrainingController, ProcessController):
        got = Events()
        controller = cls(small_session(), got, run_dir=tmp_path / cls.__name__, step_interval=0)
        controller.start()
        controller.join(30)
        assert controller.state == "finished" and not controller.alive
        runs[cls] = [e for e in got.items if not isinstance(e, LiveWeights)]  # those follow the clock
    thread, process = runs[TrainingController], runs[ProcessController]
    assert [type(e) for e in process] == [type(e) for e in thread]
    assert [untimed(asdict(e)) for e in process] == [untimed(asdict(e)) for e in thread]
    assert isinstance(process[0], RunStarted) and isinstance(process[-1], RunEnded)


def test_throttled_steps_arrive_before_the_snapshot_or_epoch_that_follows_them(small_session, tmp_path):
    got = Events()
    controller = ProcessController(small_session(training__epochs=20), got, run_dir=tmp_path, step_interval=10)
    controller.start()
    controller.join(30)
    epochs, snapshots = got.of(EpochEnded), got.of(SnapshotTaken)
    assert len(epochs) == 20 and len(snapshots) == sum(r["event"] == "snapshot" for r in records(tmp_path)) > 0
    assert len(got.of(StepEnded)) < sum(r["event"] == "step" for r in records(tmp_path))
    for before, event in itertools.pairwise(got.items):
        if isinstance(event, (EpochEnded, SnapshotTaken)):
            assert isinstance(before, (StepEnded, SnapshotTaken, EpochEnded)) and before.step == event.step


def test_the_run_directory_is_the_one_a_headless_run_records(small_session, tmp_path):
    headless(small_session(), tmp_path / "headless")
    controller = ProcessController(small_session(), Events(), run_dir=tmp_path / "process")
    controller.start()
    controller.join(30)
    ours, theirs = tmp_path / "process", tmp_path / "headless"
    assert records(ours) == records(theirs)
    assert (ours / "session.yaml").read_text() == (theirs / "session.yaml").read_text()
    # the files' sizes summary.json notes for run lists vary with the clock readings' digits
    summary = [untimed(json.loads((d / "summary.json").read_text())) for d in (ours, theirs)]
    for s in summary:
        assert set(s["listing"].pop("sizes")) == {"metrics.jsonl", "session.yaml"}
    assert summary[0] == summary[1] and summary[0]["status"] == "completed"
    for name in ("initial.npz", "final.npz"):
        with np.load(ours / "checkpoints" / name) as a, np.load(theirs / "checkpoints" / name) as b:
            assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


def test_pause_holds_the_run_step_trains_exactly_one_batch_and_resume_goes_on(small_session, tmp_path):
    got = Events()
    controller = ProcessController(small_session(training__epochs=2000), got, run_dir=tmp_path)
    controller.start()
    got.wait(lambda items: recorded_steps(tmp_path) > 20, "some steps")
    controller.pause()
    assert controller.state == "paused"
    time.sleep(0.3)
    paused_at, recorded = got.of(StepEnded)[-1].step, recorded_steps(tmp_path)
    time.sleep(0.3)
    # nothing trained while paused: no step delivered, none recorded; the last step trained was delivered (the
    # held-back one, on pausing): the record accounts for it, unless its thinning holds it back (past STEP_DENSE)
    assert got.of(StepEnded)[-1].step == paused_at and recorded_steps(tmp_path) == recorded
    assert recorded == paused_at or (paused_at > STEP_DENSE and recorded < paused_at)
    controller.step()
    got.wait(lambda items: got.of(StepEnded)[-1].step == paused_at + 1, "one more step")
    time.sleep(0.3)
    assert got.of(StepEnded)[-1].step == paused_at + 1 and controller.state == "paused"
    assert recorded_steps(tmp_path) in (recorded, paused_at + 1)  # that step's line, unless thinning left it out
    controller.resume()
    got.wait(lambda items: got.of(StepEnded)[-1].step > paused_at + 5, "the run to go on")
    controller.stop()
    controller.join(30)
    assert not controller.alive


def test_stop_records_a_checkpoint_and_a_state_that_resumes_exactly(small_session, tmp_path):
    full = Trainer(small_session())
    for _ in full.run():
        pass
    got = Events()
    controller = ProcessController(small_session(), got, run_dir=tmp_path)
    controller.step()  # a paused run, one batch at a time: it stops at a known step
    for n in (1, 2, 3):
        got.wait(lambda items, n=n: got.of(StepEnded) and got.of(StepEnded)[-1].step == n, f"step {n}")
        controller.step()
    got.wait(lambda items: got.of(StepEnded)[-1].step == 4, "step 4")
    controller.stop()
    controller.join(30)
    assert controller.state == "finished" and isinstance(got.items[-1], RunCancelled)
    assert got.items[-1].step == 4
    assert (tmp_path / "checkpoints" / "last.npz").exists() and (tmp_path / "resume" / "state.json").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "cancelled"
    resumed = Trainer(small_session())
    load_resume(resumed, tmp_path)
    assert resumed.progress.step == 4
    for _ in resumed.run():
        pass
    assert np.array_equal(resumed.model.params, full.model.params)


def test_a_learning_rate_set_before_or_during_the_run_is_the_one_the_steps_use(small_session, tmp_path):
    got = Events()
    controller = ProcessController(small_session(), got, run_dir=tmp_path)
    assert controller.lr == 0.02
    controller.set_lr(0.005)
    assert controller.lr == 0.005
    controller.step()
    got.wait(lambda items: got.of(StepEnded), "a step")
    assert got.of(StepEnded)[-1].lr == 0.005
    controller.set_lr(0.3)
    controller.step()
    got.wait(lambda items: got.of(StepEnded)[-1].step == 2, "a second step")
    assert got.of(StepEnded)[-1].lr == 0.3 and controller.lr == 0.3
    controller.stop()
    controller.join(30)


def test_an_exception_in_the_child_reaches_on_event_with_its_traceback(small_session, tmp_path):
    got = Events()
    controller = ProcessController(small_session(), got, run_dir=tmp_path, trainer_factory=CrashingTrainer)
    controller.start()
    controller.join(30)
    error = got.items[-1]
    assert isinstance(error, ValueError) and str(error) == "the GPU caught fire"
    assert isinstance(error.__cause__, ChildTraceback) and controller.error is error
    assert "ValueError: the GPU caught fire" in str(error.__cause__)
    assert controller.state == "finished" and not controller.alive
    assert recorded_steps(tmp_path) == 2  # the recorder kept what was trained


def test_a_session_the_child_cannot_build_raises_when_the_controller_is_made(small_session):
    session = small_session(model="[{dense: {units: 3}}]")  # three outputs for two classes
    with pytest.raises(Exception, match="the model gives 3 outputs") as caught:
        ProcessController(session, Events(), record=False)
    assert isinstance(caught.value.__cause__, ChildTraceback)


def test_a_child_that_dies_is_reported_as_an_error(small_session, tmp_path):
    got = Events()
    controller = ProcessController(small_session(training__epochs=2000), got, run_dir=tmp_path)
    controller.start()
    got.wait(lambda items: got.of(StepEnded), "a step")
    os.kill(controller._process.pid, signal.SIGKILL)
    got.wait(lambda items: isinstance(items[-1], BaseException), "the error")
    assert "ended unexpectedly" in str(got.items[-1]) and controller.state == "finished"


def test_stop_before_start_ends_the_idle_child(small_session):
    controller = ProcessController(small_session(), Events(), record=False)
    controller.stop()
    controller._process.join(10)
    assert controller._process.exitcode == 0 and controller.state == "finished" and not controller.alive
    controller.start()  # nothing to start any more
    assert controller.state == "finished"


PARENT = """\
import sys, time
from dl_lab.sessions import session_from_text
from dl_lab.sessions.training.process_worker import ProcessController

if __name__ == "__main__":
    controller = ProcessController(session_from_text(sys.stdin.read()), lambda event: None, run_dir=sys.argv[1])
    controller.start()
    print(controller._process.pid, flush=True)
    if sys.argv[2] == "pause":
        time.sleep(0.5)
        controller.pause()
    time.sleep(60)
"""


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.split() == ["State:", "Z", "(zombie)"] for line in status)
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["kill", "hangup"])
def test_the_child_stops_with_a_checkpoint_when_its_parent_dies(small_session, tmp_path, how):
    """``kill``: the app is killed while training. ``hangup``: the terminal closes on a paused run, and the
    hang-up reaches the whole process group, the child included (it must outlive it to save the run)."""
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    text = small_session(training__epochs=2000).to_yaml()
    parent = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "run"), "pause" if how == "hangup" else "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )  # its own group, as an app in a terminal
    parent.stdin.write(text)
    parent.stdin.close()
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 30
    while recorded_steps(tmp_path / "run") < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    if how == "kill":
        parent.kill()
    else:
        time.sleep(1.0)  # paused by now
        os.killpg(parent.pid, signal.SIGHUP)
    parent.wait()
    while not gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(child)
    assert (tmp_path / "run" / "checkpoints" / "last.npz").exists()
    assert records(tmp_path / "run")[-1]["status"] == "cancelled"


def test_the_worker_is_chosen_by_argument_or_environment(small_session, monkeypatch):
    assert isinstance(make_controller(small_session(), Events(), worker="thread", record=False), TrainingController)
    monkeypatch.setenv(WORKER_ENV, "thread")
    assert isinstance(make_controller(small_session(), Events(), record=False), TrainingController)
    monkeypatch.setenv(WORKER_ENV, "fork")
    with pytest.raises(ValueError, match="expected thread or process, got 'fork'"):
        make_controller(small_session(), Events(), record=False)


@pytest.mark.parametrize("worker", ["thread", "process"])
def test_both_workers_follow_the_controller_protocol(small_session, worker):
    controller = make_controller(small_session(), Events(), worker=worker, record=False)
    try:
        assert isinstance(controller, Controller)
        assert controller.state == "idle" and controller.started().epochs >= 1
    finally:
        controller.stop()
        controller.join(10)


class EnvTrainer(Trainer):
    """Writes the BLAS thread settings it was started with to $DL_LAB_TEST_ENV_OUT (the child's environment)."""

    def __init__(self, session, **kwargs):
        super().__init__(session, **kwargs)
        with open(os.environ["DL_LAB_TEST_ENV_OUT"], "w") as out:
            json.dump({name: os.environ.get(name) for name in BLAS_ENV}, out)


@pytest.mark.parametrize("chosen", [None, "3"])
def test_the_child_leaves_a_core_to_the_app_unless_blas_threads_were_chosen(
    small_session, tmp_path, monkeypatch, chosen
):
    for name in BLAS_ENV:
        monkeypatch.delenv(name, raising=False)
    if chosen:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", chosen)
    monkeypatch.setenv("DL_LAB_TEST_ENV_OUT", str(tmp_path / "env.json"))
    controller = ProcessController(small_session(), Events(), record=False, trainer_factory=EnvTrainer)
    controller.stop()
    seen = json.loads((tmp_path / "env.json").read_text())
    cpus = os.cpu_count() or 1
    if chosen:
        assert seen == {"OPENBLAS_NUM_THREADS": "3", "MKL_NUM_THREADS": None}
    else:
        assert seen == dict.fromkeys(BLAS_ENV, str(max(1, cpus - 1)))
    assert all(os.environ.get(name) == (chosen if name == "OPENBLAS_NUM_THREADS" else None) for name in BLAS_ENV)


def test_blas_threads_is_one_fewer_than_the_cores_and_at_least_one(monkeypatch):
    for name in BLAS_ENV:
        monkeypatch.delenv(name, raising=False)
    assert [blas_threads(n) for n in (1, 2, 16)] == [1, 1, 15]
    monkeypatch.setenv("MKL_NUM_THREADS", "4")
    assert blas_threads(16) is None
