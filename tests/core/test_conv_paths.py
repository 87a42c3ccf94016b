"""The convolution's fast paths agree with plain definitions: both im2col layouts, the ReLU moved into the
max-pool, the input gradient computed as a correlation, and scratch buffers shared between steps."""

from __future__ import annotations

import numpy as np
import pytest
from gradient_helper import assert_layer_gradients

from dl_lab.core import Sequential


def naive_conv(x, w, b, stride, pad):
    """Cross-correlation by its definition: a sum over kernel offsets of shifted input slices."""
    n, _c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, f, ho, wo)) + b[None, :, None, None]
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride]
            out += np.einsum("nchw,fc->nfhw", patch, w[:, :, i, j])
    return out


@pytest.mark.parametrize("channels,stride,pad", [(1, 1, 1), (2, 2, 0), (8, 1, 1), (8, 2, 2)])
def test_conv_forward_matches_the_definition_in_both_layouts(channels, stride, pad):
    spec = {"conv2d": {"filters": 5, "kernel": 3, "stride": stride, "padding": pad}}
    model = Sequential([spec], (channels, 9, 8), dtype="float64", seed=1)
    layer = model.layers[0]
    assert layer.rows == (channels * 3 >= 16)  # few channels: the transposed im2col
    x = np.random.default_rng(0).standard_normal((3, channels, 9, 8))
    expected = naive_conv(x, layer.weight.data, layer.bias.data, stride, pad)
    assert np.allclose(model.forward(x), expected, atol=1e-12)


@pytest.mark.parametrize("channels", [1, 6])
def test_conv_gradients_in_both_layouts_and_both_input_gradient_paths(channels):
    assert_layer_gradients({"conv2d": {"filters": 3, "kernel": 3, "padding": "same"}}, (channels, 5, 6))
    assert_layer_gradients({"conv2d": {"filters": 3, "kernel": 3, "stride": 2, "padding": 1}}, (channels, 7, 6))


@pytest.mark.parametrize("channels,filters", [(3, 8), (6, 64), (40, 64)])
def test_a_stride_one_input_gradient_is_the_same_by_correlation_and_by_col2im(channels, filters):
    # many more filters than channels (F >= 2C, F >= 64) take col2im, the others the correlation
    spec = {"conv2d": {"filters": filters, "kernel": 3, "padding": "same", "activation": "tanh"}}
    layer = Sequential([spec], (channels, 4, 5), dtype="float64").layers[0]
    layer.needs_input_grad = True  # a first layer's input is data: no gradient unless asked
    assert layer.correlate == (filters < 2 * channels or filters < 64)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, channels, 4, 5))
    dy = rng.standard_normal((3, filters, 4, 5))
    dxs = []
    for correlate in (True, False):
        layer.correlate = correlate
        layer.forward(x, True)
        dxs.append(layer.backward(dy.copy()))
    np.testing.assert_allclose(dxs[0], dxs[1], rtol=1e-10, atol=1e-12)
    assert_layer_gradients({"conv2d": {"filters": 64, "kernel": 3, "padding": 1}}, (6, 4, 5))  # the col2im path


CNN = [
    {"conv2d": {"filters": 4, "kernel": 3, "padding": 1, "activation": "relu"}},
    {"maxpool2d": {"size": 2}},
    {"conv2d": {"filters": 6, "kernel": 3, "padding": 1, "activation": "relu"}},
    {"maxpool2d": {"size": 2}},
    {"flatten": {}},
    {"dense": {"units": 3}},
]


def _forward_backward(model, x, keep):
    out = model.forward(x, training=True, keep=keep)
    model.backward(np.ones_like(out))
    return out.copy(), model.grads.copy()


@pytest.mark.parametrize("zeros", [False, True])  # all-zero input: every pooling window is a tie
def test_relu_moved_into_the_max_pool_gives_identical_outputs_and_gradients(zeros):
    model = Sequential(CNN, (2, 8, 8), seed=3)
    assert len(model._relu_pools) == 2
    x = np.zeros((4, 2, 8, 8), np.float32) if zeros else np.random.default_rng(1).standard_normal((4, 2, 8, 8))
    fused = _forward_backward(model, x, keep=False)
    plain = _forward_backward(model, x, keep=True)  # keep=True runs every layer on its own
    assert np.array_equal(fused[0], plain[0]) and np.array_equal(fused[1], plain[1])


def test_an_evaluation_between_forward_and_backward_changes_no_gradient():
    model = Sequential(CNN, (2, 8, 8), seed=3)
    rng = np.random.default_rng(2)
    x, other = rng.standard_normal((4, 2, 8, 8)), rng.standard_normal((4, 2, 8, 8))
    _, expected = _forward_backward(model, x, keep=False)
    out = model.forward(x, training=True)
    model.forward(other, training=False)  # e.g. the monitor or a validation pass
    model.backward(np.ones_like(out))
    assert np.array_equal(model.grads, expected)
