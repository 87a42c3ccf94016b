"""The embedded 8x8 digits: available offline right after install."""

from __future__ import annotations

import json

import numpy as np

from dl_lab.datasets import load


def test_digits_load_offline_with_1797_images_of_shape_1_8_8_in_10_classes():
    ds = load("digits", normalize="none", val_fraction=0)  # the autouse fixture makes any download fail
    assert ds.input_shape == (1, 8, 8) and ds.x_train.shape == (1797, 1, 8, 8)
    assert ds.num_classes == 10 and ds.class_names == [str(d) for d in range(10)]
    assert ds.x_train.min() == 0 and ds.x_train.max() == 16
    np.testing.assert_array_equal(ds.x_train, np.round(ds.x_train))
    assert np.bincount(ds.y_train).min() >= 170
    assert ds.feature_names is None and ds.source == "embedded"


def test_digits_first_image_is_the_well_known_zero():
    ds = load("digits", normalize="none", val_fraction=0)
    assert ds.y_train[0] == 0
    np.testing.assert_array_equal(ds.x_train[0, 0, 0], [0, 0, 5, 13, 9, 1, 0, 0])


def test_digits_default_split_and_scaling():
    ds = load("digits")
    assert len(ds.y_train) + len(ds.y_val) == 1797 and len(ds.y_val) == 359
    assert ds.normalization == {"method": "minmax", "axis": "channel", "min": [0.0], "max": [16.0]}
    assert ds.x_train.max() == 1.0 and ds.x_train.min() == 0.0


def test_digits_samples_takes_a_stratified_subset():
    ds = load("digits", samples=500, val_fraction=0.2, seed=1)
    assert len(ds.y_train) + len(ds.y_val) == 500
    assert np.bincount(ds.y_train, minlength=10).min() >= 35


def test_describe_is_json_serialisable():
    info = load("digits").describe()
    assert json.loads(json.dumps(info))["class_counts"]["val"] == info["class_counts"]["val"]
    assert info["input_shape"] == [1, 8, 8] and info["options"]["normalize"] == "minmax"
