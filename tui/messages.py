"""The app's messages: training events arriving from the worker thread, and requests between screens."""

from __future__ import annotations

import threading
from pathlib import Path

from textual.message import Message

SPACING_S = 0.05  # a screen is woken for training events at most this often; they gather in between


class RunEventsReceived(Message, bubble=False):
    """Training events reached the UI, in order (posted from the training thread; ``post_message`` is
    thread-safe). ``source`` identifies the run, so that events of a run that was reset are ignored.

    Events are never dropped, but they are never queued as one message each either: while a batch waits to be
    handled, new events join it (Toolong's idea of replacing stale messages, taken one step further), so a
    fast run wakes the UI at most every ``SPACING_S`` and the UI never lags behind it.
    """

    def __init__(self, events: list, source: int) -> None:
        super().__init__()
        self.events = events  # complete once the handler has called Outbox.take
        self.source = source


class TrainingCrashed(Message, bubble=False):
    """The training thread raised instead of yielding an event (a bug or a bad dataset): shown, never fatal."""

    def __init__(self, error: BaseException, source: int) -> None:
        super().__init__()
        self.error = error
        self.source = source


class ReplayRequested(Message):
    """Open a recorded run in the replay screen."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)


class ResumeRequested(Message):
    """Continue a stopped run in the training screen, in its own folder (r on the runs screen)."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)


class Outbox:
    """Carries one run's events from the training thread to ``target`` (a screen) as RunEventsReceived batches.

    ``put`` (training thread) appends to the open batch, posting it when it is new; ``take`` (UI thread, in the
    handler) closes the batch in hand and keeps new events gathering for ``SPACING_S`` before they are posted.
    """

    def __init__(self, target, source: int, spacing: float = SPACING_S) -> None:
        self.target, self.source, self.spacing = target, source, spacing
        self._lock = threading.Lock()
        self._open: list | None = None  # where new events go; None: the next event posts a new batch

    def put(self, event) -> None:
        with self._lock:
            if self._open is not None:
                self._open.append(event)
                return
            self._open = batch = [event]
        self.target.post_message(RunEventsReceived(batch, self.source))

    def take(self, message: RunEventsReceived) -> list:
        """The message's events, complete: later ones gather for a while, then go in the next message."""
        with self._lock:
            events = list(message.events)
            self._open = []
        self.target.set_timer(self.spacing, self._send_gathered)
        return events

    def _send_gathered(self) -> None:
        with self._lock:
            batch = self._open
            if not batch:
                self._open = None
                return
        self.target.post_message(RunEventsReceived(batch, self.source))
