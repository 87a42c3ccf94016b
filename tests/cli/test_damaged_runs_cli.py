"""`dl-lab` on damaged run folders: `runs` lists the others and marks the damaged one; `replay`, `compare`,
`export` and `run --resume` say which file is wrong and exit 2, with no traceback and nothing saved lost."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from dl_lab.sessions import Recorder, RunCancelled, Trainer, load_session


@pytest.fixture
def good(cli, tmp_path):
    assert cli("run", "s.yaml", "--out", "runs/good", "-q").exit_code == 0
    return tmp_path / "runs" / "good"


def refused(result, *needles):
    """Exit 2 with one message holding ``needles``, and no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    message = result.output.strip()
    assert message.startswith("dl-lab: error: ") and len(message.splitlines()) == 1, message
    for needle in needles:
        assert needle in message, message
    return message


def edit_summary(run_dir, **fields):
    path = run_dir / "summary.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def add_line(run_dir, line: bytes):
    path = run_dir / "metrics.jsonl"
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"\n".join([lines[0], line, *lines[1:]]) + b"\n")


def fifo(path):
    path.unlink()
    os.mkfifo(path)


def folder(path):
    path.unlink()
    path.mkdir()


DAMAGES = {
    "metrics not UTF-8": (lambda d: add_line(d, b'{"event":"step","x":"\xff"}'), "metrics.jsonl:2: not UTF-8"),
    "a line not an object": (lambda d: add_line(d, b"7"), "metrics.jsonl:2: not a JSON object"),
    "final a number": (lambda d: edit_summary(d, final=3), "summary.json: 'final' is an integer"),
    "started a string": (lambda d: edit_summary(d, started="x"), "summary.json: 'started' is a string"),
    "wall time a string": (lambda d: edit_summary(d, wall_time="1.5"), "summary.json: 'wall_time' is a string"),
    "session.yaml a FIFO": (lambda d: fifo(d / "session.yaml"), "session.yaml: is a FIFO"),
    "session.yaml a folder": (lambda d: folder(d / "session.yaml"), "session.yaml: is a folder"),
}


def table_rows(output: str) -> list[list[str]]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    return [re.split(r" {2,}", line.strip()) for line in lines[start + 1 :] if line.strip()]


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_every_command_on_a_damaged_run_names_the_file_and_exits_2(cli, good, tmp_path, damage):
    harm, what = DAMAGES[damage]
    bad = shutil.copytree(good, tmp_path / "runs" / "bad")
    harm(bad)
    listed = cli("runs", "--dir", "runs")
    assert listed.exit_code == 0, listed.output
    rows = {row[0]: row for row in table_rows(listed.output)}
    assert set(rows) == {"good", "bad"}
    assert rows["good"][1] == "completed"
    assert rows["bad"][1].startswith("damaged: ") and what.split(":")[0] in rows["bad"][1]
    assert set(rows["bad"][2:]) == {"-"}  # every other column
    where = str(Path("runs") / "bad" / what)
    refused(cli("replay", "runs/bad", "--headless"), where)
    refused(cli("replay", "runs/bad"), where)  # before the app opens
    refused(cli("compare", "runs/bad"), where)
    refused(cli("compare", "runs/good", "runs/bad"), "1 run of 2 cannot be read: ", where)
    (tmp_path / "kept.csv").write_text("saved,before\n")
    refused(cli("export", "runs/good", "runs/bad", "--csv", "kept.csv", "--force"), "1 run of 2", where)
    assert (tmp_path / "kept.csv").read_text() == "saved,before\n"  # nothing saved is lost
    refused(cli("export", "runs/bad", "--csv", "-"), where)
    refused(cli("run", "--resume", "runs/bad", "-q"), "runs/bad")  # damaged, or nothing to resume (it completed)


def test_compare_and_export_name_every_damaged_run(cli, good, tmp_path):
    a = shutil.copytree(good, tmp_path / "runs" / "a")
    b = shutil.copytree(good, tmp_path / "runs" / "b")
    edit_summary(a, final=3)
    add_line(b, b"[]")
    message = refused(cli("compare", "runs/a", "runs/good", "runs/b"), "2 runs of 3 cannot be read")
    assert "runs/a/summary.json" in message and "runs/b/metrics.jsonl:2" in message
    refused(cli("export", "runs/good", "runs/b", "--csv", "-"), "runs/b/metrics.jsonl:2")


def test_compare_with_a_metric_that_is_not_a_number_is_an_error(cli, good):
    refused(cli("compare", "runs/good", "--metric", "confusion"), "'confusion' is not a number")


# --- resume -----------------------------------------------------------------------------------------------------
@pytest.fixture
def stopped(cli, tmp_path):
    """A run stopped at step 4, as Ctrl-C leaves it."""
    run_dir = tmp_path / "runs" / "stopped"
    trainer = Trainer(load_session(tmp_path / "s.yaml"))
    with Recorder(run_dir, trainer) as rec:
        for e in trainer.run(should_stop=lambda: trainer.progress.step >= 4):
            rec.record(e)
    assert isinstance(e, RunCancelled)
    return run_dir


def snapshot(run_dir):
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def _one_element_moment(d):
    with np.load(d / "resume" / "optimizer.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["state.exp_avg"] = np.zeros(1, dtype=arrays["state.exp_avg"].dtype)
    with open(d / "resume" / "optimizer.npz", "wb") as f:
        np.savez(f, **arrays)


def _pickled_moment(d):
    with open(d / "resume" / "optimizer.npz", "wb") as f:
        np.savez(f, **{"state.exp_avg": np.array([None], dtype=object)})


def _state(d, **progress):
    path = d / "resume" / "state.json"
    state = json.loads(path.read_text())
    state["progress"].update(progress)
    path.write_text(json.dumps(state))


RESUME_DAMAGES = {
    "a one-element optimizer state": (_one_element_moment, "resume/optimizer.npz: state.exp_avg has shape (1,)"),
    "a pickled optimizer state": (_pickled_moment, "resume/optimizer.npz: holds pickled Python objects"),
    "state.json not JSON": (lambda d: (d / "resume" / "state.json").write_text("{"), "resume/state.json: not JSON"),
    "epoch 1e9": (lambda d: _state(d, epoch=1e9), "resume/state.json: 'progress.epoch' is a number"),
    "epoch beyond the session": (lambda d: _state(d, epoch=30), "'progress.epoch' is 30, beyond the session's 3"),
    "negative steps": (lambda d: _state(d, step=-5), "'progress.step' is -5, expected 0 or more"),
    "optimizer state missing": (lambda d: (d / "resume" / "optimizer.npz").unlink(), "resume/optimizer.npz: missing"),
    "metrics.jsonl damaged": (
        lambda d: (d / "metrics.jsonl").write_bytes(b"[]\n" + (d / "metrics.jsonl").read_bytes()),
        "metrics.jsonl:1: not a JSON object",
    ),
    "edited session": (
        lambda d: (d / "session.yaml").write_text((d / "session.yaml").read_text().replace("lr: 0.02", "lr: 0.5")),
        "session.yaml changed since the run stopped; put it back, or start a new run with it",
    ),
}


@pytest.mark.parametrize("damage", list(RESUME_DAMAGES))
def test_resume_with_damaged_state_exits_2_and_keeps_the_run(cli, stopped, damage):
    harm, what = RESUME_DAMAGES[damage]
    harm(stopped)
    before = snapshot(stopped)
    refused(cli("run", "--resume", "runs/stopped", "-q"), "runs/stopped", what)
    assert snapshot(stopped) == before  # nothing trained, nothing recorded, nothing removed


def test_resume_of_an_undamaged_run_still_finishes_it(cli, stopped):
    result = cli("run", "--resume", "runs/stopped", "-q")
    assert result.exit_code == 0, result.output
    assert json.loads((stopped / "summary.json").read_text())["status"] == "completed"


# --- the app's runs screen (here, beside the CLI's list: the new tests of damaged runs live in these two files) --
async def test_the_app_lists_a_damaged_run_beside_a_good_one_and_refuses_to_replay_it(good, tmp_path):
    import asyncio
    import time

    from textual.widgets import DataTable

    from dl_lab.tui.app import make_app
    from dl_lab.tui.screens.runs import RunsScreen

    bad = shutil.copytree(good, tmp_path / "runs" / "bad")
    fifo(bad / "session.yaml")  # opened, it would block the app for good
    app = make_app(load_session(tmp_path / "s.yaml"), runs_root=tmp_path / "runs", mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        deadline = time.monotonic() + 10
        while not (isinstance(app.screen, RunsScreen) and len(app.screen.runs) == 2):
            assert time.monotonic() < deadline, "the runs screen never listed both runs"
            await pilot.pause(0.05)
        screen = app.screen
        table = screen.query_one(DataTable)
        rows = {str(table.get_row(key)[1]): str(table.get_row(key)[2]) for key in table.rows}
        assert rows["good"] == "completed"
        assert rows["bad"] == "damaged: session.yaml: is a FIFO, not a file"
        table.move_cursor(row=table.get_row_index(str(bad)))
        await pilot.press("enter")
        await asyncio.wait_for(_notified(pilot, app), timeout=10)
        assert app.screen is screen  # still the runs screen: no replay, no crash
        notes = [n.message for n in app._notifications]
        assert any("session.yaml: is a FIFO" in message for message in notes), notes


async def _notified(pilot, app) -> None:
    while not list(app._notifications):
        await pilot.pause(0.05)
