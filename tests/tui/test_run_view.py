"""The run view's redraw rotation is derived from its panes, so that no pane can be left out of it."""

from __future__ import annotations

from dl_lab.tui.panes.run_panes import Pane
from dl_lab.tui.panes.run_view import PANES, ROTATION, rotation


def test_every_pane_of_the_run_view_is_redrawn_while_training():
    assert {pane.key for pane in PANES} == set(ROTATION)


def test_the_panes_that_change_every_step_are_redrawn_every_round():
    often, rare = ("data", "network", "loss", "quality"), ("boost", "confusion", "norms", "layers", "projection")
    expected = tuple(key for other in rare for key in (*often, other))
    assert expected == ROTATION


def test_a_new_pane_is_in_the_rotation_without_being_listed():
    class Gallery(Pane):
        key = "gallery"

    order = rotation((*PANES, Gallery))
    assert order.count("gallery") == 1 and set(order) == {pane.key for pane in PANES} | {"gallery"}
