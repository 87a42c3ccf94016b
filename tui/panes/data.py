"""The Build screen's data pane: dataset picker, its options, Playground's feature toggles and a preview."""

from __future__ import annotations

import dataclasses

from textual import on
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Checkbox, Label, Select, Static

from dl_lab.core.spec import Option
from dl_lab.datasets import DATASETS, FEATURES, list_datasets
from dl_lab.datasets.options import CHECKS, DATA_OPTIONS
from dl_lab.datasets.pca import Preview, preview
from dl_lab.datasets.probe import DataProbe, sample_images, sample_points
from dl_lab.tui.widgets.forms import OptionForm, say

try:  # the drawing widgets are a teammate's module; the pane still works (without pictures) before they land
    from dl_lab.tui.widgets import ImageGrid, ScatterPlot
except ImportError:  # pragma: no cover - only while the widgets are missing
    ImageGrid = ScatterPlot = None

# The data options a user edits in the form (dl_lab.datasets.options declares them all): not the seed (the
# session's), nor the input features (the checkboxes under the form).
FORM_OPTIONS = tuple(key for key in DATA_OPTIONS if key not in ("seed", "features"))
# Carried over when switching between datasets that take the same options (e.g. spiral -> circle).
PREVIEW_IMAGES = 8


def data_options(name: str) -> dict[str, Option]:
    """The form's options for dataset ``name``: those it takes, with its defaults (samples: None means "all")."""
    defaults = DATASETS[name].options
    return {k: dataclasses.replace(DATA_OPTIONS[k], default=defaults[k]) for k in FORM_OPTIONS if k in defaults}


def switched_data(old: dict, name: str) -> dict:
    """A ``data:`` mapping for dataset ``name``: its defaults, keeping the old options when both sets take them."""
    new_options = DATASETS[name].options
    old_info = DATASETS.get(old.get("dataset"))
    same_family = old_info is not None and set(old_info.options) == set(new_options)
    data = {"dataset": name, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in new_options.items()}}
    for key, value in old.items():
        if key in new_options and (same_family or key == "seed"):
            data[key] = value
    return data


class FeatureBox(Checkbox):
    """An input feature's checkbox that reads without colour: ``[x] x1`` when on, ``[ ] x1`` when off."""

    @property
    def _button(self) -> Content:
        return Content.assemble("[", ("x" if self.value else " ", self.get_visual_style("toggle--button")), "]")


def dataset_choices() -> list[tuple[str, str]]:
    return [(f"{row.name}{'' if row.offline else ' ↓'}", row.name) for row in list_datasets()]


class DataPane(Container):
    """The session's data: pick a dataset, set its options and input features, and see a preview of it.

    Posts ``Changed`` with the new ``data:`` mapping after every valid edit; ``show`` draws what a probe found.
    Its widgets are made when it is first shown (``activate``): a hidden pane costs nothing to restyle. ``P``
    switches the preview to the first two principal components of the training split (any dataset) and back.
    """

    # Uppercase: in a text field it is typed (esc leaves the field).
    BINDINGS = [Binding("P", "toggle_pca", "PCA view", tooltip="of the data: PC1 against PC2, or the data again")]

    class Changed(Message):
        def __init__(self, data: dict) -> None:
            super().__init__()
            self.data = data

    def __init__(self, data: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        self.data = dict(data)
        self.ready = False
        self._probe: DataProbe | None = None
        self._shown: DataProbe | None = None
        self.pca_view = False
        self._pca: tuple[DataProbe, Preview | str] | None = None  # the last probe's PCA preview (or why none)

    def compose(self):
        if not self.ready:
            return
        with VerticalScroll(id="data-controls"):
            with Horizontal(classes="field-row"):
                yield Label("dataset", classes="field-label")
                yield Select(
                    dataset_choices(), value=self.data["dataset"], allow_blank=False, compact=True, id="dataset"
                )
            yield Static("", id="data-info", markup=False)
            checks = {k: CHECKS[k] for k in FORM_OPTIONS}
            yield OptionForm(data_options(self.data["dataset"]), self.data, target="data", checks=checks)
            if "features" in self.data:
                with Container(id="data-features"):
                    yield Label("input features", classes="features-title")
                    chosen = set(self.data["features"] or ())
                    for name in FEATURES:
                        yield FeatureBox(name, name in chosen, compact=True, name=name, classes="feature")
        with Vertical(id="preview"):
            if ScatterPlot is not None:
                yield ScatterPlot(id="preview-scatter")
                yield ImageGrid(id="preview-images")
            yield Static("", id="preview-note", markup=False)

    def on_mount(self) -> None:
        self.border_title = "data"

    async def activate(self) -> None:
        """Make the pane's widgets (once) and draw the last probe."""
        if not self.ready:
            self.ready = True
            await self._remake()

    async def load(self, data: dict) -> None:
        """Show another ``data:`` mapping (a session was opened): the picker, the options and the features."""
        self.data = dict(data)
        if self.ready:
            await self._remake()

    async def _remake(self) -> None:
        self._shown = None
        await self.recompose()
        if self._probe is not None:
            self.show(self._probe)

    @on(Select.Changed, "#dataset")
    async def _dataset_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is Select.NULL or event.value == self.data["dataset"]:
            return
        self.data = switched_data(self.data, event.value)
        self.post_message(self.Changed(dict(self.data)))
        await self._remake()
        self.query_one("#dataset", Select).focus()

    @on(OptionForm.Changed)
    def _options_changed(self, event: OptionForm.Changed) -> None:
        event.stop()
        self.data = {**self.data, **event.values}
        self.post_message(self.Changed(dict(self.data)))

    @on(Checkbox.Changed, ".feature")
    def _feature_toggled(self, event: Checkbox.Changed) -> None:
        event.stop()
        chosen = [box.name for box in self.query(".feature").results(Checkbox) if box.value]
        if not chosen:
            say(self, "keep at least one input feature", severity="warning")
            with event.checkbox.prevent(Checkbox.Changed):
                event.checkbox.value = True
            return
        self.data = {**self.data, "features": [f for f in FEATURES if f in chosen]}
        self.post_message(self.Changed(dict(self.data)))

    def show_error(self, message: str) -> bool:
        return any(form.show_error(message) for form in self.query(OptionForm).results(OptionForm))

    def show(self, probe: DataProbe) -> None:
        """Describe the probed dataset and draw its preview (only when the probe is a new one)."""
        self._probe = probe
        if not self.ready or not self.is_mounted:
            return
        self.query_one("#data-info", Static).update(f"{DATASETS[probe.name].description}\n{probe.note}")
        if probe is self._shown:
            return
        self._shown = probe
        self._preview(probe)

    def action_toggle_pca(self) -> None:
        """P: the preview shows the data's first two principal components, or the data again."""
        self.pca_view = not self.pca_view
        if self.ready and self.is_mounted and self._probe is not None:
            self._preview(self._probe)

    def pca_preview(self, probe: DataProbe) -> Preview | str:
        """The probed dataset's PCA preview (computed once per probe), or why there is none."""
        if self._pca is None or self._pca[0] is not probe:
            try:
                found: Preview | str = preview(probe.dataset) if probe.dataset is not None else "no data loaded"
            except ValueError as exc:  # DataError, or an SVD that did not converge
                found = str(exc)
            self._pca = (probe, found)
        return self._pca[1]

    def _preview(self, probe: DataProbe) -> None:
        note = self.query_one("#preview-note", Static)
        scatter = self.query("#preview-scatter").first() if ScatterPlot is not None else None
        images = self.query("#preview-images").first() if ImageGrid is not None else None
        shown = None
        if self.pca_view and probe.dataset is not None and scatter is not None:
            found = self.pca_preview(probe)
            for widget in (scatter, images):
                if widget is not None:
                    widget.display = widget is scatter and isinstance(found, Preview)
            if isinstance(found, Preview):
                names = found.class_names
                scatter.set_points(
                    found.points, found.labels, found.bounds, regression=found.regression, class_names=names
                )
                note.update(f"PCA · {found.line} · P: the data")
            else:
                note.update(f"no PCA view: {found}")
            note.display = True
            return
        if probe.dataset is not None:
            points = sample_points(probe.dataset)
            if points is not None and scatter is not None:
                pts, labels, bounds, regression = points
                if probe.dataset.input_shape == (1,):  # y against x (sine): a curve with its axes, no colour key
                    scatter.set_curve(pts, bounds)
                else:
                    names = None if regression else probe.dataset.class_names
                    scatter.set_points(pts, labels, bounds, regression=regression, class_names=names)
                shown = scatter
            elif len(probe.dataset.data_shape) == 3 and images is not None:  # the images, with data.pca too
                pictures, captions = sample_images(probe.dataset, PREVIEW_IMAGES)
                images.set_images(pictures, captions)
                shown = images
        for widget in (scatter, images):
            if widget is not None:
                widget.display = widget is shown
        if shown is not None:
            note.update("")
        elif probe.error:
            note.update(f"no preview: {probe.error}")
        elif not probe.offline:
            note.update(f"{probe.name} downloads on first run (then it is cached): no preview yet")
        else:
            note.update("no preview for this dataset" if ScatterPlot is not None else "preview: widgets not installed")
        note.display = shown is None
