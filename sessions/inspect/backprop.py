"""Backpropagation one number at a time (seed 003): one training sample through the network, forward node by node,
back through every local derivative and chain-rule product to each parameter's gradient, then one optimizer update.

``walk(session_or_inspected, sample)`` returns JSON-ready steps ``{phase, node, formula, numbers, inputs, value,
layer, unit, what}``: ``formula`` is the rule with names (``z1 = w1·x + b1``), ``numbers`` the same with the values
put in (``5·3 + 0``). Small networks of dense and activation layers (up to ``NUMBER_LIMIT`` parameters) are walked
number by number with seed 003's names (layer l's weights ``w1`` or ``W1[j,k]``, bias ``b1``, pre-activation
``z1``, activation ``a1``); any other network is walked per tensor (shape, norm and the first entries of each
layer's output, each gradient and each update). Every number is the engine's: the model computes the forward
values and the gradients (float64), the walk only names them, and the update is the session's own training step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dl_lab.core import Sequential, TrainStep, get_loss, make_optimizer
from dl_lab.core.errors import DLLabError
from dl_lab.sessions.inspect.common import number

NUMBER_LIMIT = 60  # parameters: "a few dozen" are shown one by one; larger networks per tensor
ENTRIES = 4  # the first entries of a tensor shown in the per-tensor walk
NUMBER_LAYERS = ("dense", "activation", "flatten")
DERIVATIVES = {
    "identity": "1",
    "relu": "1[z > 0]",
    "leaky_relu": "1 if z > 0 else a",
    "elu": "1 if z > 0 else a·e^z",
    "sigmoid": "σ(z)·(1 − σ(z))",
    "tanh": "1 − tanh(z)²",
    "softplus": "σ(z)",
    "gaussian": "−2z·e^(−z²)",
    "step": "0 (flat on both sides)",
}
UPDATE_RULES = {
    "sgd": "w − lr·g",
    "adam": "w − lr·m̂/(√v̂ + ε); on a first step m̂ = g, v̂ = g², so ≈ w − lr·sign(g)",
    "rmsprop": "w − lr·g/(√s + ε), s = (1 − decay)·g² on a first step",
    "adagrad": "w − lr·g/(√(g²) + ε) on a first step",
}


class BackpropError(DLLabError):
    """A sample index out of range, or a session whose model cannot be built."""


@dataclass
class Walk:
    mode: str  # "numbers" or "tensors"
    sample: int
    split: str
    x: list
    y: object
    loss: str
    optimizer: dict
    columns: list[dict]  # the drawing: {"label", "layer", "nodes"} from the input to the loss
    samples: int = 0  # how many training samples there are to choose from
    steps: list[dict] = field(default_factory=list)

    def add(self, phase, node, formula, numbers, inputs, value, layer, unit=None, what="") -> None:
        self.steps.append(
            {
                "phase": phase,
                "node": node,
                "formula": formula,
                "numbers": numbers,
                "inputs": {k: _plain(v) for k, v in inputs.items()},
                "value": _plain(value),
                "layer": layer,
                "unit": unit,
                "what": what,
            }
        )

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "sample": self.sample,
            "split": self.split,
            "x": self.x,
            "y": self.y,
            "loss": self.loss,
            "optimizer": self.optimizer,
            "columns": self.columns,
            "samples": self.samples,
            "steps": self.steps,
        }


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (np.generic, float)) and not isinstance(value, bool):
        return number(value)
    return value


def fmt(value: float) -> str:
    """A number as the slides write it: 15, −14, 0.25, 4.88; negative numbers in parentheses inside products."""
    v = float(value)
    if v == int(v) and abs(v) < 1e9:
        return str(int(v))
    return f"{v:.4g}"


def _p(value: float) -> str:
    text = fmt(value)
    return f"({text})" if text.startswith("-") else text


def _summary(arr) -> dict:
    a = np.asarray(arr, dtype=np.float64)
    flat = a.reshape(-1)
    return {
        "shape": list(a.shape),
        "norm": float(np.linalg.norm(flat)),
        "mean": float(flat.mean()) if flat.size else 0.0,
        "first": [float(v) for v in flat[:ENTRIES]],
    }


def _summary_text(s: dict) -> str:
    first = ", ".join(fmt(v) for v in s["first"])
    more = ", …" if int(np.prod(s["shape"])) > len(s["first"]) else ""
    return f"{tuple(s['shape'])} ‖·‖ {fmt(s['norm'])}  [{first}{more}]"


# --- preparing the model and the sample ---------------------------------------------------------------------
def _float64_model(model, config, loss) -> Sequential:
    """The model again in float64 (every number of the walk exact to print), holding the same weights."""
    copy = Sequential(list(config.model), model.input_shape, dtype="float64", seed=config.seed, loss=loss)
    copy.load_state_dict(model.state_dict(), source="the model")
    return copy


def number_mode(model) -> bool:
    """Whether ``model`` is walked number by number: a few dozen parameters, dense and activation layers only."""
    flat_input = len(model.input_shape) == 1
    kinds_ok = all(layer.kind in NUMBER_LAYERS for layer in model.layers)
    softmax = any(getattr(layer, "act", None) is not None and layer.act.name == "softmax" for layer in model.layers)
    return flat_input and kinds_ok and not softmax and model.size <= NUMBER_LIMIT


def walk(session, model, dataset, sample: int = 0) -> Walk:
    """The walk for training sample ``sample`` of ``dataset`` through ``model`` (weights as they are)."""
    config = session.config
    x_all, y_all = dataset.x_train, dataset.y_train
    if not 0 <= sample < len(y_all):
        count = f"{len(y_all)} sample{'s' if len(y_all) != 1 else ''}"
        raise BackpropError(f"--sample {sample}: the training split has {count} (0 to {len(y_all) - 1})")
    loss = get_loss(config.loss)
    model64 = _float64_model(model, config, loss)
    x = np.asarray(x_all[sample : sample + 1], dtype=np.float64)
    y = np.asarray(y_all[sample : sample + 1])
    y_shown = _plain(y[0].tolist() if y.ndim > 1 else y[0].item())
    opt = config.optimizer.to_spec()
    w = Walk(
        "numbers" if number_mode(model64) else "tensors",
        sample,
        "train",
        _plain(x[0].reshape(-1)[:64].tolist()),
        y_shown,
        config.loss,
        opt,
        [],
        len(y_all),
    )
    names = list(getattr(dataset, "feature_names", None) or [])
    if w.mode == "numbers":
        _numbers(w, model64, loss, x, y, names)
    else:
        _tensors(w, model64, loss, x, y)
    _update(w, session, model64, loss, x, y)
    return w


# --- number by number ---------------------------------------------------------------------------------------
def _indexed(base: str, n: int, j: int) -> str:
    return base if n == 1 else f"{base}[{j + 1}]"


class _Record:
    """One layer of the number walk: its names and values, kept for the backward pass."""

    def __init__(self, index, layer, a_in, names_in):
        self.index, self.layer = index, layer
        self.a_in, self.names_in = a_in, names_in
        self.z: Any = None  # the pre-activation values (an activation layer: its input)
        self.out: Any = None
        self.z_names: list[str] = []
        self.out_names: list[str] = []
        self.act = None
        self.kw: dict = {}
        self.l = 0  # the dense layer's number (1, 2, ...)


def _numbers(w: Walk, model, loss, x, y, feature_names) -> None:
    a = x[0].reshape(-1)
    if len(feature_names) == len(a):
        names = [n.replace("^2", "²") for n in feature_names]
        if names == ["x1"]:
            names = ["x"]
    else:
        names = ["x"] if len(a) == 1 else [f"x{k + 1}" for k in range(len(a))]
    w.columns.append({"label": "input", "layer": -1, "nodes": list(names)})
    for k, n in enumerate(names):
        w.add("forward", n, n, "", {}, a[k], -1, k, "input")
    model.forward(x, training=True, keep=True)
    outputs = [np.asarray(o, dtype=np.float64)[0] for o in model.outputs]
    records: list[_Record] = []
    dense_count = 0
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        r = _Record(i, layer, a, names)
        if layer.kind == "flatten":
            continue
        if layer.kind == "dense":
            dense_count += 1
            r.l = dense_count
            W = np.asarray(layer.weight.data, dtype=np.float64)
            b = np.asarray(layer.bias.data, dtype=np.float64) if layer.bias is not None else np.zeros(W.shape[0])
            z = W @ a + b
            units = W.shape[0]
            r.z, r.z_names = z, [_indexed(f"z{r.l}", units, j) for j in range(units)]
            for j in range(units):
                terms = [f"{_wname(r.l, W.shape, j, k)}·{names[k]}" for k in range(len(a))]
                values = [f"{_p(W[j, k])}·{_p(a[k])}" for k in range(len(a))]
                inputs = {_wname(r.l, W.shape, j, k): W[j, k] for k in range(len(a))}
                inputs.update({names[k]: a[k] for k in range(len(a))})
                if layer.bias is not None:
                    terms.append(_indexed(f"b{r.l}", units, j))
                    values.append(_p(b[j]))
                    inputs[_indexed(f"b{r.l}", units, j)] = b[j]
                what = "output" if i == last and layer.act.name == "identity" else "pre-activation"
                w.add(
                    "forward",
                    r.z_names[j],
                    f"{r.z_names[j]} = " + " + ".join(terms),
                    " + ".join(values),
                    inputs,
                    z[j],
                    i,
                    j,
                    what,
                )
            a, names = z, r.z_names
            r.out, r.out_names = z, r.z_names
        if layer.act.name != "identity":  # a dense layer's own activation, or an activation layer
            r.act, r.kw = layer.act, dict(getattr(layer, "kw", {}) or {})
            if layer.kind == "activation":
                r.z, r.z_names = a, names
                prev = records[-1].l if records else 0
                r.l = prev
            y_out = outputs[i]
            act_names = [_activation_name(r.l, n, len(a), j) for j, n in enumerate(r.z_names)]
            for j in range(len(a)):
                w.add(
                    "forward",
                    act_names[j],
                    f"{act_names[j]} = {layer.act.name}({r.z_names[j]})",
                    f"{layer.act.name}({fmt(r.z[j])})",
                    {r.z_names[j]: r.z[j]},
                    y_out[j],
                    i,
                    j,
                    "output" if i == last else "activation",
                )
            a, names = y_out, act_names
            r.out, r.out_names = y_out, act_names
        w.columns.append({"label": f"model[{i}] {layer.kind}", "layer": i, "nodes": list(names)})
        records.append(r)
    assert np.allclose(a, outputs[-1], rtol=1e-12, atol=1e-12), "the walk's forward pass differs from the engine's"
    out = np.asarray(model.outputs[-1], dtype=np.float64)
    value, dout_batch = loss(out, y)
    model.backward(dout_batch)  # the engine's own backward pass: every p.grad, which the update reads
    dout = np.asarray(dout_batch, dtype=np.float64)[0]
    w.columns.append({"label": "loss", "layer": None, "nodes": ["L"]})
    formula, numbers_text = _loss_formula(w.loss, names, a, y, dout)
    w.add(
        "forward",
        "L",
        formula,
        numbers_text,
        {n: a[j] for j, n in enumerate(names)} | {"y": w.y},
        float(value),
        None,
        0,
        "loss",
    )
    # backward: dL/d(output) from the loss, then each record in reverse
    g = dout
    for j, n in enumerate(names):
        rule = _loss_derivative(w.loss, n, len(names))
        w.add(
            "backward",
            f"∂L/∂{n}",
            rule,
            _loss_numbers(w.loss, a[j], y, j, len(names)),
            {n: a[j]},
            g[j],
            len(model.layers) - 1,
            j,
            "loss derivative",
        )
    for r in reversed(records):
        if r.act is not None:
            ones = np.ones_like(r.z)
            local = np.asarray(r.act.backward(ones, r.z, r.out, **r.kw), dtype=np.float64)
            for j in range(len(r.z)):
                an, zn = r.out_names[j], r.z_names[j]
                rule = DERIVATIVES.get(r.act.name, f"{r.act.name}'(z)").replace("z", zn)
                w.add(
                    "backward",
                    f"∂{an}/∂{zn}",
                    f"{r.act.name}'({zn}) = {rule}",
                    f"{r.act.name}'({fmt(r.z[j])})",
                    {zn: r.z[j]},
                    local[j],
                    r.index,
                    j,
                    "local derivative",
                )
                w.add(
                    "backward",
                    f"∂L/∂{zn}",
                    f"∂L/∂{an} · ∂{an}/∂{zn}",
                    f"{_p(g[j])} · {_p(local[j])}",
                    {f"∂L/∂{an}": g[j], f"∂{an}/∂{zn}": local[j]},
                    g[j] * local[j],
                    r.index,
                    j,
                    "chain rule",
                )
            g = g * local
        if r.layer.kind != "dense":
            continue
        W = np.asarray(r.layer.weight.data, dtype=np.float64)
        units, fan_in = W.shape
        for j in range(units):
            zn = r.z_names[j]
            for k in range(fan_in):
                wn = _wname(r.l, W.shape, j, k)
                w.add(
                    "backward",
                    f"∂L/∂{wn}",
                    f"∂L/∂{zn} · {r.names_in[k]}",
                    f"{_p(g[j])} · {_p(r.a_in[k])}",
                    {f"∂L/∂{zn}": g[j], r.names_in[k]: r.a_in[k]},
                    g[j] * r.a_in[k],
                    r.index,
                    j,
                    "parameter gradient",
                )
            if r.layer.bias is not None:
                bn = _indexed(f"b{r.l}", units, j)
                w.add(
                    "backward",
                    f"∂L/∂{bn}",
                    f"∂L/∂{zn} · 1",
                    f"{_p(g[j])} · 1",
                    {f"∂L/∂{zn}": g[j]},
                    g[j],
                    r.index,
                    j,
                    "parameter gradient",
                )
        if r is records[0]:
            break  # the input is data: no gradient needed for it
        gin = W.T @ g
        for k in range(fan_in):
            n = r.names_in[k]
            terms = [f"∂L/∂{r.z_names[j]}·{_wname(r.l, W.shape, j, k)}" for j in range(units)]
            values = [f"{_p(g[j])}·{_p(W[j, k])}" for j in range(units)]
            prev_layer = records[records.index(r) - 1].index
            w.add(
                "backward",
                f"∂L/∂{n}",
                " + ".join(terms),
                " + ".join(values),
                {f"∂L/∂{r.z_names[j]}": g[j] for j in range(units)}
                | {_wname(r.l, W.shape, j, k): W[j, k] for j in range(units)},
                gin[k],
                prev_layer,
                k,
                "chain rule",
            )
        g = gin


def _wname(layer_number: int, shape, j: int, k: int) -> str:
    units, fan_in = shape
    if units == 1 and fan_in == 1:
        return f"w{layer_number}"
    if units == 1:
        return f"w{layer_number}[{k + 1}]"
    return f"W{layer_number}[{j + 1},{k + 1}]"


def _activation_name(layer_number: int, z_name: str, n: int, j: int) -> str:
    if z_name.startswith("z"):
        return "a" + z_name[1:]
    return _indexed(f"g{layer_number}", n, j)


def _loss_formula(name: str, names, out, y, dout) -> tuple[str, str]:
    n = names[0] if len(names) == 1 else "ŷ"
    yv = np.asarray(y).reshape(-1)
    if name == "mse" and len(names) == 1:
        return f"L = ({n} − y)²", f"({fmt(out[0])} − {_p(yv[0])})²"
    if name == "mse":
        terms = " + ".join(f"({fmt(o)} − {_p(t)})²" for o, t in zip(out, yv, strict=False))
        return f"L = (1/{len(names)}) Σ (ŷ_j − y_j)²", f"({terms}) / {len(names)}"
    if name == "mae" and len(names) == 1:
        return f"L = |{n} − y|", f"|{fmt(out[0])} − {_p(yv[0])}|"
    if name == "bce":
        return (
            f"L = −[y·log σ({n}) + (1 − y)·log(1 − σ({n}))]",
            f"y = {fmt(yv[0])}, σ({fmt(out[0])}) = {fmt(1 / (1 + np.exp(-out[0])))}",
        )
    if name == "cross_entropy":
        return (
            "L = −log softmax(ŷ)_y",
            f"y = {int(yv[0])}, softmax(ŷ)_y = {fmt(_softmax(out)[int(yv[0])])}",
        )
    if name in SIGNED:
        t = _sign(yv[0])
        read = f" (y = {fmt(yv[0])} read as t = {fmt(t)})"
        if name == "hinge":
            return f"L = max(0, 1 − t·{n}){read}", f"max(0, 1 − {_p(t)}·{_p(out[0])})"
        if name == "perceptron":
            return f"L = max(0, −t·{n}){read}", f"max(0, −{_p(t)}·{_p(out[0])})"
        return f"L = ½({n} − t)²{read}", f"½·({fmt(out[0])} − {_p(t)})²"
    return f"L = {name}(ŷ, y)", ""


SIGNED = ("hinge", "perceptron", "lms")  # binary losses that read the labels as t = -1/+1


def _sign(y) -> float:
    return 1.0 if float(y) > 0 else -1.0


def _softmax(out) -> np.ndarray:
    e = np.exp(out - out.max())
    return e / e.sum()


def _loss_derivative(name: str, n: str, m: int) -> str:
    rules = {
        "mse": f"2({n} − y)" if m == 1 else f"2({n} − y_j)/{m}",
        "mae": f"sign({n} − y)" if m == 1 else f"sign({n} − y_j)/{m}",
        "bce": f"σ({n}) − y",
        "cross_entropy": f"softmax(ŷ)_j − 1[j = y] for {n}",
        "hinge": f"−t if t·{n} < 1 else 0",
        "perceptron": f"−t if t·{n} ≤ 0 else 0",
        "lms": f"{n} − t",
    }
    return f"∂L/∂{n} = " + rules.get(name, f"∂{name}/∂{n}")


def _loss_numbers(name: str, out_j: float, y, j: int, m: int) -> str:
    """The loss derivative's numbers where the rule is a plain expression of the output and the target."""
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    target = yv[j] if len(yv) == m else None
    if name == "mse" and target is not None:
        return f"2·({fmt(out_j)} − {_p(target)})" + (f" / {m}" if m > 1 else "")
    if name == "bce":
        return f"{fmt(1 / (1 + np.exp(-out_j)))} − {fmt(yv[0])}"
    if name in SIGNED:
        t = _sign(yv[0])
        if name == "lms":
            return f"{fmt(out_j)} − {_p(t)}"
        active = t * out_j < 1 if name == "hinge" else t * out_j <= 0
        flat = "t·z ≥ 1" if name == "hinge" else "t·z > 0"
        return f"−({fmt(t)})" if active else f"0 ({flat})"
    return ""


def _tensors(w: Walk, model, loss, x, y) -> None:
    w.columns.append({"label": "input", "layer": -1, "nodes": ["x"]})
    w.add("forward", "x", "the sample", _summary_text(_summary(x)), {}, _summary(x), -1, None, "input")
    model.layers[0].needs_input_grad = False
    model.forward(x, training=True, keep=True)
    for i, (layer, out) in enumerate(zip(model.layers, model.outputs, strict=True)):
        s = _summary(out)
        w.columns.append({"label": f"model[{i}] {layer.kind}", "layer": i, "nodes": [f"h{i}"]})
        act = getattr(layer, "act", None)
        rule = f"{layer.kind}" + (f" then {act.name}" if act is not None and act.name != "identity" else "")
        w.add(
            "forward",
            f"h{i}",
            f"h{i} = {rule}(h{i - 1})" if i else f"h0 = {rule}(x)",
            _summary_text(s),
            {},
            s,
            i,
            None,
            "layer output",
        )
    out = model.outputs[-1]
    value, dout = loss(out, y)
    w.columns.append({"label": "loss", "layer": None, "nodes": ["L"]})
    last = len(model.layers) - 1
    w.add("forward", "L", f"L = {w.loss}(h{last}, y)", fmt(float(value)), {}, float(value), None, 0, "loss")
    g = dout
    for i in reversed(range(len(model.layers))):
        layer = model.layers[i]
        s = _summary(g)
        w.add(
            "backward",
            f"∂L/∂h{i}",
            f"∂L/∂h{i + 1} · ∂h{i + 1}/∂h{i}" if i < last else f"from the loss: ∂{w.loss}/∂h{i}",
            _summary_text(s),
            {},
            s,
            i,
            None,
            "gradient of the output",
        )
        g = layer.backward(g)
        for name, p in layer.parameters():
            gs = _summary(p.grad)
            w.add(
                "backward",
                f"∂L/∂model[{i}].{name}",
                f"∂L/∂h{i} · ∂h{i}/∂{name}",
                _summary_text(gs),
                {},
                gs,
                i,
                None,
                "parameter gradient",
            )
        if g is None:
            break


# --- the update ---------------------------------------------------------------------------------------------
def _update(w: Walk, session, model, loss, x, y) -> None:
    """One step of the session's own training rule (its optimizer, penalties and clipping) on this sample."""
    config = session.config
    before = {k: np.asarray(p.data, dtype=np.float64).copy() for k, p in model.named_parameters()}
    grads = {k: np.asarray(p.grad, dtype=np.float64).copy() for k, p in model.named_parameters()}
    optimizer = make_optimizer(config.optimizer.to_spec())
    reg = config.regularization
    step = TrainStep(
        model, loss, optimizer, l1=reg.l1, l2=reg.l2, clip_norm=config.training.clip_norm, split=False
    )  # whole steps: the numbers shown are those of one forward and backward
    step(x, y)
    lr = optimizer.lr
    name = config.optimizer.name
    rule = UPDATE_RULES.get(name, "w − lr·step")
    extras = []
    if reg.l2:
        extras.append(f"g = ∂L/∂w + {fmt(reg.l2)}·w for weights")
    if reg.l1:
        extras.append(f"g = ∂L/∂w + {fmt(reg.l1)}·sign(w) for weights")
    if config.training.clip_norm:
        extras.append(f"g clipped to norm {fmt(config.training.clip_norm)}")
    options = config.optimizer.options
    plain_sgd = name == "sgd" and not (reg.l1 or reg.l2 or config.training.clip_norm or options.get("nesterov"))
    plain_sgd = plain_sgd and not options.get("weight_decay")
    dense_count = 0
    for i, layer in enumerate(model.layers):
        if layer.kind == "dense":
            dense_count += 1
        for pname, p in layer.parameters():
            key = f"{i}.{pname}"
            after = np.asarray(p.data, dtype=np.float64)
            if w.mode == "numbers":
                shape = after.shape
                for idx in np.ndindex(*shape):
                    if pname == "weight":
                        shown = _wname(dense_count, shape, idx[0], idx[1])
                        unit = idx[0]
                    else:
                        shown = _indexed(f"b{dense_count}", shape[0], idx[0])
                        unit = idx[0]
                    old, g, new = before[key][idx], grads[key][idx], after[idx]
                    numbers_text = f"{fmt(old)} − {fmt(lr)}·{_p(g)}" if plain_sgd else f"{fmt(old)} → {fmt(new)}"
                    formula = f"{shown} ← " + (f"{shown} − lr·∂L/∂{shown}" if name == "sgd" else rule)
                    if extras:
                        formula += " (" + "; ".join(extras) + ")"
                    w.add(
                        "update",
                        f"{shown} ←",
                        formula,
                        numbers_text,
                        {shown: old, f"∂L/∂{shown}": g, "lr": lr},
                        new,
                        i,
                        unit,
                        "update",
                    )
            else:
                s = _summary(after)
                change = float(np.linalg.norm(after - before[key]))
                text = f"{_summary_text(s)}  (changed by ‖Δ‖ {fmt(change)})"
                formula = f"model[{i}].{pname} ← {rule}" + (" (" + "; ".join(extras) + ")" if extras else "")
                w.add(
                    "update",
                    f"model[{i}].{pname} ←",
                    formula,
                    text,
                    {"lr": lr},
                    s | {"change": change},
                    i,
                    None,
                    "update",
                )


def engine_gradients(session, model, dataset, sample: int = 0) -> dict[str, np.ndarray]:
    """The engine's gradients for the sample (float64): what the walk's parameter gradients must equal."""
    config = session.config
    loss = get_loss(config.loss)
    model64 = _float64_model(model, config, loss)
    x = np.asarray(dataset.x_train[sample : sample + 1], dtype=np.float64)
    y = np.asarray(dataset.y_train[sample : sample + 1])
    out = model64.forward(x, training=True)
    _, dout = loss(out, y)
    model64.backward(dout)
    return {k: np.asarray(p.grad, dtype=np.float64).copy() for k, p in model64.named_parameters()}
