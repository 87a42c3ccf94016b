"""The dl-lab app: three modes (build, train, runs), the replay screen, global keys and the command palette."""

from __future__ import annotations

import asyncio
import gc
import importlib
from collections.abc import Callable, Iterable
from pathlib import Path, PurePath

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from dl_lab.sessions import default_session
from dl_lab.sessions.runs.directory import runs_root as default_runs_root
from dl_lab.sessions.sweeps.listing import sweeps_root as default_sweeps_root

from .messages import ReplayRequested, ResumeRequested

STOP_TIMEOUT_S = 30  # quitting waits this long for the worker to save its checkpoint
STARTED_S = 1.0  # the first screen is drawn within this long of the app's first layout (Textual's Ready)
HERE = Path(__file__).resolve().parent  # as Textual resolves a screen's CSS_PATH
# Each mode's screen: its module under screens/ and its class, imported when the mode is first shown (the first
# screen does not wait for the others' modules, a tenth of the start-up)
MODE_SCREENS = {
    "build": ("build", "BuildScreen"),
    "train": ("train", "TrainScreen"),
    "runs": ("runs", "RunsScreen"),
    "inspect": ("inspect", "InspectScreen"),
    "backprop": ("backprop", "BackpropScreen"),
}


def screen_class(mode: str) -> type[Screen]:
    """The class of ``mode``'s screen (its module imported now if it was not)."""
    module, name = MODE_SCREENS[mode]
    return getattr(importlib.import_module(f"{__package__}.screens.{module}"), name)


def mode_screen(mode: str) -> Callable[[], Screen]:
    """What Textual calls to make ``mode``'s screen when the mode is first shown."""
    return lambda: screen_class(mode)()


class DLLabApp(App):
    """Build a network (1), train it and watch it learn (2), browse, compare and replay recorded runs (3), look inside
    a trained one (4), follow one sample through backpropagation (5)."""

    TITLE = "dl-lab"
    MODES = {mode: mode_screen(mode) for mode in MODE_SCREENS}
    BINDINGS = [
        Binding("1", "switch_mode('build')", "Build"),
        Binding("2", "switch_mode('train')", "Train"),
        Binding("3", "show_runs", "Runs"),
        Binding("4", "switch_mode('inspect')", "Inspect"),
        Binding("5", "switch_mode('backprop')", "Backprop", tooltip="one sample through the network, number by number"),
        Binding("f2", "switch_mode('build')", "Build", show=False),
        Binding("f3", "switch_mode('train')", "Train", show=False),
        Binding("f4", "show_runs", "Runs", show=False),
        Binding("question_mark,f1", "toggle_help", "Keys", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        session=None,
        *,
        replay_dir=None,
        runs_root: Path | None = None,
        mode: str | None = None,
        sweeps_root: Path | None = None,
    ) -> None:
        # The first screen is the app's default mode, made as the app starts: switched to after Textual's blank one,
        # it would be resumed twice, the second time restyled whole once mounted (a tenth of the start-up).
        self.DEFAULT_MODE = "runs" if replay_dir else mode or "build"  # type: ignore[misc]
        # The build screen's CSS read with the app's when it comes first: read when the screen is made, it would
        # have Textual parse the whole stylesheet again.
        css: list[str | PurePath] = [HERE / "app.tcss"]
        if self.DEFAULT_MODE == "build":
            css.append(HERE / "screens" / "build.tcss")
        super().__init__(css_path=css)
        self.inspect_run: Path | None = None  # the run the inspect screen shows (i on the runs screen)
        self.session = session if session is not None else default_session()
        self.controller = None  # the training screen's controller (process or thread worker), when one exists
        self.replay_dir = Path(replay_dir) if replay_dir else None
        self.runs_root = Path(runs_root) if runs_root else default_runs_root()
        self.sweeps_root = Path(sweeps_root) if sweeps_root else default_sweeps_root()  # the runs screen's sweeps

    def on_ready(self) -> None:
        # run_app starts the app with Python's garbage collector off: start-up makes some 100,000 objects that last
        # (modules, classes, widgets, styles) and little garbage, and each of the collections it would set off
        # walks them all (a tenth of the start-up). Once the first screen is drawn, they are frozen (left out of
        # every collection from then on) and the collector runs again.
        self.set_timer(STARTED_S, started)

    def on_mount(self) -> None:
        if self.replay_dir is not None:  # on the runs screen (the default mode), as if chosen there
            self.post_message(ReplayRequested(self.replay_dir))

    # --- messages from the screens ---------------------------------------------------------------
    def on_session_edited(self, message) -> None:
        """The build screen's SessionEdited: the train screen picks the new session up when shown."""
        self.session = message.session

    async def on_replay_requested(self, message: ReplayRequested) -> None:
        from .screens.replay import ReplayScreen

        try:
            screen = ReplayScreen(message.run_dir)
        except Exception as exc:  # a broken run folder is a notification, not a crash
            self.notify(f"{message.run_dir}: {exc}", title="Cannot replay", severity="error", timeout=8)
            return
        if self.current_mode != "runs":
            await self.switch_mode("runs")
        await self.push_screen(screen)

    async def on_resume_requested(self, message: ResumeRequested) -> None:
        """r on a stopped run: the training screen loads it; space there continues it in its own folder."""
        await self.switch_mode("train")
        screen = self.screen
        if isinstance(screen, screen_class("train")):
            screen.resume_run(message.run_dir)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.notify(str(event.worker.error), title=f"{event.worker.name} failed", severity="error", timeout=8)

    # --- global actions --------------------------------------------------------------------------
    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_show_help_panel(self) -> None:
        """Textual's key help, with the screen's keys first and a glossary where runs show (KeyHelp)."""
        from .key_help import KeyHelp  # with Textual's Markdown: not needed before `?`

        if not self.screen.query("HelpPanel"):
            self.screen.mount(KeyHelp())

    async def action_quit(self) -> None:
        """Quit, stopping a running training first so that its checkpoint is saved. With unsaved edits on the
        build screen, ask first: save (then quit), discard (quit), or cancel."""
        build = self._build_screen()
        if build is not None and build.modified:
            build.ask_unsaved("quit", self._quit)
            return
        await self._quit()

    def _build_screen(self):
        """The build screen, when it has been made (it holds the session's edits and knows what is unsaved)."""
        try:
            stack = self.get_screen_stack("build")
        except KeyError:
            return None
        return next((s for s in stack if hasattr(s, "ask_unsaved")), None)

    async def _quit(self) -> None:
        controller = self.controller
        if controller is not None and controller.alive:
            controller.stop()
            self.notify("Stopping the run and saving a checkpoint...")
            await asyncio.to_thread(controller.join, STOP_TIMEOUT_S)
        self.exit()

    async def action_show_runs(self) -> None:
        """The runs table, also from a replay opened on top of it (the replay closes)."""
        from .screens.replay import ReplayScreen

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
        from .commands import commands  # the palette's entries: read when it opens

        yield from super().get_system_commands(screen)
        yield from commands(self, screen)


def started() -> None:
    """The first screen is drawn: what start-up made is frozen, and the collector is on again (see run_app)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def make_app(
    session=None,
    *,
    replay_dir=None,
    runs_root: Path | None = None,
    mode: str | None = None,
    sweeps_root: Path | None = None,
) -> DLLabApp:
    """The app, opened on ``session`` (default: the spiral preset) in ``mode`` (default: build), or replaying
    ``replay_dir``; runs are recorded under ``runs_root`` (default: ./runs or $DL_LAB_RUNS); the runs screen lists
    the sweeps under ``sweeps_root`` too (default: ./sweeps or $DL_LAB_SWEEPS)."""
    return DLLabApp(session, replay_dir=replay_dir, runs_root=runs_root, mode=mode, sweeps_root=sweeps_root)
