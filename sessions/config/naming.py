"""Short words for what a session trains: its model's family, its model and optimizer in a few characters, and the
name a run of it is recorded under (no UI library here; the runs table and the app's train screen use them)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

CONV_PREFIX = "conv"  # conv1d, conv2d, ...: a convolutional network
MLP_KINDS = frozenset({"dense", "dropout", "batchnorm", "layernorm", "activation", "flatten"})


def layer_kinds(model) -> list[str]:
    """The kinds of a session's top-level layers, in order (``[{"dense": {...}}, ...]`` -> ``["dense", ...]``);
    whatever is not a one-key mapping is left out."""
    if not isinstance(model, list):
        return []
    return [str(next(iter(layer))) for layer in model if isinstance(layer, Mapping) and len(layer) == 1]


def model_family(model) -> str:
    """One word for a model: "cnn" (any convolution), "resnet" (residual blocks), "mlp" (dense layers and their
    helpers), else its first layer's kind; "model" when it has no layers."""
    kinds = layer_kinds(model)
    if any(k.startswith(CONV_PREFIX) for k in kinds):
        return "cnn"
    if "residual" in kinds:
        return "resnet"
    if kinds and set(kinds) <= MLP_KINDS:
        return "mlp"
    return kinds[0] if kinds else "model"


def model_text(model, compact: bool = False) -> str | None:
    """A model in a few words: "mlp, 3 layers" ("mlp 3" compact); None when there is no model to describe."""
    kinds = layer_kinds(model)
    if not kinds:
        return None
    n = len(kinds)
    return f"{model_family(model)} {n}" if compact else f"{model_family(model)}, {n} layer{'s' if n != 1 else ''}"


def optimizer_text(optimizer, compact: bool = False) -> str | None:
    """An optimizer as `dl-lab compare` writes it: "adam lr=0.01" ("adam 0.01" compact); None when unknown."""
    opt = {"name": optimizer} if isinstance(optimizer, str) else optimizer  # `optimizer: adam` names it alone
    if not isinstance(opt, Mapping) or opt.get("name") is None:
        return None
    lr = opt.get("lr")
    if lr is None:
        return str(opt["name"])
    if isinstance(lr, float) and len(repr(lr)) > 8:  # a rate a sweep drew (0.0010376822826153528): 4 digits
        lr = float(f"{lr:.4g}")
    return f"{opt['name']} {lr}" if compact else f"{opt['name']} lr={lr}"


def _dataset(spec: Mapping) -> str | None:
    data = spec.get("data")
    return str(data["dataset"]) if isinstance(data, Mapping) and data.get("dataset") is not None else None


def run_name(spec: Mapping, original: Mapping | None) -> str:
    """The name a run of the session ``spec`` is recorded under, given the session it was edited from
    (``original``: its preset or file, None when unknown).

    The session's own name, unless it was edited away from what that name says while the name stayed: another
    dataset gives "<dataset>-<family>" ("digits-cnn", not "spiral"), another model family on the same dataset
    "<name>-<family>". A renamed session keeps the name it was given; other edits (a rate, epochs) keep it too.
    """
    name = str(spec.get("name") or "run")
    if original is None or spec == original or name != str(original.get("name")):
        return name
    family = model_family(spec.get("model"))
    dataset = _dataset(spec)
    if dataset is not None and dataset != _dataset(original):
        return f"{dataset}-{family}"
    if family != model_family(original.get("model")):
        return f"{name}-{family}"
    return name


def original_spec(session) -> dict | None:
    """The spec of the file ``session`` was loaded from (a preset, an opened file) as it is now on disk; None when
    it has no file or the file cannot be read as a session."""
    source = getattr(session, "source", None)
    if source is None or not Path(source).is_file():
        return None
    from dl_lab.core.errors import DLLabError
    from dl_lab.sessions.config.session import load_session

    try:
        return load_session(source).spec
    except (DLLabError, OSError, ValueError):
        return None


def session_run_name(session) -> str:
    """run_name for a session object: compared with the file it came from."""
    return run_name(session.spec, original_spec(session))
