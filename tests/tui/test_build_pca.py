"""The data pane's PCA view: P shows the training split's first two principal components, and the data again."""

from __future__ import annotations

import re
from pathlib import Path

from textual.app import App

from dl_lab.datasets.pca import Preview
from dl_lab.datasets.probe import probe_data
from dl_lab.tui.panes import data
from dl_lab.tui.panes.data import DataPane


class PaneApp(App):
    """The data pane alone, on the built-in digits (the build screen's stylesheet, for its layout)."""

    CSS_PATH = Path(data.__file__).parents[1] / "screens" / "build.tcss"

    def compose(self):
        yield DataPane({"dataset": "digits", "seed": 0}, id="data-pane")

    async def on_mount(self) -> None:
        pane = self.query_one(DataPane)
        await pane.activate()
        pane.show(probe_data({"dataset": "digits", "seed": 0}))
        pane.query_one("#data-controls").focus()


async def test_p_on_the_data_pane_shows_digits_on_their_first_two_principal_components_and_back():
    app = PaneApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = app.query_one(DataPane)
        images, scatter = app.query_one("#preview-images"), app.query_one("#preview-scatter")
        assert images.display and not scatter.display and not pane.pca_view
        assert any(b.binding.description == "PCA view" for b in app.screen.active_bindings.values())  # in `?`
        await pilot.press("P")
        assert pane.pca_view and scatter.display and not images.display
        note = str(app.query_one("#preview-note").render())
        assert re.match(r"PCA · PC1 1\d\.\d% · PC2 1\d\.\d% of the variance \(1438 training rows\) · P: the data", note)
        assert isinstance(pane.pca_preview(pane._probe), Preview)
        assert scatter.data.num_classes == 10 and len(scatter.data.xy) == 1438
        shown = "\n".join(scatter.render_line(y).text for y in range(scatter.size.height))
        assert all(f"● {k}" in shown for k in range(10)), shown  # the whole key, wrapped where the pane is narrow
        await pilot.press("P")
        assert not pane.pca_view and images.display and not scatter.display
