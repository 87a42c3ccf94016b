"""Status lines of the run screens: where the run stands, in a few words (Rich text, theme-neutral styles)."""

from __future__ import annotations

from rich.text import Text

from dl_lab.sessions.events import RunCancelled, RunEnded, RunFailed
from dl_lab.sessions.formatting import count, significant
from dl_lab.sessions.runs.state import RunState

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
    """epoch e/E · step s/S: the counters both screens show."""
    text = Text()
    total = state.started.epochs if state.started else 0
    text.append("epoch ")
    text.append(f"{state.epoch}/{total}", style="bold")
    text.append("  step ")
    text.append(f"{state.step}/{state.total_steps}", style="bold")
    return text


def metrics_text(state: RunState) -> Text:
    """The last epoch's losses and accuracy (or R²), train / val."""
    last = state.last_epoch
    text = Text()
    if last is None:
        return text
    text.append("loss ")
    text.append(f"{number(last.train_loss)} / {number(last.val_loss)}", style="bold")
    if last.val_acc is not None:
        text.append("  acc ")
        text.append(f"{last.train_acc:.1%} / {last.val_acc:.1%}", style="bold")
    elif last.val_r2 is not None:
        text.append("  R² ")
        text.append(f"{number(last.train_r2, 3)} / {number(last.val_r2, 3)}", style="bold")
    return text


def live_status(state: RunState, run_state: str, lr: float | None, run_dir) -> Text:
    """Two lines for the training screen: state, progress, speed, ETA and learning rate; metrics and run folder."""
    shown = end_state(state) or run_state
    text = Text()
    text.append(STATE_MARKS.get(shown, shown), style="bold")
    if state.started:
        text.append("  ")
        text.append_text(progress_text(state))
        speed = state.samples_per_s() if state.epochs or run_state == "running" else None  # no pauses counted
        text.append(f"  {rate(speed)} samples/s")
        if run_state == "running":
            text.append(f"  ETA {duration(state.eta_seconds())}")
    text.append("  lr ")
    text.append(number(lr), style="bold")
    text.append("\n")
    if state.started:
        text.append(state.started.name, style="bold")
        text.append("  ")
    text.append_text(metrics_text(state))
    if run_dir is not None:
        text.append(f"  → {run_dir}", style="dim")
    return text


def failure_text(end: RunFailed | None, crash: str | None, live: bool = False) -> Text:
    """Why the run failed; ``live`` (the training screen) adds the keys that act on the advice."""
    text = Text()
    if crash:
        text.append("Training stopped with an error\n", style="bold")
        text.append(crash)
        return text
    text.append("The run diverged: ", style="bold")
    text.append(f"{end.message}\n")
    text.append("Why: ", style="bold")
    text.append(f"{end.cause}\n")
    text.append("Try: ", style="bold")
    text.append("\n     ".join(end.advice))
    if live:
        text.append("\nHere: ", style="bold")
        text.append(
            "l sets the learning rate and space trains again with it; 1 edits the session (clip norm, "
            "normalization, optimizer)"
        )
    return text
