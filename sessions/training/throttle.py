"""Which training events reach a user interface: steps about ten times a second, every other event always."""

from __future__ import annotations

import time

from dl_lab.sessions.events import Event, StepEnded

STEP_INTERVAL = 0.1  # seconds between delivered step events


class StepThrottle:
    """Which events reach the UI: a step at most every ``interval`` while running (the latest one held back),
    every other event always, and a held-back step before whatever comes next (shared by both workers)."""

    def __init__(self, interval: float = STEP_INTERVAL) -> None:
        self.interval = interval
        self.pending: StepEnded | None = None  # the latest step event held back
        self._last_sent = 0.0

    def admit(self, event: Event, running: bool) -> list[Event]:
        """The events to deliver now that ``event`` happened (none, it, or the held-back step and it)."""
        if isinstance(event, StepEnded):
            now = time.monotonic()
            if running and now - self._last_sent < self.interval:
                self.pending = event
                return []
            self._last_sent, self.pending = now, None
            return [event]
        return [*self.take(), event]  # a snapshot or an epoch: its step goes first

    def take(self) -> list[Event]:
        """The held-back step, if any: on pausing or stopping the UI gets the step the run is really at."""
        held, self.pending = self.pending, None
        return [] if held is None else [held]
