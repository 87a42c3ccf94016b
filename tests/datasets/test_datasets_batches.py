"""Mini-batch iteration: file order without shuffling, seeded shuffling, every row exactly once."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.datasets import DataError, load


def test_unshuffled_batch_k_is_rows_k_b_to_k_b_plus_b_of_the_training_split():
    ds = load("spiral", samples=103, val_fraction=0)
    batches = list(ds.batches("train", 10, shuffle=False))
    assert len(batches) == ds.num_batches("train", 10) == 11
    for k, (x, y) in enumerate(batches):
        np.testing.assert_array_equal(x, ds.x_train[k * 10 : k * 10 + 10])
        np.testing.assert_array_equal(y, ds.y_train[k * 10 : k * 10 + 10])
    assert len(batches[-1][1]) == 3


def test_shuffled_batches_cover_every_row_exactly_once():
    ds = load("circle", samples=250, val_fraction=0.2)
    rows = np.concatenate([x for x, _ in ds.batches("train", 32, shuffle=True, rng=np.random.default_rng(0))])
    assert rows.shape == ds.x_train.shape
    order = np.lexsort(rows.T)
    np.testing.assert_array_equal(rows[order], ds.x_train[np.lexsort(ds.x_train.T)])
    assert not np.array_equal(rows, ds.x_train)


def test_shuffling_follows_the_given_generator():
    ds = load("xor", samples=100)
    first = [y for _, y in ds.batches("train", 16, shuffle=True, rng=np.random.default_rng(5))]
    again = [y for _, y in ds.batches("train", 16, shuffle=True, rng=np.random.default_rng(5))]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_without_a_generator_shuffling_is_seeded_and_changes_every_epoch():
    one, two = load("xor", samples=100, seed=3), load("xor", samples=100, seed=3)
    epoch1 = np.concatenate([y for _, y in one.batches("train", 100, shuffle=True)])
    epoch2 = np.concatenate([y for _, y in one.batches("train", 100, shuffle=True)])
    np.testing.assert_array_equal(epoch1, np.concatenate([y for _, y in two.batches("train", 100, shuffle=True)]))
    assert not np.array_equal(epoch1, epoch2)


def test_val_batches_cover_the_val_split():
    ds = load("moons", samples=100, val_fraction=0.3)
    ys = np.concatenate([y for _, y in ds.batches("val", 7)])
    np.testing.assert_array_equal(ys, ds.y_val)
    assert ds.num_batches("val", 7) == 5


def test_image_batches_converted_on_the_fly_equal_the_converted_split():
    ds = load("digits", normalize="standard")
    order = np.random.default_rng(0).permutation(len(ds.y_train))[:64]
    x_fly, y_fly = next(ds.batches("train", 64, shuffle=True, rng=np.random.default_rng(0)))
    np.testing.assert_array_equal(x_fly, ds.x_train[order])
    np.testing.assert_array_equal(y_fly, ds.y_train[order])
    x_ready, _ = next(ds.batches("train", 64, shuffle=True, rng=np.random.default_rng(0)))
    np.testing.assert_array_equal(x_ready, x_fly)
    assert x_fly.shape == (64, 1, 8, 8) and x_fly.dtype == np.float32


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_batch_size_must_be_a_positive_integer(size):
    with pytest.raises(DataError, match="batch_size: expected a positive integer"):
        load("xor").batches("train", size)


def test_unknown_split_name_is_an_error():
    with pytest.raises(DataError, match="split: expected 'train' or 'val', got 'test'"):
        load("xor").num_batches("test", 4)
