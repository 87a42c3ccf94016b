"""A trained run as a self-contained PyTorch module file (Python source; this module never imports torch).

``torch_source(inspected, npz_name)`` writes a file with the run's layers as an ``nn.Module`` (``Model``) and
``load(npz_path)``, which returns the module in eval mode with a dl-lab ``.npz`` checkpoint of the run loaded: the
checkpoint's keys (``0.weight``, ``3.1.bias``, ...) are mapped to the module's (``KEYS``) and converted to
float32 tensors of PyTorch's shapes. The engine already keeps PyTorch's layouts (dense (out, in), conv2d
(F, C, kh, kw), batchnorm's running statistics with PyTorch's momentum), so the conversion is a cast and a shape
check. The module's output is what ``output_record`` says (probabilities after softmax or sigmoid, scores or
values), as the ONNX export's; ``Model.logits`` gives the engine model's raw output. The file needs only torch
and numpy, and passes ruff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dl_lab.core.layers import Activation, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Residual

from .onnx_export import ExportError, check_exportable, output_record, preprocessing

if TYPE_CHECKING:
    from dl_lab.core.layers import Layer
    from dl_lab.sessions.inspect.common import Inspected

SIMPLE = {"sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()", "relu": "nn.ReLU()", "softplus": "nn.Softplus()"}
HELPERS = {
    "gaussian": '''class Gaussian(nn.Module):
    """dl-lab's gaussian activation: e^(-x^2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-(x * x))
''',
    "step": '''class Step(nn.Module):
    """dl-lab's step activation: 1 where x >= 0, else 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x >= 0).to(x.dtype)
''',
    "residual": '''class Residual(nn.Module):
    """y = x + block(x): dl-lab's residual layer."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)
''',
}


@dataclass
class _Source:
    """The modules' constructor lines and the checkpoint key -> module key map, built layer by layer."""

    keys: dict[str, str] = field(default_factory=dict)
    helpers: set[str] = field(default_factory=set)

    def activation(self, name: str, alpha: float | None = None) -> list[str]:
        if name == "identity":
            return []
        if name in SIMPLE:
            return [SIMPLE[name]]
        if name == "leaky_relu":
            return [f"nn.LeakyReLU({0.01 if alpha is None else float(alpha)!r})"]
        if name == "elu":
            return [f"nn.ELU({1.0 if alpha is None else float(alpha)!r})"]
        if name == "softmax":
            return ["nn.Softmax(dim=1)"]
        if name in ("gaussian", "step"):
            self.helpers.add(name)
            return [f"{name.capitalize()}()"]
        raise ExportError(f"the {name} activation cannot be exported to PyTorch yet")

    def modules(self, layers: list[Layer], prefix: str, path: str) -> list[str]:
        """Constructor expressions for ``layers`` inside an nn.Sequential at module path ``path``."""
        out: list[str] = []
        for i, layer in enumerate(layers):
            key = f"{prefix}{i}"

            def param(name: str, index: int, key: str = key) -> None:
                self.keys[f"{key}.{name}"] = f"{path}{index}.{name}"

            if isinstance(layer, Dense):
                has_bias = layer.bias is not None
                param("weight", len(out))
                if has_bias:
                    param("bias", len(out))
                n_in, units = layer.input_shape[0], layer.output_shape[0]
                out.append(f"nn.Linear({n_in}, {units}, bias={has_bias})")
                out += self.activation(layer.act.name)
            elif isinstance(layer, Conv2D):
                (top, bottom), (left, right) = layer.pad
                padding: tuple[int, int] | str = (top, left)
                if (top, left) != (bottom, right):  # PyTorch's Conv2d pads both sides alike: pad first
                    out.append(f"nn.ZeroPad2d(({left}, {right}, {top}, {bottom}))")
                    padding = (0, 0)
                has_bias = layer.bias is not None
                param("weight", len(out))
                if has_bias:
                    param("bias", len(out))
                c, f = layer.input_shape[0], layer.output_shape[0]
                out.append(
                    f"nn.Conv2d({c}, {f}, kernel_size={tuple(layer.k)}, stride={tuple(layer.s)}, "
                    f"padding={padding}, bias={has_bias})"
                )
                out += self.activation(layer.act.name)
            elif isinstance(layer, MaxPool2D):
                out.append(f"nn.MaxPool2d(kernel_size={tuple(layer.k)}, stride={tuple(layer.s)})")
            elif isinstance(layer, AvgPool2D):
                out.append(f"nn.AvgPool2d(kernel_size={tuple(layer.k)}, stride={tuple(layer.s)})")
            elif isinstance(layer, Flatten):
                out.append("nn.Flatten()")
            elif isinstance(layer, Dropout):
                out.append(f"nn.Dropout({float(layer.cfg['p'])!r})")
            elif isinstance(layer, BatchNorm):
                for name in ("weight", "bias", "running_mean", "running_var"):
                    param(name, len(out))
                dims = "1d" if len(layer.input_shape) == 1 else "2d"
                eps, momentum = float(layer.cfg["eps"]), float(layer.cfg["momentum"])
                out.append(f"nn.BatchNorm{dims}({layer.input_shape[0]}, eps={eps!r}, momentum={momentum!r})")
            elif isinstance(layer, Activation):
                out += self.activation(layer.act.name, layer.cfg["alpha"]) or ["nn.Identity()"]
            elif isinstance(layer, Residual):
                self.helpers.add("residual")
                inner = self.modules(layer.block, f"{key}.", f"{path}{len(out)}.block.")
                out.append("Residual(\n" + "".join(_indent(m) + ",\n" for m in inner) + ")")
            else:
                raise ExportError(f"{layer.where}: the {layer.kind} layer cannot be exported to PyTorch yet")
        return out


def _indent(text: str, by: str = "    ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def _wrap(text: str, indent: str = "", width: int = 116) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent) or [indent.rstrip()]


def torch_source(inspected: Inspected) -> str:
    """The Python source of the module file."""
    model = inspected.model
    check_exportable(inspected)
    src = _Source()
    modules = src.modules(model.layers, "", "layers.")
    out = output_record(inspected)
    pre = preprocessing(inspected)
    activation = out["activation"]
    shape = ", ".join(str(s) for s in model.input_shape)
    head = [
        f'"""dl-lab run {inspected.run_dir.name} as a PyTorch module ({pre["dataset"]}, {pre["task"]}, checkpoint '
        f"{inspected.checkpoint}).",
        "",
        *_wrap(
            "Generated by `dl-lab export RUN_DIR --torch FILE.py`; needs only torch and numpy. "
            "load(npz_path) returns Model in eval mode with a dl-lab checkpoint of this run loaded "
            "(RUN_DIR/checkpoints/final.npz, or any other checkpoint of the run)."
        ),
        "",
        *_wrap(
            f"Input: float32 tensor (N, {shape})"
            + (", NCHW" if len(model.input_shape) == 3 else "")
            + ": what dl-lab's predict feeds the model, i.e. the raw data AFTER the run's preprocessing: "
            + "; ".join(pre["steps"])
            + "."
        ),
        "",
        *_wrap(
            f"Output: (N, {', '.join(str(s) for s in model.output_shape)}) {out['text']}"
            + (f"; class: {out['class']}" if "class" in out else "")
            + (
                f". Model.logits(x) gives the engine model's raw output, before the {activation}."
                if activation != "none"
                else ". Model.logits(x) is the same here (the engine model's raw output)."
            )
        ),
    ]
    if pre["class_names"]:
        head += ["", *_wrap(f"Classes: {', '.join(str(c) for c in pre['class_names'])}.")]
    lines = [
        *head,
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import os",
        "",
        "import numpy as np",
        "import torch",
        "from torch import nn",
        "",
        f"INPUT_SHAPE = {tuple(model.input_shape)!r}",
        f"OUTPUT = {json.dumps(out['kind'])}",
    ]
    if pre["class_names"]:
        lines.append(f"CLASS_NAMES = {json.dumps([str(c) for c in pre['class_names']])}")
    lines += ["# checkpoint key -> this module's state_dict key", "KEYS = {"]
    lines += [f"    {json.dumps(k)}: {json.dumps(v)}," for k, v in src.keys.items()]
    lines += ["}", ""]
    for name in ("gaussian", "step", "residual"):
        if name in src.helpers:
            lines += ["", HELPERS[name]]
    final = {"softmax": "torch.softmax(y, dim=1)", "sigmoid": "torch.sigmoid(y)"}.get(activation, "y")
    lines += [
        "",
        "class Model(nn.Module):",
        f'    """The run\'s layers; forward returns {out["text"]}."""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        "        self.layers = nn.Sequential(",
        *[_indent(m, " " * 12) + "," for m in modules],
        "        )",
        "",
        "    def logits(self, x: torch.Tensor) -> torch.Tensor:",
        '        """The engine model\'s raw output."""',
        "        return self.layers(x)",
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        "        y = self.layers(x)",
        f"        return {final}",
        "",
        "",
        "def load(npz_path: str | os.PathLike) -> Model:",
        '    """Model in eval mode holding the weights of a dl-lab .npz checkpoint of this run."""',
        "    model = Model()",
        "    state = model.state_dict()",
        "    with np.load(npz_path, allow_pickle=False) as npz:",
        "        missing = sorted(set(KEYS) - set(npz.files))",
        "        if missing:",
        '            raise ValueError(f"{npz_path}: not a checkpoint of this run (missing: {missing})")',
        "        for key, name in KEYS.items():",
        "            value = torch.from_numpy(np.asarray(npz[key], dtype=np.float32))",
        "            state[name] = value.reshape(state[name].shape)",
        "    model.load_state_dict(state)",
        "    return model.eval()",
    ]
    return "\n".join(lines) + "\n"


def export_torch(inspected: Inspected, out: Path) -> Path:
    """Write the module file ``out``."""
    from dl_lab.sessions.runs.files import replacing

    text = torch_source(inspected)
    with replacing(out) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return out
