"""The BLAS's vector updates (core/blas.py): the same numbers as NumPy's, nothing done where they cannot be used,
and SGD through them stepping as torch.optim's rule says (checked in float64 against the rule written out)."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.core import blas, make_optimizer

N = 3 * blas.MIN_SIZE + 7  # long enough for the BLAS, and not a multiple of a vector width
needs_blas = pytest.mark.skipif(blas._routine("axpy", "d") is None, reason="NumPy's BLAS is not OpenBLAS")


def vectors(dtype, n=N):
    rng = np.random.default_rng(0)
    return rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)


@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_and_scal_match_numpy(dtype):
    x, y = vectors(dtype)
    expected = y.astype(np.float64) + (-0.37) * x.astype(np.float64)
    assert blas.axpy(-0.37, x, y)
    assert y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-6)
    before = y.copy()
    assert blas.scal(0.9, y)
    np.testing.assert_allclose(y, before * dtype(0.9), rtol=1e-6 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize(
    "case",
    ["short", "strided", "mixed dtypes", "integers", "read-only", "a list", "sizes differ"],
)
def test_nothing_is_done_where_the_blas_cannot_be_used(case):
    x, y = vectors(np.float64, 2 * N)
    if case == "short":
        x, y = x[: blas.MIN_SIZE - 1], y[: blas.MIN_SIZE - 1]
    elif case == "strided":
        x, y = x[::2], y[::2]
    elif case == "mixed dtypes":
        x = x.astype(np.float32)
    elif case == "integers":
        x, y = x.astype(np.int64), y.astype(np.int64)
    elif case == "read-only":
        y.flags.writeable = False
    elif case == "a list":
        x = list(x)
    elif case == "sizes differ":
        x = x[:-1]
    before = np.array(y, copy=True)
    assert blas.axpy(2.0, x, y) is False
    np.testing.assert_array_equal(y, before)
    if case in ("short", "strided", "integers", "read-only"):
        assert blas.scal(2.0, y) is False
        np.testing.assert_array_equal(y, before)


@needs_blas
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])  # Nesterov needs momentum
def test_sgd_through_the_blas_follows_torch_optim_rule(momentum, nesterov, monkeypatch):
    used = []
    axpy = blas.axpy
    monkeypatch.setattr(blas, "axpy", lambda *args: used.append(axpy(*args)) or used[-1])
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal(N)
    grads = [rng.standard_normal(N) for _ in range(3)]
    opt = make_optimizer({"name": "sgd", "lr": 0.05, "momentum": momentum, "nesterov": nesterov})
    opt.bind(np, N, np.float64)
    p = p0.copy()
    ref, buf = p0.copy(), np.zeros(N)
    for g in grads:
        opt.step(p, g)
        # torch.optim.SGD: buf = momentum buf + g (buf = g at the first step); step = g + momentum buf (nesterov)
        buf = momentum * buf + g
        step = (g + momentum * buf) if nesterov else (buf if momentum else g)
        ref = ref - 0.05 * step
    np.testing.assert_allclose(p, ref, rtol=1e-13, atol=1e-15)
    assert used and all(used)  # the steps went through the BLAS


@needs_blas
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_keeps_torch_optims_momentum_buffer_over_many_steps(nesterov):
    # the buffer is stored scaled between steps and takes its scale in every 88 steps at momentum 0.9
    rng = np.random.default_rng(2)
    p = rng.standard_normal(N)
    opt = make_optimizer({"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": nesterov})
    opt.bind(np, N, np.float64)
    ref, buf = p.copy(), np.zeros(N)
    close = {"rtol": 1e-12, "atol": 1e-13}  # values of order 1: cancellations leave errors of 1e-15
    scales = []
    for t in range(1, 201):
        g = rng.standard_normal(N)
        if t > 20:
            g[: N // 4] = 0.0  # dead units: their buffers decay
        opt.step(p, g)
        buf = 0.9 * buf + g
        ref = ref - 0.05 * ((g + 0.9 * buf) if nesterov else buf)
        scales.append(opt.scale)
        if t in (1, 50, 150):  # torch.optim's buffer, read without changing what the next steps do
            np.testing.assert_allclose(opt.plain_state()["momentum_buffer"], buf, **close)
    assert min(scales) >= 1e-4 * 0.9 and scales.index(0.9, 1) == 88  # taken in after 88 steps, then scaled again
    np.testing.assert_allclose(p, ref, **close)
    np.testing.assert_allclose(opt.plain_state()["momentum_buffer"], buf, **close)


@needs_blas
def test_a_scaled_momentum_buffer_restored_with_its_scale_goes_on_with_the_same_numbers():
    # what a stopped and resumed run does: save state and scalars, load them into a fresh optimizer, go on
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(N) for _ in range(30)]
    config = {"name": "sgd", "lr": 0.1, "momentum": 0.5}
    whole, p_whole = make_optimizer(config), rng.standard_normal(N)
    whole.bind(np, N, np.float64)
    first, p = make_optimizer(config), p_whole.copy()
    first.bind(np, N, np.float64)
    for g in grads[:10]:
        whole.step(p_whole, g)
        first.step(p, g)
    assert first.scale != 1.0
    saved, scalars, t = first.state["momentum_buffer"].copy(), first.scalars(), first.t
    resumed = make_optimizer(config)
    resumed.bind(np, N, np.float64)
    resumed.state["momentum_buffer"][...] = saved
    resumed.t = t
    resumed.load_scalars(scalars)
    for g in grads[10:]:
        whole.step(p_whole, g)
        resumed.step(p, g)
    np.testing.assert_array_equal(p, p_whole)  # bit for bit


@needs_blas
def test_a_plain_momentum_buffer_from_an_earlier_version_resumes_at_scale_one():
    rng = np.random.default_rng(4)
    p, g, loaded = rng.standard_normal(N), rng.standard_normal(N), rng.standard_normal(N)
    opt = make_optimizer({"name": "sgd", "lr": 0.1, "momentum": 0.5})
    opt.bind(np, N, np.float64)
    for _ in range(5):
        opt.step(p.copy(), g)  # the stored buffer is scaled now
    opt.state["momentum_buffer"][...] = loaded
    opt.load_scalars({})  # state.json without optimizer_scalars
    before = p.copy()
    opt.step(p, g)
    np.testing.assert_allclose(p, before - 0.1 * (0.5 * loaded + g), rtol=1e-12)


@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_gemm_bias_is_the_product_plus_the_bias(dtype, order):
    rng = np.random.default_rng(4)
    x = np.asarray(rng.standard_normal((130, 70)), dtype=dtype, order=order)
    w, b = rng.standard_normal((70, 120)).astype(dtype), rng.standard_normal(120).astype(dtype)
    z = blas.gemm_bias(x, w, b)
    assert z is not None and z.dtype == dtype and z.flags.c_contiguous
    exact = x.astype(np.float64) @ w.astype(np.float64) + b
    np.testing.assert_allclose(
        z, exact, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-4 if dtype == np.float32 else 1e-12
    )


@needs_blas
@pytest.mark.parametrize("case", ["small", "strided x", "transposed w", "mixed dtypes", "integers", "bias length"])
def test_gemm_bias_declines_what_it_cannot_do(case):
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((130, 70)), rng.standard_normal((70, 120)), rng.standard_normal(120)
    if case == "small":
        x, w, b = x[:4, :5], w[:5, :6], b[:6]
    elif case == "strided x":
        x = rng.standard_normal((130, 140))[:, ::2]
    elif case == "transposed w":
        w = np.ascontiguousarray(w.T).T
    elif case == "mixed dtypes":
        b = b.astype(np.float32)
    elif case == "integers":
        x, w, b = (a.astype(np.int64) for a in (x, w, b))
    elif case == "bias length":
        b = b[:-1]
    assert blas.gemm_bias(x, w, b) is None


@needs_blas
def test_a_dense_layer_large_enough_adds_its_bias_in_the_gemm(monkeypatch):
    from dl_lab.core import Sequential

    calls = []
    gemm_bias = blas.gemm_bias
    monkeypatch.setattr(blas, "gemm_bias", lambda *a: calls.append(gemm_bias(*a)) or calls[-1])
    model = Sequential([{"dense": {"units": 96, "activation": "relu"}}, {"dense": {"units": 3}}], (200,), seed=1)
    for name, param in model.named_parameters():
        if name.endswith("bias"):
            param.data[...] = np.random.default_rng(6).standard_normal(param.data.shape)  # zeros would hide it
    x = np.random.default_rng(7).standard_normal((64, 200)).astype(np.float32)
    out = model.forward(x)
    w0, b0, w1, b1 = (np.asarray(p.data, dtype=np.float64) for _, p in model.named_parameters())
    exact = np.maximum(x @ w0.T + b0, 0.0) @ w1.T + b1
    np.testing.assert_allclose(out, exact, rtol=1e-4, atol=1e-4)
    assert len(calls) == 1 and calls[0] is not None  # 64 x 200 x 96 multiply-adds through it; 64 x 96 x 3 not
