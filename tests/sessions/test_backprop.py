"""The backprop walk (sessions/inspect/backprop.py): seed 003's worked example and seed 002's XOR network number by
number, every gradient of a small network against float64 finite differences, and the per-tensor walk of a CNN."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.core import get_loss
from dl_lab.sessions import preset_session, session_from_text
from dl_lab.sessions.inspect.backprop import BackpropError, engine_gradients, walk
from dl_lab.sessions.training.build import build


def walked(session, sample=0):
    built = build(session, backend="numpy")
    return walk(session, built.model, built.dataset, sample).to_dict(), built


def values(result, phase=None):
    return {s["node"]: s["value"] for s in result["steps"] if phase is None or s["phase"] == phase}


def test_seed003_every_number_of_the_slides():
    result, _ = walked(preset_session("backprop_example"))
    assert result["mode"] == "numbers" and result["x"] == [3.0] and result["y"] == [-12.0]
    forward = values(result, "forward")
    # u = w1 x + b1 = 15, relu(u) = 15, z = w2 relu(u) + b2 = -14, loss (z - y)^2 = 4
    assert forward == {"x": 3.0, "z1": 15.0, "a1": 15.0, "z2": -14.0, "L": 4.0}
    backward = values(result, "backward")
    assert backward["∂L/∂z2"] == -4.0  # 2 (z - y)
    assert backward["∂L/∂w2"] == -60.0 and backward["∂L/∂b2"] == -4.0
    assert backward["∂L/∂a1"] == 4.0 and backward["∂a1/∂z1"] == 1.0 and backward["∂L/∂z1"] == 4.0
    assert backward["∂L/∂w1"] == 12.0 and backward["∂L/∂b1"] == 4.0
    update = values(result, "update")  # plain SGD at the preset's lr: w - lr g
    lr = result["optimizer"]["lr"]
    assert update["w1 ←"] == pytest.approx(5 - lr * 12) and update["w2 ←"] == pytest.approx(-1 - lr * -60)
    assert update["b1 ←"] == pytest.approx(0 - lr * 4) and update["b2 ←"] == pytest.approx(1 - lr * -4)
    steps = {s["node"]: s for s in result["steps"]}
    assert steps["z1"]["formula"] == "z1 = w1·x + b1" and steps["z1"]["numbers"] == "5·3 + 0"
    assert steps["z1"]["inputs"] == {"w1": 5.0, "x": 3.0, "b1": 0.0}
    assert steps["∂L/∂w1"]["numbers"] == "4 · 3"
    phases = [s["phase"] for s in result["steps"]]
    assert phases == sorted(phases, key=["forward", "backward", "update"].index)  # forward, then back, then update


def test_seed003_a_negative_pre_activation_stops_every_gradient_below_the_relu():
    result, _ = walked(preset_session("backprop_example", ["weights.0.bias=-20"]))
    backward = values(result, "backward")
    assert values(result, "forward")["z1"] == -5.0 and backward["∂a1/∂z1"] == 0.0
    assert backward["∂L/∂w1"] == 0.0 and backward["∂L/∂b1"] == 0.0 and backward["∂L/∂b2"] == 26.0


@pytest.mark.parametrize(("sample", "h", "y"), [(0, (0, 0), 0), (1, (1, 0), 1), (2, (1, 0), 1), (3, (2, 1), 0)])
def test_seed002_xor_network_row_by_row(sample, h, y):
    result, _ = walked(preset_session("xor_by_hand"), sample)
    forward = values(result, "forward")
    assert (forward["a1[1]"], forward["a1[2]"]) == h and forward["z2"] == y and forward["L"] == 0.0
    assert all(v == 0.0 for k, v in values(result, "backward").items() if k.startswith("∂L/∂"))


SMALL = """
name: small
seed: 3
dtype: float64
data: {dataset: circle, samples: 40, features: [x1, x2, x1^2]}
model:
  - dense: {units: 3, activation: tanh}
  - dense: {units: 2}
  - activation: {name: sigmoid}
  - dense: {units: 2}
loss: cross_entropy
optimizer: {name: adam, lr: 0.01}
"""


def test_the_walk_gradients_equal_the_engine_and_finite_differences():
    session = session_from_text(SMALL)
    result, built = walked(session, sample=5)
    assert result["mode"] == "numbers"
    grads = engine_gradients(session, built.model, built.dataset, 5)
    backward = values(result, "backward")
    # the walk's names: W1[j,k] is 0.weight[j-1, k-1], b2[j] is 2.bias... (dense layers counted 1, 2, 3)
    for key, layer_number in (("0", 1), ("1", 2), ("3", 3)):
        W = grads[f"{key}.weight"]
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                assert backward[f"∂L/∂W{layer_number}[{j + 1},{k + 1}]"] == pytest.approx(W[j, k], rel=1e-5, abs=1e-9)
            name = f"∂L/∂b{layer_number}[{j + 1}]"
            assert backward[name] == pytest.approx(grads[f"{key}.bias"][j], rel=1e-5, abs=1e-9)
    # the engine's gradients against central differences of the loss (float64)
    model, loss = built.model, get_loss("cross_entropy")
    x = np.asarray(built.dataset.x_train[5:6], dtype=np.float64)
    y = built.dataset.y_train[5:6]
    from dl_lab.core import Sequential

    m = Sequential(list(session.config.model), model.input_shape, dtype="float64", loss=loss)
    m.load_state_dict(model.state_dict())
    for key, p in m.named_parameters():
        for at in np.ndindex(p.shape):  # by index: a dense weight is a transposed view of the flat buffer
            old = p.data[at]
            p.data[at] = old + 1e-6
            up = float(loss(m.forward(x), y)[0])
            p.data[at] = old - 1e-6
            down = float(loss(m.forward(x), y)[0])
            p.data[at] = old
            assert grads[key][at] == pytest.approx((up - down) / 2e-6, rel=1e-4, abs=1e-8)


def test_a_cnn_is_walked_per_tensor_with_the_engine_gradients():
    session = preset_session("digits_cnn", ["data.samples=60"])
    result, built = walked(session, sample=2)
    assert result["mode"] == "tensors"
    grads = engine_gradients(session, built.model, built.dataset, 2)
    steps = {s["node"]: s for s in result["steps"]}
    for key, g in grads.items():
        i, name = key.split(".", 1)
        shown = steps[f"∂L/∂model[{i}].{name}"]["value"]
        assert shown["shape"] == list(g.shape)
        assert shown["norm"] == pytest.approx(float(np.linalg.norm(g)), rel=1e-4)
    assert [s["node"] for s in result["steps"] if s["phase"] == "update"] == [
        f"model[{k.split('.')[0]}].{k.split('.', 1)[1]} ←" for k in grads
    ]


def test_a_sample_out_of_range_is_an_error_naming_it():
    with pytest.raises(BackpropError, match=r"--sample 4: the training split has 4 samples \(0 to 3\)"):
        walked(preset_session("xor_by_hand"), sample=4)
