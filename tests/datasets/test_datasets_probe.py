"""A session's input shape without downloading, and the data options' bounds read from their declaration."""

from __future__ import annotations

import pytest

from dl_lab.datasets import DataError
from dl_lab.datasets import probe as probe_module
from dl_lab.datasets.options import CHECKS, DATA_OPTIONS
from dl_lab.datasets.probe import input_shape, probe_data


def test_the_input_shape_of_a_download_is_the_registry_s_and_nothing_is_fetched(monkeypatch):
    def no_load(*args, **kwargs):
        raise AssertionError("loaded")

    monkeypatch.setattr(probe_module, "load_config", no_load)
    assert input_shape({"dataset": "cifar10"}) == (3, 32, 32)
    assert input_shape({"dataset": "spiral", "features": ["x1", "x2", "sin(x1)"]}) == (3,)


def test_the_input_shape_of_a_local_set_is_the_loaded_data_s(tmp_path):
    assert input_shape({"dataset": "sine", "samples": 20}) == (1,)
    assert input_shape({"dataset": "digits", "samples": 50}) == (1, 8, 8)
    (tmp_path / "t.csv").write_text("a,b,c,target\n1,2,3,0\n4,5,6,1\n7,8,9,0\n1,1,1,1\n")
    assert input_shape({"dataset": "csv", "train": "t.csv"}, base_dir=tmp_path) == (3,)
    assert probe_data({"dataset": "csv", "train": "t.csv"}, tmp_path).input_shape == (3,)
    assert probe_data({"dataset": "mnist"}).input_shape == (1, 28, 28)


def test_the_checks_use_the_declared_bounds():
    samples, noise = DATA_OPTIONS["samples"], DATA_OPTIONS["noise"]
    expected = rf"^data\.samples: expected an integer from {samples.min} to {samples.max:.0f}, got 1$"
    with pytest.raises(DataError, match=expected):
        CHECKS["samples"]("data.samples", samples.min - 1)
    assert CHECKS["samples"]("data.samples", samples.max) == samples.max
    with pytest.raises(DataError, match=r"^data\.noise: expected a number >= 0, got -0.1$"):
        CHECKS["noise"]("data.noise", noise.min - 0.1)
    with pytest.raises(DataError, match=r"^data\.val_fraction: expected a number in \[0, 1\), got 1"):
        CHECKS["val_fraction"]("data.val_fraction", 1)
    assert CHECKS["normalize"]("data.normalize", "MinMax") == "minmax"
