"""A long run's record stays small (sessions/runs/thinning.py): steps and snapshots thinned, every epoch kept, the
same lines run after run, curves that keep their shape, and every reader of runs reading thinned and older runs."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dl_lab.cli.main import app
from dl_lab.sessions import Trainer, load_resume, open_run, session_from_text
from dl_lab.sessions.events import EpochEnded, RunCancelled, SnapshotTaken, StepEnded, to_record
from dl_lab.sessions.runs.recorder import dumps
from dl_lab.sessions.runs.state import RunState
from dl_lab.sessions.runs.thinning import STEP_DENSE, STEP_PER_OCTAVE, kept
from dl_lab.sessions.runs.timeline import Timeline
from dl_lab.sessions.runs.weights import recorded_weights
from dl_lab.sessions.training.loop import run_recorded

# 12 steps an epoch and a snapshot every 3 steps: 200 epochs are 2,400 steps and 800 snapshots, in about 2 s
LONG = """\
name: long
seed: 11
data: {dataset: circle, samples: 60, noise: 0.1}
model: [{dense: {units: 4, activation: tanh}}, {dense: {units: 2}}]
optimizer: {name: adam, lr: 0.02}
training: {epochs: 200, batch_size: 4}
monitor: {every_steps: 3, boundary_resolution: 4, sample_size: 8}
"""
EPOCHS = 200
TIMES = ("time", "wall_time", "train_time", "train_samples_per_s")


def long_session(**overrides):
    session = session_from_text(LONG)
    return session.with_overrides([f"{k.replace('__', '.')}={v}" for k, v in overrides.items()])


def train(run_dir: Path, session=None, should_stop=lambda: False) -> list:
    """Train and record ``session`` into ``run_dir``; the events the trainer yielded (what the app is sent)."""
    seen: list = []
    run_recorded(Trainer(session or long_session()), run_dir, should_stop, seen.append)
    return seen


def lines(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def untimed(record: dict) -> dict:
    """A record less its clock readings (an end line's ``final`` holds the last epoch's)."""
    return {k: untimed(v) if isinstance(v, dict) else v for k, v in record.items() if k not in TIMES}


def epoch_groups(timeline: Timeline) -> list[int]:
    """How many epochs each stop of ``timeline`` passes, for the stops that pass one or more."""
    starts = [0, *timeline.stops]
    counts = [sum(isinstance(e, EpochEnded) for e in timeline.events[a:b]) for a, b in itertools.pairwise(starts)]
    return [c for c in counts if c]


@pytest.fixture(scope="module")
def long_run(tmp_path_factory) -> tuple[Path, list]:
    run_dir = tmp_path_factory.mktemp("runs") / "long"
    return run_dir, train(run_dir)


def test_every_event_reaches_the_app_and_the_record_keeps_every_epoch_and_fewer_steps(long_run):
    run_dir, seen = long_run
    records = lines(run_dir)
    steps = [e for e in seen if isinstance(e, StepEnded)]
    assert len(steps) == EPOCHS * 12 and sum(isinstance(e, SnapshotTaken) for e in seen) == EPOCHS * 4
    assert [r["epoch"] for r in records if r["event"] == "epoch"] == list(range(1, EPOCHS + 1))
    assert [r["event"] for r in records if r["event"] not in ("step", "snapshot")] == [
        to_record(e)["event"] for e in seen if not isinstance(e, (StepEnded, SnapshotTaken))
    ][1:]  # every other event (the first is RunStarted, in summary.json)
    recorded = [r["step"] for r in records if r["event"] == "step"]
    assert recorded[:STEP_DENSE] == list(range(1, STEP_DENSE + 1))  # the run's start, whole
    assert recorded == sorted(set(recorded))
    at = [r["step"] for r in records if "step" in r]
    assert at == sorted(at)  # every line in the order of its step
    assert len(recorded) < len(steps) / 3


def test_a_record_grows_with_the_logarithm_of_a_runs_length(long_run, tmp_path):
    """Steps, snapshots and their weight frames: four times the epochs, well under twice the bytes."""

    def thinned_bytes(run_dir: Path) -> int:
        text = (run_dir / "metrics.jsonl").read_text().splitlines()
        frames = sum(p.stat().st_size for p in (run_dir / "frames").glob("*.npz"))
        return frames + sum(len(line) for line in text if '"event":"epoch"' not in line)

    short = tmp_path / "short"
    train(short, long_session(training__epochs=EPOCHS // 4))
    long_bytes, short_bytes = thinned_bytes(long_run[0]), thinned_bytes(short)
    assert short_bytes < long_bytes < 2 * short_bytes
    frames = sorted(int(p.stem[5:]) for p in (long_run[0] / "frames").glob("step-*.npz"))
    assert frames == [r["step"] for r in lines(long_run[0]) if r["event"] == "snapshot"]


def test_the_same_seed_records_the_same_lines_and_frames_twice(long_run, tmp_path):
    again = tmp_path / "again"
    train(again)
    first, second = lines(long_run[0]), lines(again)
    assert [untimed(r) for r in first] == [untimed(r) for r in second]
    names = sorted(p.name for p in (long_run[0] / "frames").iterdir())
    assert names == sorted(p.name for p in (again / "frames").iterdir())


def test_each_step_line_stands_for_the_steps_since_the_line_before(long_run):
    run_dir, seen = long_run
    losses = {e.step: e.loss for e in seen if isinstance(e, StepEnded)}
    previous = 0
    for r in (r for r in lines(run_dir) if r["event"] == "step"):
        window = [losses[s] for s in range(previous + 1, r["step"] + 1)]
        assert r["loss"] == losses[r["step"]] and r.get("span", 1) == len(window)
        assert r.get("mean_loss", r["loss"]) == pytest.approx(np.mean(window), rel=1e-12)
        assert ("span" in r) == (len(window) > 1)  # a line for its own step reads as before thinning
        previous = r["step"]
    assert previous == max(losses)


def test_the_drawn_step_curve_keeps_the_shape_of_every_step(long_run):
    """The batch-loss curve a replay draws from the record against the one drawn live from every step: the same
    span, and the same course (the mean over each tenth of the run) within the batches' noise."""
    run_dir, seen = long_run
    live, replayed = RunState(), Timeline(open_run(run_dir).events(), seen[0]).state_at(10**9)
    for event in seen:
        live.apply(event)
    full, thin = live.loss_series()["batch"], replayed.loss_series()["batch"]
    assert (thin[0][0], thin[-1][0]) == (full[0][0], full[-1][0])

    def course(points) -> np.ndarray:
        x, y = np.array(points).T
        edges = np.linspace(x[0], x[-1], 11)
        return np.array([y[(x >= a) & (x <= b)].mean() for a, b in itertools.pairwise(edges)])

    every = np.array([e.loss for e in seen if isinstance(e, StepEnded)])
    noise = every[len(every) // 2 :].std()  # a batch's loss about its trend, late in the run
    drawn, truth = course(thin), course(full)
    assert truth[0] - truth[-1] > 4 * noise / np.sqrt(20)  # the loss falls: there is a shape to keep
    assert np.corrcoef(drawn, truth)[0, 1] > 0.95
    assert np.abs(drawn - truth).max() < noise


def test_a_thinned_run_replays_stopping_at_every_epoch(long_run):
    run_dir, seen = long_run
    events = open_run(run_dir).events()
    timeline = Timeline(events, seen[0])
    assert epoch_groups(timeline) == [1] * EPOCHS  # consecutive epochs, no step line between them: two stops
    grouped = [{type(events[i]) for i in range(a, b)} for a, b in itertools.pairwise([0, *timeline.stops])]
    assert any({SnapshotTaken, EpochEnded} <= g for g in grouped)  # a snapshot at an epoch's end: one stop
    end = timeline.state_at(len(timeline))
    assert len(end.epochs) == EPOCHS and end.snapshots == len(list((run_dir / "frames").glob("*.npz")))
    steps = [s for s, _ in recorded_weights(run_dir)]
    assert steps[0] == 0 and steps[-1] == EPOCHS * 12  # initial, the frames, final


def test_replay_compare_and_export_read_a_thinned_run(long_run, tmp_path):
    run_dir = str(long_run[0])
    runner = CliRunner()
    replay = runner.invoke(app, ["replay", run_dir, "--headless", "--svg", str(tmp_path / "pictures")])
    assert replay.exit_code == 0, replay.output
    assert f"{EPOCHS} epochs" in replay.output and (tmp_path / "pictures" / "boundary.svg").is_file()
    assert runner.invoke(app, ["compare", run_dir, run_dir], env={"COLUMNS": "100"}).exit_code == 0
    exported = runner.invoke(app, ["export", run_dir, "--csv", "-"])
    assert exported.exit_code == 0 and len(exported.output.splitlines()) == EPOCHS + 1


def test_a_run_recorded_before_thinning_still_reads(long_run, tmp_path):
    """Every step and snapshot on its own line, without span: the timeline and the curves as before."""
    _, seen = long_run
    old = tmp_path / "old"
    old.mkdir()
    (old / "session.yaml").write_text(long_session().to_yaml())
    (old / "metrics.jsonl").write_text("".join(dumps(to_record(e)) + "\n" for e in seen[1:]))
    events = open_run(old).events()
    timeline = Timeline(events, seen[0])
    assert epoch_groups(timeline) == [1] * EPOCHS
    state = timeline.state_at(len(timeline))
    assert len(state.steps) == EPOCHS * 12 and len(state.loss_series()["batch"]) <= 401


def test_a_stopped_run_resumed_for_more_epochs_keeps_its_lines_and_adds_the_same_kind(tmp_path):
    """Stopped mid-epoch, then resumed with twice the epochs: its last step is recorded before the stop, and the
    record reads as one run: rising steps, every epoch, step lines where the rule puts them, a frame a snapshot."""
    run_dir, calls = tmp_path / "run", iter(range(10**6))
    seen = train(run_dir, long_session(training__epochs=60), lambda: next(calls) >= 501)
    assert isinstance(seen[-1], RunCancelled) and seen[-1].step == 501 and not kept(501, STEP_DENSE, STEP_PER_OCTAVE)
    assert lines(run_dir)[-2]["step"] == 501  # left out by the rule, but the last step before the stop
    trainer = Trainer(long_session(training__epochs=120))
    load_resume(trainer, run_dir)
    run_recorded(trainer, run_dir, lambda: False, lambda e: None, resume=True)
    records = lines(run_dir)
    steps = [r["step"] for r in records if r["event"] == "step"]
    assert steps == sorted(set(steps)) and all(kept(s, STEP_DENSE, STEP_PER_OCTAVE) for s in steps if s != 501)
    assert sum(r.get("span", 1) for r in records if r["event"] == "step") == 120 * 12
    assert [r["epoch"] for r in records if r["event"] == "epoch"] == list(range(1, 121))
    snapshots = [r["step"] for r in records if r["event"] == "snapshot"]
    assert sorted(int(p.stem[5:]) for p in (run_dir / "frames").glob("*.npz")) == snapshots


def test_a_larger_model_records_fewer_weight_frames_all_at_recorded_snapshots(tmp_path):
    """About 10,000 parameters (a 40 kB frame): frames at the run's first snapshots and then ever more sparsely."""
    session = long_session(
        model="[{dense: {units: 96, activation: tanh}}, {dense: {units: 96, activation: tanh}}, {dense: {units: 2}}]",
        training__epochs=3,
        monitor__every_steps=1,
    )
    train(tmp_path / "run", session)
    snapshots = [r["step"] for r in lines(tmp_path / "run") if r["event"] == "snapshot"]
    frames = sorted(int(p.stem[5:]) for p in (tmp_path / "run" / "frames").glob("*.npz"))
    assert len(snapshots) > 32 and set(frames) < set(snapshots) and len(frames) < len(snapshots) / 2
    assert frames[:4] == snapshots[:4] and snapshots[-1] == 3 * 12  # the end's weights: checkpoints/final.npz
