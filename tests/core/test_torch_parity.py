"""dl-lab's engine beside PyTorch, in float64 unless said otherwise: the binary hinge and MultiMarginLoss,
leaky_relu's derivative at 0, the float32 tails of sigmoid, elu and softplus, the refusal of Nesterov without
momentum, buffer copies on loading, and whole SGD and Adam steps of small MLPs and CNNs.

dl-lab never depends on PyTorch: these tests are skipped unless it is importable (pip install torch into the venv,
or run them from a venv that has both).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from dl_lab.core import ACTIVATIONS, ConfigError, Sequential, TrainStep, get_loss, make_optimizer

torch = pytest.importorskip("torch")
F = torch.nn.functional


def t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float64))


# --- losses ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("labels", [[1, -1, 1, -1, 1], [1, 0, 1, 0, 1]])
@pytest.mark.parametrize("name", ["hinge", "perceptron"])
def test_binary_hinge_and_perceptron_match_torch_written_out(name, labels):
    scores = np.random.default_rng(0).standard_normal((5, 1)) * 1.5
    value, grad = get_loss(name)(scores, np.array(labels))
    s = t64(scores).requires_grad_()
    t = torch.where(t64(labels) > 0, 1.0, -1.0).double().reshape(5, 1)
    ref = torch.clamp(1 - t * s, min=0).mean() if name == "hinge" else torch.clamp(-t * s, min=0).mean()
    ref.backward()
    assert float(value) == pytest.approx(ref.item(), abs=1e-15)
    if name == "hinge":  # the perceptron counts t s = 0 as a mistake, torch's clamp has gradient 0 there: no tie here
        np.testing.assert_allclose(grad, s.grad.numpy(), atol=1e-15)


def test_multiclass_hinge_matches_multi_margin_loss():
    rng = np.random.default_rng(1)
    out, target = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    value, grad = get_loss("hinge")(out, target)
    o = t64(out).requires_grad_()
    ref = torch.nn.MultiMarginLoss()(o, torch.tensor(target))
    ref.backward()
    assert float(value) == pytest.approx(ref.item(), abs=1e-15)
    np.testing.assert_allclose(grad, o.grad.numpy(), atol=1e-15)


# --- activations -------------------------------------------------------------------------------------------
def test_leaky_relu_gradient_at_zero_matches_torch():
    x = np.array([-1.0, 0.0, 1.0])
    act = ACTIVATIONS["leaky_relu"]
    ours = act.backward(np.ones(3), x, act.forward(x, alpha=0.2), alpha=0.2)
    xt = t64(x).requires_grad_()
    F.leaky_relu(xt, 0.2).sum().backward()
    np.testing.assert_array_equal(ours, xt.grad.numpy())


TORCH_FN = {"sigmoid": torch.sigmoid, "elu": F.elu, "softplus": F.softplus}


def _value_and_grad(fn, x):
    xt = torch.tensor(x).requires_grad_()
    y = fn(xt)
    y.backward(torch.ones_like(y))
    return y.detach().numpy().astype(np.float64), xt.grad.numpy().astype(np.float64)


def _relative(v, ref):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ref != 0, np.abs(v - ref) / np.abs(ref), np.where(v == 0, 0.0, np.inf))


@pytest.mark.parametrize("name", ["sigmoid", "elu", "softplus"])
def test_float32_values_and_gradients_are_as_precise_as_torch_on_minus_30_to_30(name):
    x = np.linspace(-30.0, 30.0, 6001).astype(np.float32)
    exact_y, exact_d = _value_and_grad(TORCH_FN[name], x.astype(np.float64))  # float64: the reference
    torch_y, torch_d = _value_and_grad(TORCH_FN[name], x)
    act = ACTIVATIONS[name]
    y = act.forward(x)
    d = act.backward(np.ones_like(x), x, y)
    for ours, theirs, exact in ((y, torch_y, exact_y), (d, torch_d, exact_d)):
        good = _relative(theirs, exact) <= 1e-6  # where torch keeps 1e-6, so must we
        assert good.mean() > 0.5, good.mean()
        worst = _relative(ours.astype(np.float64), exact)[good].max()
        assert worst <= 1e-6, f"{name}: relative error {worst:.2e}"


# --- optimizers and checkpoints ------------------------------------------------------------------------------
def test_nesterov_without_momentum_is_refused_like_torch():
    with pytest.raises(ValueError, match=r"[Nn]esterov"):
        torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1, nesterov=True)
    with pytest.raises(ConfigError, match=r"optimizer\.nesterov"):
        make_optimizer({"name": "sgd", "lr": 0.1, "nesterov": True})


def test_loading_a_state_copies_batchnorm_buffers_as_torch_does():
    specs = [{"dense": {"units": 3}}, {"batchnorm": {}}]
    state = Sequential(specs, (4,), dtype="float64", seed=0).state_dict()
    before = copy.deepcopy(state)
    ours = Sequential(specs, (4,), dtype="float64", seed=1)
    ours.load_state_dict(state)
    theirs = torch.nn.BatchNorm1d(3).double()
    keys = ("weight", "bias", "running_mean", "running_var")
    theirs_state = {k: t64(state[f"1.{k}"]) for k in keys} | {"num_batches_tracked": torch.tensor(0)}
    theirs_before = {k: v.clone() for k, v in theirs_state.items()}
    theirs.load_state_dict(theirs_state)
    x = np.random.default_rng(0).standard_normal((8, 4)) * 3 + 1
    ours.forward(x, training=True)
    theirs.train()(t64(x[:, :3]))
    for key in ("running_mean", "running_var"):
        np.testing.assert_array_equal(state[f"1.{key}"], before[f"1.{key}"])
        assert torch.equal(theirs_state[key], theirs_before[key])  # torch copies into its own buffers too
        assert not np.array_equal(dict(ours.named_buffers())[f"1.{key}"], before[f"1.{key}"])


# --- whole steps --------------------------------------------------------------------------------------------
ACT = {
    "identity": torch.nn.Identity,
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
    "elu": torch.nn.ELU,
    "softplus": torch.nn.Softplus,
    "leaky_relu": lambda: torch.nn.LeakyReLU(0.01),
}
MODELS = {
    "mlp": (
        [
            {"dense": {"units": 7, "activation": "tanh"}},
            {"dense": {"units": 6, "activation": "leaky_relu"}},
            {"batchnorm": {}},
            {"dense": {"units": 5, "activation": "elu"}},
            {"dense": {"units": 3}},
        ],
        (4,),
    ),
    "mlp_softplus": (
        [
            {"dense": {"units": 9, "activation": "softplus"}},
            {"dense": {"units": 5, "activation": "sigmoid"}},
            {"dense": {"units": 4}},
        ],
        (6,),
    ),
    "cnn": (
        [
            {"conv2d": {"filters": 4, "kernel": 3, "padding": 1, "activation": "relu"}},
            {"batchnorm": {}},
            {"maxpool2d": {"size": 2}},
            {"conv2d": {"filters": 5, "kernel": 2, "stride": 2, "activation": "tanh"}},
            {"flatten": {}},
            {"dense": {"units": 3}},
        ],
        (2, 8, 8),
    ),
}


def torch_twin(model: Sequential):
    """A torch.nn.Sequential computing what ``model`` computes, with its parameters and buffers copied in."""
    modules, owners = [], []  # owners: (dl-lab layer index, torch module holding its parameters)
    for i, layer in enumerate(model.layers):
        cfg, kind = layer.cfg, layer.kind
        if kind == "dense":
            m = torch.nn.Linear(layer.input_shape[0], cfg["units"], bias=cfg["bias"])
            modules += [m, ACT[cfg["activation"]]()]
        elif kind == "conv2d":
            m = torch.nn.Conv2d(
                layer.input_shape[0], cfg["filters"], cfg["kernel"], cfg["stride"], cfg["padding"], bias=cfg["bias"]
            )
            modules += [m, ACT[cfg["activation"]]()]
        elif kind == "batchnorm":
            norm = torch.nn.BatchNorm1d if len(layer.input_shape) == 1 else torch.nn.BatchNorm2d
            m = norm(layer.input_shape[0], eps=cfg["eps"], momentum=cfg["momentum"])
            modules.append(m)
        elif kind == "maxpool2d":
            modules.append(torch.nn.MaxPool2d(cfg["size"], cfg["stride"]))
            continue
        elif kind == "flatten":
            modules.append(torch.nn.Flatten())
            continue
        else:
            raise AssertionError(f"no twin for {kind}")
        owners.append((i, m))
    net = torch.nn.Sequential(*modules).double()  # after this, the buffers are new tensors
    pairs = [
        (f"{i}.{name}", t)
        for i, m in owners
        for name, t in list(m.named_parameters()) + list(m.named_buffers())
        if name != "num_batches_tracked"
    ]
    state = model.state_dict()
    with torch.no_grad():
        for key, t in pairs:
            t.copy_(t64(state[key]))
    return net, pairs


OPTIMIZERS = {
    "sgd": (
        {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    ),
    "adam": ({"name": "adam", "lr": 0.01}, lambda p: torch.optim.Adam(p, lr=0.01)),
}


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("seed", [0, 1])
def test_sgd_and_adam_steps_match_torch(name, opt, seed):
    specs, shape = MODELS[name]
    model = Sequential(specs, shape, dtype="float64", seed=seed, init="torch_default")
    net, pairs = torch_twin(model)
    ours_cfg, make_theirs = OPTIMIZERS[opt]
    step = TrainStep(model, get_loss("cross_entropy"), make_optimizer(ours_cfg))
    theirs = make_theirs(net.parameters())
    rng = np.random.default_rng(seed + 10)
    k = model.output_shape[0]
    for _ in range(3):  # three steps: momentum and Adam's moments come into play
        x, y = rng.standard_normal((8, *shape)), rng.integers(0, k, 8)
        ours_loss = float(step(x, y))
        theirs.zero_grad()
        ref = F.cross_entropy(net.train()(t64(x)), torch.tensor(y))
        ref.backward()
        theirs.step()
        assert ours_loss == pytest.approx(ref.item(), rel=1e-12)
    state = model.state_dict()
    for key, t in pairs:
        np.testing.assert_allclose(state[key], t.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=key)
