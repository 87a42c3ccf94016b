"""The gradient-flow view: recorded gradient norms from the snapshots and one batch's gradients now."""

from __future__ import annotations

import numpy as np
import pytest
from recorded import DIGITS_MLP, record

from dl_lab.sessions.inspect import gradients
from dl_lab.sessions.inspect.common import InspectError, open_inspected
from dl_lab.sessions.runs.directory import open_run


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return open_inspected(record(tmp_path_factory.mktemp("gradients") / "digits", DIGITS_MLP))


def _independent(ins, batch):
    """Forward in evaluation mode, the loss, backward: each weighted layer's weight gradient."""
    model = ins.model
    x, y = ins.dataset.x_train[:batch], ins.dataset.y_train[:batch]
    saved = model.grads.copy()
    out = model.forward(np.asarray(x, dtype=model.dtype), training=True)  # no dropout/batchnorm: same function
    value, d = ins.loss(out, y)
    model.backward(d)
    grads = {i: layer.weight.grad.copy() for i, layer in enumerate(model.layers) if hasattr(layer, "weight")}
    model.grads[...] = saved
    return float(value), grads


def test_now_equals_an_independent_computation(digits):
    out = gradients.compute(digits, batch=48)
    assert out["view"] == "gradients" and out["checkpoint"] == "final" and out["batch"] == 48
    value, expected = _independent(digits, 48)
    assert out["loss"] == pytest.approx(value, rel=1e-5)
    assert [row["index"] for row in out["layers"]] == sorted(expected) == [1, 2]
    for row in out["layers"]:
        g = np.abs(expected[row["index"]])
        assert row["kind"] == "dense" and row["size"] == g.size
        assert row["now"]["mean_abs"] == pytest.approx(g.mean(), rel=1e-5)
        assert row["now"]["max_abs"] == pytest.approx(g.max(), rel=1e-5)
        assert row["now"]["norm"] == pytest.approx(np.linalg.norm(g), rel=1e-5)
    assert out["layers"][0]["now"]["mean_abs"] != out["layers"][1]["now"]["mean_abs"]


def test_batch_size_changes_now_and_is_capped(digits):
    small = gradients.compute(digits, batch=4)
    assert small["batch"] == 4
    _, expected = _independent(digits, 4)
    assert small["layers"][0]["now"]["norm"] == pytest.approx(np.linalg.norm(expected[1]), rel=1e-5)
    everything = gradients.compute(digits, batch=10_000)
    assert everything["batch"] == len(digits.dataset.x_train)


def test_recorded_matches_the_snapshots(digits):
    out = gradients.compute(digits)
    snaps = [r for r in open_run(digits.run_dir).records if r.get("event") == "snapshot"]
    assert [s["step"] for s in snaps] == [5, 10, 15, 20]
    for row in out["layers"]:
        assert [r["step"] for r in row["recorded"]] == [s["step"] for s in snaps]
        for got, snap in zip(row["recorded"], snaps, strict=True):
            (layer,) = [entry for entry in snap["layers"] if entry["index"] == row["index"]]
            hist = layer["grad"]["histogram"]
            assert got["norm"] == layer["grad"]["norm"]
            assert got["max"] == pytest.approx(max(abs(hist["lo"]), abs(hist["hi"])))
            assert got["epoch"] == snap["epoch"]
            assert got["max"] > 0 and got["norm"] >= got["max"]


def test_model_unchanged(digits):
    model = digits.model
    model.grads[...] = np.arange(model.grads.size) * 1e-3  # something backward would overwrite
    params, grads = model.params.copy(), model.grads.copy()
    gradients.compute(digits)
    assert np.array_equal(model.params, params)
    assert np.array_equal(model.grads, grads)


def test_bad_batch(digits):
    for bad in (0, -3, 2.5):
        with pytest.raises(InspectError, match="--batch"):
            gradients.compute(digits, batch=bad)


def test_nan_becomes_null():
    number = gradients.number  # common.number, what every view's JSON goes through
    assert number(float("nan")) is None and number(float("inf")) is None
    assert number(1.23456789) == 1.23457
