"""The session file's schema: strict validation with YAML paths, and every default filled in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dl_lab.core.backend import BACKENDS, DTYPES
from dl_lab.core.errors import ConfigError
from dl_lab.core.initializers import parse_initializer
from dl_lab.core.layers import LAYERS
from dl_lab.core.losses import LOSS_NAMES, LOSSES
from dl_lab.core.model import parse_layer_spec
from dl_lab.core.optimizers import make_optimizer
from dl_lab.core.schedules import Schedule
from dl_lab.core.spec import Option, check_options, closest
from dl_lab.sessions.config.weights import check_weights

if TYPE_CHECKING:
    from dl_lab.datasets.registry import DatasetInfo

SCHEMA_VERSION = 1

TOP_KEYS = (
    "version",
    "name",
    "seed",
    "backend",
    "dtype",
    "data",
    "model",
    "init",
    "loss",
    "optimizer",
    "regularization",
    "training",
    "monitor",
    "weights",
    "boost",
)
SCALARS = {
    "version": Option("int", SCHEMA_VERSION, min=1, max=SCHEMA_VERSION, help="schema version of the file"),
    "name": Option("str", "untitled", help="a name for the session and its runs"),
    "seed": Option("int", 0, min=0, help="seeds data, initialization, shuffling and dropout"),
    "backend": Option("choice", "numpy", choices=BACKENDS, help="numpy, cupy (GPU) or auto"),
    "dtype": Option("choice", "float32", choices=DTYPES, help="floating-point precision"),
}
REGULARIZATION = {
    "l2": Option("float", 0.0, min=0.0, help="adds l2 * W to weight gradients"),
    "l1": Option("float", 0.0, min=0.0, help="adds l1 * sign(W) to weight gradients"),
}
METRICS = ("val_loss", "val_acc", "train_loss", "train_acc", "val_mae", "val_r2")
EARLY_STOPPING = {
    "metric": Option("choice", "val_loss", choices=METRICS, help="the epoch metric to watch"),
    "patience": Option("int", 10, min=1, help="epochs without improvement before stopping"),
    "min_delta": Option("float", 0.0, min=0.0, help="smallest change that counts as an improvement"),
}
TRAINING = {
    "epochs": Option("int", 20, min=1, help="passes over the training split"),
    "batch_size": Option("int", 32, min=1, help="samples per step"),
    "shuffle": Option("bool", True, help="reshuffle the training split every epoch"),
    "drop_last": Option(
        "bool", False, help="skip the last training batch of an epoch when it is smaller than batch_size"
    ),
    "schedule": Option("any", "constant", help="learning-rate schedule"),
    "clip_norm": Option("float", None, min=0.0, min_exclusive=True, help="clip the gradient's L2 norm"),
    "early_stopping": Option("any", None, help="stop when a metric stops improving"),
    "checkpoint_every": Option("int", 0, min=0, help="save checkpoints/epoch-N.npz every N epochs (0: never)"),
}
MONITOR = {
    "every_steps": Option("int", 200, min=0, help="steps between snapshots (0 turns them off)"),
    "bins": Option("int", 30, min=2, max=200, help="histogram bins"),
    "sample_size": Option("int", 128, min=1, help="validation samples used for activation statistics"),
    "boundary_resolution": Option("int", 32, min=4, max=200, help="grid size of the decision-boundary map"),
}


BOOST = {
    "rounds": Option("int", 10, min=1, help="AdaBoost rounds: perceptrons trained one after the other and combined"),
}
WEIGHTLESS = ("flatten", "dropout")  # the layers a boosted perceptron may have besides its dense unit


def _mapping(where: str, value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    return value


def _check_layers(specs, where: str) -> list:
    """Each layer's options checked and completed (shapes are checked when the model is built)."""
    if not isinstance(specs, list) or not specs:
        raise ConfigError(f"{where}: expected a non-empty list of layers, got {specs!r}")
    out = []
    for i, spec in enumerate(specs):
        kind, opts = parse_layer_spec(spec, f"{where}[{i}]")
        cfg = dict(LAYERS[kind](f"{where}[{i}].{kind}", **opts).cfg)
        if kind == "residual":
            cfg["layers"] = _check_layers(cfg["layers"], f"{where}[{i}].residual.layers")
        out.append({kind: cfg})
    return out


def _check_training(raw, epochs_hint=None) -> dict:
    training = check_options("training", TRAINING, _mapping("training", raw))
    schedule = Schedule(1.0, training["schedule"], training["epochs"], where="training.schedule")
    training["schedule"] = schedule.config()
    es = training["early_stopping"]
    if es is not None:
        training["early_stopping"] = check_options(
            "training.early_stopping", EARLY_STOPPING, _mapping("training.early_stopping", es)
        )
    return training


def _check_data(raw, seed: int) -> tuple[dict, DatasetInfo]:
    from dl_lab.datasets.options import resolve_options
    from dl_lab.datasets.registry import lookup

    data = dict(_mapping("data", raw))
    if "dataset" not in data:
        raise ConfigError("data.dataset: required (`dl-lab datasets` lists them)")
    info = lookup(data.pop("dataset"))
    if "seed" in info.options and "seed" not in data:
        data["seed"] = seed  # the session's seed drives the data too, unless the data has its own
    return {"dataset": info.name, **resolve_options(info.name, info.options, data)}, info


def validate(raw) -> dict:
    """A complete, checked session dict (every default filled in), or a ConfigError/DataError naming the path."""
    raw = _mapping("session", raw)
    for key in raw:
        if key not in TOP_KEYS:
            raise ConfigError(f"{key}: unknown key{closest(key, TOP_KEYS)}; valid keys: {', '.join(TOP_KEYS)}")
    out = {k: opt.check(k, raw[k]) if k in raw else opt.default for k, opt in SCALARS.items()}
    out["data"], info = _check_data(raw.get("data"), out["seed"])
    if "model" not in raw:
        raise ConfigError("model: required (a list of layers, e.g. - dense: {units: 8, activation: tanh})")
    out["model"] = _check_layers(raw["model"], "model")
    init = raw.get("init", "glorot_uniform")
    parse_initializer(init, "init")
    out["init"] = init
    task = out["data"].get("task", info.task)
    default_loss = "cross_entropy" if task == "classification" else "mse"
    loss = raw.get("loss", default_loss)
    if loss not in LOSSES:
        raise ConfigError(f"loss: expected one of {', '.join(LOSS_NAMES)}, got {loss!r}{closest(loss, LOSS_NAMES)}")
    if task == "regression" and LOSSES[loss].classification:
        raise ConfigError(f"loss: {loss} is a classification loss, but the data is a regression task; use mse or mae")
    out["loss"] = loss
    optimizer = raw.get("optimizer", {"name": "adam"})
    if not isinstance(optimizer, (dict, str)):
        raise ConfigError(f"optimizer: expected a mapping like {{name: adam, lr: 0.001}}, got {optimizer!r}")
    out["optimizer"] = make_optimizer(optimizer).config()
    out["regularization"] = check_options(
        "regularization", REGULARIZATION, _mapping("regularization", raw.get("regularization"))
    )
    out["training"] = _check_training(raw.get("training"))
    out["monitor"] = check_options("monitor", MONITOR, _mapping("monitor", raw.get("monitor")))
    if raw.get("boost") is not None:  # written only when set: boosting is a kind of session of its own
        out["boost"] = _check_boost(raw["boost"], out["model"], loss, task, info)
    if raw.get("weights") is not None:  # written only when set: most sessions let the initializer choose
        out["weights"] = check_weights(raw["weights"])
    return out


def _check_boost(raw, model: list, loss: str, task: str, info: DatasetInfo) -> dict:
    """``boost:`` (absent or null: no boosting): AdaBoost of perceptrons needs two classes and a model that is one
    perceptron (sessions/training/boost.py)."""
    boost = check_options("boost", BOOST, _mapping("boost", raw))
    if task != "classification" or info.num_classes not in (2, None):
        classes = "a regression task" if task != "classification" else f"{info.num_classes} classes"
        raise ConfigError(f"boost: AdaBoost here combines binary classifiers, but {info.name} has {classes}")
    dense = [(i, layer["dense"]) for i, layer in enumerate(model) if "dense" in layer]
    weighted = [i for i, layer in enumerate(model) if next(iter(layer)) not in (*WEIGHTLESS, "dense")]
    if weighted or len(dense) != 1 or dense[0][1]["units"] != 1:
        if weighted:
            got = ", ".join(f"model[{i}] is {next(iter(model[i]))}" for i in weighted)
        elif len(dense) != 1:
            got = f"{len(dense)} dense layers"
        else:
            got = f"model[{dense[0][0]}] has {dense[0][1]['units']} units"
        raise ConfigError(
            "boost: each weak learner is a perceptron, so the model must be one dense layer with 1 unit "
            f"(- dense: {{units: 1}}) and a binary loss (perceptron, bce, hinge); got {got}"
        )
    i, dense_cfg = dense[0]
    if dense_cfg["activation"] not in ("identity", LOSSES[loss].fuses):
        raise ConfigError(
            f"boost: the perceptron votes with the sign of its score w.x + b, so model[{i}] takes no activation "
            f"(got {dense_cfg['activation']})"
        )
    return boost
