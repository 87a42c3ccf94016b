"""The command palette's entries (ctrl+p): every action of the lab, whatever screen is showing."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from textual.app import SystemCommand

from dl_lab.sessions import list_runs

from .messages import ReplayRequested


def commands(app, screen=None) -> Iterable[SystemCommand]:
    """Every action of the lab, reachable from the command palette (ctrl+p); the replay's own while one shows."""

    def on(mode: str, action: str):
        return functools.partial(app.run_on, mode, action)  # a partial: tests read which action it runs

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
    yield SystemCommand("View: next pane", "Show the next pane; one at a time on a small terminal (v)",
                        on("train", "pane(1)"))  # fmt: skip
    yield SystemCommand("View: previous pane", "Show the pane before (V)", on("train", "pane(-1)"))
    yield SystemCommand("View: zoom the pane", "One pane on the whole screen, or the grid again (z)",
                        on("train", "zoom"))  # fmt: skip
    yield SystemCommand("View: next layer", "The layers pane shows the next layer (])", on("train", "layer(1)"))
    yield SystemCommand("View: previous layer", "The layers pane shows the layer before ([)", on("train", "layer(-1)"))
    yield SystemCommand("Session: save", "Write the session to its YAML file (ctrl+s)", on("build", "save"))
    yield SystemCommand("Session: save as...", "Write the session to another file (S)", on("build", "save(True)"))
    yield SystemCommand("Session: open", "Open a session file (ctrl+o)", on("build", "open"))
    yield SystemCommand("Session: start from a preset", "Load one of the example sessions (p)", on("build", "preset"))
    yield SystemCommand("Model: new", "An empty layer stack for this data (n)", on("build", "new_model"))
    yield SystemCommand("Model: add a layer", "After the selected layer (a)", on("build", "add_layer"))
    yield SystemCommand("Model: insert a layer", "Above the selected layer (i)", on("build", "insert_layer"))
    yield SystemCommand("Model: edit the layer", "The selected layer's form (enter)", on("build", "edit_layer"))
    yield SystemCommand("Model: duplicate the layer", "A copy below the selected layer (c)",
                        on("build", "duplicate_layer"))  # fmt: skip
    yield SystemCommand("Model: delete the layer", "The selected layer (d)", on("build", "delete_layer"))
    yield SystemCommand("Model: move the layer up", "(K)", on("build", "move_layer(-1)"))
    yield SystemCommand("Model: move the layer down", "(J)", on("build", "move_layer(1)"))
    yield SystemCommand("Model: fix the shapes", "The suggested fix: a flatten, the output size and activation the "
                        "loss needs, a residual block's width (f)",
                        on("build", "fix_layers"))  # fmt: skip
    yield SystemCommand("Runs: compare marked", "Overlay the marked runs' curves (o)", on("runs", "overlay"))
    yield SystemCommand("Runs: sort by the next column", "(s; S reverses)", on("runs", "sort"))
    yield SystemCommand("Runs: reload", "Read the runs folder again (f5)", on("runs", "reload"))
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
