"""The inspect screen (key 4): inside a trained network, the views of `dl-lab inspect` on a recorded run.

The run is the one chosen with `i` on the runs screen, else the training screen's run once it has a checkpoint,
else the newest run that has one. Each view is computed in a worker thread (a progress line shows while it runs;
esc cancels: the result is dropped and the screen is free at once), never in the event loop.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import LoadingIndicator, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from dl_lab.sessions.inspect.views import ABOUT, VIEWS
from dl_lab.tui.pictures import SAVE_PICTURES, Picture, PictureActions, renderable_svg
from dl_lab.tui.widgets.footer import LabFooter


def newest_inspectable(root: Path) -> Path | None:
    """The newest run folder under ``root`` with a final or last checkpoint."""
    found = [
        p
        for p in (root.iterdir() if root.is_dir() else [])
        if (p / "checkpoints" / "final.npz").is_file() or (p / "checkpoints" / "last.npz").is_file()
    ]
    return max(found, key=lambda p: p.stat().st_mtime, default=None)


class InspectScreen(PictureActions, Screen):
    """A view list on the left, its picture on the right; the run, checkpoint, sample and class on top."""

    DEFAULT_CSS = """
    InspectScreen #inspect-status {
        height: 2; padding: 0 1; background: $boost; text-wrap: nowrap; text-overflow: ellipsis;
    }
    InspectScreen #inspect-views { width: 26; height: 1fr; }
    InspectScreen #inspect-picture-box { height: 1fr; }
    InspectScreen LoadingIndicator { height: 1; }
    """
    PALETTE_GROUP = "Inspect"
    BINDINGS = [
        Binding("enter", "compute", "Show", tooltip="the chosen view"),
        Binding("left_square_bracket", "sample(-1)", "Previous sample", key_display="[", show=False),
        Binding("right_square_bracket", "sample(1)", "Next sample", key_display="]"),
        Binding("c", "next_class", "Class", tooltip="to explain or dream (saliency, dream); again: none"),
        Binding("k", "next_checkpoint", "Checkpoint", tooltip="final, initial, epochs, frames"),
        Binding("escape", "cancel", "Cancel", tooltip="the view being computed", show=False),
        SAVE_PICTURES,
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.run_dir: Path | None = None
        self.checkpoint: str | None = None
        self.sample = 0
        self.cls: int | None = None
        self.view = VIEWS[0]
        self.working: Worker | None = None
        self.shown: dict | None = None
        self.picture = None  # what the picture area shows (a Rich renderable)
        self.drawn: tuple[str, int, Path] | None = None  # the picture's view, width and run (None: no picture)
        self._computing: tuple[str, int, Path] | None = None

    def compose(self):
        yield Static(id="inspect-status")
        with Horizontal():
            yield OptionList(*[Option(f"{v}", id=v) for v in VIEWS], id="inspect-views")
            with VerticalScroll(id="inspect-picture-box"):
                yield LoadingIndicator()
                yield Static(id="inspect-picture")
        yield LabFooter()

    def on_mount(self) -> None:
        self.query_one(LoadingIndicator).display = False
        self.query_one(OptionList).highlighted = 0

    def on_screen_resume(self) -> None:
        chosen = getattr(self.app, "inspect_run", None)
        run = Path(chosen) if chosen else self._training_run() or newest_inspectable(self.app.runs_root)
        if run != self.run_dir:
            self.run_dir, self.checkpoint, self.sample, self.cls, self.shown = run, None, 0, None, None
            if run is not None:
                self.action_compute()
        self._status()

    def _training_run(self) -> Path | None:
        controller = getattr(self.app, "controller", None)
        run = getattr(controller, "run_dir", None)
        if run is not None and any((Path(run) / "checkpoints" / f"{n}.npz").is_file() for n in ("final", "last")):
            return Path(run)
        return None

    # --- what is shown -------------------------------------------------------------------------------
    def _status(self, note: str = "") -> None:
        text = Text()
        if self.run_dir is None:
            text.append("no run with a checkpoint yet: train one (2), or choose one on the runs screen (3, then i)")
        else:
            text.append(self.run_dir.name, style="bold")
            text.append(f"  checkpoint {self.checkpoint or 'final'}  sample {self.sample}")
            text.append(f"  class {self.cls if self.cls is not None else '-'}")
            text.append(f"  view {self.view}: {ABOUT[self.view]}", style="dim")
        text.append("\n")
        text.append(note or "↑↓ a view, enter shows it, [ ] sample, c class, k checkpoint", style="dim")
        self.query_one("#inspect-status", Static).update(text)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.view = str(event.option.id)
        self._status()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.view = str(event.option.id)
        self.action_compute()

    # --- actions -------------------------------------------------------------------------------------
    def action_compute(self) -> None:
        if self.run_dir is None:
            self._status()
            return
        if self.working is not None and self.working.is_running:
            self.working.cancel()
        run_dir, view, checkpoint = self.run_dir, self.view, self.checkpoint
        options = {"sample": self.sample, "cls": self.cls}
        width = max(40, self.query_one("#inspect-picture-box").size.width - 2)

        def work():
            from dl_lab.sessions.inspect.common import open_inspected
            from dl_lab.sessions.inspect.views import compute
            from dl_lab.tui.inspect_render import render

            data = compute(view, open_inspected(run_dir, checkpoint), **options)
            return data, render(data, width=width)

        self._computing = (view, width, run_dir)
        self.query_one(LoadingIndicator).display = True
        self._status(f"computing {view} of {run_dir.name}... (esc cancels)")
        self.working = self.run_worker(work, thread=True, exclusive=True, group="inspect", exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.working:
            return
        event.stop()
        if event.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        self.query_one(LoadingIndicator).display = False
        picture = self.query_one("#inspect-picture", Static)
        if event.state == WorkerState.SUCCESS:
            self.shown, parts = event.worker.result
            self.picture = Group(*parts)
            picture.update(self.picture)
            self.drawn = self._computing
            self._status()
        elif event.state == WorkerState.ERROR:
            self.picture = Text(str(event.worker.error), style="bold")
            self.drawn = None
            picture.update(self.picture)
            self._status(f"{self.view} cannot be shown for this run")
        elif event.state == WorkerState.CANCELLED:
            self._status("cancelled")

    def pictures(self) -> list[Picture]:
        """The view shown, its whole drawing (the screen scrolls a tall one), titled as `dl-lab inspect --svg`'s."""
        if self.drawn is None or self.picture is None:
            return []
        view, width, _ = self.drawn
        title = f"dl-lab inspect {view}"
        return [Picture(view, title, renderable_svg(self.picture, width, title))]

    def pictures_run(self) -> Path | None:
        return self.drawn[2] if self.drawn is not None else self.run_dir

    def action_cancel(self) -> None:
        if self.working is not None and self.working.is_running:
            self.working.cancel()
            self.query_one(LoadingIndicator).display = False
            self._status("cancelled")

    def action_sample(self, delta: int) -> None:
        self.sample = max(0, self.sample + delta)
        self.action_compute()

    def action_next_class(self) -> None:
        from dl_lab.sessions.runs.directory import open_run

        if self.run_dir is None:
            return
        started = open_run(self.run_dir, with_records=False).summary.get("started") or {}
        count = len(started.get("class_names") or [])
        if not count:
            self._status("this run has no classes")
            return
        self.cls = 0 if self.cls is None else (self.cls + 1 if self.cls + 1 < count else None)
        self.action_compute()

    def action_next_checkpoint(self) -> None:
        from dl_lab.sessions.runs.weights import recorded_weights

        if self.run_dir is None:
            return
        # the end of training first (the default), then every recorded weight vector in step order
        recorded = [
            f"step-{step}" if path.parent.name == "frames" else path.stem
            for step, path in recorded_weights(self.run_dir)
        ]
        names = [recorded[-1], *recorded[:-1]] if recorded else ["final"]
        current = self.checkpoint or names[0]
        self.checkpoint = names[(names.index(current) + 1) % len(names)] if current in names else names[0]
        self.action_compute()
