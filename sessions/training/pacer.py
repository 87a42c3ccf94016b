"""Spacing the panes' redraws so that the UI thread leaves the training thread most of the GIL."""

from __future__ import annotations

import time

BUDGET = 0.06  # the share of one CPU the UI thread may take while a run trains (about half is Textual's own)
FASTEST_S, SLOWEST_S = 0.25, 1.5
WINDOW_S = 0.5  # the share is measured over windows this long


class Pacer:
    """Says when a redraw is due: every ``FASTEST_S`` while the UI thread is cheap, less often when it is not.

    The UI thread's CPU time (``time.thread_time``) over the last window, divided by the wall time, is its
    share; the interval grows or shrinks in proportion so that the share stays near ``BUDGET``. Every CPU
    second the UI takes is a second the training thread waits for the GIL (measured in bench/TUI.md).
    """

    def __init__(self, budget: float = BUDGET, fastest: float = FASTEST_S) -> None:
        """``fastest``: the shortest interval (a paced run, which leaves the UI time, redraws at frames)."""
        self.budget = budget
        self.fastest = fastest
        self.interval = fastest
        self._last = 0.0
        self._window = (time.monotonic(), time.thread_time())

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.interval

    def drawn(self) -> None:
        """Call after each redraw (from the UI thread)."""
        now, cpu = time.monotonic(), time.thread_time()
        self._last = now
        start, start_cpu = self._window
        if now - start >= WINDOW_S:
            share = (cpu - start_cpu) / (now - start)
            wanted = self.interval * share / self.budget
            self.interval = min(SLOWEST_S, max(self.fastest, (self.interval + wanted) / 2))
            self._window = (now, cpu)
