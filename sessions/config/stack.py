"""A layer stack being edited (the build screen's model), free of widgets: layer paths, edits and the live shape check.

A path names a layer in a session's ``model:`` list: ``(i,)`` is the i-th layer, ``(i, j)`` the j-th layer of the
residual block at i, and ``(i, None)`` the empty slot of a block that has no layers yet. Edits never change their
input: each returns a new list (and the path of the layer to highlight next).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

from dl_lab.core.errors import ConfigError, DLLabError
from dl_lab.core.layers import LAYERS
from dl_lab.core.model import parse_layer_spec

Path = tuple  # (i,) a layer, (i, j) the j-th layer of residual block i, (i, None) an empty block
# "model[3].residual.layers[1].dense: message" -> 3, 1, message
_WHERE = re.compile(r"^model\[(\d+)\](?:\.\w+)?(?:\.layers\[(\d+)\])?(?:\.\w+)*: (.*)$", re.DOTALL)


def kind_of(spec) -> str:
    return next(iter(spec)) if isinstance(spec, dict) else str(spec)


def options_of(spec) -> dict:
    return dict(next(iter(spec.values())) or {}) if isinstance(spec, dict) else {}


def inner_layers(spec) -> list:
    return list(options_of(spec).get("layers") or [])


def describe(spec) -> str:
    """One short line for the stack: ``dense 32 relu``, ``conv2d 8 5x5 s2 same``, ``dropout 0.3``, ``residual (2)``.

    The main option shows bare (units, filters, window, p), the rest only when not at their defaults.
    """
    kind, opts = kind_of(spec), options_of(spec)
    if kind == "residual":
        return f"residual ({len(opts.get('layers') or [])})"
    options = LAYERS[kind].options if kind in LAYERS else {}
    parts = [kind]
    for key, value in opts.items():
        default = options[key].default if key in options else None
        if key in ("units", "filters", "name", "p"):
            parts.append(str(value))
        elif key in ("kernel", "size"):
            parts.append(_window(value))
        elif value == default or key not in options:
            continue
        elif key == "stride":
            parts.append(f"s{_short(value)}")
        elif key == "padding":
            parts.append(value if isinstance(value, str) else f"pad{value}")
        elif key == "activation":
            parts.append(str(value))
        else:
            parts.append(f"{key}={_short(value)}")
    return " ".join(parts)


def _window(value) -> str:
    h, w = (value, value) if isinstance(value, int) else value
    return f"{h}x{w}"


def _short(value) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(map(str, value))
    if isinstance(value, dict):
        return value.get("name", "…")
    return str(value)


# --- paths and edits ----------------------------------------------------------------------------------------------
def paths(model: list) -> list[Path]:
    """Every row of the stack in display order: each layer, then (for a residual block) its inner layers."""
    out: list[Path] = []
    for i, spec in enumerate(model):
        out.append((i,))
        if kind_of(spec) == "residual":
            inner = inner_layers(spec)
            out.extend([(i, j) for j in range(len(inner))] or [(i, None)])
    return out


def _siblings(model: list, path: Path) -> list:
    """The list that holds ``path`` (the model itself, or a residual block's ``layers``), inside ``model``."""
    if len(path) == 1:
        return model
    block = options_of(model[path[0]])
    layers = list(block.get("layers") or [])
    model[path[0]] = {"residual": {**block, "layers": layers}}
    return layers


def layer_at(model: list, path: Path):
    if len(path) == 1:
        return model[path[0]]
    return None if path[1] is None else inner_layers(model[path[0]])[path[1]]


def insert(model: list, path: Path | None, spec, above: bool = False) -> tuple[list, Path]:
    """A copy of ``model`` with ``spec`` added below ``path`` (above it with ``above``); an empty stack takes it."""
    model = copy.deepcopy(model)
    if path is None:
        model.insert(0 if above else len(model), spec)
        return model, ((0,) if above else (len(model) - 1,))
    siblings = _siblings(model, path)
    index = 0 if path[-1] is None else path[-1] + (0 if above else 1)
    siblings.insert(index, spec)
    return model, (*path[:-1], index)


def delete(model: list, path: Path) -> tuple[list, Path | None]:
    model = copy.deepcopy(model)
    if path[-1] is None:
        return model, path
    siblings = _siblings(model, path)
    del siblings[path[-1]]
    if siblings:
        return model, (*path[:-1], min(path[-1], len(siblings) - 1))
    return model, ((path[0], None) if len(path) == 2 else None)


def move(model: list, path: Path, step: int) -> tuple[list, Path]:
    """Swap the layer with its neighbour above (-1) or below (+1) in the same list; at an end, nothing moves."""
    model = copy.deepcopy(model)
    if path[-1] is None:
        return model, path
    siblings = _siblings(model, path)
    target = path[-1] + step
    if not 0 <= target < len(siblings):
        return model, path
    siblings[path[-1]], siblings[target] = siblings[target], siblings[path[-1]]
    return model, (*path[:-1], target)


def duplicate(model: list, path: Path) -> tuple[list, Path]:
    spec = layer_at(model, path)
    return (copy.deepcopy(model), path) if spec is None else insert(model, path, copy.deepcopy(spec))


def replace(model: list, path: Path, spec) -> list:
    model = copy.deepcopy(model)
    siblings = _siblings(model, path)
    siblings[path[-1]] = spec
    return model


# --- the live check -----------------------------------------------------------------------------------------------
@dataclass
class LayerRow:
    """One built layer: where it is, what it outputs, what it costs."""

    path: Path
    kind: str
    label: str
    output_shape: tuple
    params: int
    flops: int


@dataclass
class StackReport:
    """The layers that built, in order, and the first error (with the path of the layer it is about)."""

    input_shape: tuple[int, ...] | None
    rows: list[LayerRow] = field(default_factory=list)
    error: str | None = None
    error_path: Path | None = None
    error_label: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        top = [r for r in self.rows if len(r.path) == 1]
        return top[-1].output_shape if top else self.input_shape

    @property
    def params(self) -> int:
        return sum(r.params for r in self.rows if len(r.path) == 1)

    @property
    def flops(self) -> int:
        return sum(r.flops for r in self.rows if len(r.path) == 1)

    def shape_before(self, path: Path) -> tuple | None:
        """The shape entering the layer at ``path`` (the block's input for a block's first layer)."""
        by_path = {r.path: r.output_shape for r in self.rows}
        if len(path) == 2 and path[1] not in (None, 0):
            return by_path.get((path[0], path[1] - 1))
        if path[0] == 0:
            return self.input_shape
        return by_path.get((path[0] - 1,))


def check_stack(model: list, input_shape) -> StackReport:
    """Build the layers one by one (shapes and parameter counts only: nothing is allocated).

    A full ``Sequential`` would also draw every weight: 0.5 s for a 17M-parameter CIFAR net, per keystroke;
    ``build`` alone takes a fraction of a millisecond and gives the same shapes, counts and FLOPs.
    """
    report = StackReport(tuple(input_shape) if input_shape is not None else None)
    if input_shape is None:
        return report
    shape: tuple[int, ...] = tuple(input_shape)
    for i, spec in enumerate(model):
        try:
            kind, opts = parse_layer_spec(spec, f"model[{i}]")
            layer = LAYERS[kind](f"model[{i}].{kind}", **opts)
            shape = tuple(layer.build(shape))
        except DLLabError as exc:
            path, error = locate_error(str(exc), (i,))
            path = path or (i,)
            report.error_path, report.error_label = path, _label_at(model, path)
            report.error = error + _hint(error, report.error_label, tuple(input_shape))
            return report
        report.rows.append(LayerRow((i,), kind, describe(spec), shape, layer.param_count(), layer.flops()))
        for j, child in enumerate(layer.children()):
            report.rows.append(
                LayerRow(
                    (i, j),
                    child.kind,
                    describe(child.config()),
                    tuple(child.output_shape),
                    child.param_count(),
                    child.flops(),
                )
            )
    if not model:
        report.error, report.error_path = "the model has no layers yet: press a to add one", None
    return report


def _hint(error: str, kind: str, data_shape: tuple) -> str:
    """What to do about an error the layer's own message leaves open (an image layer given flat data)."""
    if "expected an image input" in error:
        if len(data_shape) == 1:
            return (
                f"; {kind or 'this layer'} needs images (channels, height, width): choose an image dataset "
                "such as digits, or use dense layers"
            )
        return "; image layers go before the flatten layer (flatten and dense give flat outputs)"
    return ""


def _label_at(model: list, path: Path) -> str:
    try:
        spec = layer_at(model, path)
    except (IndexError, KeyError, TypeError):
        return ""
    return kind_of(spec) if spec is not None else ""


def locate_error(message: str, fallback: Path | None = None) -> tuple[Path | None, str]:
    """``model[2].residual.layers[0].dense: msg`` -> ((2, 0), msg); other messages keep ``fallback``."""
    found = _WHERE.match(message)
    if not found:
        return fallback, message
    outer, inner, text = found.groups()
    return ((int(outer),) if inner is None else (int(outer), int(inner))), text


def output_error(spec: dict, report: StackReport, probe) -> tuple[Path | None, str] | None:
    """Does the last layer give what the loss needs for this data? (None when it does, or when unknown.)"""
    from types import SimpleNamespace

    from dl_lab.core import get_loss
    from dl_lab.sessions.training.build import check_output

    out = report.output_shape
    if not report.ok or out is None or probe.task is None or (probe.task == "classification" and not probe.num_classes):
        return None
    data = SimpleNamespace(task=probe.task, name=probe.name, num_classes=probe.num_classes, output_dim=probe.output_dim)
    try:
        check_output(len(spec["model"]), out, get_loss(spec["loss"]), data)
    except ConfigError as exc:
        return locate_error(str(exc))
    except DLLabError:
        return None  # an unknown loss: the schema's message says it better
    return memory_error(spec, report, probe)


def memory_error(spec: dict, report: StackReport, probe=None) -> tuple[Path | None, str] | None:
    """Would training this stack need more memory than the machine has? (``run`` refuses it with this message.)

    Shapes and arithmetic only (the layers are built again, nothing is allocated): well under a millisecond
    for the stack, plus the schema's check of the draft. None when it fits, or when the draft is not valid yet.
    """
    from dl_lab.core import make_optimizer, resolve_dtype
    from dl_lab.core.memory import MemoryLimitError, check
    from dl_lab.core.model import build_layers
    from dl_lab.datasets import DataError
    from dl_lab.sessions.training.build import memory_budget

    from .schema import validate
    from .typed import SessionConfig

    if not report.ok or report.input_shape is None:
        return None
    try:
        config = SessionConfig.from_spec(validate(spec))
        layers, _ = build_layers(list(config.model), report.input_shape)
        if not layers:
            return None
        layers[0].needs_input_grad = False  # as Sequential: the first layer's input is data
        budget = memory_budget(config, make_optimizer(config.optimizer.to_spec()), getattr(probe, "dataset", None))
        check(layers, report.input_shape, resolve_dtype(config.dtype).itemsize, budget)
    except MemoryLimitError as exc:
        return locate_error(str(exc))
    except (DLLabError, DataError, KeyError, TypeError, ValueError):
        return None  # the schema's message, shown when the draft is made a session, says it better
    return None


_NEEDS = re.compile(r"the model gives \d+ outputs, but (\w+) needs (\d+)")
_BLOCK = re.compile(r"the block's output shape \(([\d, ]*)\) does not match its input shape \(([\d, ]*)\)")
LOGITS = "identity"  # a dense layer's "no activation": raw scores (logits), what the losses expect
# What an activation on the output layer does to the scores a classification loss reads.
SQUASHED = {
    "relu": "are never below 0",
    "softplus": "are never below 0",
    "elu": "are never below -1",
    "step": "are only 0 or 1, with no gradient",
    "sigmoid": "stay between 0 and 1",
    "tanh": "stay between -1 and 1",
    "gaussian": "stay between 0 and 1",
    "softmax": "sum to 1",
}


def output_activation(model: list) -> tuple[Path, str, str] | None:
    """The last layer's activation: (path, option name, activation) for dense, conv2d and activation layers."""
    if not model:
        return None
    spec = model[-1]
    key = "name" if kind_of(spec) == "activation" else "activation"
    if kind_of(spec) not in ("dense", "conv2d", "activation"):
        return None
    return (len(model) - 1,), key, str(options_of(spec).get(key) or LOGITS)


def output_warning(spec: dict, report: StackReport) -> tuple[Path, str] | None:
    """A model that builds but whose output layer squashes the scores a classification loss needs raw."""
    from dl_lab.core import get_loss

    if not report.ok:
        return None
    try:
        loss = get_loss(str(spec.get("loss")))
    except DLLabError:
        return None
    last = output_activation(spec["model"])
    if not loss.classification or last is None or last[2] not in SQUASHED or last[2] == loss.fuses:
        return None
    path, _, act = last
    fold = f"{loss.name} applies the {loss.fuses} itself" if loss.fuses else f"{loss.name} reads raw scores"
    return path, (
        f"the output layer's {act} means its scores {SQUASHED[act]}: use no activation "
        f"(identity) for logits, {fold}; f fixes it"
    )


def _to_logits(model: list, loss: str | None) -> tuple[list, str]:
    """The last layer without its squashing activation, and what was done ("" when nothing was)."""
    from dl_lab.core import get_loss

    try:
        found = get_loss(loss or "")
    except DLLabError:
        found = None
    last = output_activation(model)
    if last is None or last[2] == LOGITS or (found is not None and last[2] == found.fuses):
        return model, ""
    path, key, act = last
    spec = layer_at(model, path)
    if key == "name":  # an activation layer at the end: remove it
        new, _ = delete(model, path)
        return new, f"removed the {act} layer at the output"
    new = replace(model, path, {kind_of(spec): {**options_of(spec), key: LOGITS}})
    if found is None or not found.classification:
        why = "a linear output: regression targets can have any value"
    elif found.fuses:
        why = f"logits: {found.name} applies the {found.fuses} itself"
    else:
        why = f"raw scores, which {found.name} reads"
    return new, f"activation {act} -> identity ({why})"


def fix(model: list, path: Path | None, message: str | None, loss: str | None = None) -> tuple[list, Path, str] | None:
    """The edit a flagged error (or an output warning) asks for, when it is unambiguous: (new model, path to
    highlight, what was done)."""
    if path is None or not message:
        return None
    if "add a flatten layer before it" in message:
        new, at = insert(model, path, {"flatten": {}}, above=True)
        return new, at, f"added a flatten layer at {'.'.join(map(str, at))}"
    block = _BLOCK.search(message)
    if block is not None and len(path) == 1:
        return _fix_block(model, path, _ints(block.group(1)), _ints(block.group(2)))
    if "the output layer's" in message and "f fixes it" in message:
        new, what = _to_logits(model, loss)
        return (new, (len(new) - 1,), what) if what else None
    need = _NEEDS.search(message)
    if need is None or len(path) != 1:
        return None
    loss, units = need.group(1), int(need.group(2))
    spec = layer_at(model, path)
    if kind_of(spec) == "dense":
        new, what = _to_logits(replace(model, path, {"dense": {**options_of(spec), "units": units}}), loss)
        return new, path, f"units set to {units}" + (f", {what}" if what else "")
    new, at = insert(model, path, {"dense": {"units": units}})
    return new, at, f"added an output layer of {units} units (no activation: {loss} reads logits)"


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.replace(",", " ").split())


def _fix_block(model: list, path: Path, out: tuple, want: tuple) -> tuple[list, Path, str] | None:
    """A residual block must give back its input's shape: set its last dense (units) or conv2d (filters) to it."""
    inner = inner_layers(model[path[0]])
    for j in reversed(range(len(inner))):
        kind = kind_of(inner[j])
        if kind not in ("dense", "conv2d"):
            continue
        key = "units" if kind == "dense" else "filters"
        flat_ok = kind == "dense" and len(want) == 1 and len(out) == 1
        image_ok = kind == "conv2d" and len(want) == 3 and len(out) == 3 and out[1:] == want[1:]
        if not (flat_ok or image_ok):
            return None
        at = (path[0], j)
        new = replace(model, at, {kind: {**options_of(inner[j]), key: want[0]}})
        return new, at, f"{key} of layer {path[0]}.{j} set to {want[0]}: the block now keeps the shape {want}"
    return None


def residual_inner(shape) -> list:
    """A first layer for a new residual block that keeps ``shape`` (the block must give back its input's shape)."""
    if shape is not None and len(shape) == 3:
        return [{"conv2d": {"filters": int(shape[0]), "kernel": 3, "padding": "same", "activation": "relu"}}]
    units = int(shape[0]) if shape is not None and len(shape) == 1 else 8
    return [{"dense": {"units": units, "activation": "relu"}}]
