"""Train/val splits and the normalization fitted on the training split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dl_lab.datasets import DataError, apply_normalization, fit_normalization, load
from dl_lab.datasets.split import random_split, stratified_split


def test_stratified_split_keeps_each_class_proportion():
    labels = np.repeat([0, 1, 2], [900, 90, 10])
    train, val = stratified_split(labels, 0.2, np.random.default_rng(0))
    assert np.bincount(labels[val]).tolist() == [180, 18, 2]
    assert np.bincount(labels[train]).tolist() == [720, 72, 8]


def test_split_covers_every_row_once_and_keeps_source_order():
    labels = np.random.default_rng(1).integers(0, 3, 500)
    train, val = stratified_split(labels, 0.3, np.random.default_rng(2))
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(500))
    assert (np.diff(train) > 0).all() and (np.diff(val) > 0).all()
    assert len(val) == 150


def test_split_depends_on_the_seed_only():
    labels = np.tile([0, 1], 100)
    first = stratified_split(labels, 0.2, np.random.default_rng(3))[1]
    again = stratified_split(labels, 0.2, np.random.default_rng(3))[1]
    other = stratified_split(labels, 0.2, np.random.default_rng(4))[1]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_regression_split_is_a_plain_random_draw_of_the_right_size():
    train, val = random_split(101, 0.2, np.random.default_rng(0))
    assert len(val) == 20 and len(train) == 81 and not set(train) & set(val)


def test_loaded_classification_split_is_stratified():
    ds = load("gaussian", samples=1000, val_fraction=0.3, seed=9)
    assert np.bincount(ds.y_val).tolist() == [150, 150]


def test_val_fraction_zero_validates_on_the_training_split():
    ds = load("moons", samples=100, val_fraction=0)
    assert ds.val_is_train and ds.x_val is ds.x_train and len(ds.y_val) == 100
    assert ds.describe()["val_is_train"] is True


def test_val_fraction_must_leave_training_rows():
    with pytest.raises(DataError, match=r"data\.val_fraction: expected a number in \[0, 1\), got 1"):
        load("spiral", val_fraction=1)


def test_standard_normalization_is_fitted_on_the_training_split_only():
    ds = load("xor", samples=400, val_fraction=0.25, normalize="standard", dtype="float64")
    raw_train = ds.points_2d["train_points"]
    record = ds.normalization
    np.testing.assert_allclose(record["mean"], raw_train.mean(axis=0))
    np.testing.assert_allclose(record["std"], raw_train.std(axis=0))
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1)
    everything = np.concatenate([raw_train, ds.points_2d["val_points"]])
    assert not np.allclose(record["mean"], everything.mean(axis=0), rtol=0, atol=1e-9)


def test_minmax_normalization_maps_the_training_range_to_0_1():
    ds = load("circle", samples=300, normalize="minmax", dtype="float64")
    np.testing.assert_allclose(ds.x_train.min(axis=0), 0)
    np.testing.assert_allclose(ds.x_train.max(axis=0), 1)
    assert set(ds.normalization) == {"method", "axis", "min", "max"}


def test_none_keeps_the_raw_values():
    ds = load("plane", samples=50, normalize="none", dtype="float64")
    np.testing.assert_array_equal(ds.x_train, ds.points_2d["train_points"])
    assert ds.normalization == {"method": "none", "axis": "feature"}


@pytest.mark.parametrize("method", ["none", "standard", "minmax"])
def test_recorded_normalization_survives_json_and_reproduces_the_inputs(method):
    ds = load("spiral", samples=200, noise=0.2, normalize=method, features=["x1", "x2", "x1*x2"])
    record = json.loads(json.dumps(ds.normalization))
    val_features = np.stack([*ds.points_2d["val_points"].T, np.prod(ds.points_2d["val_points"], axis=1)], axis=1)
    np.testing.assert_array_equal(apply_normalization(val_features, record, "float32"), ds.x_val)
    np.testing.assert_array_equal(ds.featurize(ds.points_2d["val_points"]), ds.x_val)


def test_a_constant_feature_is_not_divided_by_zero():
    record = fit_normalization(np.array([[1.0, 5.0], [3.0, 5.0]]), "standard")
    assert record["std"] == [1.0, 1.0]
    np.testing.assert_array_equal(apply_normalization([[2.0, 5.0]], record, "float64"), [[0.0, 0.0]])
    record = fit_normalization(np.array([[1.0, 5.0], [3.0, 5.0]]), "minmax")
    np.testing.assert_array_equal(apply_normalization([[2.0, 5.0]], record, "float64"), [[0.5, 0.0]])


def test_image_normalization_is_per_channel():
    images = np.zeros((4, 2, 3, 3), dtype=np.uint8)
    images[:, 1] = 200
    images[0, 0] = 100
    record = fit_normalization(images, "standard", axis="channel")
    np.testing.assert_allclose(record["mean"], [25.0, 200.0])
    np.testing.assert_allclose(record["std"], [np.sqrt(1875.0), 1.0])
    assert record == fit_normalization(images.astype(np.float64), "standard", axis="channel")
    out = apply_normalization(images, record, "float64")
    assert out.shape == images.shape
    np.testing.assert_allclose(out[:, 0].mean(), 0, atol=1e-12)


def test_applying_a_record_to_inputs_of_another_width_is_an_error():
    record = fit_normalization(np.ones((3, 2)), "standard")
    with pytest.raises(DataError, match="fitted on 2 features"):
        apply_normalization(np.ones((3, 4)), record)


def test_inputs_are_float64_on_request():
    ds = load("sine", dtype="float64")
    assert ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.float64
    assert load("sine").y_train.dtype == np.float32
