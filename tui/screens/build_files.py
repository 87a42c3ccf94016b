"""The Build screen's session files: start from a preset, save to YAML, open a YAML file (mixed into BuildScreen)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

from dl_lab.core.errors import DLLabError
from dl_lab.sessions import PRESETS, SessionError, load_session, preset_path, preset_session
from dl_lab.tui.dialogs.build_dialogs import ChoiceDialog, PathDialog
from dl_lab.tui.dialogs.confirm import DISCARD, SAVE, UnsavedDialog
from dl_lab.tui.widgets.forms import say


class SessionFiles:
    """Preset, save and open actions. The screen provides ``draft``, ``draft_error``, ``save_path``, the last valid
    session ``committed``, ``modified`` (edits since the last save, open or preset) and ``replace(session)`` (show a
    session everywhere and make it the app's)."""

    def ask_unsaved(self, doing: str, then: Callable) -> None:
        """Run ``then()`` (a function or a coroutine function) at once when nothing is unsaved; else ask first:
        s saves (asking where the first time) and then runs it, d runs it without saving, esc does nothing."""
        if isinstance(self.app.screen, UnsavedDialog):  # asked already (q pressed in the dialog itself)
            return
        if not self.modified:
            run_soon(self, then)
            return
        note = (
            f"the draft has an error, so a save writes the last valid session: {self.draft_error}"
            if self.draft_error
            else ""
        )

        def chosen(choice: str | None) -> None:
            if choice == DISCARD:
                run_soon(self, then)
            elif choice == SAVE:
                self.action_save(after=then)

        self.app.push_screen(UnsavedDialog(doing, note), chosen)

    def action_preset(self) -> None:
        self.ask_unsaved("load a preset", self._choose_preset)

    def _choose_preset(self) -> None:
        items = [(name, name, preset_description(name)) for name in PRESETS]

        async def chosen(name: str | None) -> None:
            if name is not None:
                try:
                    await self.replace(preset_session(name))
                except (DLLabError, OSError) as exc:
                    say(self, str(exc), title="preset", severity="error")

        self.app.push_screen(ChoiceDialog("start from a preset", items, highlight=self.draft.get("name")), chosen)

    def action_save(self, ask: bool = False, after: Callable | None = None) -> None:
        """Write the last valid session; the first time (or with ``ask``), ask where. ``after`` runs once it is
        saved (not when the save is cancelled or fails)."""

        def save(path: str | Path | None) -> None:
            if path and self._save(Path(path).expanduser()) and after is not None:
                run_soon(self, after)

        if self.save_path is not None and not ask:
            save(self.save_path)
            return
        source = self.committed.source
        default = source if source is not None and not is_preset(source) else Path(f"{self.committed.name}.yaml")
        dialog = PathDialog("save the session as", str(default), "enter save · esc cancel (relative to the cwd)")
        self.app.push_screen(dialog, save)

    def _save(self, path: Path) -> bool:
        try:
            self.committed.save(path)
        except OSError as exc:
            say(self, f"{path}: {exc.strerror or exc}", title="not saved", severity="error")
            return False
        self.save_path = path
        self.committed.source = path
        self.saved_spec = self.committed.spec
        self.show_status()
        if self.draft_error:
            message = f"saved the last valid session to {path}; the draft is not saved: {self.draft_error}"
            say(self, message, severity="warning")
        else:
            say(self, f"saved to {path}")
        return True

    def action_open(self) -> None:
        self.ask_unsaved("open another file", self._choose_file)

    def _choose_file(self) -> None:
        async def chosen(path: str | None) -> None:
            if path is None:
                return
            try:
                session = load_session(Path(path).expanduser())
            except (DLLabError, OSError, ValueError) as exc:
                say(self, str(exc), title="could not open", severity="error")
                return
            self.save_path = Path(path).expanduser()
            await self.replace(session)
            say(self, f"opened {path}")

        default = str(self.save_path or "")
        self.app.push_screen(PathDialog("open a session file", default, "enter open · esc cancel"), chosen)


def run_soon(node, then: Callable) -> None:
    """Call ``then()`` now; a coroutine it returns runs on the app's message loop (``node``'s screen may be
    another mode's, not the one showing)."""
    result = then()
    if inspect.isawaitable(result):
        node.app.call_later(lambda: result)


def is_preset(path: Path) -> bool:
    """Is ``path`` one of the shipped presets (which a save must not overwrite by default)?"""
    names = list(PRESETS)
    return bool(names) and Path(path).resolve().parent == preset_path(names[0]).resolve().parent


def preset_description(name: str) -> str:
    """A preset's description: the first comment line of its YAML file."""
    try:
        first = preset_path(name).read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError, SessionError):
        return ""
    return first.lstrip("#").strip()


def shown_path(path: Path | None) -> str:
    """A session file as the title shows it: relative to the current directory when it is under it."""
    if path is None:
        return "not saved yet"
    if is_preset(path):  # inside the installed package: its name says more than its path
        return f"preset {Path(path).stem} (ctrl+s saves a copy)"
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
