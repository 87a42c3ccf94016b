"""The note under a build pane's field (its help, or its error) is made when it is first shown, not with the screen:
a field shows it once it has the focus or an invalid value; a dialog's fields show theirs from the start."""

from __future__ import annotations

from lab_runs import wait_for
from textual.widgets import Static

from dl_lab.tui.app import make_app
from dl_lab.tui.dialogs.build_dialogs import LayerDialog
from dl_lab.tui.widgets.forms import OptionField


def field(app, where: str) -> OptionField:
    return next(f for f in app.screen.query(OptionField).results(OptionField) if f.where == where)


def note(field: OptionField) -> str | None:
    """The note's text when it is made and shown, else None."""
    notes = list(field.query(".field-note").results(Static))
    return str(notes[0].render()) if notes and notes[0].display and notes[0].styles.display == "block" else None


async def test_a_pane_field_s_note_shows_its_help_when_focused_and_its_error_when_invalid(tmp_path):
    app = make_app(runs_root=tmp_path, sweeps_root=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: any(f.where == "optimizer.lr" for f in app.screen.query(OptionField)))
        lr, epochs = field(app, "optimizer.lr"), field(app, "training.epochs")
        assert not lr.query(".field-note") and not epochs.query(".field-note")  # none made at start

        await pilot.press("L")  # the learning rate's own key focuses its field
        await wait_for(pilot, lambda: note(lr) is not None)
        assert note(lr) == lr.help_text
        assert not epochs.query(".field-note")

        epochs.control.value = "0"  # typed into a field that never had the focus: refused, its note says why
        await wait_for(pilot, lambda: note(epochs) is not None)
        assert epochs.error.startswith("training.epochs:") and note(epochs) == epochs.error


async def test_a_dialog_s_fields_show_their_notes_from_the_start(tmp_path):
    app = make_app(runs_root=tmp_path, sweeps_root=tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("enter")  # edit the first layer
        await wait_for(pilot, lambda: isinstance(app.screen, LayerDialog))
        dialog = app.screen
        assert isinstance(dialog, LayerDialog)
        await wait_for(pilot, lambda: all(note(f) is not None for f in dialog.form.fields))
        assert [note(f) for f in dialog.form.fields] == [f.help_text for f in dialog.form.fields]
