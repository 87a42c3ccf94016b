"""Panes: the parts a screen is laid out from (the build screen's stack, data and training panes; a run's panes)."""
