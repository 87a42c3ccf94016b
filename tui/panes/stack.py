"""The Build screen's model widgets: the editable layer stack and the live model summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist

from dl_lab.sessions.config.stack import Path, StackReport, describe, layer_at, paths
from dl_lab.sessions.formatting import human


def option_id(path: Path) -> str:
    return "L" + "_".join("e" if p is None else str(p) for p in path)


def path_of(option_id: str | None) -> Path | None:
    if not option_id or not option_id.startswith("L"):
        return None
    return tuple(None if p == "e" else int(p) for p in option_id[1:].split("_"))


@dataclass
class StackView:
    """What the stack shows: the model's layers, the last shape check, and the layer to flag (with why)."""

    model: list = field(default_factory=list)
    report: StackReport | None = None
    flag_path: Path | None = None
    flag: str | None = None
    warn_path: Path | None = None  # a model that builds but should change (a squashed output), with why
    warning: str | None = None


class LayerStack(OptionList):
    """The model's layers as an editable list (the screen's bindings edit it).

    Residual blocks list their inner layers indented under them. The layer a shape error is about turns red with
    the message under it; the layers after it, which could not be checked, are dimmed.
    """

    COMPONENT_CLASSES = {"layer-stack--error", "layer-stack--unchecked", "layer-stack--index", "layer-stack--hint"}
    view: reactive[StackView] = reactive(StackView, always_update=True, init=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "layers"

    @property
    def cursor_path(self) -> Path | None:
        option = self.highlighted_option
        return path_of(option.id) if option is not None else None

    @property
    def error_path(self) -> Path | None:
        """The layer shown in red: one that does not fit, or the last one when its output does not suit the loss."""
        return self.view.flag_path

    def select_path(self, path: Path | None) -> None:
        """Highlight the row of ``path`` (the nearest row above it when it is gone)."""
        if path is None or not self.option_count:
            return
        for candidate in (path, path[:1], (max(path[0] - 1, 0),)):
            try:
                self.highlighted = self.get_option_index(option_id(candidate))
                return
            except OptionDoesNotExist:
                continue

    def watch_view(self, view: StackView) -> None:
        keep = self.cursor_path
        self.set_options(list(self._options_for(view)))
        self.select_path(keep if keep is not None else (0,))

    def _options_for(self, view: StackView):
        report = view.report or StackReport(None)
        built = {r.path for r in report.rows}
        all_paths = paths(view.model)
        for n, path in enumerate(all_paths):
            spec = layer_at(view.model, path)
            last_inner = n + 1 == len(all_paths) or len(all_paths[n + 1]) == 1
            text = self._prompt(path, spec, last_inner)
            if path == view.flag_path:
                error = self.get_component_rich_style("layer-stack--error", partial=True)
                text.stylize(error)
                text = Text.assemble(("✗", error), text[1:])
            elif report.input_shape is not None and path not in built and spec is not None:
                text.stylize(self.get_component_rich_style("layer-stack--unchecked", partial=True))
            yield Option(text, id=option_id(path))
            if path == view.flag_path and view.flag:
                style = self.get_component_rich_style("layer-stack--error", partial=True)
                message = Text(f"     {view.flag}", style=style)
                yield Option(message, disabled=True)
        if not view.model:
            yield Option(Text("  no layers yet: press a to add one", self._hint_style()), disabled=True)

    def _hint_style(self):
        return self.get_component_rich_style("layer-stack--hint", partial=True)

    def _prompt(self, path: Path, spec, last_inner: bool) -> Text:
        index = self.get_component_rich_style("layer-stack--index", partial=True)
        if len(path) == 1:
            return Text.assemble(" ", (f"{path[0]:>2} ", index), describe(spec))
        branch = "└ " if last_inner else "├ "
        if spec is None:
            return Text.assemble("    ", (branch, index), ("empty block: a adds a layer", self._hint_style()))
        return Text.assemble("    ", (branch, index), describe(spec))


COLUMNS = (("#", "index"), ("layer", "layer"), ("output", "shape"), ("params", "params"), ("FLOPs", "flops"))


class ModelSummary(Vertical):
    """The live model summary: each layer's output shape, parameters and FLOPs per sample, then the totals.

    When a layer does not fit, the rows stop there and that layer's row says so.
    """

    COMPONENT_CLASSES = {"model-summary--error"}
    report: reactive[StackReport | None] = reactive(None, always_update=True)

    def compose(self):
        yield DataTable(id="summary-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="summary-note", markup=False)
        yield Static("", id="summary-totals", markup=False)

    def show_note(self, text: str = "", severity: str = "error") -> None:
        """A line (wrapped) under the table: the full error of the layer that does not fit, or a warning."""
        note = self.query_one("#summary-note", Static)
        note.update(text)
        note.display = bool(text)
        note.set_class(severity == "warning", "-warning")

    def on_mount(self) -> None:
        self.border_title = "summary"
        self._render_report(self.report)

    def watch_report(self, report: StackReport | None) -> None:
        if self.is_mounted:
            self._render_report(report)

    def _render_report(self, report: StackReport | None) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)  # columns too: their widths would only ever grow
        rows: list[tuple[str, list]] = []
        if report is not None:
            rows.append(("input", ["", "input", _shape(report.input_shape), "", ""]))
            params = [f"{row.params:,}" for row in report.rows]
            flops = [human(row.flops) for row in report.rows]
            pw, fw = max([len("params"), *map(len, params)]), max([len("FLOPs"), *map(len, flops)])
            for row, p, f in zip(report.rows, params, flops, strict=True):
                index = str(row.path[0]) if len(row.path) == 1 else f"{row.path[0]}.{row.path[1]}"
                label = row.kind if len(row.path) == 1 else f"  {row.kind}"  # the stack beside it has the details
                rows.append((index, [index, label, _shape(row.output_shape), p.rjust(pw), f.rjust(fw)]))
            if report.error and report.error_path is not None:
                style = self.get_component_rich_style("model-summary--error", partial=True)
                where = ".".join(map(str, report.error_path))
                label = Text(f"✗ {report.error_label or 'layer'}", style)
                rows.append((where, [where, label, "does not fit", "", ""]))  # the whole message is under the table
        # Widths from the cells themselves: a table cleared and refilled at once kept its old widths and cut
        # a longer cell ("✗ res", "does n").
        for n, (label, key) in enumerate(COLUMNS):
            column = [Text(c) if isinstance(c, str) else c for _, cells in rows for c in cells[n : n + 1]]
            table.add_column(label, key=key, width=max([len(label), *(c.cell_len for c in column)]))
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if report is None:
            return
        totals = f"total {report.params:,} parameters · {human(report.flops)} FLOPs/sample"
        if report.ok:
            totals += f" · output {_shape(report.output_shape)}"
        self.query_one("#summary-totals", Static).update(totals)

    @property
    def rows(self) -> list[list]:
        """The table's rows as plain values (for tests and the help)."""
        table = self.query_one(DataTable)
        return [[str(c).strip() for c in table.get_row_at(i)] for i in range(table.row_count)]


def _shape(shape) -> str:
    if shape is None:
        return "?"
    return "(" + ", ".join(map(str, shape)) + (",)" if len(shape) == 1 else ")")
