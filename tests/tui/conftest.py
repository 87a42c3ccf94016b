"""The app's tests draw in truecolor whatever terminal runs them (TERM and COLORTERM would otherwise choose the
colour depth, and with it every colour in the pictures and snapshots); tests/tui/test_color_depth.py sets 256 and
16 colours itself."""

from __future__ import annotations

import pytest
import textual.constants


@pytest.fixture(autouse=True)
def truecolor(monkeypatch):
    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "truecolor")


@pytest.fixture(autouse=True)
def no_animations(monkeypatch):
    """The pilot's apps jump to where an animation ends (scrolling, fading) instead of drawing every frame of it:
    what the tests check is where things land, and the frames cost a fifth of a pilot test's time. The tmux test
    (test_app.py) drives the real app, animations on."""
    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(autouse=True)
def no_sweeps_from_the_working_directory(monkeypatch, tmp_path):
    """The runs screen lists the sweeps of ./sweeps (or $DL_LAB_SWEEPS): never those of the folder the tests are
    run from; a test that wants sweeps passes sweeps_root."""
    monkeypatch.setenv("DL_LAB_SWEEPS", str(tmp_path / "no-sweeps"))
