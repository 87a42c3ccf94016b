"""The loss-landscape view: the grid's centre and the line's ends are the losses at the recorded weights, the
directions are filter-normalized, the training path ends at the centre, and bad options say which option."""

from __future__ import annotations

import numpy as np
import pytest
from recorded import record

from dl_lab.core.inspect import weights
from dl_lab.sessions.inspect.common import InspectError, open_inspected
from dl_lab.sessions.inspect.landscape import compute, filter_normalized_direction, recorded_weights

MLP = """\
name: mlp
seed: 5
dtype: float64
data: {dataset: circle, samples: 120, noise: 0.1}
model:
  - dense: {units: 8, activation: tanh}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.03}
training: {epochs: 3, batch_size: 16, checkpoint_every: 1}
monitor: {every_steps: 4}
"""

CNN = """\
name: cnn
seed: 2
dtype: float64
data: {dataset: digits, samples: 200, normalize: standard}
model:
  - conv2d: {filters: 3, kernel: 3, activation: relu}
  - batchnorm: {}
  - flatten: {}
  - dense: {units: 10}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 1, batch_size: 32}
"""


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    return record(tmp_path_factory.mktemp("landscape") / "mlp", MLP)


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    return record(tmp_path_factory.mktemp("landscape") / "cnn", CNN)


def _loss_of_checkpoint(run_dir, name, samples):
    """The loss at a checkpoint, computed without the view: a fresh model loads it and runs forward."""
    ins = open_inspected(run_dir, "initial")  # a model of the run's shape, whatever weights it holds
    with np.load(run_dir / "checkpoints" / f"{name}.npz", allow_pickle=False) as npz:
        ins.model.load_state_dict({k: npz[k] for k in npz.files})
    x, y = ins.validation(samples)
    value, _ = ins.loss(ins.model.forward(np.asarray(x, dtype=ins.model.dtype), training=False), y)
    return float(value)


def test_grid_centre_is_the_loss_at_the_final_weights(mlp_run):
    view = compute(open_inspected(mlp_run), steps=5, span=0.5, samples=20)
    assert view["view"] == "landscape" and view["mode"] == "2d" and view["checkpoint"] == "final"
    assert view["samples"] == 20 and view["a"] == [-0.5, -0.25, 0.0, 0.25, 0.5] and view["b"] == view["a"]
    assert len(view["loss"]) == 5 and all(len(row) == 5 for row in view["loss"])
    expected = _loss_of_checkpoint(mlp_run, "final", 20)
    assert view["centre_loss"] == pytest.approx(expected, rel=1e-5)
    assert view["loss"][2][2] == view["centre_loss"]
    assert view["min_loss"] <= view["centre_loss"] <= view["max_loss"]
    assert view["max_loss"] > view["min_loss"]  # the directions move the weights


def test_grid_points_are_the_loss_along_the_two_seeded_directions(mlp_run):
    ins = open_inspected(mlp_run)
    view = compute(ins, steps=3, span=0.8, samples=16, seed=7)
    rng = np.random.default_rng(7)  # the view draws d1 then d2 from its seed
    d1 = filter_normalized_direction(ins.model, rng)
    d2 = filter_normalized_direction(ins.model, rng)
    x, y = ins.validation(16)
    w = ins.model.params.copy()
    for i, b in enumerate(view["b"]):
        for j, a in enumerate(view["a"]):
            with weights(ins.model, w + a * d1 + b * d2):
                value, _ = ins.loss(ins.model.forward(x, training=False), y)
            assert view["loss"][i][j] == pytest.approx(float(value), rel=1e-5), (a, b)
    assert view["loss"] != compute(ins, steps=3, span=0.8, samples=16, seed=8)["loss"]


def test_view_leaves_the_model_alone(mlp_run):
    ins = open_inspected(mlp_run)
    before = ins.model.params.copy()
    compute(ins, steps=3)
    compute(ins, mode="1d", steps=3)
    np.testing.assert_array_equal(ins.model.params, before)


def test_line_ends_are_the_initial_and_final_losses(mlp_run):
    view = compute(open_inspected(mlp_run), mode="1d", samples=24)
    assert view["mode"] == "1d" and len(view["alpha"]) == 21 and len(view["loss"]) == 21
    assert view["alpha"][0] == -0.5 and view["alpha"][-1] == 1.5
    i0, i1 = view["initial_index"], view["final_index"]
    assert (view["alpha"][i0], view["alpha"][i1]) == (0.0, 1.0)
    assert view["initial_loss"] == view["loss"][i0] and view["final_loss"] == view["loss"][i1]
    assert view["initial_loss"] == pytest.approx(_loss_of_checkpoint(mlp_run, "initial", 24), rel=1e-5)
    assert view["final_loss"] == pytest.approx(_loss_of_checkpoint(mlp_run, "final", 24), rel=1e-5)
    assert view["initial_loss"] != pytest.approx(view["final_loss"], rel=1e-3)  # training moved the weights


@pytest.mark.parametrize("steps, span", [(3, 1.0), (7, 4.0), (101, 0.1)])
def test_line_always_holds_alpha_zero_and_one(mlp_run, steps, span):
    view = compute(open_inspected(mlp_run), mode="1d", steps=steps, span=span, samples=8)
    assert len(view["alpha"]) == steps
    assert view["alpha"][view["initial_index"]] == 0.0 and view["alpha"][view["final_index"]] == 1.0
    assert view["alpha"] == sorted(view["alpha"])


def test_directions_are_filter_normalized(cnn_run):
    model = open_inspected(cnn_run).model
    kinds = {}
    for i, layer in enumerate(model.layers):
        for name, _ in layer.parameters():
            kinds[f"{i}.{name}"] = layer.kind
    d = filter_normalized_direction(model, np.random.default_rng(3))
    assert d.shape == model.params.shape and d.dtype == model.params.dtype
    seen = set()
    for key, p in model.named_parameters():
        part = p.view(d)  # the direction's values for p (a dense weight is stored transposed)
        if kinds[key] == "batchnorm" or not p.regularized:
            assert np.all(part == 0), key
            continue
        seen.add(kinds[key])
        filters = part.reshape(p.shape[0], -1)
        np.testing.assert_allclose(
            np.linalg.norm(filters, axis=1), np.linalg.norm(p.data.reshape(p.shape[0], -1), axis=1), rtol=1e-10
        )
        assert not np.allclose(filters, p.data.reshape(p.shape[0], -1))  # a random direction, not the weights
    assert seen == {"conv2d", "dense"}
    assert {kinds[k] for k, p in model.named_parameters() if not p.regularized} >= {"batchnorm"}
    other = filter_normalized_direction(model, np.random.default_rng(4))
    assert not np.allclose(d, other)


def test_path_has_one_point_per_recorded_step_and_ends_at_the_centre(mlp_run):
    view = compute(open_inspected(mlp_run), steps=3, samples=8)
    frames = sorted(int(p.stem[5:]) for p in (mlp_run / "frames").glob("step-*.npz"))
    assert frames == [4, 8, 12, 16]
    # initial (0), the frames, epochs 1..3 (steps 6, 12, 18; 12 is also a frame), final (18 = epoch 3)
    assert [point["step"] for point in view["path"]] == [0, 4, 6, 8, 12, 16, 18]
    assert [s for s, _ in recorded_weights(mlp_run)] == [0, 4, 6, 8, 12, 16, 18]
    assert (view["path"][-1]["a"], view["path"][-1]["b"]) == (0.0, 0.0)
    assert (view["path"][0]["a"], view["path"][0]["b"]) != (0.0, 0.0)


def test_path_projection_is_least_squares(mlp_run):
    """A point recorded exactly on the plane comes back at its own coordinates."""
    ins = open_inspected(mlp_run)
    rng = np.random.default_rng(0)
    d1 = filter_normalized_direction(ins.model, rng)
    d2 = filter_normalized_direction(ins.model, rng)
    from dl_lab.sessions.inspect.landscape import _project

    w = ins.model.params.copy()
    deltas = np.stack([0.3 * d1 - 0.2 * d2, (w + 0.1 * d2) - w])
    np.testing.assert_allclose(_project(deltas, d1, d2), [[0.3, -0.2], [0.0, 0.1]], atol=1e-10)


@pytest.mark.parametrize(
    "options, name",
    [
        ({"steps": 4}, "steps"),
        ({"steps": 1}, "steps"),
        ({"steps": 103}, "steps"),
        ({"steps": 5.0}, "steps"),
        ({"span": 0}, "span"),
        ({"span": -1.0}, "span"),
        ({"span": float("nan")}, "span"),
        ({"samples": 0}, "samples"),
        ({"mode": "3d"}, "mode"),
    ],
)
def test_bad_options_name_the_option(mlp_run, options, name):
    with pytest.raises(InspectError, match=rf"^{name}:"):
        compute(open_inspected(mlp_run), **options)


def test_pca_directions_span_the_path_and_hold_its_variance(mlp_run):
    from dl_lab.sessions.inspect.landscape import _flat, pca_directions, recorded_weights

    out = compute(open_inspected(mlp_run), steps=5, samples=32, directions="pca")
    assert out["directions"] == "pca" and out["path"][-1]["a"] == 0.0 and out["path"][-1]["b"] == 0.0
    reach = max(abs(v) for v in out["a"])
    assert all(abs(p["a"]) <= reach and abs(p["b"]) <= reach for p in out["path"])  # drawn inside the grid
    assert max(abs(p["a"]) for p in out["path"]) == pytest.approx(reach / 1.2, rel=1e-4)  # span 1: the path's reach
    # independently: the path's deltas from the final weights, their top two principal directions
    ins = open_inspected(mlp_run)
    w = np.asarray(ins.model.params, dtype=np.float64)
    deltas = np.stack([_flat(ins.model, p) for _, p in recorded_weights(mlp_run)]) - w
    moved = deltas[np.linalg.norm(deltas, axis=1) > 0]
    _, sv, _ = np.linalg.svd(moved - moved.mean(axis=0), full_matrices=False)
    assert out["variance"] == pytest.approx((sv[:2] ** 2).sum() / (sv**2).sum(), rel=1e-5)
    d1, d2, _ = pca_directions(deltas)
    assert abs(np.dot(d1, d2)) < 1e-9 and np.linalg.norm(d1) == pytest.approx(1.0)
    with pytest.raises(InspectError, match="directions"):
        compute(ins, steps=5, samples=8, directions="sideways")
