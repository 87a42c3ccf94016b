"""ctrl+s saves the panes of the replay, training and inspect screens as SVG files: well-formed, one a pane in view,
each titled by its pane; the key is in the key help and the command palette."""

from __future__ import annotations

import io
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from lab_runs import record_run, tiny_session, wait_for
from recorded import DIGITS_MLP, record
from rich.console import Console
from textual.widgets._key_panel import BindingsTable

from dl_lab.tui.app import make_app
from dl_lab.tui.commands import commands
from dl_lab.tui.panes.run_view import RunView
from dl_lab.tui.screens.inspect import InspectScreen
from dl_lab.tui.screens.replay import ReplayScreen
from dl_lab.tui.screens.train import TrainScreen

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def recorded_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return record_run(root / "tiny-run"), record(root / "digits-mlp", DIGITS_MLP)


def svg_text(path: Path) -> str:
    """The words of an SVG (its title and every line drawn), after checking that it parses."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return " ".join((t.text or "") for t in root.iter(f"{SVG}text")).replace("\xa0", " ")


def saved(folder: Path, prefix: str) -> dict[str, str]:
    """The pictures ctrl+s saved in ``folder``: pane name -> text (``prefix-NAME-YYYYMMDD-HHMMSS.svg``)."""
    return {p.name[len(prefix) + 1 : -len("-YYYYMMDD-HHMMSS.svg")]: svg_text(p) for p in folder.glob(f"{prefix}-*.svg")}


async def test_ctrl_s_saves_each_pane_of_a_replay_in_its_run_s_pictures_and_is_in_the_key_help(recorded_runs, tmp_path):
    run = Path(shutil.copytree(recorded_runs[0], tmp_path / "tiny-run"))
    app = make_app(replay_dir=run, runs_root=tmp_path / "runs")
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen), what="the replay screen")
        await pilot.pause()
        panes = app.screen.query_one(RunView).visible_panes()
        titles = {pane.label.lower(): str(pane.border_title) for pane in panes}
        await pilot.press("ctrl+s")
        pictures = saved(run / "pictures", "replay")
        assert set(pictures) == set(titles) >= {"boundary", "loss", "accuracy", "confusion", "network"}
        for name, title in titles.items():
            assert pictures[name].count(title) >= 2, name  # the SVG's title and the pane's own, on its border
        assert "decision boundary" in pictures["boundary"] and "confusion (validation)" in pictures["confusion"]
        assert any("Saved 8 SVG pictures" in str(n.title) for n in app._notifications)
        for picture in (run / "pictures").iterdir():
            picture.unlink()
        assert app.screen.query("Toast")
        await pilot.press("ctrl+s")  # again, the notification showing: it is not in the pictures
        await wait_for(pilot, lambda: len(list((run / "pictures").iterdir())) == len(titles), what="the pictures")
        assert set(saved(run / "pictures", "replay")) == set(titles)
        assert not any("Saved" in text for text in saved(run / "pictures", "replay").values())
        # the key is in the key help, and in the palette on each screen it saves
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen.query(BindingsTable), what="the key help")
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(app.screen.query_one(BindingsTable).render())
        assert "^s Save pictures of the panes in view, as SVG" in " ".join(console.export_text().split())
        entries = {c.title: c.help for c in commands(app, app.screen)}
    for group in ("Replay", "Training", "Inspect"):
        assert entries[f"{group}: save pictures of the panes in view, as SVG"] == "(^s)"


async def test_ctrl_s_on_the_training_screen_saves_the_panes_in_view_into_pictures_before_a_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_session(), runs_root=tmp_path / "runs", mode="train")
    async with app.run_test(size=(80, 30)) as pilot:  # narrow: one pane shows at a time
        await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the training screen")
        await wait_for(pilot, lambda: app.screen.controller is not None, what="the run prepared")
        await pilot.press("ctrl+s")
        pictures = saved(tmp_path / "pictures", "training")
        assert list(pictures) == ["boundary"] and pictures["boundary"].count("decision boundary") == 2
        assert not (tmp_path / "runs").exists()  # no run folder made for the pictures


async def test_ctrl_s_on_the_inspect_screen_saves_the_whole_view(recorded_runs, tmp_path):
    run = Path(shutil.copytree(recorded_runs[1], tmp_path / "runs" / "digits-mlp"))
    app = make_app(runs_root=run.parent, mode="inspect")
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InspectScreen), what="the inspect screen")
        await wait_for(pilot, lambda: app.screen.drawn is not None, timeout=30, what="the filters")
        await pilot.press("ctrl+s")
        pictures = saved(run / "pictures", "inspect")
        assert list(pictures) == ["filters"]
        assert "dl-lab inspect filters" in pictures["filters"] and "each unit's weights" in pictures["filters"]
