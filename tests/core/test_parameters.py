"""Parameters are views of the model's flat buffers: a layer can write into them, never rebind them."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.core import Sequential, TrainStep, get_loss, make_optimizer
from dl_lab.core.layers.dense import Dense


class RebindingDense(Dense):
    """A Dense whose backward computes the right gradient but rebinds ``weight.grad`` instead of writing it."""

    def backward(self, dy):
        dz = self.act.backward(dy, self._z, self._y)
        self.weight.grad = dz.T @ self._x  # the trap: the optimizer reads the flat buffer, not this new array
        dz.sum(axis=0, out=self.bias.grad)
        return dz @ self.weight.data


def _model(monkeypatch, layer_class):
    monkeypatch.setitem(Sequential.__init__.__globals__["LAYERS"], "dense", layer_class)
    return Sequential([{"dense": {"units": 2}}], (3,), dtype="float64", seed=0)


def test_a_layer_that_rebinds_its_gradient_fails_loudly(monkeypatch):
    model = _model(monkeypatch, RebindingDense)
    step = TrainStep(model, get_loss("mse"), make_optimizer({"name": "sgd", "lr": 0.1}))
    x, y = np.ones((4, 3)), np.zeros((4, 2))
    with pytest.raises(AttributeError, match=r"weight: grad is a view of the model's flat gradient buffer"):
        step(x, y)


def test_rebinding_a_parameters_values_fails_loudly():
    model = Sequential([{"dense": {"units": 2}}], (3,), dtype="float64", seed=0)
    with pytest.raises(AttributeError, match=r"weight: data is a view .* never rebind it"):
        model.layers[0].weight.data = np.zeros((2, 3))


def test_in_place_updates_of_a_parameter_reach_the_flat_buffers():
    model = Sequential([{"dense": {"units": 2}}], (3,), dtype="float64", seed=0)
    weight = model.layers[0].weight
    weight.grad += 1.0  # in place: Python assigns the same array back, which is allowed
    weight.data[...] = 2.0
    flat_grad = model.grads[weight.offset : weight.offset + weight.size]
    flat_data = model.params[weight.offset : weight.offset + weight.size]
    assert np.all(flat_grad == 1.0) and np.all(flat_data == 2.0)


MIXED = [
    {"conv2d": {"filters": 2, "kernel": 3}},
    {"flatten": {}},
    {"dense": {"units": 4, "activation": "relu"}},
    {"dense": {"units": 3}},
]


def test_a_dense_weight_is_stored_transposed_and_every_flat_index_finds_its_entry():
    model = Sequential(MIXED, (1, 5, 5), dtype="float64", seed=0)
    model.params[...] = np.arange(model.size)  # each flat position holds its own index
    for key, p in model.named_parameters():
        assert p.transposed == key.endswith(("2.weight", "3.weight")), key
        for at in np.ndindex(p.shape):
            assert model.params[p.flat_index(at)] == p.data[at] == p.view(model.params)[at], (key, at)
        assert np.shares_memory(p.view(model.grads), p.grad)
    dense = model.layers[2].weight  # (4, 18), kept as (18, 4): row j holds the weights from input j
    assert dense.flat_index((1, 0)) == dense.offset + 1 and dense.flat_index((0, 1)) == dense.offset + 4
    with pytest.raises(IndexError, match=r"index \(4, 0\) is outside weight's shape \(4, 18\)"):
        dense.flat_index((4, 0))


def test_the_plain_layout_is_the_checkpoints_order_and_comes_back():
    model = Sequential(MIXED, (1, 5, 5), dtype="float64", seed=0)
    rng = np.random.default_rng(1)
    model.params[...] = rng.standard_normal(model.size)
    plain = model.to_plain(model.params)
    for key, value in model.state_dict().items():
        p = dict(model.named_parameters())[key]
        np.testing.assert_array_equal(plain[p.offset : p.offset + p.size], value.reshape(-1))
    back = np.zeros_like(model.params)
    model.from_plain(plain, back)
    np.testing.assert_array_equal(back, model.params)
    assert not np.array_equal(plain, model.params)  # the dense weights moved
