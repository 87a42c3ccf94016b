"""The command palette's entries (ctrl+p): every action of the lab, whatever screen is showing."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import SystemCommand

from dl_lab.session import list_runs

from .messages import ReplayRequested


def commands(app, screen=None) -> Iterable[SystemCommand]:
    """Every action of the lab, reachable from the command palette (ctrl+p); the replay's own while one shows."""

    def on(mode: str, action: str):
        return lambda: app.run_on(mode, action)

    yield SystemCommand("Go to: build", "Edit the network and the session (1)", lambda: app.switch_mode("build"))
    yield SystemCommand("Go to: train", "Train the session and watch it (2)", lambda: app.switch_mode("train"))
    yield SystemCommand("Go to: runs", "Recorded runs: sort, compare, replay (3)", app.action_show_runs)
    yield SystemCommand("Training: start / pause", "Start, pause or resume the run (space)", on("train", "toggle"))
    yield SystemCommand("Training: step one batch", "Train exactly one batch, then pause (s)", on("train", "step"))
    yield SystemCommand("Training: stop", "Stop after this batch and save a checkpoint (x)", on("train", "stop"))
    yield SystemCommand("Training: reset", "A fresh model, the panes cleared (R)", on("train", "reset"))
    yield SystemCommand("Training: learning rate up", "The next rate on the 1-3-10 ladder (+)", on("train", "lr(1)"))
    yield SystemCommand("Training: learning rate down", "The rate below on the ladder (-)", on("train", "lr(-1)"))
    yield SystemCommand("Training: set learning rate...", "Type a learning rate (l)", on("train", "type_lr"))
    yield SystemCommand("Session: save", "Write the session to its YAML file (ctrl+s)", on("build", "save"))
    yield SystemCommand("Session: open", "Open a session file (ctrl+o)", on("build", "open"))
    yield SystemCommand("Runs: compare marked", "Overlay the marked runs' curves (o)", on("runs", "overlay"))
    yield SystemCommand("Replay: latest run", "Open the newest recorded run in the replay", lambda: replay_latest(app))
    yield SystemCommand("Replay: choose a run", "Pick a run in the runs table, then enter", app.action_show_runs)
    if screen is not None and getattr(screen, "is_replay", False):
        for title, help_text, action in REPLAY_COMMANDS:
            yield SystemCommand(f"Replay: {title}", help_text, lambda action=action: screen.run_action(action))


REPLAY_COMMANDS = [
    ("play / pause", "Play the run from here, or pause it (space)", "play"),
    ("next snapshot or epoch", "Step forward to the next snapshot or epoch (→)", "seek(1)"),
    ("previous snapshot or epoch", "Step back (←)", "seek(-1)"),
    ("start", "The run before its first batch (home)", "home"),
    ("end", "The run as it ended (end)", "end"),
    ("faster", "Play faster (>)", "speed(1)"),
    ("slower", "Play slower (<)", "speed(-1)"),
]


def replay_latest(app) -> None:
    runs = list_runs(app.runs_root)
    if not runs:
        app.notify(f"No recorded runs in {app.runs_root}", severity="warning")
        return
    app.post_message(ReplayRequested(runs[0].path))
