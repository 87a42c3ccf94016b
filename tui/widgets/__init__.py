"""Drawing widgets of the lab: charts, decision maps, histograms, confusion matrices, images (no training logic)."""
