"""The Build screen's layer edits: add, insert, edit, delete, move, copy, fix (mixed into BuildScreen)."""

from __future__ import annotations

import copy

from dl_lab.sessions.config import stack as stack_ops
from dl_lab.sessions.config.stack import residual_inner
from dl_lab.tui.dialogs.build_dialogs import ChoiceDialog, LayerDialog, layer_kinds
from dl_lab.tui.widgets.forms import say

# First values of a new layer's required options (and a hidden layer's usual activation).
PREFILL = {
    "dense": {"units": 16, "activation": "relu"},
    "conv2d": {"filters": 8, "kernel": 3, "activation": "relu"},
    "activation": {"name": "relu"},
    "dropout": {"p": 0.2},
}


def where_of(path) -> str:
    """``(2,)`` -> ``model[2]``; ``(2, 0)`` -> ``model[2].residual.layers[0]`` (the session's own paths)."""
    return f"model[{path[0]}]" + (f".residual.layers[{path[1]}]" if len(path) == 2 else "")


class LayerEdits:
    """Layer actions on the highlighted row of the stack. The screen provides ``stack``, ``draft``,
    ``set_model(model, cursor, undoable=True)`` (check the new layers, highlight ``cursor``, and remember the old
    ones for ctrl+z), ``undo_history`` and ``redo_history`` (lists of ``(model, cursor)``), and ``ask_unsaved``."""

    last_kind = "dense"

    def action_add_layer(self, above: bool = False) -> None:
        """Pick a layer kind, fill in its form, and put it below (or above) the highlighted layer."""
        path = self.stack.cursor_path
        _, new_path = stack_ops.insert(self.draft["model"], path, {"flatten": {}}, above)
        report = self.stack.view.report
        shape = report.shape_before(new_path) if report else None

        def layer_made(spec: dict | None) -> None:
            if spec is not None:
                self.last_kind = stack_ops.kind_of(spec)
                self.set_model(*stack_ops.insert(self.draft["model"], path, spec, above))

        def kind_chosen(kind: str | None) -> None:
            if kind == "residual":  # nothing to fill in: a block that keeps the shape, edited in the stack
                layer_made({"residual": {"layers": residual_inner(shape)}})
            elif kind is not None:
                where = f"{where_of(new_path)}.{kind}"
                dialog = LayerDialog(kind, PREFILL.get(kind, {}), where=where, input_shape=shape, adding=True)
                self.app.push_screen(dialog, layer_made)

        title = "insert a layer above" if above else "add a layer below"
        self.app.push_screen(ChoiceDialog(title, layer_kinds(), highlight=self.last_kind), kind_chosen)

    def action_insert_layer(self) -> None:
        self.action_add_layer(above=True)

    def action_edit_layer(self) -> None:
        path = self.stack.cursor_path
        spec = stack_ops.layer_at(self.draft["model"], path) if path is not None else None
        if spec is None:  # an empty stack or an empty block: enter adds
            self.action_add_layer()
            return
        kind = stack_ops.kind_of(spec)
        if kind == "residual":
            self.stack.select_path((path[0], 0))
            say(self, "a residual block's layers are listed under it: edit them there (a adds one below)")
            return
        report = self.stack.view.report
        shape = report.shape_before(path) if report else None
        dialog = LayerDialog(kind, stack_ops.options_of(spec), where=f"{where_of(path)}.{kind}", input_shape=shape)

        def edited(new_spec: dict | None) -> None:
            if new_spec is not None:
                self.set_model(stack_ops.replace(self.draft["model"], path, new_spec), path)

        self.app.push_screen(dialog, edited)

    def action_delete_layer(self) -> None:
        if self.stack.cursor_path is not None:
            self.set_model(*stack_ops.delete(self.draft["model"], self.stack.cursor_path))

    def action_move_layer(self, step: int) -> None:
        if self.stack.cursor_path is not None:
            self.set_model(*stack_ops.move(self.draft["model"], self.stack.cursor_path, step))

    def action_duplicate_layer(self) -> None:
        if self.stack.cursor_path is not None:
            self.set_model(*stack_ops.duplicate(self.draft["model"], self.stack.cursor_path))

    def action_fix_layers(self) -> None:
        """Apply the fix the flagged error names: a flatten layer before it, the output size the loss needs (with
        no activation on it), a residual block's width; or, for a valid model, logits out of the output layer."""
        view = self.stack.view
        path, message = (view.flag_path, view.flag) if view.flag else (view.warn_path, view.warning)
        fixed = stack_ops.fix(self.draft["model"], path, message, self.draft.get("loss"))
        if fixed is None:
            say(
                self,
                f"nothing to fix automatically here: {message}" if message else "the layers fit",
                severity="warning",
            )
            return
        model, cursor, what = fixed
        self.set_model(model, cursor)
        say(self, what)

    def action_new_model(self) -> None:
        self.ask_unsaved("start a new model", self._new_model)

    def _new_model(self) -> None:
        self.set_model([], None)
        say(self, "an empty model for this data: press a to add layers (ctrl+z brings the layers back)")

    def action_undo(self) -> None:
        """Ctrl+z: the layers as they were before the last layer edit (up to UNDO_DEPTH edits back)."""
        self._step_history(self.undo_history, self.redo_history, "undo")

    def action_redo(self) -> None:
        """Ctrl+y (or ctrl+shift+z): the layer edit last undone, again."""
        self._step_history(self.redo_history, self.undo_history, "redo")

    def _step_history(self, source, target, what: str) -> None:
        if not source:
            say(self, f"nothing to {what}: {what} acts on layer edits", severity="warning")
            return
        model, cursor = source.pop()
        target.append((copy.deepcopy(self.draft["model"]), self.stack.cursor_path))
        self.set_model(model, cursor, undoable=False)
        left = len(source)
        say(self, f"{'undid' if what == 'undo' else 'redid'} a layer edit ({left} more to {what})", timeout=2)
