"""Status lines of the run screens: where the run stands, in a few words (Rich text, theme-neutral styles)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from dl_lab.sessions.events import RunCancelled, RunEnded, RunFailed
from dl_lab.sessions.formatting import count, significant
from dl_lab.sessions.runs.state import RunState
from dl_lab.tui.widgets.ticks import compact

STATE_MARKS = {
    "idle": "○ ready",
    "preparing": "… preparing",
    "running": "▶ running",
    "paused": "‖ paused",
    "finished": "■ finished",
    "failed": "✖ failed",
    "cancelled": "■ stopped",
    "completed": "✔ completed",
    "stopped_early": "✔ stopped early",
}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def number(value: float | None, digits: int = 4) -> str:
    return significant(value, digits)


def rate(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.1f}k" if value >= 10_000 else count(value)


def end_state(state: RunState) -> str | None:
    end = state.end
    if isinstance(end, RunFailed):
        return "failed"
    if isinstance(end, RunCancelled):
        return "cancelled"
    if isinstance(end, RunEnded):
        return end.status
    return None


def progress_text(state: RunState) -> Text:
    """epoch e/E · step s/S: the counters both screens show (epochs completed; after a divergence the epoch and
    step that failed, as the failure box says)."""
    text = Text()
    total = state.started.epochs if state.started else 0
    epoch, step = state.epoch, state.step
    failed = state.failure
    if failed is not None:
        epoch, step = failed.epoch, max(step, failed.step)
    text.append("epoch ")
    text.append(f"{epoch}/{total}", style="bold")
    text.append("  step ")
    text.append(f"{step}/{state.total_steps}", style="bold")
    return text


def metrics_text(state: RunState) -> Text:
    """The last epoch's loss and accuracy (or R²) on the training and the validation split, labelled."""
    last = state.last_epoch
    text = Text()
    if last is None:
        return text
    for split, loss, acc, r2 in (
        ("train", last.train_loss, last.train_acc, last.train_r2),
        ("val", last.val_loss, last.val_acc, last.val_r2),
    ):
        text.append(f"{split} loss " if split == "train" else f"  {split} loss ")
        text.append(number(loss, 3), style="bold")
        if last.val_acc is not None and acc is not None:
            text.append(" acc ")
            text.append(f"{acc * 100:.3g}%", style="bold")
        elif last.val_r2 is not None and r2 is not None:
            text.append(" R² ")
            text.append(number(r2, 3), style="bold")
    return text


def live_status(
    state: RunState,
    run_state: str,
    lr: float | None,
    run_dir,
    width: int | None = None,
    pace: str | None = None,
    steps_per_s: float | None = None,
) -> Text:
    """Two lines for the training screen: state, progress, learning rate, pace, speed and ETA; metrics and run
    folder (``pace``: the pace's label, None to leave it out; ``steps_per_s``: the pace a paced run keeps, which its
    ETA follows).

    Within ``width`` columns (the status line's, 78 on an 80-column terminal) what does not fit is left out, the
    least useful first (the speed, then the ETA; the run folder, shown by its name, before the metrics), rather
    than cut in the middle."""
    shown = end_state(state) or run_state
    head = Text()
    head.append(STATE_MARKS.get(shown, shown), style="bold")
    extras: list[Text] = []  # after the learning rate, the first dropped last
    if state.started:
        head.append("  ")
        head.append_text(progress_text(state))
        if run_state == "running":
            left = max(0, state.total_steps - state.step)
            eta = left / steps_per_s if steps_per_s else state.eta_seconds()
            extras.append(Text(f"  ETA {duration(eta)}"))
        speed = state.samples_per_s() if state.epochs or run_state == "running" else None  # no pauses counted
        extras.append(Text(f"  {rate(speed)} samples/s"))
    head.append("  lr ")
    head.append(compact(lr) if lr is not None else "-", style="bold")
    if pace is not None:
        extras.insert(0, Text.assemble("  pace ", (pace, "bold")))
    text = Text()
    text.append_text(_fit(head, extras, width))
    text.append("\n")
    second = Text()
    if state.started and run_dir is None:  # a run folder's name starts with the session's
        second.append(state.started.name, style="bold")
        second.append("  ")
    second.append_text(metrics_text(state))
    folder = [Text(f"  → {Path(run_dir).name}", style="dim")] if run_dir is not None else []
    text.append_text(_fit(second, folder, width))
    return text


def _fit(text: Text, extras: list[Text], width: int | None) -> Text:
    """``text`` followed by as many of ``extras`` (in order) as fit in ``width`` columns (all of them: no width)."""
    out = text.copy()
    for extra in extras:
        if width is not None and out.cell_len + extra.cell_len > width:
            break
        out.append_text(extra)
    return out


HEALTH_WORDS = {
    "dead_units": "dead units",
    "saturation": "saturation",
    "vanishing_gradients": "vanishing gradients",
    "exploding_gradients": "exploding gradients",
    "plateau": "plateau at chance",
    "overfitting": "overfitting",
    "lr_too_high": "learning rate too high",
    "lr_too_low": "learning rate too low",
}


def health_text(state: RunState, width: int | None = None) -> Text | None:
    """The problems the run's health watch found (Diagnosis events), newest first: the newest in full (the kind in
    words and when, what was seen, what to try), each older one on one line (the kind, when, what to try), cut at
    ``width`` with an ellipsis when given. None while there are none (the box is hidden then)."""
    found = state.diagnoses
    if not found:
        return None
    newest, *older = reversed(found)
    text = Text()
    text.append(f"⚠ {HEALTH_WORDS.get(newest.kind, newest.kind)}", style="bold")
    text.append(f" (epoch {newest.epoch}): {newest.message}; ")
    text.append("try: ", style="bold")
    text.append(newest.advice)
    for d in older:
        line = Text()
        line.append(f"⚠ {HEALTH_WORDS.get(d.kind, d.kind)}", style="bold")
        line.append(f" (epoch {d.epoch}): ")
        line.append("try: ", style="bold")
        line.append(d.advice)
        if width is not None:
            line.truncate(max(1, width), overflow="ellipsis")
        text.append("\n")
        text.append_text(line)
    return text


def show_health(box, state: RunState) -> None:
    """The health box (a Static) drawn from ``state``, shown only while the run has findings; redrawn only when
    they change or the screen's width does (the training screen calls it at every tick). The box spans the screen:
    its text is as wide as the screen less its padding."""
    width = max(1, box.screen.size.width - 2) if box.is_attached else None
    key = (id(state), tuple(id(d) for d in state.diagnoses), width)
    if getattr(box, "health_key", None) == key:
        return
    box.health_key = key
    text = health_text(state, width)
    if text is not None:
        box.update(text)
    if box.display != (text is not None):
        box.display = text is not None


SHORT_FAILURE_BELOW = 40  # terminal rows under which the failure box is three lines, leaving the panes room


def set_short(box, short: bool) -> None:
    """A failure box's lines cut at the width with an ellipsis (``short``), or wrapped."""
    box.styles.text_wrap = "nowrap" if short else "wrap"
    box.styles.text_overflow = "ellipsis" if short else "fold"


def failure_text(end: RunFailed | None, crash: str | None, live: bool = False, short: bool = False) -> Text:
    """Why the run failed; ``live`` (the training screen) adds the keys that act on the advice; ``short`` (a small
    terminal) is three lines, one each for what happened, why and the first thing to try, cut at the width."""
    text = Text(no_wrap=short, overflow="ellipsis")
    if crash:
        text.append("Training stopped with an error\n", style="bold")
        text.append(crash.splitlines()[0] if short and crash else crash)
        return text
    text.append("The run diverged: ", style="bold")
    text.append(f"{end.message}\n")
    text.append("Why: ", style="bold")
    text.append(f"{end.cause}\n")
    text.append("Try: ", style="bold")
    if short:
        text.append(end.advice[0] if end.advice else "")
        if live:
            text.append("  (l sets the learning rate)", style="bold")
        return text
    text.append("\n     ".join(end.advice))
    if live:
        text.append("\nHere: ", style="bold")
        text.append(
            "l sets the learning rate and space trains again with it; 1 edits the session (clip norm, "
            "normalization, optimizer)"
        )
    return text
