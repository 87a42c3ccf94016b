"""A trained run as an ONNX model, and the preprocessing its inputs need, written beside it as JSON.

``export_onnx(run_dir, out, checkpoint)`` rebuilds the run's model at a checkpoint (sessions/inspect/common.py's
``open_inspected``) and writes an ONNX graph of the same layers (opset 17, built with ``onnx.helper`` and checked
by ``onnx.checker``): input ``input`` of shape (N, ...) float32 (NCHW for images, N symbolic), output ``output``
(N, outputs). The input is what the engine's model takes, after the run's preprocessing (Playground features,
normalization, PCA); ``FILE.preprocess.json`` records that preprocessing, the class names and what the output is
(``preprocessing``). The output is what the loss makes of the model's output: probabilities (softmax for
cross_entropy, sigmoid for bce), scores for the other classification losses, values for a regression.

The onnx package is imported only here, when a model is exported (the ``export`` extra).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dl_lab.core.errors import DLLabError
from dl_lab.core.layers import Activation, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Residual

if TYPE_CHECKING:
    from dl_lab.core.layers import Layer
    from dl_lab.sessions.inspect.common import Inspected

OPSET = 17
IR_VERSION = 8
INPUT, OUTPUT = "input", "output"
BATCH = "N"
SUPPORTED = (Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, Dropout, BatchNorm, Activation, Residual)
INSTALL = "pip install 'dl-lab[export]'"
PREPROCESS_SUFFIX = ".preprocess.json"


class ExportError(DLLabError):
    """A run that cannot be exported (a layer without a counterpart, a missing package, a file in the way)."""


def import_onnx():
    """The onnx package, or an ExportError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ExportError(f"exporting to ONNX needs the onnx package: {INSTALL}") from None
    return onnx


def check_exportable(inspected: Inspected) -> None:
    """Refuse what a single exported model would not compute: a boosted run's vote, any unknown layer."""
    boost = inspected.session.config.boost
    if boost is not None:
        raise ExportError(
            f"{inspected.run_dir}: a boosted run (boost:) predicts with a vote of {boost.rounds} perceptrons "
            "(checkpoints/boost.npz); exporting it is not supported"
        )
    check_supported(inspected.model.layers)


def check_supported(layers: list[Layer]) -> None:
    """Refuse a layer no exporter knows, naming it (every engine layer is known today; a new one must be added)."""
    for layer in layers:
        if not isinstance(layer, SUPPORTED):
            raise ExportError(f"{layer.where}: the {layer.kind} layer cannot be exported yet (no ONNX/PyTorch op)")
        check_supported(layer.children())


# --- what the output is, and what comes before the input ----------------------------------------------------------
def output_record(inspected: Inspected) -> dict:
    """What the exported model outputs: ``kind`` (probabilities, scores or values), the ``activation`` applied
    on top of the engine model's output (softmax, sigmoid or none), its size and how to read a class from it."""
    loss, ds = inspected.loss, inspected.dataset
    units = int(inspected.model.output_shape[0]) if len(inspected.model.output_shape) == 1 else None
    record: dict[str, Any] = {"name": OUTPUT, "shape": [BATCH, *inspected.model.output_shape], "loss": loss.name}
    if loss.fuses == "softmax":
        record.update(kind="probabilities", activation="softmax", text="class probabilities (softmax of the logits)")
        record["class"] = "argmax over axis 1"
    elif loss.fuses == "sigmoid":
        record.update(kind="probabilities", activation="sigmoid", text="probability of class 1 (sigmoid of the logit)")
        record["class"] = "1 if output > 0.5" if units == 1 else "each unit > 0.5"
    elif loss.classification:
        record.update(kind="scores", activation="none", text="raw scores (the engine model's output)")
        record["class"] = "1 if output > 0 else 0" if units == 1 else "argmax over axis 1"
    else:
        record.update(kind="values", activation="none", text="regression values (the engine model's output)")
    if ds.task == "classification":
        record["class_names"] = list(ds.class_names or [])
    return record


def preprocessing(inspected: Inspected) -> dict:
    """The preprocessing record written beside an exported model: raw data -> the model's input, in order."""
    ds = inspected.dataset
    image = len(ds.data_shape) == 3
    features = ds.feature_names if ds._to_inputs is not None else None
    norm = ds.normalization
    pca = ds.pca
    steps = []
    if features is not None:
        steps.append(f"features: raw 2-D points (x1, x2) -> the columns {features}, in that order")
    if norm.get("method", "none") != "none":
        keys = ("mean", "std") if norm["method"] == "standard" else ("min", "(max - min)")
        per = "channel (NCHW axis 1)" if norm.get("axis") == "channel" else "feature (column)"
        steps.append(f"normalize ({norm['method']}): (x - {keys[0]}) / {keys[1]}, one value per {per}")
    if pca is not None:
        steps.append(f"pca: flatten, subtract pca.mean, multiply by pca.vectors transposed -> {pca['components']}")
    return {
        "format": "dl-lab preprocess 1",
        "run": str(inspected.run_dir),
        "checkpoint": inspected.checkpoint,
        "dataset": ds.name,
        "task": ds.task,
        "raw_input_shape": list(ds.data_shape),
        "playground_features": features,
        "normalization": norm,
        "pca": pca,
        "steps": steps or ["none: the raw inputs are the model's inputs"],
        "input": {
            "name": INPUT,
            "shape": [BATCH, *ds.input_shape],
            "dtype": "float32",
            "layout": "NCHW" if image and pca is None else "features",
        },
        "class_names": ds.class_names if ds.task == "classification" else None,
        "output": output_record(inspected),
    }


def describe(inspected: Inspected, preprocess_name: str = f"FILE{PREPROCESS_SUFFIX}") -> str:
    """The model's doc_string: what goes in, what comes out, where the preprocessing is."""
    pre = preprocessing(inspected)
    out = pre["output"]
    shape = "x".join(str(s) for s in pre["input"]["shape"])
    return (
        f"dl-lab run {inspected.run_dir.name} ({pre['dataset']}, {pre['task']}), checkpoint {inspected.checkpoint}. "
        f"Input '{INPUT}': float32 {shape} ({pre['input']['layout']}), the engine model's input AFTER the run's "
        f"preprocessing ({'; '.join(pre['steps'])}); the file {preprocess_name} beside this model records it "
        f"(normalization shift/scale, Playground features, PCA, class names). Output '{OUTPUT}': {out['text']}"
        + (f"; class: {out['class']}" if "class" in out else "")
        + "."
    )


# --- the graph ----------------------------------------------------------------------------------------------------
class _Graph:
    """Nodes and initializers appended layer by layer; names are unique and follow the checkpoint's keys."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.nodes: list = []
        self.inits: list = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, key: str, value) -> str:
        name = key
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs) -> str:
        out = self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def activation(self, name: str, x: str, hint: str, alpha: float | None = None) -> str:
        """The engine's activation ``name`` applied to ``x`` (core/activations.py, the same formulas)."""
        if name == "identity":
            return x
        simple = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softplus": "Softplus"}
        if name in simple:
            return self.node(simple[name], [x], f"{hint}_{name}")
        if name == "leaky_relu":
            return self.node("LeakyRelu", [x], f"{hint}_{name}", alpha=0.01 if alpha is None else float(alpha))
        if name == "elu":
            return self.node("Elu", [x], f"{hint}_{name}", alpha=1.0 if alpha is None else float(alpha))
        if name == "softmax":
            return self.node("Softmax", [x], f"{hint}_{name}", axis=1)
        if name == "gaussian":  # e^(-x^2)
            square = self.node("Mul", [x, x], f"{hint}_square")
            return self.node("Exp", [self.node("Neg", [square], f"{hint}_neg")], f"{hint}_gaussian")
        if name == "step":  # 1 if x >= 0 else 0
            zero = self.const(self.name(f"{hint}_zero"), np.zeros((), np.float32))
            at_least = self.node("GreaterOrEqual", [x, zero], f"{hint}_ge")
            return self.node("Cast", [at_least], f"{hint}_step", to=self.onnx.TensorProto.FLOAT)
        raise ExportError(f"{hint}: the {name} activation cannot be exported yet")

    def layers(self, layers: list[Layer], x: str, prefix: str) -> str:
        for i, layer in enumerate(layers):
            x = self.layer(layer, x, f"{prefix}{i}")
        return x

    def layer(self, layer: Layer, x: str, key: str) -> str:
        hint = f"{key}.{layer.kind}"
        params = {name: np.asarray(p.data) for name, p in layer.parameters()}
        if isinstance(layer, Dense):
            inputs = [x, self.const(f"{key}.weight", params["weight"])]  # (out, in): Gemm with transB=1
            if "bias" in params:
                inputs.append(self.const(f"{key}.bias", params["bias"]))
            y = self.node("Gemm", inputs, hint, transB=1)
            return self.activation(layer.act.name, y, hint)
        if isinstance(layer, Conv2D):
            inputs = [x, self.const(f"{key}.weight", params["weight"])]  # (F, C, kh, kw), as ONNX's Conv
            if "bias" in params:
                inputs.append(self.const(f"{key}.bias", params["bias"]))
            (top, bottom), (left, right) = layer.pad
            y = self.node(
                "Conv", inputs, hint, kernel_shape=list(layer.k), strides=list(layer.s), pads=[top, left, bottom, right]
            )
            return self.activation(layer.act.name, y, hint)
        if isinstance(layer, MaxPool2D | AvgPool2D):
            op = "MaxPool" if isinstance(layer, MaxPool2D) else "AveragePool"
            return self.node(op, [x], hint, kernel_shape=list(layer.k), strides=list(layer.s))
        if isinstance(layer, Flatten):  # row-major (C, H, W), the engine's logical order
            return self.node("Flatten", [x], hint, axis=1)
        if isinstance(layer, Dropout):  # the identity when predicting
            return x
        if isinstance(layer, BatchNorm):  # the running statistics (evaluation mode)
            buffers = dict(layer.buffers())
            inputs = [
                x,
                self.const(f"{key}.weight", params["weight"]),
                self.const(f"{key}.bias", params["bias"]),
                self.const(f"{key}.running_mean", np.asarray(buffers["running_mean"])),
                self.const(f"{key}.running_var", np.asarray(buffers["running_var"])),
            ]
            return self.node("BatchNormalization", inputs, hint, epsilon=float(layer.cfg["eps"]))
        if isinstance(layer, Activation):
            return self.activation(layer.act.name, x, hint, layer.cfg["alpha"])
        if isinstance(layer, Residual):
            h = self.layers(layer.block, x, f"{key}.")
            return self.node("Add", [x, h], hint)
        raise ExportError(f"{layer.where}: the {layer.kind} layer cannot be exported yet (no ONNX op)")


def build_onnx(inspected: Inspected, preprocess_name: str = f"FILE{PREPROCESS_SUFFIX}"):
    """The ONNX ModelProto of the run's model (its weights as float32 initializers), checked."""
    onnx = import_onnx()
    from onnx import TensorProto, helper

    model = inspected.model
    check_exportable(inspected)
    graph = _Graph(onnx)
    y = graph.layers(model.layers, INPUT, "")
    activation = output_record(inspected)["activation"]
    if activation != "none":
        y = graph.activation(activation, y, "output")
    graph.nodes.append(helper.make_node("Identity", [y], [OUTPUT], name=OUTPUT))
    inputs = [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [BATCH, *model.input_shape])]
    outputs = [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [BATCH, *model.output_shape])]
    name = f"dl-lab {inspected.run_dir.name}"
    onnx_graph = helper.make_graph(graph.nodes, name, inputs, outputs, initializer=graph.inits)
    proto = helper.make_model(
        onnx_graph,
        producer_name="dl-lab",
        doc_string=describe(inspected, preprocess_name),
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    proto.ir_version = IR_VERSION
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # onnx's ValidationError and shape-inference errors: a bug here, said plainly
        raise ExportError(f"the exported ONNX model fails onnx.checker: {exc}") from None
    return proto


@dataclass(frozen=True)
class Exported:
    model: Path
    preprocess: Path | None
    nodes: list[str]  # "op name" per node, in order


def preprocess_path(out: Path) -> Path:
    return out.with_name(out.name + PREPROCESS_SUFFIX)


def export_onnx(inspected: Inspected, out: Path) -> Exported:
    """Write ``out`` (the ONNX model) and ``out.preprocess.json`` beside it."""
    from dl_lab.sessions.runs.files import replacing

    pre = preprocess_path(out)
    proto = build_onnx(inspected, pre.name)
    record = preprocessing(inspected)
    record["model"] = out.name
    with replacing(out) as tmp:  # a file that cannot be written: a RunWriteError naming it
        Path(tmp).write_bytes(proto.SerializeToString())
    with replacing(pre) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return Exported(out, pre, [f"{n.op_type} {n.name}" for n in proto.graph.node])
