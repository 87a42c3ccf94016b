"""The health box of the training and replay screens: what the run's health watch found, drawn from the RunState."""

from __future__ import annotations

from lab_runs import record_run, tiny_session, wait_for

from dl_lab.sessions.events import Diagnosis
from dl_lab.sessions.runs.state import RunState
from dl_lab.tui.app import make_app
from dl_lab.tui.panes.status import health_text
from dl_lab.tui.screens.replay import ReplayScreen
from dl_lab.tui.screens.train import TrainScreen

# Every ReLU of the first layer negative on every sample from the start, no gradient reaching its weights: dead units
# found at the first snapshot (step 4, at 6 steps an epoch: epoch 1)
DEAD = {"model": "[{dense: {units: 6, activation: relu, bias_init: {name: constant, value: -5}}}, {dense: {units: 2}}]"}


def test_the_health_text_shows_the_newest_finding_first_with_what_to_try():
    state = RunState()
    assert health_text(state) is None
    for kind, epoch in (("dead_units", 1), ("plateau", 5)):
        state.apply(Diagnosis(kind=kind, epoch=epoch, step=epoch * 10, message=f"{kind} seen", evidence={}, advice="x"))
    lines = health_text(state).plain.splitlines()
    assert lines == [
        "⚠ plateau at chance (epoch 5): plateau seen; try: x",  # the newest in full
        "⚠ dead units (epoch 1): try: x",  # an older one on one line: what to try
    ]
    state.apply(Diagnosis(kind="overfitting", epoch=9, step=90, message="m", evidence={}, advice="y" * 80))
    lines = health_text(state, width=30).plain.splitlines()
    assert lines[1] == "⚠ plateau at chance (epoch 5)…" and len(lines) == 3  # cut at the width
    assert lines[0].endswith("y" * 80)  # the newest wraps in full


async def test_the_replay_shows_a_finding_from_its_moment_on(tmp_path):
    run = record_run(tmp_path / "dead", tiny_session(**DEAD, training__epochs=6))  # then a plateau at epoch 5
    app = make_app(replay_dir=run, runs_root=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReplayScreen), what="the replay screen")
        await pilot.pause()
        screen = pilot.app.screen
        box = screen.query_one("#health")
        assert box.display and "⚠ dead units (epoch 1): try: use leaky_relu" in str(box.render())
        shown = "".join(strip.text for strip in box.render_lines(box.region.reset_offset))
        assert "⚠ plateau at chance (epoch 5): the loss" in shown and shown.count("try:") == 2  # each fits at 80x24
        await pilot.press("home")
        assert not box.display
        await pilot.press("right")  # the first snapshot (step 4): the finding's
        assert box.display and screen.timeline.state_at(screen.cursor).step == 4
        await pilot.press("left")
        assert not box.display


async def test_the_training_screen_shows_a_finding_as_it_appears(tmp_path):
    app = make_app(tiny_session(**DEAD), runs_root=tmp_path, mode="train")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, TrainScreen)
        await wait_for(pilot, lambda: screen.controller is not None, what="the session to be prepared")
        box = screen.query_one("#health")
        assert not box.display
        await pilot.press("space")
        await wait_for(pilot, lambda: box.display, what="the health box")
        assert "dead units" in str(box.render())
