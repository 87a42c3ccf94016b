"""Playground's optional input features for the 2-D sets."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.datasets import DataError, load, make_features


def test_default_features_are_x1_and_x2():
    ds = load("xor", normalize="none")
    assert ds.feature_names == ["x1", "x2"] and ds.input_shape == (2,)
    np.testing.assert_allclose(ds.x_train, ds.points_2d["train_points"].astype(np.float32))


def test_every_playground_feature_is_computed_from_the_raw_point():
    names = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
    ds = load("spiral", samples=100, noise=0.1, features=names, normalize="none", dtype="float64")
    x1, x2 = ds.points_2d["train_points"].T
    expected = np.stack([x1, x2, x1**2, x2**2, x1 * x2, np.sin(x1), np.sin(x2)], axis=1)
    np.testing.assert_allclose(ds.x_train, expected)
    assert ds.feature_names == names and ds.input_shape == (7,)


def test_features_keep_the_order_given():
    out = make_features(np.array([[2.0, 3.0]]), ["x1*x2", "x1"])
    np.testing.assert_array_equal(out, [[6.0, 2.0]])


def test_common_spellings_of_features_are_accepted():
    ds = load("xor", features=["X1", "x2", "x1x2", "x1**2", "sin x2"])
    assert ds.feature_names == ["x1", "x2", "x1*x2", "x1^2", "sin(x2)"]


def test_unknown_feature_is_an_error_suggesting_the_closest():
    with pytest.raises(
        DataError, match=r"data\.features: unknown feature 'x1\^3' \(did you mean 'x1\^2'\?\); valid: x1,"
    ):
        load("xor", features=["x1", "x1^3"])


def test_repeated_or_empty_feature_lists_are_errors():
    with pytest.raises(DataError, match="listed twice"):
        load("xor", features=["x1", "x1"])
    with pytest.raises(DataError, match="non-empty list"):
        load("xor", features=[])


def test_featurize_maps_a_grid_to_model_inputs_for_boundary_maps():
    ds = load("circle", features=["x1", "x2", "x1^2", "x2^2"], normalize="standard")
    grid = np.stack(np.meshgrid(np.linspace(-6, 6, 5), np.linspace(-6, 6, 5)), axis=-1).reshape(-1, 2)
    inputs = ds.featurize(grid)
    assert inputs.shape == (25, 4) and inputs.dtype == np.float32
    record = ds.normalization
    expected = (grid[:, 0] ** 2 - record["mean"][2]) / record["std"][2]
    np.testing.assert_allclose(inputs[:, 2], expected, rtol=1e-5)


def test_featurize_rejects_points_of_the_wrong_shape():
    with pytest.raises(DataError, match=r"featurize: expected"):
        load("circle").featurize(np.zeros((4, 3)))
