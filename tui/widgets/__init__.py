"""Drawing widgets of the lab: charts, decision maps, histograms, confusion matrices, images (no training logic).

Each is imported from its module when first named here (``from dl_lab.tui.widgets import LineChart``): the app's
first screen uses few of them, and the footer and forms live in this package too."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dl_lab.tui.widgets.confusion_matrix import ConfusionMatrix
    from dl_lab.tui.widgets.decision_map import DecisionMap
    from dl_lab.tui.widgets.histogram import Histogram
    from dl_lab.tui.widgets.image_grid import ImageGrid
    from dl_lab.tui.widgets.line_chart import LineChart
    from dl_lab.tui.widgets.scatter_plot import ScatterPlot

MODULES = {
    "ConfusionMatrix": "confusion_matrix",
    "DecisionMap": "decision_map",
    "Histogram": "histogram",
    "ImageGrid": "image_grid",
    "LineChart": "line_chart",
    "ScatterPlot": "scatter_plot",
}

__all__ = ["ConfusionMatrix", "DecisionMap", "Histogram", "ImageGrid", "LineChart", "ScatterPlot"]


def __getattr__(name: str) -> Any:
    if name not in MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{MODULES[name]}"), name)
