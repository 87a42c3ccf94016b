"""Watching a network learn on the training screen: the pace keys, the untrained boundary before the first step, the
boundary recomputed at the pane's resolution, the network pane's cursor (a neuron's map in the boundary pane, checked
against that neuron's output computed by hand) and a weight edited by hand in a paused run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from lab_runs import tap, tiny_session, wait_for
from textual.widgets import Input

from dl_lab.sessions.training.controller import WORKER_ENV
from dl_lab.sessions.training.live import PACES, WATCH_PACE
from dl_lab.tui.app import make_app
from dl_lab.tui.panes.network import NetworkPane
from dl_lab.tui.panes.run_panes import DataPlotPane
from dl_lab.tui.screens.train import TrainScreen
from dl_lab.tui.widgets import DecisionMap
from dl_lab.tui.widgets.network_view import NetworkView


async def ready_screen(pilot) -> TrainScreen:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the training screen")
    screen = app.screen
    await wait_for(pilot, lambda: screen.controller is not None, timeout=60, what="the run to be prepared")
    await pilot.pause()
    screen.redraw(now=True)
    await pilot.pause()
    return screen


def status(screen) -> str:
    return str(screen.query_one("#status").render())


@pytest.fixture(autouse=True)
def thread_worker(monkeypatch):
    monkeypatch.setenv(WORKER_ENV, "thread")


async def test_the_pace_keys_go_from_the_watching_pace_to_full_speed_and_back(tmp_path):
    app = make_app(tiny_session(training__epochs=500), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready_screen(pilot)
        c = screen.controller
        assert c.pace == WATCH_PACE and f"pace {WATCH_PACE:g} steps/s" in status(screen)
        await tap(pilot, "full_stop")
        assert c.pace == PACES[PACES.index(WATCH_PACE) + 1]
        await tap(pilot, "f")  # full speed, and back
        screen.redraw(now=True)
        assert c.pace is None and "pace full speed" in status(screen)
        await tap(pilot, "f")
        assert c.pace == PACES[PACES.index(WATCH_PACE) + 1]
        await tap(pilot, "comma", "comma")
        assert c.pace == PACES[PACES.index(WATCH_PACE) - 1]
        await tap(pilot, "space")  # the run keeps the pace chosen
        await wait_for(pilot, lambda: len(screen.state.steps) >= 3, what="a few steps")
        await tap(pilot, "x")
        await wait_for(pilot, lambda: c.state == "finished", timeout=30, what="the stop")
        c.join(30)
        assert screen.chosen_pace == PACES[PACES.index(WATCH_PACE) - 1]


async def test_the_untrained_boundary_shows_before_the_first_step_and_zoom_recomputes_it_finer(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready_screen(pilot)
        assert screen.state.live is not None and screen.state.live.step == 0 and not screen.state.steps
        widget = screen.query_one(DecisionMap)
        assert widget.data is not None and widget.data.cls is not None  # before space, as Playground
        small = widget.data.cls.shape[0]
        assert small > 16  # finer than the monitor's boundary_resolution: the pane's own resolution
        await tap(pilot, "z")
        await pilot.pause()
        screen.redraw(now=True)
        await pilot.pause()
        assert widget.data.cls.shape[0] > small  # zoomed: computed again at the larger pane's resolution


async def test_a_chosen_neuron_fills_the_boundary_pane_with_its_own_output(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready_screen(pilot)
        network = screen.query_one(NetworkPane)
        view = network.query_one(NetworkView)
        assert view.picture is not None and len(view.picture.columns) == 4  # input, 6 relu, 6 tanh, output 2
        assert [c.total for c in view.picture.columns] == [2, 6, 6, 2]
        await tap(pilot, "right", "right", "down")  # show the cursor, then the first hidden layer's unit 1
        await pilot.pause()
        screen.redraw(now=True)
        await pilot.pause()
        assert network.chosen() == ("neuron", 1, 1)
        pane = screen.query_one(DataPlotPane)
        assert "unit 1" in str(pane.border_title)
        data = screen.query_one(DecisionMap).data
        res = data.cls.shape[0]
        # by hand: relu(x W^T + b) of the live weights on the same grid, unit 1
        live = network.live
        grid, _ = live.inputs(res)
        layer = live.model.layers[0]
        by_hand = np.maximum(grid @ np.asarray(layer.weight.data).T + np.asarray(layer.bias.data), 0.0)[:, 1]
        boundary = network.chosen_map(screen.state, res)
        np.testing.assert_allclose(boundary["values"], np.round(by_hand, 4), atol=1e-4)
        assert np.array_equal(data.cls, (by_hand.reshape(res, res) > 0).astype(np.int64))
        await tap(pilot, "escape")  # the boundary again
        await pilot.pause()
        screen.redraw(now=True)
        await pilot.pause()
        assert network.chosen() is None and "unit" not in str(pane.border_title)


@pytest.mark.parametrize("worker", ["thread", "process"])
async def test_a_weight_edited_in_a_paused_run_redraws_the_maps_and_is_recorded(tmp_path, monkeypatch, worker):
    monkeypatch.setenv(WORKER_ENV, worker)
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready_screen(pilot)
        await tap(pilot, "s")  # one batch, then paused
        c = screen.controller
        await wait_for(pilot, lambda: c.state == "paused" and screen.state.live.step == 1, what="one step")
        await tap(pilot, "right", "right", "w")  # the link from input x1 into the first hidden unit
        await pilot.pause()
        network = screen.query_one(NetworkPane)
        assert network.chosen() == ("link", 1, 0, 0)
        what, index, name = network.parameter(screen.state)
        assert what == "weight" and name == "model[0].weight[0, 0]"
        before_picture = network.query_one(NetworkView).picture
        await tap(pilot, "e")
        await wait_for(pilot, lambda: app.screen.query(Input), what="the prompt")
        field = app.screen.query_one(Input)
        field.value = "2.5"
        await tap(pilot, "enter")
        await wait_for(pilot, lambda: float(screen.state.live.params[index]) == 2.5, what="the new weights")
        screen.redraw(now=True)
        await pilot.pause()
        after_picture = network.query_one(NetworkView).picture
        assert after_picture is not before_picture
        assert after_picture.weights[0][0, 0] == 2.5  # the link from x1 into unit 0
        assert "= 2.5" in str(network.query_one("#network-note").render())
        edits = [json.loads(line) for line in (c.run_dir / "edits.jsonl").read_text().splitlines()]
        assert edits == [
            {"step": 1, "epoch": 0, "parameter": name, "index": index, "before": edits[0]["before"], "after": 2.5}
        ]
        await tap(pilot, "x")
        await wait_for(pilot, lambda: c.state == "finished", timeout=30, what="the stop")
        c.join(30)


def test_the_principal_plane_is_the_top_two_eigenvectors_of_the_covariance_and_keeps_its_signs():
    from dl_lab.tui.panes.projection import principal_plane

    rng = np.random.default_rng(0)
    out = rng.normal(size=(300, 5)) @ np.diag([5.0, 3.0, 1.0, 0.5, 0.1]) @ np.linalg.qr(rng.normal(size=(5, 5)))[0]
    xy, comps, share = principal_plane(out)
    vals, vecs = np.linalg.eigh(np.cov(out, rowvar=False))
    top = vecs[:, ::-1][:, :2].T
    for k in range(2):  # the same axes, up to sign
        assert abs(abs(np.dot(comps[k], top[k])) - 1.0) < 1e-8
    assert share == pytest.approx(vals[::-1][:2].sum() / vals.sum())
    np.testing.assert_allclose(xy, (out - out.mean(axis=0)) @ comps.T)
    flipped, _, _ = principal_plane(out, before=-comps)  # the last frame's signs win
    np.testing.assert_allclose(flipped, -xy)


async def test_the_projection_pane_shows_the_points_as_the_chosen_layer_sees_them(tmp_path):
    from dl_lab.tui.panes.projection import ProjectionPane
    from dl_lab.tui.widgets import ScatterPlot

    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready_screen(pilot)
        pane = screen.query_one(ProjectionPane)
        plot = pane.query_one(ScatterPlot)
        assert plot.data is not None and len(plot.data.xy) == len(screen.controller.dataset.y_val)
        assert "layer 0 dense" in str(pane.border_title)
        assert "PC 1, 2" in str(pane.query_one("#projection-note").render())
        live = pane.live
        hidden = np.asarray(live.layer_outputs(screen.controller.dataset.x_val)[0], dtype=float)
        spread = np.var(plot.data.xy, axis=0).sum()
        assert spread == pytest.approx(
            np.sort(np.linalg.eigvalsh(np.cov(hidden, rowvar=False)))[-2:].sum() * (len(hidden) - 1) / len(hidden)
        )


async def test_after_reset_the_network_of_the_fresh_model_is_drawn(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready_screen(pilot)
        first = screen.controller
        await tap(pilot, "R")
        await wait_for(pilot, lambda: screen.controller not in (None, first), timeout=60, what="a fresh run")
        view = screen.query_one(NetworkPane).query_one(NetworkView)
        await wait_for(pilot, lambda: view.picture is not None, what="the fresh model's network")


async def test_the_eta_of_a_paced_run_follows_its_pace(tmp_path):
    from dl_lab.tui.panes.status import live_status

    app = make_app(tiny_session(training__epochs=500), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready_screen(pilot)
        await tap(pilot, "space")
        await wait_for(pilot, lambda: len(screen.state.steps) >= 2, what="a few steps")
        state = screen.state
        left = state.total_steps - state.step
        text = str(live_status(state, "running", 0.03, None, 200, pace="10 steps/s", steps_per_s=10.0))
        from dl_lab.tui.panes.status import duration

        assert f"ETA {duration(left / 10.0)}" in text
        await tap(pilot, "x")
        await wait_for(pilot, lambda: screen.controller.state == "finished", timeout=30, what="the stop")
        screen.controller.join(30)


async def test_l_after_a_divergence_offers_the_rate_the_first_remedy_advises(tmp_path):
    from dl_lab.sessions.events import RunFailed
    from dl_lab.tui.screens.train import advised_lr

    session = tiny_session(optimizer__lr=1e12, data__normalize="none", training__epochs=50)
    app = make_app(session, runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready_screen(pilot)
        screen._set_pace(None)
        await tap(pilot, "space")
        await wait_for(pilot, lambda: isinstance(screen.state.end, RunFailed), timeout=30, what="the divergence")
        advised = advised_lr(screen.state.end)
        assert advised is not None and advised < 1e12
        assert f"optimizer.lr to {advised:g}" in screen.state.end.advice[0]
        await tap(pilot, "l")
        await wait_for(pilot, lambda: app.screen.query(Input), what="the prompt")
        assert app.screen.query_one(Input).value == f"{advised:g}"


async def test_g_regenerates_the_data_and_d_discretizes_the_boundary(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready_screen(pilot)
        first = screen.controller
        before = np.asarray(first.dataset.x_train).copy()
        await tap(pilot, "g")
        await wait_for(pilot, lambda: screen.controller not in (None, first), timeout=60, what="the new data")
        assert app.session.config.data.get("seed") == app.session.config.seed + 1
        after = np.asarray(screen.controller.dataset.x_train)
        assert after.shape == before.shape and not np.allclose(after, before)  # new points, same distribution
        screen.redraw(now=True)
        await pilot.pause()
        widget = screen.query_one(DecisionMap)
        smooth = widget.draw(widget.size.width, widget.size.height)
        await tap(pilot, "d")
        discrete = widget.draw(widget.size.width, widget.size.height)
        colours = {
            segment.style.bgcolor.triplet
            for strips in (discrete,)
            for strip in strips[:-1]
            for segment in strip
            if segment.style and segment.style.bgcolor and segment.style.bgcolor.triplet
        }
        smooth_colours = {
            segment.style.bgcolor.triplet
            for strip in smooth[:-1]
            for segment in strip
            if segment.style and segment.style.bgcolor and segment.style.bgcolor.triplet
        }
        assert widget.discretize and len(colours) < len(smooth_colours)  # two class colours, no shades between


async def test_t_sets_the_input_features_and_the_network_shows_them(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await ready_screen(pilot)
        first = screen.controller
        await tap(pilot, "t")
        await wait_for(pilot, lambda: app.screen.query(Input), what="the prompt")
        app.screen.query_one(Input).value = "x1, x2, x1^2, sin(x2)"
        await tap(pilot, "enter")
        await wait_for(pilot, lambda: screen.controller not in (None, first), timeout=60, what="the new model")
        assert app.session.config.data.get("features") == ["x1", "x2", "x1^2", "sin(x2)"]
        view = screen.query_one(NetworkPane).query_one(NetworkView)
        await wait_for(pilot, lambda: view.picture is not None, what="the network")
        await wait_for(pilot, lambda: view.picture.columns[0].total == 4, what="the four inputs")
        assert view.picture.columns[0].labels == ("x1", "x2", "x1^2", "sin(x2)")
