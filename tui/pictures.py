"""Pictures of the lab's panes as SVG files.

ctrl+s on the training, replay and inspect screens saves each pane in view as an SVG file named by the screen, the
pane and the time (``replay-loss-20260101-120000.svg``), into the shown run's ``pictures/`` folder (else
``./pictures/``). ``dl-lab replay RUN_DIR --headless --svg DIR`` draws the replay off screen and saves its curves
(the loss and accuracy panes), confusion matrix and decision boundary the same way (``replay_pictures``).

A pane's picture is what the screen shows in the pane's box, border and title included: the screen's lines cropped
to the box and exported by Rich, as Textual exports a screenshot (``App.export_screenshot``), titled by the pane's
title. The inspect screen's picture is its whole drawing (taller than the screen, it scrolls there).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console, RenderableType
from rich.segment import Segment, Segments
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip

from dl_lab.sessions.runs.directory import PICTURES_DIR

# The key, on each screen whose panes it saves (its line in the key help and the palette: "Replay: save pictures of
# the panes in view, as SVG files").
SAVE_PICTURES = Binding("ctrl+s", "save_pictures", "Save pictures", tooltip="of the panes in view, as SVG", show=False)
HEADLESS_SIZE = (160, 50)  # the off-screen replay's terminal: the panes' grid, each pane about 53 columns wide
HEADLESS_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Picture:
    """One pane's SVG: ``name`` goes into its file's name, ``title`` is the pane's title (the SVG's too)."""

    name: str
    title: str
    svg: str


def plain(title: object) -> str:
    """A border title (Textual markup, or Content) as plain text."""
    if isinstance(title, Content):
        return title.plain
    try:
        return Content.from_markup(str(title or "")).plain
    except Exception:  # not markup after all ("[ ] to choose" is kept as written)
        return str(title or "")


def slug(text: str) -> str:
    """A file-name part: "confusion (validation)" -> "confusion-validation"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "pane"


def recording_console(width: int, height: int | None = None) -> Console:
    return Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
        highlight=False,
    )


def lines_svg(lines: list[Strip], width: int, title: str) -> str:
    """``lines`` (a box of the screen) as an SVG titled ``title``."""
    console = recording_console(width, len(lines))
    segments: list[Segment] = []
    for i, line in enumerate(lines):
        if i:
            segments.append(Segment.line())
        segments.extend(line.simplify().discard_meta())
    console.print(Segments(segments), end="")
    return console.export_svg(title=title)


def region_svg(screen: Screen, region: Region, title: str) -> str:
    """The part ``region`` of what ``screen`` shows, as an SVG (the pane's box, as on screen)."""
    region = region.intersection(screen.region)
    strips = screen._compositor.render_strips()  # what Textual's export_screenshot renders, here cropped
    lines = [strip.crop(region.x, region.right) for strip in strips[region.y : region.bottom]]
    return lines_svg(lines, region.width, title)


def renderable_svg(renderable: RenderableType, width: int, title: str) -> str:
    """A Rich renderable drawn ``width`` columns wide, as an SVG."""
    console = recording_console(width)
    console.print(renderable, no_wrap=True, crop=False)
    return console.export_svg(title=title)


def pane_picture(screen: Screen, widget, name: str, title: str | None = None) -> Picture | None:
    """``widget``'s box on ``screen`` (None when it is not shown)."""
    if not widget.display or not widget.region.area:
        return None
    title = title if title is not None else plain(widget.border_title)
    return Picture(name, title, region_svg(screen, widget.region, title))


def panes_in_view(screen: Screen) -> list[Picture]:
    """The training or replay screen's panes in view (every pane on a large terminal, else the one shown), each
    named by its label in the pane strip ("Loss", "Boundary")."""
    from .panes.run_view import RunView

    found = (pane_picture(screen, pane, pane.label) for pane in screen.query_one(RunView).visible_panes())
    return [picture for picture in found if picture is not None]


def save(pictures: Iterable[Picture], folder: Path, prefix: str, stamp: str | None = None) -> list[Path]:
    """Write each picture into ``folder`` (made if missing) as ``PREFIX-NAME-STAMP.svg`` (without a stamp when
    ``stamp`` is ""); OSError when the folder cannot be made or written."""
    stamp = time.strftime("%Y%m%d-%H%M%S") if stamp is None else stamp
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for picture in pictures:
        name = "-".join(filter(None, (prefix, slug(picture.name), stamp)))
        path = folder / f"{name}.svg"
        path.write_text(picture.svg, encoding="utf-8")
        written.append(path)
    return written


def folder_for(run_dir: Path | None) -> Path:
    """Where ctrl+s saves: the shown run's pictures/ folder, else ./pictures/."""
    return Path(run_dir) / PICTURES_DIR if run_dir is not None else Path(PICTURES_DIR)


class PictureActions:
    """ctrl+s (SAVE_PICTURES) on a screen that says which pictures it shows (``pictures``) and which run
    (``pictures_run``); the file names start with its PALETTE_GROUP ("replay-loss-...")."""

    def pictures(self) -> list[Picture]:
        return []

    def pictures_run(self) -> Path | None:
        return None

    def action_save_pictures(self) -> None:
        if self.screen.query("Toast"):  # type: ignore[attr-defined]
            # notifications over the panes would be in their pictures: they go first (the app removes them once this
            # action has returned), and the pictures are taken once the screen is drawn without them
            self.app.clear_notifications()  # type: ignore[attr-defined]
            self.run_worker(self._save_when_cleared(), group="pictures", name="pictures")  # type: ignore[attr-defined]
        else:
            self._save_pictures()

    async def _save_when_cleared(self) -> None:
        screen = self.screen  # type: ignore[attr-defined]
        for _ in range(50):
            if not screen.query("Toast"):
                break
            await asyncio.sleep(0.02)
        drawn = asyncio.Event()
        screen.call_after_refresh(drawn.set)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(drawn.wait(), 1.0)
        self._save_pictures()

    def _save_pictures(self) -> None:
        notify = self.app.notify  # type: ignore[attr-defined]
        pictures = self.pictures()
        if not pictures:
            notify("Nothing to save yet: no picture is shown", severity="warning", timeout=4)
            return
        folder = folder_for(self.pictures_run())
        prefix, stamp = slug(getattr(self, "PALETTE_GROUP", "screen")), time.strftime("%Y%m%d-%H%M%S")
        try:
            written = save(pictures, folder, prefix, stamp)
        except OSError as exc:
            notify(f"{folder}: {exc.strerror or exc}", title="Cannot save the pictures", severity="error", timeout=8)
            return
        if len(written) == 1:
            where = f"{written[0].name} in {folder.resolve()}"
        else:
            where = f"{', '.join(slug(p.name) for p in pictures)}\nas {prefix}-NAME-{stamp}.svg in {folder.resolve()}"
        notify(where, title=f"Saved {len(written)} SVG pictures", timeout=8)


# --- dl-lab replay RUN_DIR --headless --svg DIR ---------------------------------------------------------------------
def run_view_pictures(screen: Screen) -> dict[str, Picture]:
    """The replay's files: the curves (the loss and accuracy panes side by side), the confusion matrix
    (classification) and the decision boundary with the points (2-D data), each as on screen."""
    from .panes.run_panes import ConfusionPane, DataPlotPane, LossPane, QualityPane

    found: dict[str, Picture | None] = {}
    loss, quality = screen.query_one(LossPane), screen.query_one(QualityPane)
    both = loss.region.union(quality.region)
    title = f"{plain(loss.border_title)} and {plain(quality.border_title)}"
    found["curves"] = Picture("curves", title, region_svg(screen, both, title))
    confusion = screen.query_one(ConfusionPane)
    if confusion.label == "Confusion":  # a regression's pane shows the layer statistics
        found["confusion"] = pane_picture(screen, confusion, "confusion")
    data = screen.query_one(DataPlotPane)
    if data.kind == "map":
        found["boundary"] = pane_picture(screen, data, "boundary")
    return {name: picture for name, picture in found.items() if picture is not None}


def replay_pictures(run_dir: Path, size: tuple[int, int] = HEADLESS_SIZE) -> dict[str, Picture]:
    """Replay ``run_dir`` off screen (at its end, as the app opens it) and take ``run_view_pictures``; a RunDirError
    (one message) when the run cannot be read or drawn."""
    import textual.constants
    from textual.app import App

    from dl_lab.sessions.errors import RunDirError

    from .panes.run_view import RunView
    from .screens.replay import ReplayScreen

    replay = ReplayScreen(run_dir)  # a run that cannot be read is refused here, before the app starts

    class Offscreen(App):
        CSS_PATH = "app.tcss"  # the app's styles (tui/app.tcss); the replay screen brings its own

        def on_mount(self) -> None:
            self.push_screen(replay)

    result: dict[str, Picture] = {}
    failed: list[str] = []

    def drawn() -> bool:
        """Every pane laid out and drawn at its size (the boundary is computed at the pane's resolution)."""
        view = replay.query_one(RunView) if replay.is_mounted else None
        if view is None or view.state is None or not view.size.area:
            return False
        return not any(pane.stale(view.state) for pane in view.panes)

    async def take(pilot) -> None:
        try:
            deadline, settled = time.monotonic() + HEADLESS_TIMEOUT_S, 0
            while settled < 2:  # drawn, and still so after the screen has been refreshed
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not drawn in {HEADLESS_TIMEOUT_S:.0f} s")
                await pilot.pause(0.02)
                settled = settled + 1 if drawn() else 0
            result.update(run_view_pictures(replay))
        except Exception as exc:
            failed.append(f"{type(exc).__name__}: {exc}")
        finally:
            pilot.app.exit()

    depth = textual.constants.COLOR_SYSTEM
    textual.constants.COLOR_SYSTEM = "truecolor"  # the pictures in full colour, whatever the terminal
    try:
        app = Offscreen()
    finally:
        textual.constants.COLOR_SYSTEM = depth
    asyncio.run(app.run_async(headless=True, size=size, auto_pilot=take))
    if failed or app.return_code or not result:
        why = failed[0] if failed else "the app stopped"
        raise RunDirError(f"{run_dir}: the replay's pictures could not be drawn ({why})")
    return result
