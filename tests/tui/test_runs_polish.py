"""Runs, polished: a run named after what it trains, the runs table's model and optimizer columns (left out whole
when the screen is narrow), and `r` on a stopped run giving the command that resumes it."""

from __future__ import annotations

import copy

from lab_runs import TINY, record_run, tiny_session, wait_for
from rich.cells import cell_len
from textual.widgets import DataTable, Static

from dl_lab.sessions import Recorder, Trainer, load_session
from dl_lab.sessions.config.naming import model_family, model_text, optimizer_text, run_name
from dl_lab.sessions.config.presets import preset_session
from dl_lab.tui.app import make_app
from dl_lab.tui.screens.runs import COLUMNS, RunsScreen
from dl_lab.tui.screens.train import TrainScreen

CNN = [{"conv2d": {"filters": 8, "kernel": 3}}, {"maxpool2d": {"size": 2}}, {"flatten": {}}, {"dense": {"units": 10}}]


def test_run_name_says_what_an_edited_session_trains():
    spiral = preset_session("spiral").spec
    assert run_name(spiral, spiral) == "spiral" and run_name(spiral, None) == "spiral"
    digits = copy.deepcopy(spiral)
    digits["data"] = {"dataset": "digits"}
    digits["model"] = CNN
    assert run_name(digits, spiral) == "digits-cnn"  # five digits CNNs are not "spiral"
    digits["model"] = spiral["model"]
    assert run_name(digits, spiral) == "digits-mlp"
    conv = {**copy.deepcopy(spiral), "model": CNN}
    assert run_name(conv, spiral) == "spiral-cnn"  # the same data, another kind of model
    faster = copy.deepcopy(spiral)
    faster["optimizer"]["lr"] = 0.1
    assert run_name(faster, spiral) == "spiral"  # a rate, epochs: still the preset's run
    renamed = {**copy.deepcopy(digits), "name": "my-digits"}
    assert run_name(renamed, spiral) == "my-digits"  # a name given by hand wins
    assert model_family(preset_session("residual").spec["model"]) == "resnet"
    assert model_text(CNN) == "cnn, 4 layers" and model_text(CNN, compact=True) == "cnn 4" and model_text([]) is None
    assert optimizer_text({"name": "adam", "lr": 0.01}) == "adam lr=0.01" and optimizer_text("sgd") == "sgd"
    # a rate a sweep drew is shown to 4 significant digits; one typed by hand as it was typed
    assert optimizer_text({"name": "adam", "lr": 0.0010376822826153528}, compact=True) == "adam 0.001038"
    assert optimizer_text({"name": "adam", "lr": 0.00012}, compact=True) == "adam 0.00012"


async def test_the_train_screen_names_the_run_after_the_edited_session(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    edited = load_session(tmp_path / "tiny.yaml").with_overrides(["data.dataset=moons"])
    app = make_app(edited, runs_root=tmp_path / "runs", mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        await wait_for(pilot, lambda: screen.controller is not None, what="the session to be prepared")
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.controller.run_dir is not None, what="the run to start")
        assert screen.controller.run_dir.name.startswith("moons-mlp-"), screen.controller.run_dir
        await wait_for(pilot, lambda: screen.controller.state == "finished", what="the run to finish")


def stopped_run(run_dir):
    """A run stopped on request after a few batches (its resume files written), as the app's x key leaves it."""
    trainer = Trainer(tiny_session())
    batches = iter(range(1000))
    with Recorder(run_dir, trainer) as recorder:
        for event in trainer.run(lambda: next(batches) >= 3):
            recorder.record(event)
    return run_dir


async def open_runs(app, pilot) -> RunsScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, what="the runs")
    await pilot.pause()
    return app.screen


async def test_the_table_shows_model_and_optimizer_and_leaves_out_whole_columns_at_80x24(tmp_path):
    record_run(tmp_path / "tiny-20250101-000000-a-long-name", tiny_session())
    record_run(tmp_path / "tiny-sgd", tiny_session(optimizer="{name: sgd, lr: 0.01}"))
    app = make_app(tiny_session(), runs_root=tmp_path, mode="runs")
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_runs(app, pilot)
        table = screen.query_one(DataTable)
        assert [str(v) for v in table.get_column("model")] == ["mlp 3", "mlp 3"]
        assert sorted(str(v) for v in table.get_column("optimizer")) == ["adam 0.03", "sgd 0.01"]
        assert len(table.ordered_columns) == len(COLUMNS) + 1  # every column, and the mark
    app = make_app(tiny_session(), runs_root=tmp_path, mode="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runs(app, pilot)
        table = screen.query_one(DataTable)
        shown = [c.key.value for c in table.ordered_columns]
        assert shown[:6] == ["mark", "run", "status", "epochs", "val loss", "val acc/R²"]
        assert "samples/s" not in shown and "optimizer" not in shown  # left out whole, never cut short
        total = sum(c.get_render_width(table) for c in table.ordered_columns)
        assert total <= table.size.width, (shown, total, table.size.width)  # nothing past the right edge
        for col in table.ordered_columns[1:]:
            cells = [str(v) for v in table.get_column(col.key)]
            assert col.width >= max(cell_len(v) for v in [str(col.label), *cells]), col.key.value


async def test_r_on_a_stopped_run_gives_the_command_that_resumes_it(tmp_path):
    stopped = stopped_run(tmp_path / "halted")
    record_run(tmp_path / "done", tiny_session())
    app = make_app(tiny_session(), runs_root=tmp_path, mode="runs")
    async with app.run_test(size=(120, 30)) as pilot:
        screen = await open_runs(app, pilot)
        table = screen.query_one(DataTable)
        hint = screen.query_one("#runs-hint", Static)
        table.move_cursor(row=table.get_row_index(str(tmp_path / "done")))
        await pilot.press("r")
        assert "only a stopped run" in str(hint.render()) and hint.display
        table.move_cursor(row=table.get_row_index(str(stopped)))
        await pilot.press("r")
        command = f"dl-lab run --resume {stopped}"
        assert str(hint.render()) == command
        assert app.clipboard == command
