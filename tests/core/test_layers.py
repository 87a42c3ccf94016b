"""Layer behaviour beyond gradients: dropout, batchnorm modes, pooling ties, shape inference and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.core import ConfigError, ModelError, Sequential


def test_dropout_keeps_the_expected_activation(backend):
    model = Sequential([{"dropout": {"p": 0.3}}], (1000,), backend=backend, seed=1)
    x = backend.asarray(np.ones((200, 1000), dtype=np.float32))
    y = backend.to_host(model.forward(x, training=True))
    assert y.mean() == pytest.approx(1.0, abs=0.01)
    assert (y == 0).mean() == pytest.approx(0.3, abs=0.01)
    assert np.unique(y).tolist() == pytest.approx([0.0, 1 / 0.7])
    assert np.array_equal(backend.to_host(model.forward(x, training=False)), backend.to_host(x))


def test_batchnorm_in_eval_uses_running_statistics(backend):
    model = Sequential([{"batchnorm": {"momentum": 0.5}}], (2,), backend=backend, dtype="float64")
    x = np.array([[1.0, 10.0], [3.0, 30.0]])
    train_out = backend.to_host(model.forward(backend.asarray(x), training=True))
    assert np.allclose(train_out, [[-1, -1], [1, 1]], atol=1e-4)
    rm = backend.to_host(model.layers[0].buffers()[0][1])
    rv = backend.to_host(model.layers[0].buffers()[1][1])
    assert rm.tolist() == pytest.approx([1.0, 10.0])  # 0.5 * 0 + 0.5 * mean
    assert rv.tolist() == pytest.approx([0.5 + 0.5 * 2.0, 0.5 + 0.5 * 200.0])  # unbiased batch variance
    eval_out = backend.to_host(model.forward(backend.asarray(x), training=False))
    assert np.allclose(eval_out, (x - rm) / np.sqrt(rv + 1e-5))


def test_maxpool_sends_a_tied_window_gradient_to_its_first_maximum(backend):
    model = Sequential([{"maxpool2d": {"size": 2}}], (1, 2, 4), backend=backend)
    model.layers[0].needs_input_grad = True
    x = backend.asarray(np.zeros((1, 1, 2, 4), dtype=np.float32))
    model.forward(x, training=True)
    dx = backend.to_host(model.backward(backend.asarray(np.array([[[[1.0, 2.0]]]], dtype=np.float32))))
    assert dx[0, 0].tolist() == [[1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


def test_conv_output_size_follows_the_course_formula():
    # floor((H + 2p - k) / s) + 1
    m = Sequential([{"conv2d": {"filters": 4, "kernel": 5, "stride": 2, "padding": 1}}], (3, 32, 30))
    assert m.output_shape == (4, 15, 14)
    same = Sequential([{"conv2d": {"filters": 2, "kernel": 3, "stride": 2, "padding": "same"}}], (1, 7, 8))
    assert same.output_shape == (2, 4, 4)


def test_a_stack_that_does_not_fit_names_the_layer_and_the_shapes():
    with pytest.raises(ModelError, match=r"model\[1\]\.dense: expected a flat input .*got \(4, 6, 6\)"):
        Sequential([{"conv2d": {"filters": 4, "kernel": 3}}, {"dense": {"units": 2}}], (1, 8, 8))
    with pytest.raises(ModelError, match=r"model\[0\]\.conv2d: kernel 5x5 .* does not fit the input \(1, 3, 3\)"):
        Sequential([{"conv2d": {"filters": 1, "kernel": 5}}], (1, 3, 3))


def test_a_residual_block_that_changes_the_shape_is_a_build_error():
    spec = {"residual": {"layers": [{"dense": {"units": 3}}]}}
    with pytest.raises(ModelError, match=r"model\[0\]\.residual: the block's output shape \(3,\) .* \(8,\)"):
        Sequential([spec], (8,))


def test_bad_layer_options_name_the_path_and_suggest_names():
    with pytest.raises(ConfigError, match=r"model\[2\]\.conv2d\.kernel: expected a positive integer"):
        Sequential([{"flatten": {}}, {"dense": {"units": 4}}, {"conv2d": {"filters": 1, "kernel": 0}}], (4,))
    with pytest.raises(ConfigError, match=r"model\[0\]: unknown layer 'dens' \(did you mean 'dense'\?\)"):
        Sequential([{"dens": {"units": 4}}], (4,))
    with pytest.raises(ConfigError, match=r"model\[0\]\.dense\.activation: expected one of .*'relu'"):
        Sequential([{"dense": {"units": 4, "activation": "rleu"}}], (4,))


def test_summary_counts_parameters_and_flops_per_layer():
    m = Sequential(
        [
            {"conv2d": {"filters": 8, "kernel": 3, "padding": 1}},
            {"maxpool2d": {}},
            {"flatten": {}},
            {"dense": {"units": 10}},
        ],
        (1, 28, 28),
    )
    rows = m.summary()
    assert [r["output_shape"] for r in rows] == [(8, 28, 28), (8, 14, 14), (1568,), (10,)]
    assert [r["params"] for r in rows] == [8 * 9 + 8, 0, 0, 1568 * 10 + 10]
    assert rows[0]["flops"] == 2 * 8 * 9 * 28 * 28 and rows[3]["flops"] == 2 * 1568 * 10
    assert m.param_count == 80 + 15690


def test_initializers_follow_their_formulas_and_biases_start_at_zero():
    m = Sequential([{"dense": {"units": 300}}, {"dense": {"units": 200, "init": "he_normal"}}], (500,), seed=0)
    w0, w1 = m.layers[0].weight.data, m.layers[1].weight.data
    limit = np.sqrt(6 / (500 + 300))
    assert np.abs(w0).max() <= limit and np.abs(w0).max() > 0.98 * limit
    assert w1.std() == pytest.approx(np.sqrt(2 / 300), rel=0.02)
    assert not m.layers[0].bias.data.any() and not m.layers[1].bias.data.any()


def test_the_same_seed_builds_the_same_weights_and_another_seed_does_not():
    a = Sequential([{"dense": {"units": 5}}], (3,), seed=1)
    b = Sequential([{"dense": {"units": 5}}], (3,), seed=1)
    c = Sequential([{"dense": {"units": 5}}], (3,), seed=2)
    assert np.array_equal(a.params, b.params) and not np.array_equal(a.params, c.params)


def test_float32_is_the_default_and_float64_on_request():
    x = np.ones((2, 3))
    assert Sequential([{"dense": {"units": 2}}], (3,)).forward(x).dtype == np.float32
    assert Sequential([{"dense": {"units": 2}}], (3,), dtype="float64").forward(x).dtype == np.float64
