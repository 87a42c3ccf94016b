"""Damaged run folders and damaged resume state: one clear RunDirError naming the file, never a traceback, a hang,
or a run list that breaks; resume state is checked whole before any of it is applied."""

from __future__ import annotations

import hashlib
import json
import os
import threading

import numpy as np
import pytest

from dl_lab.sessions import Recorder, RunCancelled, RunDirError, Trainer, list_runs, load_resume, open_run
from dl_lab.sessions.runs.table import COLUMNS, sort_runs


def record(trainer, run_dir, stop_at=None):
    should_stop = (lambda: trainer.progress.step >= stop_at) if stop_at is not None else None
    with Recorder(run_dir, trainer) as rec:
        for e in trainer.run(should_stop=should_stop):
            rec.record(e)
    return e


@pytest.fixture
def recorded(small_session, tmp_path_factory):
    """A completed run to copy into the test's runs folder."""
    run_dir = tmp_path_factory.mktemp("recorded") / "good"
    record(Trainer(small_session()), run_dir)
    return run_dir


def copy_run(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def edit_summary(run_dir, **fields):
    path = run_dir / "summary.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def add_line(run_dir, line: bytes, at: int = 1):
    path = run_dir / "metrics.jsonl"
    lines = path.read_bytes().splitlines()
    lines.insert(at, line)
    path.write_bytes(b"\n".join(lines) + b"\n")


def make_fifo(path):
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def make_dir(path):
    path.unlink(missing_ok=True)
    path.mkdir()


DAMAGES = {
    "metrics not UTF-8": (lambda d: add_line(d, b'{"event":"step","loss":"\xff\xfe"}'), "metrics.jsonl:2", "UTF-8"),
    "a line not an object": (lambda d: add_line(d, b"[1, 2, 3]"), "metrics.jsonl:2", "JSON object"),
    "a line with a string loss": (
        lambda d: add_line(d, b'{"event":"epoch","epoch":1,"val_loss":"0.3"}'),
        "metrics.jsonl:2",
        "'val_loss' is a string",
    ),
    "an epoch line without its epoch": (
        lambda d: add_line(d, b'{"event":"epoch","val_loss":0.3}'),
        "metrics.jsonl:2",
        "no 'epoch'",
    ),
    "final a number": (lambda d: edit_summary(d, final=3), "summary.json", "'final' is an integer"),
    "started a string": (lambda d: edit_summary(d, started="x"), "summary.json", "'started' is a string"),
    "numbers as strings": (lambda d: edit_summary(d, steps="32"), "summary.json", "'steps' is a string"),
    "a final metric as a string": (
        lambda d: edit_summary(d, final={"epoch": 4, "val_loss": "0.3"}),
        "summary.json",
        "'final.val_loss' is a string",
    ),
    "process a string": (lambda d: edit_summary(d, process="me"), "summary.json", "'process' is a string"),
    "summary not JSON": (lambda d: (d / "summary.json").write_text("{oops"), "summary.json", "not JSON"),
    "summary not UTF-8": (lambda d: (d / "summary.json").write_bytes(b'{"name": "\xff"}'), "summary.json", "UTF-8"),
    "summary a list": (lambda d: (d / "summary.json").write_text("[]"), "summary.json", "a list"),
    "session.yaml a FIFO": (lambda d: make_fifo(d / "session.yaml"), "session.yaml", "a FIFO"),
    "session.yaml a folder": (lambda d: make_dir(d / "session.yaml"), "session.yaml", "a folder"),
    "metrics.jsonl a FIFO": (lambda d: make_fifo(d / "metrics.jsonl"), "metrics.jsonl", "a FIFO"),
    "summary.json a FIFO": (lambda d: make_fifo(d / "summary.json"), "summary.json", "a FIFO"),
    "session data a number": (
        lambda d: (d / "session.yaml").write_text("name: x\ndata: 5\n"),
        "session.yaml",
        "'data' is an integer",
    ),
}


def in_thread(fn, timeout=10.0):
    """fn() in a daemon thread: a test that would block on a FIFO fails instead of hanging the suite."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed back to the test
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "blocked (opened a FIFO?)"
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_is_listed_as_damaged_and_the_others_still_are(recorded, tmp_path, damage):
    harm, where, what = DAMAGES[damage]
    copy_run(recorded, tmp_path / "good")
    bad = copy_run(recorded, tmp_path / "bad")
    harm(bad)
    with pytest.raises(RunDirError) as info:
        in_thread(lambda: open_run(bad))
    message = str(info.value)
    assert message.startswith(str(bad / where.split(":")[0])) and where in message and what in message, message
    runs = in_thread(lambda: list_runs(tmp_path, include_damaged=True))
    by_name = {r.path.name: r for r in runs}
    assert set(by_name) == {"good", "bad"}
    assert by_name["good"].state == "completed"
    state = by_name["bad"].state
    assert state.startswith("damaged: ") and where.split(":")[0] in state and len(state) < 80, state
    for column in COLUMNS:  # every column reads and sorts; the damaged run shows "-" but for its name and state
        sort_runs(runs, column)
        if column.label not in ("run", "status"):
            assert column.text(by_name["bad"]) == "-", column.label
    assert [r.path.name for r in in_thread(lambda: list_runs(tmp_path))] == ["good"]  # by default: readable runs


def test_a_missing_summary_is_not_damage(recorded, tmp_path):
    run_dir = copy_run(recorded, tmp_path / "r")
    (run_dir / "summary.json").unlink()  # a run killed before it wrote one
    run = open_run(run_dir)
    assert run.summary == {} and run.epochs() and not run.state.startswith("damaged")
    assert [r.path.name for r in list_runs(tmp_path, include_damaged=True)] == ["r"]


def test_a_last_line_cut_inside_a_character_is_a_line_being_written(recorded, tmp_path):
    run_dir = copy_run(recorded, tmp_path / "r")
    path = run_dir / "metrics.jsonl"
    whole = len(open_run(run_dir).records)
    path.write_bytes(path.read_bytes() + '{"event":"step","note":"é'.encode()[:-1])
    assert len(open_run(run_dir).records) == whole


# --- resume state -----------------------------------------------------------------------------------------------
@pytest.fixture
def stopped(small_session, tmp_path):
    """A run stopped mid-way (step 7 of 8-a-epoch batches), as Ctrl-C leaves it."""
    run_dir = tmp_path / "stopped"
    assert isinstance(record(Trainer(small_session()), run_dir, stop_at=7), RunCancelled)
    return run_dir


def edit_state(run_dir, **progress):
    path = run_dir / "resume" / "state.json"
    state = json.loads(path.read_text())
    top_keys = ("optimizer_t", "optimizer_lr", "optimizer_scalars", "session_sha256")
    top = {k: progress.pop(k) for k in list(progress) if k in top_keys}
    state.update(top)
    state["progress"].update(progress)
    path.write_text(json.dumps(state))


def save_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def optimizer_arrays(run_dir):
    with np.load(run_dir / "resume" / "optimizer.npz") as data:
        return {k: data[k] for k in data.files}


def checkpoint_arrays(run_dir):
    with np.load(run_dir / "checkpoints" / "last.npz") as data:
        return {k: data[k] for k in data.files}


def _pickled(d):
    save_npz(d / "resume" / "optimizer.npz", **{"state.exp_avg": np.array([{"a": 1}], dtype=object)})


def _one_element(d):
    arrays = optimizer_arrays(d)
    arrays["state.exp_avg"] = np.zeros(1, dtype=np.float32)
    save_npz(d / "resume" / "optimizer.npz", **arrays)


def _missing_key(d):
    arrays = optimizer_arrays(d)
    del arrays["state.exp_avg_sq"]
    save_npz(d / "resume" / "optimizer.npz", **arrays)


def _checkpoint_shape(d):
    arrays = checkpoint_arrays(d)
    arrays["0.weight"] = arrays["0.weight"][:4]
    save_npz(d / "checkpoints" / "last.npz", **arrays)


def _checkpoint_key(d):
    arrays = checkpoint_arrays(d)
    arrays["9.weight"] = arrays.pop("2.weight")
    save_npz(d / "checkpoints" / "last.npz", **arrays)


RESUME_DAMAGES = {
    "optimizer state pickled": (_pickled, "resume/optimizer.npz", "pickle"),
    "a one-element optimizer state": (_one_element, "resume/optimizer.npz", "state.exp_avg has shape (1,)"),
    "an optimizer state missing": (_missing_key, "resume/optimizer.npz", "missing: state.exp_avg_sq"),
    "optimizer.npz not a zip": (
        lambda d: (d / "resume" / "optimizer.npz").write_bytes(b"PK\x03\x04 garbage"),
        "resume/optimizer.npz",
        "not a readable .npz",
    ),
    "optimizer.npz missing": (lambda d: (d / "resume" / "optimizer.npz").unlink(), "resume/optimizer.npz", "missing"),
    "last.npz missing": (lambda d: (d / "checkpoints" / "last.npz").unlink(), "checkpoints/last.npz", "missing"),
    "state.json not JSON": (lambda d: (d / "resume" / "state.json").write_text("{oops"), "state.json", "not JSON"),
    "state.json a list": (lambda d: (d / "resume" / "state.json").write_text("[]"), "state.json", "a list"),
    "state.json a FIFO": (lambda d: make_fifo(d / "resume" / "state.json"), "state.json", "a FIFO"),
    "epoch 1e9": (lambda d: edit_state(d, epoch=1e9), "state.json", "'progress.epoch' is a number"),
    "epoch beyond the session": (
        lambda d: edit_state(d, epoch=5, step=40, batch=0),
        "state.json",
        "'progress.epoch' is 5, beyond the session's 4 epochs",
    ),
    "batch after the last epoch": (lambda d: edit_state(d, epoch=4, step=33, batch=1), "state.json", "after the last"),
    "negative steps": (lambda d: edit_state(d, step=-1), "state.json", "'progress.step' is -1"),
    "steps that do not add up": (lambda d: edit_state(d, step=100), "state.json", "'progress.step' is 100, but"),
    "batch as a string": (lambda d: edit_state(d, batch="7"), "state.json", "'progress.batch' is a string"),
    "totals wrong": (lambda d: edit_state(d, totals={"n": "x"}), "state.json", "'progress.totals.n'"),
    "totals unknown": (lambda d: edit_state(d, totals={"zzz": 1}), "state.json", "'progress.totals.zzz'"),
    "an unknown progress key": (lambda d: edit_state(d, speed=3), "state.json", "'progress.speed'"),
    "manual lr negative": (lambda d: edit_state(d, manual_lr=-0.1), "state.json", "'progress.manual_lr'"),
    "rng state broken": (lambda d: edit_state(d, rng_state={"bit_generator": "PCG64"}), "state.json", "rng_state"),
    "optimizer_t negative": (lambda d: edit_state(d, optimizer_t=-3), "state.json", "'optimizer_t' is -3"),
    "optimizer scalars a list": (
        lambda d: edit_state(d, optimizer_scalars=[1]),
        "state.json",
        "'optimizer_scalars' is",
    ),
    "a momentum scale of 0": (
        lambda d: edit_state(d, optimizer_scalars={"momentum_scale": 0}),
        "state.json",
        "'optimizer_scalars.momentum_scale' is 0, expected a number above 0",
    ),
    "a momentum scale as text": (
        lambda d: edit_state(d, optimizer_scalars={"momentum_scale": "1"}),
        "state.json",
        "'optimizer_scalars.momentum_scale' is '1'",
    ),
    "checkpoint shape": (_checkpoint_shape, "checkpoints/last.npz", "0.weight has shape (4, 2)"),
    "checkpoint keys": (_checkpoint_key, "checkpoints/last.npz", "unexpected: 9.weight"),
    "checkpoint a folder": (lambda d: make_dir(d / "checkpoints" / "last.npz"), "last.npz", "a folder"),
}


@pytest.mark.parametrize("damage", list(RESUME_DAMAGES))
def test_damaged_resume_state_is_refused_before_anything_is_restored(small_session, stopped, damage):
    harm, where, what = RESUME_DAMAGES[damage]
    harm(stopped)
    trainer = Trainer(small_session())
    before = trainer.model.params.copy()
    opt_before = {k: v.copy() for k, v in trainer.optimizer.state.items()}
    with pytest.raises(RunDirError) as info:
        in_thread(lambda: load_resume(trainer, stopped))
    message = str(info.value)
    assert where in message and what in message, message
    assert "\n" not in message
    # nothing was applied: the trainer is as built
    assert np.array_equal(trainer.model.params, before) and trainer.optimizer.t == 0 and trainer.progress.step == 0
    assert all(np.array_equal(trainer.optimizer.state[k], v) for k, v in opt_before.items())


def test_resume_state_records_the_session_fingerprint_and_refuses_an_edited_session(small_session, stopped):
    state = json.loads((stopped / "resume" / "state.json").read_text())
    written = (stopped / "session.yaml").read_bytes()
    assert state["session_sha256"] == hashlib.sha256(written).hexdigest()
    load_resume(Trainer(small_session()), stopped)  # unchanged: fine
    (stopped / "session.yaml").write_bytes(written.replace(b"lr: 0.02", b"lr: 0.5"))
    with pytest.raises(RunDirError, match=r"stopped/session\.yaml changed since the run stopped; put it back"):
        load_resume(Trainer(small_session()), stopped)
    (stopped / "session.yaml").write_bytes(written)
    load_resume(Trainer(small_session()), stopped)


def test_resume_state_without_a_fingerprint_is_accepted(small_session, stopped):
    path = stopped / "resume" / "state.json"
    state = json.loads(path.read_text())
    del state["session_sha256"]  # a run stopped before fingerprints were recorded
    path.write_text(json.dumps(state))
    (stopped / "session.yaml").write_text((stopped / "session.yaml").read_text() + "\n# a comment\n")
    trainer = Trainer(small_session())
    load_resume(trainer, stopped)
    assert trainer.progress.step == 7 and trainer.optimizer.t == 7
