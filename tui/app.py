"""The dl-lab app: three modes (build, train, runs), the replay screen, global keys and the command palette."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from dl_lab.sessions import default_session
from dl_lab.sessions.runs.directory import runs_root as default_runs_root

from .commands import commands
from .messages import ReplayRequested
from .screens.replay import ReplayScreen
from .screens.runs import RunsScreen
from .screens.train import TrainScreen

STOP_TIMEOUT_S = 30  # quitting waits this long for the worker to save its checkpoint


def build_screen() -> Screen:
    from .screens.build import BuildScreen  # imported when first shown: the replay command does not need it

    return BuildScreen()


class DLLabApp(App):
    """Build a network (1), train it and watch it learn (2), browse, compare and replay recorded runs (3)."""

    TITLE = "dl-lab"
    CSS_PATH = "app.tcss"
    MODES = {"build": build_screen, "train": TrainScreen, "runs": RunsScreen}
    BINDINGS = [
        Binding("1", "switch_mode('build')", "Build"),
        Binding("2", "switch_mode('train')", "Train"),
        Binding("3", "show_runs", "Runs"),
        Binding("f2", "switch_mode('build')", "Build", show=False),
        Binding("f3", "switch_mode('train')", "Train", show=False),
        Binding("f4", "show_runs", "Runs", show=False),
        Binding("question_mark,f1", "toggle_help", "Keys", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self, session=None, *, replay_dir=None, runs_root: Path | None = None, mode: str | None = None
    ) -> None:
        super().__init__()
        self.first_mode = mode
        self.session = session if session is not None else default_session()
        self.controller = None  # the training screen's controller (process or thread worker), when one exists
        self.replay_dir = Path(replay_dir) if replay_dir else None
        self.runs_root = Path(runs_root) if runs_root else default_runs_root()

    def on_mount(self) -> None:
        if self.replay_dir is not None:
            self.switch_mode("runs")
            self.post_message(ReplayRequested(self.replay_dir))
        else:
            self.switch_mode(self.first_mode or "build")

    # --- messages from the screens ---------------------------------------------------------------
    def on_session_edited(self, message) -> None:
        """The build screen's SessionEdited: the train screen picks the new session up when shown."""
        self.session = message.session

    async def on_replay_requested(self, message: ReplayRequested) -> None:
        try:
            screen = ReplayScreen(message.run_dir)
        except Exception as exc:  # a broken run folder is a notification, not a crash
            self.notify(f"{message.run_dir}: {exc}", title="Cannot replay", severity="error", timeout=8)
            return
        if self.current_mode != "runs":
            await self.switch_mode("runs")
        await self.push_screen(screen)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(str(event.worker.error), title=f"{event.worker.name} failed", severity="error", timeout=8)

    # --- global actions --------------------------------------------------------------------------
    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    async def action_quit(self) -> None:
        """Quit, stopping a running training first so that its checkpoint is saved."""
        controller = self.controller
        if controller is not None and controller.alive:
            controller.stop()
            self.notify("Stopping the run and saving a checkpoint...")
            await asyncio.to_thread(controller.join, STOP_TIMEOUT_S)
        self.exit()

    async def action_show_runs(self) -> None:
        """The runs table, also from a replay opened on top of it (the replay closes)."""
        await self.switch_mode("runs")
        while len(self.screen_stack) > 1 and isinstance(self.screen, ReplayScreen):
            await self.pop_screen()

    async def run_on(self, mode: str, action: str) -> None:
        """Switch to ``mode`` and run one of its screen's actions (the command palette's entries)."""
        if mode == "runs":
            await self.action_show_runs()
        else:
            await self.switch_mode(mode)
        await self.screen.run_action(action)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from commands(self, screen)


def make_app(session=None, *, replay_dir=None, runs_root: Path | None = None, mode: str | None = None) -> DLLabApp:
    """The app, opened on ``session`` (default: the spiral preset) in ``mode`` (default: build), or replaying
    ``replay_dir``; runs are recorded under ``runs_root`` (default: ./runs or $DL_LAB_RUNS)."""
    return DLLabApp(session, replay_dir=replay_dir, runs_root=runs_root, mode=mode)
