"""The replay screen: a recorded run in the training screen's panes, with a timeline to play and scrub."""

from __future__ import annotations

import math
import time
from pathlib import Path

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from dl_lab.sessions.events import RunFailed, RunStarted, decode
from dl_lab.sessions.runs.directory import open_run
from dl_lab.sessions.runs.timeline import Timeline
from dl_lab.tui.panes.run_view import PANE_BINDINGS, PaneActions, RunView
from dl_lab.tui.panes.status import (
    SHORT_FAILURE_BELOW,
    STATE_MARKS,
    end_state,
    failure_text,
    metrics_text,
    progress_text,
    rate,
    set_short,
    show_health,
)
from dl_lab.tui.pictures import SAVE_PICTURES, PictureActions, panes_in_view
from dl_lab.tui.widgets.footer import LabFooter

SPEEDS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
WATCHABLE_S = 15.0  # a replay starts at the speed that plays the whole run in about this long (1x at most)
TICK_S = 1 / 20
BAR_MIN, BAR_MAX = 8, 40  # characters of the timeline bar, as the width allows


def load_dataset_for(session_dict: dict, base_dir: Path):
    """The run's dataset, when it loads without the network (offline sets, or a download already cached)."""
    from dl_lab.datasets.registry import lookup
    from dl_lab.sessions import session_from_dict
    from dl_lab.sessions.training.build import load_dataset

    try:
        session = session_from_dict(session_dict, base_dir=base_dir)
        info = lookup(session.config.data.dataset)
        if not info.offline:
            from dl_lab.datasets.images import is_cached

            if not is_cached(info.name):
                return None
        return load_dataset(session, progress=False)
    except Exception:  # the panes draw without points or images then
        return None


def watchable_speed(duration: float) -> float:
    """Real time for a long run; a run of a few seconds slowed down so that its curves can be watched."""
    wanted = min(1.0, duration / WATCHABLE_S) if duration > 0 else 1.0
    return min(SPEEDS, key=lambda s: abs(math.log(s / wanted)))


class ReplayScreen(PictureActions, PaneActions, Screen):
    """Replays ``run_dir``: every pane shows the run as it stood at the timeline's cursor."""

    CSS_PATH = "train.tcss"
    # While it shows, the command palette has its keys too (tui/commands.py), titled by their line in the key help
    # (`?`): description and tooltip ("Replay: next snapshot or epoch").
    is_replay = True
    PALETTE_GROUP = "Replay"
    NOT_IN_PALETTE = {"back"}  # leaving it: the palette has "Go to: runs" and "Replay: choose a run"
    BINDINGS = [
        Binding("space", "play", "Play/pause"),
        Binding("left", "seek(-1)", "Previous", tooltip="snapshot or epoch", key_display="←", show=False),
        Binding("right", "seek(1)", "Next", tooltip="snapshot or epoch", key_display="→"),
        Binding("home", "home", "Start", show=False),
        Binding("end", "end", "End", show=False),
        Binding("greater_than_sign,plus,equals_sign", "speed(1)", "Faster", key_display=">"),
        Binding("less_than_sign,minus", "speed(-1)", "Slower", key_display="<", show=False),
        *PANE_BINDINGS,
        SAVE_PICTURES,
        Binding("escape", "back", "Back to runs", show=False),
    ]

    def __init__(self, run_dir, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run = open_run(run_dir)
        self.started = decode(RunStarted, self.run.summary.get("started"))
        self.timeline = Timeline(self.run.events(), self.started)
        self.cursor = len(self.timeline)
        self.playing = False
        self.speed = watchable_speed(self.timeline.duration)
        self.clock = 0.0
        self._last_tick = 0.0
        self.live = None  # a LiveModel of a small model that recorded its weights (frames/): the pictures use them
        self._frames: list = []
        self._frame = None  # (path, LiveWeights) loaded

    def compose(self):
        yield Static(id="timeline")
        yield Static(id="health")  # what the run's health watch had found by the cursor
        yield Static(id="failure")
        yield RunView()
        yield LabFooter()

    def on_mount(self) -> None:
        dataset = load_dataset_for(self.run.session, self.run.path)
        session = None
        if dataset is not None:
            self.live, session = self._live_model(dataset)
        self.query_one(RunView).configure(dataset, self.started, self.live, session)
        self.set_interval(TICK_S, self._tick)
        self.seek_to(self.cursor)

    def _live_model(self, dataset):
        """A copy of the run's model to draw from the weights it recorded at its snapshots (None: not recorded)."""
        from dl_lab.sessions import session_from_dict
        from dl_lab.sessions.runs.weights import recorded_weights
        from dl_lab.sessions.training.live import LIVE_PARAMS, LiveModel

        self._frames = recorded_weights(self.run.path)
        too_large = self.started is not None and self.started.param_count > LIVE_PARAMS
        if too_large or not any(path.parent.name == "frames" for _, path in self._frames):  # none recorded
            return None, None
        try:
            session = session_from_dict(self.run.session, base_dir=self.run.path)
            return LiveModel(session, dataset), session
        except Exception:  # the panes draw from the snapshots alone
            return None, None

    def _attach_weights(self, state) -> None:
        """The weights recorded nearest before the cursor, on ``state`` (as a training run sends them)."""
        if self.live is None:
            return
        from dl_lab.sessions.training.live import frame_weights

        # in step order, the end of training (final.npz) at its last step
        step, path = max((f for f in self._frames if f[0] <= state.step), key=lambda f: f[0], default=self._frames[0])
        if self._frame is None or self._frame[0] != path:
            try:
                self._frame = (path, frame_weights(self.live, path, state.epoch, state.step))
            except Exception:  # a damaged frame: the pictures of the snapshots alone
                self.live = None
                return
        state.live, state.lives = self._frame[1], step + 1

    # --- the cursor ------------------------------------------------------------------------------
    def seek_to(self, cursor: int) -> None:
        self.cursor = max(0, min(cursor, len(self.timeline)))
        state = self.timeline.state_at(self.cursor)
        self._attach_weights(state)
        self.query_one(RunView).show(state)
        self.query_one("#timeline", Static).update(self._status(state), layout=False)
        show_health(self.query_one("#health", Static), state)
        failure = self.query_one("#failure", Static)
        failed = isinstance(state.end, RunFailed)
        if failed:
            short = self.size.height < SHORT_FAILURE_BELOW  # the boundary keeps its room on a small terminal
            failure.update(failure_text(state.end, None, short=short))
            set_short(failure, short)
        if failure.display != failed:
            failure.display = failed

    def _tick(self) -> None:
        now = time.monotonic()
        dt, self._last_tick = now - self._last_tick, now
        if not self.playing:
            return
        self.clock += min(dt, 0.5) * self.speed
        cursor = self.timeline.cursor_at(self.clock)
        if cursor >= len(self.timeline):
            self.playing = False
            cursor = len(self.timeline)
        if cursor != self.cursor or not self.playing:
            self.seek_to(cursor)

    def _status(self, state) -> Text:
        """Two lines: the timeline (play state, speed, bar, time, how the run stands) with the run's name; then
        the counters and metrics at the cursor, the speed of the run and its folder (cut first on a narrow one)."""
        n, tl = len(self.timeline), self.timeline
        head = Text()
        head.append("▶ playing" if self.playing else "‖ paused", style="bold")
        head.append(f" {self.speed:g}x  ")
        tail = Text(f"  {tl.time_at(self.cursor):.1f}s / {tl.duration:.1f}s")
        if end_state(state):
            tail.append(f"  {STATE_MARKS.get(end_state(state), end_state(state))}")
        if state.resumes:
            tail.append(f"  ↻ resumed{f' {state.resumes} times' if state.resumes > 1 else ''}", style="bold")
        tail.append(f"  {self.run.name}", style="bold")
        width = self.size.width - 2 if self.size.width else 78  # the padding
        bar = max(BAR_MIN, min(BAR_MAX, width - head.cell_len - tail.cell_len))
        done = round(bar * self.cursor / n) if n else bar
        text = head
        text.append("━" * done, style="bold")
        text.append("─" * (bar - done), style="dim")
        text.append_text(tail)
        text.append("\n")
        text.append_text(progress_text(state))
        text.append("  ")
        text.append_text(metrics_text(state))
        text.append(f"  {rate(state.samples_per_s())} samples/s", style="dim")
        text.append(f"  {self.run.path.name}", style="dim")
        return text

    def on_resize(self) -> None:
        self.seek_to(self.cursor)  # the bar takes the width there is

    # --- actions ---------------------------------------------------------------------------------
    def action_play(self) -> None:
        if self.playing:
            self.playing = False
        else:
            if self.cursor >= len(self.timeline):
                self.cursor = 0
            self.clock = self.timeline.time_at(self.cursor)
            self._last_tick = time.monotonic()
            self.playing = True
        self.seek_to(self.cursor)

    def action_seek(self, direction: int) -> None:
        self.playing = False
        tl = self.timeline
        self.seek_to(tl.next_stop(self.cursor) if direction > 0 else tl.previous_stop(self.cursor))

    def action_home(self) -> None:
        self.playing = False
        self.seek_to(0)

    def action_end(self) -> None:
        self.playing = False
        self.seek_to(len(self.timeline))

    def action_speed(self, direction: int) -> None:
        i = min(range(len(SPEEDS)), key=lambda k: abs(SPEEDS[k] - self.speed))
        self.speed = SPEEDS[max(0, min(len(SPEEDS) - 1, i + direction))]
        self.seek_to(self.cursor)

    def pictures(self):
        return panes_in_view(self)

    def pictures_run(self) -> Path:
        return self.run.path

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
