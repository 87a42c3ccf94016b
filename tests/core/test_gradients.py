"""Every layer and activation passes a float64 finite-difference check of input and parameter gradients."""

from __future__ import annotations

import pytest
from gradient_helper import assert_layer_gradients

from dl_lab.core import ACTIVATION_NAMES

LAYER_CASES = {
    "dense": ({"dense": {"units": 4}}, (5,)),
    "dense_no_bias": ({"dense": {"units": 3, "bias": False}}, (4,)),
    "conv_valid": ({"conv2d": {"filters": 3, "kernel": 3}}, (2, 6, 5)),
    "conv_same_stride2": ({"conv2d": {"filters": 3, "kernel": 3, "stride": 2, "padding": "same"}}, (2, 7, 6)),
    "conv_int_padding_rect_kernel": ({"conv2d": {"filters": 2, "kernel": [2, 3], "padding": 1}}, (2, 5, 6)),
    "conv_stride_pair_relu": (
        {"conv2d": {"filters": 2, "kernel": 3, "stride": [2, 1], "activation": "relu"}},
        (1, 9, 8),
    ),
    "conv_same_even_kernel": ({"conv2d": {"filters": 2, "kernel": 4, "padding": "same"}}, (1, 6, 6)),
    "maxpool": ({"maxpool2d": {"size": 2}}, (2, 6, 6)),
    "maxpool_overlapping": ({"maxpool2d": {"size": 3, "stride": 2}}, (2, 7, 7)),
    "maxpool_ragged": ({"maxpool2d": {"size": 2}}, (2, 7, 7)),
    "avgpool": ({"avgpool2d": {"size": 2}}, (2, 6, 6)),
    "avgpool_overlapping": ({"avgpool2d": {"size": 3, "stride": 2}}, (2, 7, 7)),
    "flatten": ({"flatten": {}}, (2, 3, 3)),
    "dropout": ({"dropout": {"p": 0.3}}, (6,)),
    "batchnorm_1d": ({"batchnorm": {}}, (4,)),
    "batchnorm_2d": ({"batchnorm": {}}, (3, 4, 4)),
    "residual": (
        {"residual": {"layers": [{"dense": {"units": 6, "activation": "relu"}}, {"dense": {"units": 6}}]}},
        (6,),
    ),
    "residual_conv": (
        {"residual": {"layers": [{"conv2d": {"filters": 2, "kernel": 3, "padding": "same", "activation": "tanh"}}]}},
        (2, 5, 5),
    ),
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_gradients_match_finite_differences(case, backend):
    spec, shape = LAYER_CASES[case]
    assert_layer_gradients(spec, shape, backend=backend)


@pytest.mark.parametrize("name", [a for a in ACTIVATION_NAMES])
def test_activation_gradients_match_finite_differences(name, backend):
    assert_layer_gradients({"activation": {"name": name}}, (7,), backend=backend)
    assert_layer_gradients({"dense": {"units": 3, "activation": name}}, (4,), backend=backend)


@pytest.mark.parametrize("name,alpha", [("leaky_relu", 0.2), ("elu", 0.5)])
def test_parametrised_activations_use_their_alpha_in_both_directions(name, alpha, backend):
    assert_layer_gradients({"activation": {"name": name, "alpha": alpha}}, (9,), backend=backend)


def test_a_deeper_mixed_model_passes_gradcheck(backend):
    import numpy as np

    from dl_lab.core import Sequential, get_loss
    from dl_lab.core.gradcheck import gradcheck

    specs = [
        {"conv2d": {"filters": 3, "kernel": 3, "padding": "same", "activation": "elu"}},
        {"batchnorm": {}},
        {"maxpool2d": {"size": 2}},
        {"flatten": {}},
        {"dropout": {"p": 0.2}},
        {"dense": {"units": 5, "activation": "softplus"}},
        {"dense": {"units": 3}},
    ]
    model = Sequential(specs, (2, 6, 6), backend=backend, dtype="float64", seed=3)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 6, 6))
    y = backend.asarray(np.array([0, 2, 1, 2]))
    errors = gradcheck(model, get_loss("cross_entropy"), x, y)
    assert max(errors.values()) < 1e-6, errors
