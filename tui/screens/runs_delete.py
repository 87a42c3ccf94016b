"""The runs screen's deletions (mixed into RunsScreen): d deletes the marked runs, else the one under the cursor; D
the runs started before a date. Always after a confirmation that names them; a running run is never deleted."""

from __future__ import annotations

import datetime as dt

from dl_lab.core.errors import DLLabError
from dl_lab.sessions.formatting import minute
from dl_lab.sessions.runs.directory import Run
from dl_lab.sessions.runs.removal import delete_run, parse_date, running_reason
from dl_lab.tui.dialogs.confirm import ConfirmDialog
from dl_lab.tui.dialogs.prompt import ValuePrompt

SHOWN = 12  # runs named one by one in the confirmation; the rest are counted


def run_line(run: Run) -> str:
    return f"{run.path.name}  ({run.state}, started {minute(run.started_at)})"


class RunDeletion:
    """Delete actions. The screen provides ``runs`` (the plain runs: a sweep's trials go with their sweep),
    ``marked``, ``_selected_key()`` and ``action_reload()``."""

    def action_delete(self) -> None:
        """The marked runs, else the run under the cursor: asked, then deleted (a running one is kept)."""
        by_key = {str(run.path): run for run in self.runs}
        keys = [key for key in by_key if key in self.marked] or [self._selected_key()]
        chosen = [by_key[key] for key in keys if key in by_key]
        if not chosen:
            self.notify("Put the cursor on a run (or mark runs with space); a sweep's trials go with the sweep.")
            return
        self.confirm_delete(chosen, "")

    def action_delete_older(self) -> None:
        """Ask for a date, then delete the runs started before it (asked first)."""

        def answered(text: str | None) -> None:
            if not text:
                return
            try:
                date = parse_date(text, "date")
            except DLLabError as exc:
                self.notify(str(exc), title="Delete", severity="error")
                return
            old = [  # the oldest first
                run
                for run in reversed(self.runs)
                if run.started_at is not None and run.started_at.astimezone().date() < date
            ]
            if not old:
                self.notify(f"No run here started before {date}.", title="Delete")
                return
            self.confirm_delete(old, f" started before {date}")

        month_ago = (dt.date.today() - dt.timedelta(days=30)).isoformat()
        self.app.push_screen(ValuePrompt("Delete the runs started before (YYYY-MM-DD)", month_ago), answered)

    def confirm_delete(self, chosen: list[Run], which: str) -> None:
        """The confirmation naming the runs (those running are kept, and said so), then the deletion."""
        reasons = [(run, running_reason(run)) for run in chosen]
        doomed = [run for run, reason in reasons if not reason]
        kept = "; ".join(f"{run.path.name} is {reason}" for run, reason in reasons if reason)
        if not doomed:
            self.notify(f"Nothing deleted: {kept}.", title="Delete", severity="warning")
            return
        lines = [run_line(run) for run in doomed[:SHOWN]]
        if len(doomed) > SHOWN:
            lines.append(f"… and {len(doomed) - SHOWN} more")
        count = f"{len(doomed)} run{'' if len(doomed) == 1 else 's'}"
        note = f"Kept, still running: {kept}." if kept else ""

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.run_worker(lambda: self._delete(doomed), thread=True, group="runs-delete", exit_on_error=False)

        self.app.push_screen(
            ConfirmDialog(f"Delete {count}{which}, each folder with all its files?", lines, note=note), confirmed
        )

    def _delete(self, doomed: list[Run]) -> None:
        """In a thread: each run deleted (holding its lock), then the list read again."""
        failed = []
        for run in doomed:
            try:
                delete_run(run)
            except DLLabError as exc:
                failed.append(str(exc))
        self.app.call_from_thread(self._deleted, doomed, failed)

    def _deleted(self, doomed: list[Run], failed: list[str]) -> None:
        self.marked.difference_update(str(run.path) for run in doomed)
        gone = len(doomed) - len(failed)
        self.notify(f"Deleted {gone} run{'' if gone == 1 else 's'}.", title="Delete")
        for message in failed:
            self.notify(message, title="Not deleted", severity="error")
        self.action_reload()
