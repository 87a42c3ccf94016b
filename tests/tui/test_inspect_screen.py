"""The inspect screen (4): the views of `dl-lab inspect` on a recorded run, computed in a worker, chosen with the
keys; `i` on the runs screen opens it on the highlighted run."""

from __future__ import annotations

import pytest
from lab_runs import tap, wait_for
from recorded import record
from textual.widgets import DataTable

from dl_lab.tui.app import make_app
from dl_lab.tui.screens.inspect import InspectScreen
from dl_lab.tui.screens.runs import RunsScreen

CNN = """\
name: digits-cnn
seed: 3
dtype: float64
data: {dataset: digits, samples: 200, normalize: standard}
model: [{conv2d: {filters: 3, kernel: 3, padding: 1, activation: relu}}, {avgpool2d: {size: 2}}, {flatten: {}},
        {dense: {units: 10}}]
optimizer: {name: adam, lr: 0.01}
training: {epochs: 1, batch_size: 32}
"""
MLP = CNN.replace("digits-cnn", "digits-mlp").replace(
    """[{conv2d: {filters: 3, kernel: 3, padding: 1, activation: relu}}, {avgpool2d: {size: 2}}, {flatten: {}},
        {dense: {units: 10}}]""",
    "[{flatten: {}}, {dense: {units: 10}}]",
)


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    record(root / "a-mlp", MLP)
    record(root / "b-cnn", CNN)
    return root


def picture_text(screen) -> str:
    from rich.console import Console

    console = Console(width=160, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    if screen.picture is not None:
        console.print(screen.picture)
    return console.export_text()


async def shown(pilot, screen, what: str) -> None:
    await wait_for(pilot, lambda: what in picture_text(screen), timeout=30, what=what)


async def test_the_newest_run_opens_on_its_filters_and_enter_shows_the_view_chosen(runs_root):
    app = make_app(runs_root=runs_root, mode="inspect")
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen), what="the inspect screen")
        screen = app.screen
        assert screen.run_dir.name == "b-cnn"  # the newest run with a checkpoint
        await shown(pilot, screen, "layer 0 conv2d (3, 1, 3, 3)")
        assert "b-cnn" in str(screen.query_one("#inspect-status").render())
        await tap(pilot, "down", "down", "enter")  # saliency
        await shown(pilot, screen, "|∂S/∂x|")
        assert screen.shown["view"] == "saliency" and screen.shown["sample"] == 0
        await tap(pilot, "right_square_bracket")  # the next validation sample
        await wait_for(pilot, lambda: screen.shown["sample"] == 1, timeout=30, what="sample 1")
        await tap(pilot, "c")  # class 0 besides the predicted one
        await wait_for(pilot, lambda: screen.cls == 0 and screen.shown.get("maps"), timeout=30, what="class 0")
        assert 0 in [m["class"] for m in screen.shown["maps"]]


async def test_i_on_the_runs_screen_inspects_that_run_and_a_view_that_does_not_apply_says_why(runs_root):
    app = make_app(runs_root=runs_root, mode="runs")
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.runs, what="the runs")
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(str(runs_root / "a-mlp")))
        await tap(pilot, "i")
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen), what="the inspect screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.run_dir is not None, what="the run")
        assert screen.run_dir == runs_root / "a-mlp"
        await shown(pilot, screen, "each unit's weights over the image")  # an image MLP's filters
        await tap(pilot, "down", "enter")  # features: an MLP has no feature maps
        await shown(pilot, screen, "feature maps need conv layers")
        assert "cannot be shown" in str(screen.query_one("#inspect-status").render())


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
def test_the_inspect_screen_looks_the_same(snap_compare, runs_root, size):
    app = make_app(runs_root=runs_root, mode="inspect")

    async def run_before(pilot):
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen), what="the inspect screen")
        await shown(pilot, app.screen, "layer 0 conv2d")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
