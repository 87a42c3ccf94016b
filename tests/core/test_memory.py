"""The memory estimate (core/memory.py): refused before anything is allocated, close to the real peak."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from dl_lab.core import Sequential, TrainStep, get_loss, make_optimizer, predict_batches
from dl_lab.core.errors import ConfigError, ModelError
from dl_lab.core.memory import (
    LIMIT_ENV,
    Budget,
    MemoryLimitError,
    available_memory,
    estimate,
    format_bytes,
    parse_bytes,
)
from dl_lab.core.model import build_layers

GB = 1 << 30
DIGITS_CNN = [
    {"conv2d": {"filters": 16, "kernel": 3, "padding": "same", "activation": "relu"}},
    {"maxpool2d": {"size": 2}},
    {"conv2d": {"filters": 32, "kernel": 3, "padding": "same", "activation": "relu"}},
    {"maxpool2d": {"size": 2}},
    "flatten",
    {"dense": {"units": 64, "activation": "relu"}},
    {"dropout": {"p": 0.3}},
    {"dense": {"units": 10}},
]
MLP = ["flatten", {"dense": {"units": 2048, "activation": "tanh"}}, {"dense": {"units": 10}}]


def _estimate(specs, shape, budget, itemsize=4):
    layers, _ = build_layers(specs, shape)
    layers[0].needs_input_grad = False
    return estimate(layers, shape, itemsize, budget)


def test_parse_and_format_bytes():
    assert parse_bytes("2G") == 2 * GB
    assert parse_bytes("512M") == 512 << 20
    assert parse_bytes("1.5GB") == int(1.5 * GB)
    assert parse_bytes("1073741824") == GB
    assert format_bytes(GB) == "1.0 GB"
    assert format_bytes(3 * (1 << 20)) == "3.0 MB"
    with pytest.raises(ConfigError, match=LIMIT_ENV):
        parse_bytes("lots")


def test_available_memory_reads_the_override_then_the_machine(monkeypatch):
    monkeypatch.setenv(LIMIT_ENV, "3G")
    assert available_memory() == (3 * GB, LIMIT_ENV)
    monkeypatch.delenv(LIMIT_ENV)
    value, source = available_memory()
    assert value is not None and value > 0 and source


def test_a_huge_dense_layer_is_refused_before_anything_is_allocated():
    tracemalloc.start()
    try:
        with pytest.raises(MemoryLimitError) as info:
            Sequential(
                ["flatten", {"dense": {"units": 20_000_000}}, {"dense": {"units": 10}}],
                (1, 8, 8),
                memory=Budget(batch_size=32, optimizer_copies=3, optimizer_name="adam", limit=GB),
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert isinstance(info.value, ModelError)
    assert message.startswith("model[1].dense: about ")
    assert "parameters, gradients and adam's state (weight 20,000,000 x 64)" in message
    assert "1.0 GB" in message
    assert peak < 5 << 20  # no parameter, gradient or activation was allocated


def test_a_billion_units_is_refused_not_a_memory_error():
    with pytest.raises(MemoryLimitError, match=r"^model\[0\]\.dense: about .* \(weight 1,000,000,000 x 2\)"):
        Sequential([{"dense": {"units": 1_000_000_000}}], (2,), memory=Budget(batch_size=32, limit=16 * GB))


def test_a_kernel_of_1000_on_8x8_images_is_refused_for_its_im2col():
    specs = [{"conv2d": {"filters": 8, "kernel": 1000, "padding": "same"}}, "flatten", {"dense": {"units": 10}}]
    budget = Budget(batch_size=32, optimizer_copies=3, eval_batch=360, limit=16 * GB)
    with pytest.raises(MemoryLimitError, match=r"^model\[0\]\.conv2d: .*activations and scratch buffers"):
        Sequential(specs, (1, 8, 8), memory=budget)
    # the training step alone: 32 samples x 64 output pixels x a million-value window, about 8 GB of im2col
    est = _estimate(specs, (1, 8, 8), Budget(batch_size=32, optimizer_copies=3))
    assert 7 * GB < est.peak < 9 * GB and est.phase == "training"


def test_warns_above_half_of_the_memory_available():
    from dl_lab.core.memory import check

    est = _estimate(DIGITS_CNN, (1, 8, 8), Budget(batch_size=32, optimizer_copies=3, eval_batch=360))
    layers, _ = build_layers(DIGITS_CNN, (1, 8, 8))
    layers[0].needs_input_grad = False
    fits = check(layers, (1, 8, 8), 4, Budget(batch_size=32, optimizer_copies=3, eval_batch=360, limit=4 * est.peak))
    assert fits.warnings == [] and fits.available == 4 * est.peak
    close = check(layers, (1, 8, 8), 4, Budget(batch_size=32, optimizer_copies=3, eval_batch=360, limit=est.peak + 1))
    assert len(close.warnings) == 1 and "100% of the" in close.warnings[0]
    assert close.line().startswith("memory: about ")


def test_more_optimizer_state_and_larger_batches_cost_more():
    sgd = _estimate(MLP, (1, 8, 8), Budget(batch_size=32, optimizer_copies=1))
    adam = _estimate(MLP, (1, 8, 8), Budget(batch_size=32, optimizer_copies=3))
    big = _estimate(MLP, (1, 8, 8), Budget(batch_size=512, optimizer_copies=3))
    assert sgd.peak < adam.peak < big.peak
    assert adam.param_bytes - sgd.param_bytes == 2 * 4 * (64 * 2048 + 2048 + 2048 * 10 + 10)


def test_a_residual_block_counts_its_layers():
    block = [{"residual": {"layers": [{"dense": {"units": 32, "activation": "relu"}}, {"dense": {"units": 32}}]}}]
    flat = [{"dense": {"units": 32}}]
    res = _estimate(flat + block, (4,), Budget(batch_size=64))
    plain = _estimate(flat, (4,), Budget(batch_size=64))
    assert res.peak > plain.peak and len(res.parts) == 2


def _measured_peak(specs, shape, batch, n_val, optimizer, monkeypatch) -> tuple[int, int]:
    """(estimate, traced peak) of building, a few training steps and an evaluation pass."""
    monkeypatch.delenv(LIMIT_ENV, raising=False)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch * 4, *shape)).astype(np.float32)
    y = rng.integers(0, 10, size=len(x))
    x_val = rng.normal(size=(n_val, *shape)).astype(np.float32)
    opt = make_optimizer(optimizer)
    budget = Budget(batch, 1 + len(opt.state_names()), opt.name, eval_batch=min(1024, n_val), limit=64 * GB)
    tracemalloc.start()
    try:
        model = Sequential(specs, shape, loss=get_loss("cross_entropy"), memory=budget)
        step = TrainStep(model, get_loss("cross_entropy"), opt)
        for i in range(0, len(x), batch):
            step(x[i : i + batch], y[i : i + batch])
        predict_batches(model, x_val)
        model.state_dict()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert model.memory is not None
    return model.memory.peak, peak


@pytest.mark.parametrize(
    ("specs", "batch", "n_val", "optimizer"),
    [
        (DIGITS_CNN, 32, 360, "adam"),
        (DIGITS_CNN, 128, 360, {"name": "sgd", "momentum": 0.9}),
        (MLP, 64, 360, "adam"),
        (MLP, 256, 1500, "sgd"),
    ],
)
def test_the_estimate_is_within_2x_of_the_measured_peak(specs, batch, n_val, optimizer, monkeypatch):
    est, peak = _measured_peak(specs, (1, 8, 8), batch, n_val, optimizer, monkeypatch)
    assert 0.5 * peak <= est <= 2 * peak, (est, peak)


def test_the_estimate_takes_no_time():
    import time

    layers, _ = build_layers(DIGITS_CNN, (1, 8, 8))
    start = time.perf_counter()
    for _ in range(100):
        estimate(layers, (1, 8, 8), 4, Budget(batch_size=32, optimizer_copies=3, eval_batch=360, probe_batch=128))
    assert time.perf_counter() - start < 0.5


def test_the_build_screens_live_check_shows_the_same_error(monkeypatch):
    from types import SimpleNamespace

    from dl_lab.sessions import preset_session
    from dl_lab.sessions.config.stack import check_stack, output_error

    monkeypatch.setenv(LIMIT_ENV, "1G")
    spec = preset_session("digits_mlp").spec
    probe = SimpleNamespace(task="classification", name="digits", num_classes=10, output_dim=10, dataset=None)
    assert output_error(spec, check_stack(spec["model"], (1, 8, 8)), probe) is None
    spec = {**spec, "model": ["flatten", {"dense": {"units": 20_000_000}}, {"dense": {"units": 10}}]}
    flag = output_error(spec, check_stack(spec["model"], (1, 8, 8)), probe)
    assert flag is not None
    path, message = flag
    assert path == (1,) and message.startswith("about ") and f"{LIMIT_ENV} allows 1.0 GB" in message
