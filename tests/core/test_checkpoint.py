"""Checkpoints are plain .npz files with the contract's keys and PyTorch's shapes."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.core import CheckpointError, Sequential

SPECS = [
    {"conv2d": {"filters": 4, "kernel": 3, "padding": "same", "activation": "relu"}},
    {"batchnorm": {}},
    {"maxpool2d": {"size": 2}},
    {"residual": {"layers": [{"conv2d": {"filters": 4, "kernel": 3, "padding": "same"}}, {"batchnorm": {}}]}},
    {"flatten": {}},
    {"dropout": {"p": 0.1}},
    {"dense": {"units": 3, "bias": False}},
]


def test_checkpoint_keys_follow_the_model_order_and_nest_for_residual_blocks(tmp_path):
    model = Sequential(SPECS, (2, 6, 6), seed=0)
    model.save(tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as data:
        keys = list(data.files)
        shapes = {k: data[k].shape for k in keys}
    assert keys == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "3.0.weight",
        "3.0.bias",
        "3.1.weight",
        "3.1.bias",
        "3.1.running_mean",
        "3.1.running_var",
        "6.weight",
    ]
    assert shapes["0.weight"] == (4, 2, 3, 3) and shapes["6.weight"] == (3, 36)


def test_a_saved_checkpoint_loads_back_into_a_fresh_model_with_the_same_outputs(tmp_path):
    a = Sequential(SPECS, (2, 6, 6), seed=0)
    x = np.random.default_rng(0).standard_normal((5, 2, 6, 6)).astype(np.float32)
    a.forward(x, training=True)  # moves the running statistics away from their start
    a.save(tmp_path / "a.npz")
    b = Sequential(SPECS, (2, 6, 6), seed=99)
    assert not np.array_equal(a.forward(x), b.forward(x))
    b.load(tmp_path / "a.npz")
    assert np.array_equal(a.forward(x), b.forward(x))


def test_loading_a_checkpoint_of_another_model_names_the_mismatch(tmp_path):
    Sequential([{"dense": {"units": 3}}], (4,)).save(tmp_path / "small.npz")
    with pytest.raises(CheckpointError, match=r"0\.weight has shape \(3, 4\), the model expects \(5, 4\)"):
        Sequential([{"dense": {"units": 5}}], (4,)).load(tmp_path / "small.npz")
    with pytest.raises(CheckpointError, match=r"missing: 1\.weight, 1\.bias"):
        Sequential([{"dense": {"units": 3}}, {"dense": {"units": 2}}], (4,)).load(tmp_path / "small.npz")


def test_a_file_that_is_not_an_npz_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"not a readable \.npz checkpoint"):
        Sequential([{"dense": {"units": 3}}], (4,)).load(bad)
