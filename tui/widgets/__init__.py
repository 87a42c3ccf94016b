"""Drawing widgets of the lab: charts, decision maps, histograms, confusion matrices, images (no training logic)."""

from dl_lab.tui.widgets.confusion_matrix import ConfusionMatrix
from dl_lab.tui.widgets.decision_map import DecisionMap
from dl_lab.tui.widgets.histogram import Histogram
from dl_lab.tui.widgets.image_grid import ImageGrid
from dl_lab.tui.widgets.line_chart import LineChart
from dl_lab.tui.widgets.scatter_plot import ScatterPlot

__all__ = ["ConfusionMatrix", "DecisionMap", "Histogram", "ImageGrid", "LineChart", "ScatterPlot"]
