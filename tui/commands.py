"""The command palette's entries (ctrl+p): every action of the lab, whatever screen is showing.

They are read off the screens' key bindings, so that an action, its key and its words are declared once, in
BINDINGS: each binding of a mode's screen is an entry titled by the screen's PALETTE_GROUP and the binding's line in
the key help (`?`), its description and tooltip ("Training: step one batch", the footer showing "Step"), with the
keys as the key help shows them ("(s or n)"). Left out: system bindings (Textual's focus, copy, cursor keys) and the
actions a screen names in NOT_IN_PALETTE (moving around it). The replay's bindings are entries while a replay shows.
EXTRA_COMMANDS are the few entries that are no screen's binding. SETTINGS are the build screen's fields, found by
name ("Setting: learning rate (training pane)"): choosing one shows the build screen with that field focused; they
are read off the forms' own declarations (the panes' option dicts), so a new option is an entry at once.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
from collections.abc import Callable, Iterable

from textual.app import SystemCommand
from textual.binding import Binding

from dl_lab.sessions import list_runs

from .messages import ReplayRequested


def replay_latest(app) -> None:
    runs = list_runs(app.runs_root)
    if not runs:
        app.notify(f"No recorded runs in {app.runs_root}", severity="warning")
        return
    app.post_message(ReplayRequested(runs[0].path))


# (title, help, mode (None: the app), action (or a function of the app), the action whose key the help shows)
EXTRA_COMMANDS = [
    # the app's keys to the modes (the app's bindings, which have no help text)
    ("Go to: build", "Edit the network and the session", None, "switch_mode('build')", "switch_mode('build')"),
    ("Go to: train", "Train the session and watch it", None, "switch_mode('train')", "switch_mode('train')"),
    ("Go to: runs", "Recorded runs: sort, compare, replay", None, "show_runs", "show_runs"),
    # space is Run or Pause as the run stands (two bindings, NOT_IN_PALETTE); the palette's entry is either
    ("Training: start / pause", "Start, pause or resume the run", "train", "toggle", "run"),
    # ways into a replay, from anywhere
    ("Replay: latest run", "Open the newest recorded run in the replay", None, replay_latest, None),
    ("Replay: choose a run", "Pick a run in the runs table, then enter", None, "show_runs", None),
]


# Names a field goes by besides its key's ("lr": learning rate); the palette matches on the title.
SETTING_NAMES = {
    "lr": "learning rate",
    "init": "weight initialization (init)",
    "optimizer.name": "optimizer",
    "clip_norm": "gradient clipping (clip norm)",
}


@dataclasses.dataclass(frozen=True)
class Setting:
    """A field of the build screen: ``where`` is its path in the session (its OptionField's ``where``)."""

    name: str
    where: str
    section: str  # the build screen's pane that holds it: "training" or "data"
    help: str


def settings() -> list[Setting]:
    """The build screen's data and training fields that the palette finds by name, from the panes' declarations:
    the session's top keys (name, seed, loss...), the optimizer and its learning rate, the training loop, the
    dataset and its options."""
    from dl_lab.datasets.options import DATA_OPTIONS

    from .panes.data import FORM_OPTIONS
    from .panes.training_settings import LOOP, OPTIMIZER_CHOICES, TOP

    def named(key: str, where: str) -> str:
        return SETTING_NAMES.get(where, SETTING_NAMES.get(key, key.replace("_", " ")))

    lr = next(options["lr"] for options in OPTIMIZER_CHOICES.values() if "lr" in options)
    found = [Setting(named(k, k), k, "training", o.help) for k, o in TOP.items()]
    found.append(Setting("optimizer", "optimizer.name", "training", "the update rule"))
    found.append(Setting(named("lr", "optimizer.lr"), "optimizer.lr", "training", lr.help))
    found += [Setting(named(k, f"training.{k}"), f"training.{k}", "training", o.help) for k, o in LOOP.items()]
    found.append(Setting("dataset", "data.dataset", "data", "the data the network learns from"))
    found += [Setting(named(k, f"data.{k}"), f"data.{k}", "data", DATA_OPTIONS[k].help) for k in FORM_OPTIONS]
    return found


async def focus_setting(app, setting: Setting) -> None:
    """Show the build screen's pane that holds ``setting`` and put the focus on its field."""
    await app.switch_mode("build")
    await focus_field(app.screen, setting)


async def focus_field(screen, setting: Setting) -> None:
    """On the build screen ``screen``: show the pane that holds ``setting`` and put the focus on its field (the
    palette's "Setting: ..." entries, and the screen's own keys for the most used settings)."""
    from .panes.data import DataPane
    from .panes.training_settings import TrainingPane
    from .widgets.forms import OptionField

    screen.section = setting.section  # narrow, the pane's tab; wide, all three show
    if setting.section == "data":
        await screen.query_one(DataPane).activate()
    else:
        await screen.query_one(TrainingPane).activate(copy.deepcopy(screen.draft))
    if setting.where == "data.dataset":
        screen.query_one("#dataset").focus()
        return
    fields = [f for f in screen.query(OptionField).results(OptionField) if f.where == setting.where]
    if fields:
        fields[0].focus()
    else:  # a dataset that takes no such option (mnist has no noise)
        dataset = screen.draft.get("data", {}).get("dataset", "this dataset")
        screen.app.notify(f"{dataset} has no {setting.name} setting", severity="warning")


def setting_commands(app) -> Iterable[SystemCommand]:
    for setting in settings():
        title = f"Setting: {setting.name} ({setting.section} pane)"
        yield SystemCommand(title, setting.help, functools.partial(focus_setting, app, setting))


def mode_screens() -> dict:
    """Each mode's screen class (DLLabApp.MODES makes them; each is imported here, when the palette opens)."""
    from .app import MODE_SCREENS, screen_class

    return {mode: screen_class(mode) for mode in MODE_SCREENS}


def palette_bindings(screen_class) -> list[Binding]:
    """The bindings of ``screen_class`` that are palette entries: its own, less system ones and NOT_IN_PALETTE."""
    skipped = getattr(screen_class, "NOT_IN_PALETTE", ())
    return [
        b
        for b in screen_class.BINDINGS
        if isinstance(b, Binding) and not b.system and b.action.partition("(")[0] not in skipped
    ]


def keys_shown(app, bindings: Iterable[Binding]) -> str:
    """The keys of ``bindings`` as the footer and the key help show them ("s or n", "^s")."""
    keys = (dataclasses.replace(b, key=key.strip()) for b in bindings for key in b.key.split(","))
    return " or ".join(dict.fromkeys(app.get_key_display(b) for b in keys))


def title_of(screen_class, binding: Binding) -> str:
    """The palette's title of ``binding``: its screen's group and its line in the key help, which reads
    ``description tooltip`` ("Training: step one batch")."""
    line = " ".join(filter(None, (binding.description, binding.tooltip)))
    line = re.sub(r"\s*/\s*", " / ", line)  # the footer's "Play/pause": "play / pause"
    return f"{screen_class.PALETTE_GROUP}: {line[:1].lower()}{line[1:]}"


def binding_commands(app, screen_class, run: Callable[[str], Callable]) -> Iterable[SystemCommand]:
    """An entry per action of ``screen_class``'s palette bindings; ``run(action)`` is its callback."""
    by_action: dict[str, list[Binding]] = {}
    for binding in palette_bindings(screen_class):  # an action's second binding (another key) is no second entry
        by_action.setdefault(binding.action, []).append(binding)
    for action, bindings in by_action.items():
        yield SystemCommand(title_of(screen_class, bindings[0]), f"({keys_shown(app, bindings)})", run(action))


def commands(app, screen=None) -> Iterable[SystemCommand]:
    """Every action of the lab, reachable from the command palette (ctrl+p); the replay's own while one shows.
    Callbacks are partials: tests read which mode and action each runs."""
    screens = mode_screens()
    for title, help_text, mode, action, keyed_by in EXTRA_COMMANDS:
        bindings = app.BINDINGS if mode is None else screens[mode].BINDINGS
        keys = [b for b in bindings if isinstance(b, Binding) and b.action == keyed_by and b.show][:1]
        if callable(action):
            callback = functools.partial(action, app)
        elif mode is None:
            callback = functools.partial(app.run_action, action)
        else:
            callback = functools.partial(app.run_on, mode, action)
        yield SystemCommand(title, f"{help_text} ({keys_shown(app, keys)})" if keys else help_text, callback)
    yield from setting_commands(app)
    for mode, screen_class in screens.items():
        yield from binding_commands(
            app, screen_class, lambda action, mode=mode: functools.partial(app.run_on, mode, action)
        )
    if screen is not None and getattr(screen, "is_replay", False):  # run by the replay screen itself
        yield from binding_commands(app, type(screen), lambda action: functools.partial(screen.run_action, action))
