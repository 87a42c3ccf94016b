"""The dl-lab app: three modes (build, train, runs), the replay screen, global keys and the command palette."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import HelpPanel, KeyPanel, Markdown, Static
from textual.widgets._key_panel import BindingsTable
from textual.worker import Worker, WorkerState

from dl_lab.sessions import default_session
from dl_lab.sessions.runs.directory import runs_root as default_runs_root
from dl_lab.sessions.sweeps.listing import sweeps_root as default_sweeps_root

from .commands import commands
from .messages import ReplayRequested, ResumeRequested
from .screens.backprop import BackpropScreen
from .screens.inspect import InspectScreen
from .screens.replay import ReplayScreen
from .screens.runs import RunsScreen
from .screens.train import TrainScreen

STOP_TIMEOUT_S = 30  # quitting waits this long for the worker to save its checkpoint


def build_screen() -> Screen:
    from .screens.build import BuildScreen  # imported when first shown: the replay command does not need it

    return BuildScreen()


# `?` on the training and replay screens: the run panes' terms, a line each, kept in view under the keys (short:
# the key help is 30 columns wide at 80).
GLOSSARY = """\
[b]‖W‖[/] weights' size (L2 norm)
[b]‖∇W‖[/] gradient's size (0: none flows)
[b]update/weight[/] (upd) a step's change ÷ ‖W‖; ~1e-3 is healthy
[b]dead units[/] ReLUs giving 0 on every sample
[b]sat[/] tanh/sigmoid units stuck at their limits
[b]μ σ[/] mean and spread (standard deviation)
[b]network[/] a neuron's map: its output over the plane
[b]∇ Δ[/] a weight's gradient, its last update
[b]PC 1, 2[/] the layer's two main directions (PCA)"""


def textual_actions(cls) -> set[str]:
    """The actions that Textual's own classes among ``cls``'s bases bind (focus_next, copy, scroll_up...)."""
    return {
        (b.action if isinstance(b, Binding) else b[1])
        for base in cls.__mro__
        if base.__module__.startswith("textual.")
        for b in base.__dict__.get("BINDINGS", ())
    }


class ScreenFirstBindings(BindingsTable):
    """The key table of `?`: the screen's own keys first, then the app's and the focused widget's; Textual's generic
    ones (focus, copy, cursor, page and scroll keys, which every screen has) are left out, so that a screen's keys
    show at 80x24."""

    def render_bindings_table(self):
        from rich import box
        from rich.table import Table
        from rich.text import Text

        screen, app = self.screen, self.app

        def rank(node) -> int:
            return 0 if node is screen else 1 if node is app else 2

        titles = {0: "", 1: "anywhere", 2: "here"}  # the screen's own first, under no title
        groups: dict[int, dict[str, list]] = {}
        for node, binding, _enabled, _tooltip in screen.active_bindings.values():
            if not binding.system and binding.action not in textual_actions(type(node)):
                groups.setdefault(rank(node), {}).setdefault(binding.action, []).append(binding)
        table = Table(padding=(0, 0), show_header=False, box=box.SIMPLE)
        table.add_column("", justify="right")
        key_style = self.get_component_rich_style("bindings-table--key")
        header_style = self.get_component_rich_style("bindings-table--header")
        for group in sorted(groups):
            if titles[group]:
                table.add_row("", Text(titles[group], style=header_style, end=""))
            for bindings in groups[group].values():
                keys = " ".join(dict.fromkeys(app.get_key_display(b) for b in bindings))
                text = Text(bindings[0].description, end="")
                if bindings[0].tooltip:
                    text.append(f" {bindings[0].tooltip}", "dim")
                table.add_row(Text(keys, style=key_style), text)
            table.add_section()
        return table


class ScreenFirstKeys(KeyPanel):
    def compose(self):
        yield ScreenFirstBindings(shrink=True, expand=False)


class KeyHelp(HelpPanel):
    """`?`: the focused widget's help, the keys (the screen's first) and, where runs show, the panes' terms under
    them (the keys scroll; the terms stay in view)."""

    DEFAULT_CSS = """
    KeyHelp #glossary {
        height: auto;
        max-height: 60%;
        border-top: solid $foreground 30%;
        color: $text-muted;
    }
    """

    def compose(self):
        yield Markdown(id="widget-help")
        yield ScreenFirstKeys(id="keys-help")
        if isinstance(self.screen, (TrainScreen, ReplayScreen)):
            yield Static(GLOSSARY, id="glossary")


class DLLabApp(App):
    """Build a network (1), train it and watch it learn (2), browse, compare and replay recorded runs (3), look inside
    a trained one (4), follow one sample through backpropagation (5)."""

    TITLE = "dl-lab"
    CSS_PATH = "app.tcss"
    MODES = {
        "build": build_screen,
        "train": TrainScreen,
        "runs": RunsScreen,
        "inspect": InspectScreen,
        "backprop": BackpropScreen,
    }
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
        super().__init__()
        self.first_mode = mode
        self.inspect_run: Path | None = None  # the run the inspect screen shows (i on the runs screen)
        self.session = session if session is not None else default_session()
        self.controller = None  # the training screen's controller (process or thread worker), when one exists
        self.replay_dir = Path(replay_dir) if replay_dir else None
        self.runs_root = Path(runs_root) if runs_root else default_runs_root()
        self.sweeps_root = Path(sweeps_root) if sweeps_root else default_sweeps_root()  # the runs screen's sweeps

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

    async def on_resume_requested(self, message: ResumeRequested) -> None:
        """r on a stopped run: the training screen loads it; space there continues it in its own folder."""
        await self.switch_mode("train")
        screen = self.screen
        if isinstance(screen, TrainScreen):
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
        if not self.screen.query(HelpPanel):
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
