"""The dream view (class-model visualization): scores rise, each tile is its class, options are checked."""

from __future__ import annotations

import numpy as np
import pytest
from recorded import DIGITS_MLP, record

from dl_lab.sessions.inspect import dream
from dl_lab.sessions.inspect.common import InspectError, open_inspected

CIRCLE = """\
name: circle
seed: 0
dtype: float64
data: {dataset: circle, samples: 80, noise: 0.1}
model:
  - dense: {units: 4, activation: relu}
  - dense: {units: 2}
training: {epochs: 1, batch_size: 16}
monitor: {every_steps: 5}
"""


def _record(text, run_dir):
    return open_inspected(record(run_dir, text))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return _record(DIGITS_MLP, tmp_path_factory.mktemp("dream") / "digits")


def test_each_class_tile_climbs_and_wins(digits):
    out = dream.compute(digits, steps=300, lr=0.3, jitter=0, every=50)
    assert out["view"] == "dream" and out["target"] == "class" and out["checkpoint"] == "final"
    tiles = out["tiles"]
    assert [t["class"] for t in tiles] == list(range(10))
    assert [t["name"] for t in tiles] == [str(c) for c in range(10)]
    for t in tiles:
        assert t["progress"][0]["step"] == 0
        assert t["score"] > t["progress"][0]["score"]
        assert t["score"] == pytest.approx(t["progress"][-1]["score"], rel=1e-5)
        assert np.asarray(t["image"]).shape == (1, 8, 8)
    wins = sum(t["predicted"] == t["name"] for t in tiles)
    assert wins >= 7
    assert sum(t["probability"] > 0.5 for t in tiles) >= 7


def test_images_are_raw_units_within_the_data_range(digits):
    out = dream.compute(digits, steps=40, lr=2.0, jitter=2, blur=0.5, seed=1)
    lo, hi = out["range"]
    assert (lo, hi) == (0.0, 16.0)
    images = np.asarray([t["image"] for t in out["tiles"]])
    assert images.min() >= lo - 1e-6 and images.max() <= hi + 1e-6
    assert images.max() > images.min()  # moved away from the flat start
    # step 0 is the all-zero model input: the training data's mean in raw units
    shift = digits.raw_scale()[0]
    start = dream.compute(digits, classes=[3], steps=1, lr=1e-12, l2=0.0, jitter=0)
    assert np.allclose(start["tiles"][0]["image"], float(shift.reshape(-1)[0]), atol=1e-4)


def test_model_score_matches_the_tile(digits):
    out = dream.compute(digits, classes=[2, "5"], steps=30, jitter=0)
    shift, scale, _, _ = digits.raw_scale()
    assert [t["class"] for t in out["tiles"]] == [2, 5]
    for t in out["tiles"]:
        x = (np.asarray(t["image"])[None] - shift) / scale
        logits = digits.model.forward(x, training=False)[0]
        assert logits[t["class"]] == pytest.approx(t["score"], rel=1e-4, abs=1e-4)


def test_progress_every_steps(digits):
    out = dream.compute(digits, classes=[1], steps=25, every=10)
    assert [p["step"] for p in out["tiles"][0]["progress"]] == [0, 10, 20, 25]
    out = dream.compute(digits, classes=[1], steps=20, every=5)
    assert [p["step"] for p in out["tiles"][0]["progress"]] == [0, 5, 10, 15, 20]


def test_same_seed_same_dream_and_model_unchanged(digits):
    params, grads = digits.model.params.copy(), digits.model.grads.copy()
    a = dream.compute(digits, classes=[4], steps=15, jitter=2, blur=0.7, seed=5)
    b = dream.compute(digits, classes=[4], steps=15, jitter=2, blur=0.7, seed=5)
    assert a == b
    assert np.array_equal(digits.model.params, params) and np.array_equal(digits.model.grads, grads)


def test_hidden_channel_dream_raises_its_activation(digits):
    from dl_lab.core.inspect import layer_output

    out = dream.compute(digits, layer=1, channel=13, steps=40)
    assert out["target"] == "channel"
    (t,) = out["tiles"]
    assert (t["layer"], t["channel"], t["kind"]) == (1, 13, "dense")
    assert t["score"] > t["progress"][0]["score"]
    shift, scale, _, _ = digits.raw_scale()
    x = (np.asarray(t["image"])[None] - shift) / scale
    assert layer_output(digits.model, x, 1)[0, 13] == pytest.approx(t["score"], rel=1e-4, abs=1e-4)


def test_blur_is_a_normalized_separable_gaussian():
    flat = np.full((2, 1, 6, 7), 3.0)
    assert np.allclose(dream.gaussian_blur(flat, 1.2), 3.0)
    dot = np.zeros((1, 1, 9, 9))
    dot[0, 0, 4, 4] = 1.0
    b = dream.gaussian_blur(dot, 1.0)[0, 0]
    assert b.sum() == pytest.approx(1.0) and b[4, 4] < 1.0 and b.argmax() == 40
    assert np.allclose(b, b.T) and np.allclose(b, b[::-1, ::-1])
    assert dream.gaussian_blur(dot, 0.0) is dot


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"steps": 0}, "--steps"),
        ({"classes": [10]}, "--classes"),
        ({"classes": ["cat"]}, "--classes"),
        ({"channel": 2}, "--channel"),
        ({"layer": 1}, "--layer"),
        ({"layer": 1, "channel": 16}, "--channel"),
        ({"layer": 7, "channel": 0}, "--layer"),
        ({"lr": -1.0}, "--lr"),
        ({"every": 0}, "--every"),
        ({"blur": -0.5}, "--blur"),
        ({"jitter": -1}, "--jitter"),
    ],
)
def test_bad_options_name_the_option(digits, options, named):
    with pytest.raises(InspectError, match=named):
        dream.compute(digits, **options)


def test_points_are_not_images(tmp_path):
    ins = _record(CIRCLE, tmp_path / "circle")
    with pytest.raises(InspectError, match="image data") as err:
        dream.compute(ins)
    assert "saliency" in str(err.value) and "landscape" in str(err.value)
