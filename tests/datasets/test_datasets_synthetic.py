"""The generated sets: Playground's 2-D data, moons, sine and logic gates."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.datasets import load, synthetic

PLAYGROUND_CLASSIFIERS = ["circle", "xor", "gaussian", "spiral", "moons"]
GENERATORS = {**synthetic.CLASSIFIERS, **synthetic.REGRESSORS, "sine": synthetic.sine}


def generate(name, n=400, noise=0.0, seed=0):
    return GENERATORS[name](n, noise, np.random.default_rng(seed))


@pytest.mark.parametrize("name", PLAYGROUND_CLASSIFIERS)
def test_classification_sets_have_two_balanced_classes_labelled_0_and_1(name):
    points, labels = generate(name, n=301)
    assert points.shape == (301, 2) and points.dtype == np.float64
    assert labels.dtype == np.int64 and set(np.unique(labels)) == {0, 1}
    assert abs(np.sum(labels == 1) - np.sum(labels == 0)) <= 1 or name in ("circle", "xor")


@pytest.mark.parametrize("name", [*PLAYGROUND_CLASSIFIERS, "plane", "multi_gaussian", "sine"])
def test_each_generated_set_is_reproducible_with_the_same_seed(name):
    first = load(name, samples=120, noise=0.2, seed=5)
    again = load(name, samples=120, noise=0.2, seed=5)
    other = load(name, samples=120, noise=0.2, seed=6)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_val, again.y_val)
    assert not np.array_equal(first.x_train, other.x_train)


@pytest.mark.parametrize("name", [*PLAYGROUND_CLASSIFIERS, "plane", "multi_gaussian", "sine"])
def test_loaded_sets_have_the_requested_size_and_shapes(name):
    ds = load(name, samples=250, val_fraction=0.2)
    assert len(ds.y_train) + len(ds.y_val) == 250
    assert len(ds.y_val) == 50
    assert ds.x_train.dtype == np.float32 and ds.x_train.shape == (200, *ds.input_shape)
    if ds.task == "regression":
        assert ds.y_train.shape == (200, 1) and ds.output_dim == 1 and ds.num_classes is None
    else:
        assert ds.num_classes == 2 and ds.y_train.dtype == np.int64


def test_spiral_without_noise_lies_on_playground_spirals_of_radius_up_to_5():
    points, labels = generate("spiral", n=200)
    radius = np.hypot(points[:, 0], points[:, 1])
    expected = np.concatenate([np.arange(100), np.arange(100)]) / 100 * 5
    np.testing.assert_allclose(radius, expected, atol=1e-12)
    angle = np.arctan2(points[:, 0], points[:, 1])  # Playground's x = r sin t, y = r cos t
    t = 1.75 * np.arange(1, 100) / 100 * 2 * np.pi
    np.testing.assert_allclose(np.cos(angle[1:100]), np.cos(t), atol=1e-9)
    np.testing.assert_allclose(np.cos(angle[101:]), np.cos(t + np.pi), atol=1e-9)
    assert (labels[:100] == 1).all() and (labels[100:] == 0).all()


def test_spiral_noise_moves_points_off_the_curve_by_at_most_the_noise():
    clean, _ = generate("spiral", n=200, seed=3)
    noisy, _ = generate("spiral", n=200, noise=0.3, seed=3)
    offset = np.abs(noisy - clean)
    assert offset.max() <= 0.3 and offset.max() > 0.2


def test_circle_labels_points_inside_radius_2_5_positive_and_noise_flips_some():
    points, labels = generate("circle", n=1000)
    radius = np.hypot(*points.T)
    np.testing.assert_array_equal(labels, (radius < 2.5).astype(int))
    assert radius.max() <= 5 and not ((radius > 2.5) & (radius < 3.5)).any()
    points, labels = generate("circle", n=1000, noise=0.5)
    assert (labels != (np.hypot(*points.T) < 2.5)).sum() > 50


def test_xor_labels_by_quadrant_with_padding_and_noise_flips_some():
    points, labels = generate("xor", n=1000)
    np.testing.assert_array_equal(labels, (points[:, 0] * points[:, 1] >= 0).astype(int))
    assert np.abs(points).min() >= 0.3 and np.abs(points).max() <= 5.3
    points, labels = generate("xor", n=1000, noise=0.5)
    assert (labels != (points[:, 0] * points[:, 1] >= 0)).sum() > 50


def test_gaussian_blobs_sit_at_plus_and_minus_2_and_spread_with_noise():
    points, labels = generate("gaussian", n=20000)
    np.testing.assert_allclose(points[labels == 1].mean(axis=0), [2, 2], atol=0.05)
    np.testing.assert_allclose(points[labels == 0].mean(axis=0), [-2, -2], atol=0.05)
    np.testing.assert_allclose(points[labels == 1].var(axis=0), [0.5, 0.5], rtol=0.05)
    noisy, labels = generate("gaussian", n=20000, noise=0.5)  # Playground: variance 0.5 -> 4 over noise 0 -> 0.5
    np.testing.assert_allclose(noisy[labels == 1].var(axis=0), [4.0, 4.0], rtol=0.05)


def test_moons_without_noise_lie_on_two_scaled_half_circles():
    points, labels = generate("moons", n=200)
    x, y = points[:, 0] / 3 + 0.5, points[:, 1] / 3 + 0.25
    upper, lower = labels == 0, labels == 1
    np.testing.assert_allclose(x[upper] ** 2 + y[upper] ** 2, 1.0)
    np.testing.assert_allclose((x[lower] - 1) ** 2 + (y[lower] - 0.5) ** 2, 1.0)
    assert (y[upper] >= -1e-12).all() and (y[lower] <= 0.5 + 1e-12).all()
    noisy, _ = generate("moons", n=200, noise=0.1)
    assert np.abs(noisy - points).max() > 0.1


def test_plane_target_is_the_scaled_sum_and_noise_perturbs_it():
    points, y = generate("plane", n=300)
    np.testing.assert_allclose(y, points.sum(axis=1) / 10)
    assert np.abs(points).max() <= 6
    points, y = generate("plane", n=300, noise=0.3)
    assert np.abs(y - points.sum(axis=1) / 10).max() > 0.05


def test_multi_gaussian_takes_the_strongest_of_six_signed_bumps():
    points, y = generate("multi_gaussian", n=2000)
    centres = np.array([[-4, 2.5], [0, 2.5], [4, 2.5], [-4, -2.5], [0, -2.5], [4, -2.5]])
    signs = np.array([1, -1, 1, -1, 1, -1])
    distance = np.linalg.norm(points[:, None, :] - centres[None], axis=2)
    nearest = distance.argmin(axis=1)  # bumps are 4 apart and reach 2, so the nearest one decides
    expected = signs[nearest] * np.clip(1 - distance.min(axis=1) / 2, 0, 1)
    np.testing.assert_allclose(y, expected)
    assert y.min() >= -1 and y.max() <= 1 and (y == 0).any()


def test_sine_targets_are_sin_x_on_minus_pi_to_pi_plus_optional_noise():
    x, y = generate("sine", n=500)
    assert x.shape == (500, 1) and np.abs(x).max() <= np.pi
    np.testing.assert_allclose(y, np.sin(x[:, 0]))
    x, y = generate("sine", n=500, noise=0.1)
    assert 0.08 < np.std(y - np.sin(x[:, 0])) < 0.12


@pytest.mark.parametrize(
    ("name", "outputs"), [("gate_and", [0, 0, 0, 1]), ("gate_or", [0, 1, 1, 1]), ("gate_xor", [0, 1, 1, 0])]
)
def test_logic_gates_are_their_truth_tables_validated_on_the_same_rows(name, outputs):
    ds = load(name)
    np.testing.assert_array_equal(ds.x_train, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(ds.y_train, outputs)
    assert ds.val_is_train and ds.x_val is ds.x_train and ds.y_val is ds.y_train
    assert ds.points_2d["bounds"] == [-0.5, 1.5, -0.5, 1.5]


def test_a_gate_can_still_hold_out_a_row_when_asked():
    ds = load("gate_or", val_fraction=0.25)
    assert len(ds.y_train) == 3 and len(ds.y_val) == 1 and not ds.val_is_train


def test_generated_rows_are_shuffled_once_so_file_order_mixes_the_classes():
    ds = load("spiral", samples=200, val_fraction=0)
    assert 0.3 < ds.y_train[:50].mean() < 0.7


def test_points_2d_keep_the_raw_playground_coordinates_and_bounds():
    ds = load("circle", samples=200, normalize="standard")
    plot = ds.points_2d
    assert plot["bounds"] == [-6.0, 6.0, -6.0, 6.0]
    assert plot["train_points"].shape == (160, 2) and plot["val_points"].shape == (40, 2)
    np.testing.assert_array_equal(plot["train_labels"], ds.y_train)
    assert np.abs(plot["train_points"]).max() > 3  # raw, not standardized
    np.testing.assert_allclose(ds.featurize(plot["train_points"]), ds.x_train)


def test_non_2d_sets_have_no_points_2d():
    assert load("sine").points_2d is None
    assert load("digits").points_2d is None
