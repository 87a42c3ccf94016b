"""A run's files survive interruptions: atomic writes, a resume state that always matches last.npz, periodic
resume points, one writer per run folder, safe folder names."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from dl_lab.core import Sequential
from dl_lab.sessions import RunDirError, Trainer, load_resume
from dl_lab.sessions.runs.files import settle_resume
from dl_lab.sessions.training.loop import run_recorded


class Killed(BaseException):
    """Stands for the process ending at this point (kill -9, a crash): nothing after it runs."""


def stop_after(steps: int):
    seen = {"n": 0}

    def should_stop() -> bool:
        seen["n"] += 1
        return seen["n"] > steps

    return should_stop


def params(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k].copy() for k in data.files}


def stopped_run(small_session, run_dir: Path, steps: int = 10) -> Trainer:
    trainer = Trainer(small_session())
    run_recorded(trainer, run_dir, stop_after(steps), lambda e: None)
    return trainer


def killed_in_epoch_3(session, run_dir: Path, batch: int = 4) -> None:
    """Record ``session`` into ``run_dir`` until a kill at epoch 3, ``batch`` (the process dies: nothing is saved)."""

    def kill(event):
        if type(event).__name__ == "StepEnded" and event.epoch == 3 and event.batch == batch:
            raise Killed

    with pytest.raises(Killed):
        run_recorded(Trainer(session), run_dir, lambda: False, kill)


def resumed(small_session, run_dir: Path) -> Trainer:
    """A trainer of ``small_session()`` restored from ``run_dir``'s resume point, as a restarted process does."""
    settle_resume(run_dir)
    trainer = Trainer(small_session())
    load_resume(trainer, run_dir)
    return trainer


def leftovers(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.rglob("*") if ".tmp" in p.name or p.name.endswith((".new", ".old")))


def test_an_interrupted_checkpoint_save_keeps_the_previous_last_npz(small_session, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    stopped_run(small_session, run_dir)
    good = params(run_dir / "checkpoints" / "last.npz")
    state = (run_dir / "resume" / "state.json").read_text()
    trainer = Trainer(small_session())
    load_resume(trainer, run_dir)
    real_save = Sequential.save

    def save_half_then_die(self, path):  # the process is interrupted half-way through writing the file
        real_save(self, path)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        raise Killed

    monkeypatch.setattr(Sequential, "save", save_half_then_die)
    with pytest.raises(Killed):
        run_recorded(trainer, run_dir, stop_after(5), lambda e: None, resume=True)
    monkeypatch.undo()
    last = params(run_dir / "checkpoints" / "last.npz")  # before: a truncated zip, not loadable
    assert all(np.array_equal(last[k], good[k]) for k in good)
    assert (run_dir / "resume" / "state.json").read_text() == state
    assert leftovers(run_dir) == []
    resumed(small_session, run_dir)  # still resumable from the previous stop


@pytest.mark.parametrize("name", ["session.yaml", "initial.npz", "summary.json"])
def test_every_file_is_replaced_whole_or_not_at_all(small_session, tmp_path, monkeypatch, name):
    """A rename is the only moment a run's file changes: an interrupt just before it leaves the old file."""
    run_dir = tmp_path / "run"
    stopped_run(small_session, run_dir)
    where = run_dir / ("checkpoints/initial.npz" if name.endswith(".npz") else name)
    before = where.read_bytes()
    real_replace = os.replace

    def dies_before_renaming(src, dst, *args, **kwargs):
        if Path(dst).name == name:
            raise Killed
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", dies_before_renaming)
    from dl_lab.sessions import Recorder

    with pytest.raises(Killed), Recorder(run_dir, Trainer(small_session())) as rec:
        rec.record(rec.trainer.started())
    monkeypatch.undo()
    assert where.read_bytes() == before and leftovers(run_dir) == []


class CutAt:
    """Counts the writes (np.savez) and renames (os.replace) once ``armed``, and raises Killed at the ``cut``-th."""

    def __init__(self, cut: int) -> None:
        self.cut, self.calls, self.armed = cut, 0, False

    def wrap(self, real):
        def call(*args, **kwargs):
            if self.armed:
                self.calls += 1
                if self.calls == self.cut:
                    raise Killed
            return real(*args, **kwargs)

        return call

    def should_stop(self, after: int):
        steps = stop_after(after)

        def stop() -> bool:
            self.armed = steps()
            return self.armed

        return stop


def test_resume_state_and_last_npz_go_together_wherever_a_save_is_cut(small_session, tmp_path, monkeypatch):
    """A second stop of a resumed run, cut at each write and rename of its save: whatever is left resumes, and
    its weights are those of the same stop as its progress."""
    base = tmp_path / "base"
    stopped_run(small_session, base, steps=7)
    first_step = json.loads((base / "resume" / "state.json").read_text())["progress"]["step"]
    first_weights = params(base / "checkpoints" / "last.npz")
    real_replace, real_savez = os.replace, np.savez
    cut = 0
    while True:
        cut += 1
        run_dir = shutil.copytree(base, tmp_path / f"cut-{cut}")
        trainer = Trainer(small_session())
        load_resume(trainer, run_dir)
        cutter = CutAt(cut)
        monkeypatch.setattr(os, "replace", cutter.wrap(real_replace))
        monkeypatch.setattr(np, "savez", cutter.wrap(real_savez))
        try:
            run_recorded(trainer, run_dir, cutter.should_stop(6), lambda e: None, resume=True)
            finished = True
        except Killed:
            finished = False
        monkeypatch.undo()
        second_step, second_weights = trainer.progress.step, trainer.model.state_dict()
        back = resumed(small_session, run_dir)
        step = back.progress.step
        assert step in (first_step, second_step), (cut, step)
        expected = first_weights if step == first_step else second_weights
        got = back.model.state_dict()
        assert all(np.array_equal(got[k], expected[k]) for k in expected), f"cut {cut}: the weights of another stop"
        assert leftovers(run_dir) == []
        if finished:
            break
    assert cut > 4  # the save has several writes and renames, and each was cut


def test_a_periodic_checkpoint_is_a_resume_point_and_resuming_there_is_exact(small_session, tmp_path):
    session = small_session(training__checkpoint_every=1, training__epochs=5)
    whole = Trainer(session)
    run_recorded(whole, tmp_path / "whole", lambda: False, lambda e: None)

    run_dir = tmp_path / "killed"
    killed_in_epoch_3(session, run_dir)
    assert (run_dir / "resume" / "state.json").exists()  # the epoch-2 checkpoint's resume state
    assert not (run_dir / "checkpoints" / "last.npz").exists()  # made when a run is resumed or stopped
    trainer = resumed(lambda: session, run_dir)
    assert trainer.progress.epoch == 2 and trainer.progress.batch == 0
    run_recorded(trainer, run_dir, lambda: False, lambda e: None, resume=True)
    a, b = params(tmp_path / "whole" / "checkpoints" / "final.npz"), params(run_dir / "checkpoints" / "final.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)  # exactly the uninterrupted run's weights
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r["event"] == "step"]
    assert steps == sorted(set(steps))  # the steps of epoch 3 that were trained again are recorded once
    assert [r["epoch"] for r in records if r["event"] == "epoch"] == [1, 2, 3, 4, 5]
    assert not (run_dir / "resume").exists()


def test_early_stopping_counts_survive_a_periodic_resume(small_session, tmp_path):
    session = small_session(
        training__checkpoint_every=1,
        training__epochs=30,
        training__early_stopping="{metric: val_loss, patience: 2, min_delta: 10}",
    )
    whole = Trainer(session)
    run_recorded(whole, tmp_path / "whole", lambda: False, lambda e: None)
    assert whole.progress.epoch == 3  # nothing improves by 10: it stops after patience epochs

    run_dir = tmp_path / "killed"
    killed_in_epoch_3(session, run_dir, batch=1)
    trainer = resumed(lambda: session, run_dir)
    last = run_recorded(trainer, run_dir, lambda: False, lambda e: None, resume=True)
    assert last.status == "stopped_early" and trainer.progress.epoch == 3


def test_one_writer_per_run_folder(small_session, tmp_path):
    from dl_lab.sessions import Recorder
    from dl_lab.sessions.runs.directory import is_locked

    run_dir = tmp_path / "run"
    with Recorder(run_dir, Trainer(small_session())):
        assert is_locked(run_dir)
        with pytest.raises(RunDirError, match=rf"run is being written by another dl-lab process \(pid {os.getpid()}\)"):
            Recorder(run_dir, Trainer(small_session()))
    assert not is_locked(run_dir) and not (run_dir / ".lock").exists()
    with Recorder(run_dir, Trainer(small_session())):  # free again
        pass


def test_new_run_folders_are_made_atomically_and_never_shared(tmp_path):
    from dl_lab.sessions import new_run_dir

    made, errors = [], []

    def make():
        try:
            made.append(new_run_dir("same", tmp_path))
        except Exception as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(made)) == 16 and all(p.is_dir() for p in made)


def test_a_long_name_makes_a_folder_name_of_a_safe_length(tmp_path):
    from dl_lab.sessions import new_run_dir

    path = new_run_dir("x" * 300, tmp_path)
    assert path.is_dir() and len(path.name) <= 100 and path.name.startswith("x" * 80 + "-")


def test_a_read_only_runs_folder_is_one_message(tmp_path):
    from dl_lab.sessions import new_run_dir

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RunDirError, match=r"cannot create the runs folder"):
        new_run_dir("x", blocker / "runs")


def test_sgd_momentum_through_the_blas_resumes_to_the_uninterrupted_weights(small_session, tmp_path):
    # 33,000 parameters: SGD keeps its momentum buffer scaled (core/optimizers.py), and a resumed run must restore the
    # scale with the buffer to go on with the same numbers
    model = "[{dense: {units: 256, activation: relu}}, {dense: {units: 128, activation: relu}}, {dense: {units: 2}}]"
    session = small_session(
        training__checkpoint_every=1,
        training__epochs=5,
        model=model,
        optimizer="{name: sgd, lr: 0.05, momentum: 0.9}",
    )
    whole = Trainer(session)
    assert whole.model.param_count >= 32768 and whole.optimizer.use_blas
    run_recorded(whole, tmp_path / "whole", lambda: False, lambda e: None)

    run_dir = tmp_path / "killed"
    killed_in_epoch_3(session, run_dir)
    state = json.loads((run_dir / "resume" / "state.json").read_text())
    assert state["optimizer_scalars"]["momentum_scale"] == pytest.approx(0.9 ** state["progress"]["step"])
    trainer = resumed(lambda: session, run_dir)
    run_recorded(trainer, run_dir, lambda: False, lambda e: None, resume=True)
    a, b = params(tmp_path / "whole" / "checkpoints" / "final.npz"), params(run_dir / "checkpoints" / "final.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)  # exactly the uninterrupted run's weights
