"""A recorded run as a timeline: any moment's RunState, stops at snapshots and epochs, recorded times."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace

from dl_lab.sessions.events import Diagnosis, EpochEnded, RunCancelled, RunEnded, RunFailed, SnapshotTaken
from dl_lab.sessions.runs.state import RunState

GROUP_ENDS = (SnapshotTaken, EpochEnded, Diagnosis, RunEnded, RunFailed, RunCancelled)  # a diagnosis joins its group


class Timeline:
    """``events`` in order; the cursor counts how many of them have happened (0: none, len: all).

    ``stops`` are the cursors just after each group of snapshot/epoch/end events (a snapshot and an epoch
    that end on the same step form one group), where stepping with left/right lands. Consecutive groups need
    not have step lines between them: a long run's record leaves most steps out (runs/thinning.py).
    """

    def __init__(self, events: list, started=None) -> None:
        self.events = list(events)
        self.resumed = any(isinstance(e, RunCancelled) for e in self.events[:-1])  # stopped, then resumed
        if started is not None and self.resumed:  # summary.json holds the resumed start: replay from the first
            started = replace(started, start_epoch=0, start_step=0)
        self.started = started
        self.stops = self._stops()
        self.times = self._times()
        self._cache: tuple[int, RunState] | None = None

    def __len__(self) -> int:
        return len(self.events)

    def _stops(self) -> list[int]:
        stops: list[int] = []
        for i, event in enumerate(self.events):
            if isinstance(event, GROUP_ENDS):
                if stops and stops[-1] == i and _step(self.events[i - 1]) == _step(event):
                    stops[-1] = i + 1  # same group as the previous stop
                else:
                    stops.append(i + 1)
        return stops

    def _times(self) -> list[float]:
        """Recorded seconds since the start at each event (snapshots take the time of the step before)."""
        times, now = [], 0.0
        for event in self.events:
            now = max(now, float(getattr(event, "time", None) or getattr(event, "wall_time", None) or now))
            times.append(now)
        if times and times[-1] <= 0:  # no clock readings: one event every 20 ms
            times = [0.02 * (i + 1) for i in range(len(times))]
        return times

    @property
    def duration(self) -> float:
        return self.times[-1] if self.times else 0.0

    def time_at(self, cursor: int) -> float:
        return self.times[cursor - 1] if cursor > 0 else 0.0

    def cursor_at(self, seconds: float) -> int:
        """How many events had happened ``seconds`` into the recorded run."""
        return bisect_right(self.times, seconds)

    def next_stop(self, cursor: int) -> int:
        return next((s for s in self.stops if s > cursor), len(self.events))

    def previous_stop(self, cursor: int) -> int:
        return next((s for s in reversed(self.stops) if s < cursor), 0)

    def state_at(self, cursor: int) -> RunState:
        """The run as it stood after ``cursor`` events: moving forward applies only the new events."""
        cursor = max(0, min(cursor, len(self.events)))
        if self._cache is None or self._cache[0] > cursor:
            self._cache = (0, RunState(self.started))
        done, state = self._cache
        for event in self.events[done:cursor]:
            state.apply(event)
        self._cache = (cursor, state)
        return state


def _step(event) -> int | None:
    """The step an event happened at (an end event: the run's last step)."""
    step = getattr(event, "step", None)
    return getattr(event, "steps", None) if step is None else step
