"""The boost pane: a boosted run (``boost:``) shows AdaBoost's combined boundary, the points by weight and each
round's eps and alpha in the network pane's place (other runs keep the network pane: test_replay, test_train)."""

from __future__ import annotations

import numpy as np
import pytest
from lab_runs import record_run, wait_for
from recorded import BOOSTED

from dl_lab.sessions import session_from_text
from dl_lab.tui.app import make_app
from dl_lab.tui.panes.boost import BoostPane
from dl_lab.tui.panes.network import NetworkPane
from dl_lab.tui.panes.run_view import RunView
from dl_lab.tui.screens.replay import ReplayScreen
from dl_lab.tui.widgets import DecisionMap
from dl_lab.tui.widgets.palette import background_rgb


@pytest.fixture(scope="module")
def boosted_run(tmp_path_factory):
    session = session_from_text(BOOSTED).with_overrides(["boost.rounds=4"])
    return record_run(tmp_path_factory.mktemp("runs") / "boosted", session)


def text_of(widget) -> str:
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


async def test_a_boosted_replay_shows_the_combined_boundary_the_weights_and_each_round(boosted_run, tmp_path):
    app = make_app(replay_dir=boosted_run, runs_root=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen), what="the replay screen")
        await pilot.pause()
        screen = app.screen
        view = screen.query_one(RunView)
        pane = screen.query_one(BoostPane)
        assert pane.display and pane.region.width > 0 and not screen.query_one(NetworkPane).region.width
        assert "boost" in [p.key for p in view.panes] and "network" not in [p.key for p in view.panes]
        await wait_for(pilot, lambda: pane.query_one(DecisionMap).data is not None, what="the combined boundary")
        data = pane.query_one(DecisionMap).data
        assert data.cls is not None and set(np.unique(data.cls)) == {0, 1}  # H_4 votes both classes
        dmap = pane.query_one(DecisionMap)
        bg, (neg, pos) = np.array(background_rgb(dmap)), dmap.palette(data)[:2]
        tints = {
            s.style.bgcolor.triplet for y in range(dmap.size.height - 1) for s in dmap.render_line(y) if "▀" in s.text
        }
        # both classes in their colours, none near the background even where the votes disagree most
        assert min(np.linalg.norm(np.array(t) - bg) for t in tints) > 0.4 * min(
            np.linalg.norm(neg - bg), np.linalg.norm(pos - bg)
        )
        weights = screen.timeline.state_at(len(screen.timeline)).boost_rounds[-1].sample_weights
        np.testing.assert_allclose(data.train.strength, np.asarray(weights) / max(weights))
        assert data.val is None and len(np.unique(data.train.strength)) > 1  # bright points: heavy ones

        def every_round() -> bool:  # the table is laid out a refresh later on a loaded machine (one row shown first)
            table = text_of(pane.query_one("#boost-table"))
            return "ε" in table and "α" in table and all(f"\n {t} " in "\n" + table for t in (1, 2, 3, 4))

        await wait_for(pilot, every_round, what="a row for each round in the table")
        assert "round 4/4" in text_of(pane.query_one("#boost-note"))
        # back to the start: no round yet, uniform weights
        screen.seek_to(0)
        await pilot.pause()
        await wait_for(pilot, lambda: "round 1 of 4" in text_of(pane.query_one("#boost-note")), what="round 1")
        data = pane.query_one(DecisionMap).data
        assert data.cls is None and np.all(data.train.strength == 1.0)


async def test_a_boosted_session_trains_in_the_app_and_its_rounds_fill_the_boost_pane(tmp_path, monkeypatch):
    from dl_lab.tui.screens.train import TrainScreen

    monkeypatch.setenv("DL_LAB_WORKER", "thread")  # the same loop as the process worker's, without its start-up
    app = make_app(session_from_text(BOOSTED).with_overrides(["boost.rounds=4"]), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        await wait_for(pilot, lambda: screen.controller is not None, what="the session to be prepared")
        screen.controller.set_pace(None)  # full speed
        await pilot.press("space")
        await wait_for(pilot, lambda: screen.state.end is not None, timeout=20, what="the run's end on the screen")
        assert [r.round for r in screen.state.boost_rounds] == [1, 2, 3, 4]
        pane = screen.query_one(BoostPane)
        await wait_for(pilot, lambda: "round 4/4" in text_of(pane.query_one("#boost-note")), what="round 4")
        assert pane.query_one(DecisionMap).data.cls is not None
        assert (screen.controller.run_dir / "checkpoints" / "boost.npz").exists()
        assert "epoch 4/4" in str(screen.query_one("#status").render())
