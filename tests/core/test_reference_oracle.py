"""The plain reference (dl_lab.core.reference) is checked against hand-worked examples, a pixel-by-pixel definition
and finite differences; it is then the oracle the fast conv2d and pooling layers must match, path by path."""

from __future__ import annotations

import numpy as np
import pytest
from gradient_helper import assert_close_gradient, numeric_gradient

from dl_lab.core import Sequential
from dl_lab.core import reference as ref

# Largest error allowed, relative to the largest value of the reference tensor.
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
DTYPES = sorted(TOLERANCE)


def assert_matches(fast, expected, dtype: str, what: str) -> None:
    fast = np.asarray(fast, dtype=np.float64)
    assert fast.shape == expected.shape, f"{what}: shape {fast.shape}, the reference has {expected.shape}"
    if fast.size == 0:
        return
    scale = float(np.abs(expected).max())
    error = np.abs(fast - expected)
    worst = np.unravel_index(np.argmax(error), error.shape)
    # "not <=" also fails on NaN
    assert not error.max() > TOLERANCE[dtype] * scale and np.isfinite(error).all(), (
        f"{what} ({dtype}): error {error[worst]:.2e} at {worst} (fast {fast[worst]!r}, reference "
        f"{expected[worst]!r}) is above {TOLERANCE[dtype]:.0e} x the largest reference value {scale:.2e}"
    )


def relu(z):
    return np.maximum(z, 0.0)


# --- (a) the reference itself, against things that do not share its code -------------------------------------
X3 = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
W2 = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)  # [[1, 2], [3, 4]]
B = np.array([10.0])


def test_the_reference_conv2d_reproduces_a_hand_computed_3x3_example():
    # y[0, 0] = 1*1 + 2*2 + 3*4 + 4*5 + 10 = 47, and so on, window by window.
    assert ref.conv2d_forward(X3, W2, B, 1, "valid")[0, 0].tolist() == [[47, 57], [77, 87]]
    # dw[u, v] = sum of the pixels that w[u, v] met; dx[p] = sum of the weights that met pixel p; db = #windows.
    dx, dw, db = ref.conv2d_backward(X3, W2, np.ones((1, 1, 2, 2)), 1, "valid")
    assert dw[0, 0].tolist() == [[12, 16], [24, 28]]
    assert db.tolist() == [4]
    assert dx[0, 0].tolist() == [[1, 3, 2], [4, 10, 6], [3, 7, 4]]


def test_the_reference_conv2d_pads_and_strides_as_in_a_hand_computed_example():
    # padding 1, stride 2: out = floor((3 + 2 - 2) / 2) + 1 = 2; the top-left window holds only x[0, 0] under w[1, 1].
    assert ref.conv2d_forward(X3, W2, B, 2, 1)[0, 0].tolist() == [
        [1 * 4 + 10, 2 * 3 + 3 * 4 + 10],
        [4 * 2 + 7 * 4 + 10, 87],
    ]
    # 'same' (the engine's, TensorFlow's): k = 2 needs one zero in total, put after the image.
    assert ref.pad_amounts("same", 3, 2, 1) == (0, 1)
    same = ref.conv2d_forward(X3, W2, B, 1, "same")[0, 0]
    assert same.tolist() == [
        [47, 57, 3 * 1 + 6 * 3 + 10],
        [77, 87, 6 * 1 + 9 * 3 + 10],
        [7 + 8 * 2 + 10, 8 + 9 * 2 + 10, 9 + 10],
    ]


def definition_by_pixels(x, w, b, s, padding):
    """y[n,o,i,j] = b[o] + sum_{c,u,v} w[o,c,u,v] x[n,c,i*s+u-top,j*s+v-left], skipping pixels outside x."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    (top, bottom), (left, right) = ref.pad_amounts(padding, h, kh, s), ref.pad_amounts(padding, wd, kw, s)
    ho, wo = (h + top + bottom - kh) // s + 1, (wd + left + right - kw) // s + 1
    y = np.zeros((n, o, ho, wo))
    for idx in np.ndindex(n, o, ho, wo):
        total = b[idx[1]]
        for ci, u, v in np.ndindex(c, kh, kw):
            r, q = idx[2] * s + u - top, idx[3] * s + v - left
            if 0 <= r < h and 0 <= q < wd:
                total += w[idx[1], ci, u, v] * x[idx[0], ci, r, q]
        y[idx] = total
    return y


CONV_CASES = [(1, "valid", (3, 3)), (2, "same", (3, 3)), (1, "same", (4, 2)), (2, 1, (3, 2)), (3, 2, (2, 3))]


@pytest.mark.parametrize("stride,padding,kernel", CONV_CASES)
def test_the_reference_conv2d_forward_matches_the_definition_pixel_by_pixel(stride, padding, kernel):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, *kernel)), rng.standard_normal(3)
    expected = definition_by_pixels(x, w, b, stride, padding)
    assert np.allclose(ref.conv2d_forward(x, w, b, stride, padding), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("stride,padding,kernel", CONV_CASES)
def test_the_reference_conv2d_backward_matches_finite_differences(stride, padding, kernel):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, *kernel)), rng.standard_normal(3)
    r = rng.standard_normal(ref.conv2d_forward(x, w, b, stride, padding).shape)  # L = sum(y * r), so dy = r
    dx, dw, db = ref.conv2d_backward(x, w, r, stride, padding)
    assert_close_gradient(dx, numeric_gradient(lambda a: (ref.conv2d_forward(a, w, b, stride, padding) * r).sum(), x))
    assert_close_gradient(dw, numeric_gradient(lambda a: (ref.conv2d_forward(x, a, b, stride, padding) * r).sum(), w))
    assert_close_gradient(db, numeric_gradient(lambda a: (ref.conv2d_forward(x, w, a, stride, padding) * r).sum(), b))


POOL_CASES = [(2, None, (6, 6)), (2, None, (7, 5)), (3, 2, (7, 8)), (2, 1, (5, 6))]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("size,stride,hw", POOL_CASES)
def test_the_reference_pooling_backward_matches_finite_differences(kind, size, stride, hw):
    forward = getattr(ref, f"{kind}pool2d_forward")
    backward = getattr(ref, f"{kind}pool2d_backward")
    x = np.random.default_rng(2).standard_normal((2, 2, *hw))  # distinct values: no ties, max is differentiable
    r = np.random.default_rng(3).standard_normal(forward(x, size, stride).shape)
    numeric = numeric_gradient(lambda a: (forward(a, size, stride) * r).sum(), x)
    assert_close_gradient(backward(x, r, size, stride), numeric)


def test_the_reference_pools_reproduce_hand_computed_examples_and_send_a_tie_to_the_first_maximum():
    x = np.array([[3.0, 1.0, 0.0, 0.0], [2.0, 3.0, 0.0, 0.0]]).reshape(1, 1, 2, 4)
    assert ref.maxpool2d_forward(x, 2)[0, 0].tolist() == [[3.0, 0.0]]
    assert ref.avgpool2d_forward(x, 2)[0, 0].tolist() == [[9 / 4, 0.0]]
    dy = np.array([1.0, 2.0]).reshape(1, 1, 1, 2)
    # window 1: 3 at (0, 0) and (1, 1), the first in row order wins; window 2: all zero, the first pixel wins.
    assert ref.maxpool2d_backward(x, dy, 2)[0, 0].tolist() == [[1, 0, 2, 0], [0, 0, 0, 0]]
    assert ref.avgpool2d_backward(x, dy, 2)[0, 0].tolist() == [[0.25, 0.25, 0.5, 0.5], [0.25, 0.25, 0.5, 0.5]]


# --- (b) the fast layers, against the reference ---------------------------------------------------------------
def build(specs, input_shape, dtype, values="random", seed=0):
    """A model as the engine builds it, its first layer asked for the input gradient, and random biases
    (they start at zero, which would hide a wrong bias path). ``integers``: small integer weights, so that
    every sum is exact and pooling windows hold ties."""
    model = Sequential(specs, input_shape, dtype=dtype, seed=seed)
    model.layers[0].needs_input_grad = True
    rng = np.random.default_rng(seed + 100)
    for _, p in model.named_parameters():
        if values == "integers":
            p.data[...] = rng.integers(-1, 2, p.shape)
        elif p.name == "bias":
            p.data[...] = rng.standard_normal(p.shape)
    return model


def inputs(shape, dtype, values, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape) if values == "integers" else rng.standard_normal(shape)
    return x.astype(dtype)


def conv_reference(layer, x, padding, activation):
    """The layer's output by the reference, in float64, and its backward: dy -> (dx, dw, db)."""
    w = np.asarray(layer.weight.data, np.float64)
    b = None if layer.bias is None else np.asarray(layer.bias.data, np.float64)
    x, s = np.asarray(x, np.float64), layer.s[0]
    z = ref.conv2d_forward(x, w, b, s, padding)
    if activation == "relu":  # g'(z) = 1 where z > 0, 0 elsewhere (0 at z = 0, as in PyTorch and the engine)
        return relu(z), lambda dy: ref.conv2d_backward(x, w, dy * (z > 0), s, padding)
    return z, lambda dy: ref.conv2d_backward(x, w, dy, s, padding)


def check_conv_layer(model, x, padding, activation, dtype, seed):
    """One training step (forward, backward) and one evaluation, each compared with the reference."""
    layer = model.layers[0]
    y = model.forward(x, training=True)
    dy = np.random.default_rng(seed).standard_normal(y.shape)
    dx = model.backward(dy.astype(dtype))
    y_ref, backward = conv_reference(layer, x, padding, activation)
    dx_ref, dw_ref, db_ref = backward(dy)
    assert_matches(y, y_ref, dtype, "forward output")
    assert_matches(dx, dx_ref, dtype, "input gradient")
    assert_matches(layer.weight.grad, dw_ref, dtype, "weight gradient")
    if layer.bias is not None:
        assert_matches(layer.bias.grad, db_ref, dtype, "bias gradient")
    assert_matches(model.forward(x, training=False), y_ref, dtype, "evaluation output")


SIZES = {"odd": (7, 9), "even": (8, 6)}


@pytest.mark.parametrize("activation", ["identity", "relu"])
@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("padding", ["valid", "same", 1])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("channels", [1, 3, 6])  # 6 channels with kernel 3 or 5: the channels-last im2col
@pytest.mark.parametrize("batch", [1, 3])
def test_conv2d_fast_path_matches_the_reference_in_output_and_every_gradient(
    batch, channels, kernel, stride, padding, size, activation
):
    spec = {"conv2d": {"filters": 4, "kernel": kernel, "stride": stride, "padding": padding, "activation": activation}}
    for dtype in DTYPES:
        model = build([spec], (channels, *SIZES[size]), dtype)
        # Two steps on different inputs: the second reuses the first one's scratch arrays (padding border, im2col).
        for step in range(2):
            x = inputs((batch, channels, *SIZES[size]), dtype, "random", seed=step)
            check_conv_layer(model, x, padding, activation, dtype, seed=10 + step)


WIDE_CASES = {
    "channels-last im2col with kernel 1": ({"filters": 5, "kernel": 1}, 16),
    "one large GEMM (weights above SMALL_WEIGHTS)": ({"filters": 40, "kernel": 5, "padding": "same"}, 6),
    "one large GEMM, strided": ({"filters": 40, "kernel": 3, "stride": 2, "padding": 1}, 16),
    "rectangular kernel, same padding": ({"filters": 3, "kernel": [2, 5], "padding": "same"}, 2),
    "rectangular kernel, strided, channels-last": ({"filters": 3, "kernel": [3, 2], "stride": 2, "padding": 1}, 8),
    "no bias, transposed im2col": ({"filters": 3, "kernel": 3, "padding": 1, "bias": False}, 2),
    "no bias, channels-last": ({"filters": 3, "kernel": 3, "stride": 2, "bias": False, "activation": "relu"}, 8),
    "padding larger than the kernel": ({"filters": 3, "kernel": 2, "padding": 3}, 3),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(WIDE_CASES))
def test_conv2d_fast_path_matches_the_reference_for_wide_layers_rectangular_kernels_and_no_bias(case, dtype):
    options, channels = WIDE_CASES[case]
    spec = {"conv2d": options}
    model = build([spec], (channels, 9, 8), dtype)
    padding = options.get("padding", "valid")
    for step in range(2):
        x = inputs((3, channels, 9, 8), dtype, "random", seed=step)
        check_conv_layer(model, x, padding, options.get("activation", "identity"), dtype, seed=10 + step)


POOLS = {  # name: (size, stride, image height and width)
    "2x2 tiles": (2, None, (8, 8)),
    "2x2 ragged": (2, None, (7, 9)),
    "3x3 stride 2, overlapping": (3, 2, (7, 8)),
    "2x2 stride 1, overlapping": (2, 1, (6, 5)),
}


def pool_reference(kind, x, dy, size, stride):
    x = np.asarray(x, np.float64)
    forward, backward = getattr(ref, f"{kind}pool2d_forward"), getattr(ref, f"{kind}pool2d_backward")
    return forward(x, size, stride), backward(x, dy, size, stride)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("values", ["random", "integers"])  # integers: many tied windows
@pytest.mark.parametrize("channels", [1, 3, 16])
@pytest.mark.parametrize("pool", sorted(POOLS))
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_fast_path_matches_the_reference_on_images_in_their_own_memory_order(
    kind, pool, channels, values, dtype
):
    size, stride, hw = POOLS[pool]
    model = build([{f"{kind}pool2d": {"size": size, "stride": stride}}], (channels, *hw), dtype)
    x = inputs((3, channels, *hw), dtype, values, seed=0)
    y = model.forward(x, training=True)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    dx = model.backward(dy.astype(dtype))
    y_ref, dx_ref = pool_reference(kind, x, dy, size, stride)
    assert_matches(y, y_ref, dtype, "forward output")
    assert_matches(dx, dx_ref, dtype, "input gradient")


def check_conv_then_pool(kind, pool, filters, activation, values, flatten, dtype):
    size, stride, hw = POOLS[pool]
    conv = {"conv2d": {"filters": filters, "kernel": 3, "padding": 1, "activation": activation}}
    specs = [conv, {f"{kind}pool2d": {"size": size, "stride": stride}}] + ([{"flatten": {}}] if flatten else [])
    model = build(specs, (3, *hw), dtype, values)
    assert bool(model._relu_pools) == (kind == "max" and activation == "relu")
    x = inputs((3, 3, *hw), dtype, values, seed=0)
    out = model.forward(x, training=True)  # keep=False: the engine's training path, ReLU moved when it can
    dout = np.random.default_rng(1).standard_normal(out.shape)
    conv_layer = model.layers[0]
    assert conv_layer._deferred == bool(model._relu_pools)  # the ReLU did run inside the max-pool
    dx = model.backward(dout.astype(dtype))
    a, conv_backward = conv_reference(conv_layer, x, 1, activation)
    y_ref, da = pool_reference(kind, a, dout.reshape(-1, *model.layers[1].output_shape), size, stride)
    dx_ref, dw_ref, db_ref = conv_backward(da)
    assert_matches(out, y_ref.reshape(out.shape), dtype, "forward output")
    assert_matches(dx, dx_ref, dtype, "input gradient")
    assert_matches(conv_layer.weight.grad, dw_ref, dtype, "weight gradient")
    assert_matches(conv_layer.bias.grad, db_ref, dtype, "bias gradient")


@pytest.mark.parametrize("flatten", [False, True])  # flatten: dy arrives in (C, H, W) order, y is channels-last
@pytest.mark.parametrize("values", ["random", "integers"])
@pytest.mark.parametrize("activation", ["identity", "relu"])  # relu before a max-pool: moved into the pool
@pytest.mark.parametrize("filters", [2, 16])  # below and at FEW_CHANNELS
@pytest.mark.parametrize("pool", sorted(POOLS))
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_conv2d_then_pooling_fast_paths_match_the_reference_including_the_relu_moved_into_the_max_pool(
    kind, pool, filters, activation, values, flatten
):
    for dtype in DTYPES:
        check_conv_then_pool(kind, pool, filters, activation, values, flatten, dtype)
