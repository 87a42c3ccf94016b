"""Weights fixed by hand in a session (``weights:``): seed 003's worked example, seed 002's XOR solution, a
McCulloch-Pitts gate. They replace the initializer's values for the parameters they name; the rest keep theirs.

Two forms::

    weights:                      # by layer index (model[0], model[1], ...); shapes follow PyTorch:
      0: {weight: [[1, 1], [1, 1]], bias: [0, -1]}    # a dense weight is (out, in), a conv weight (out, in, kh, kw)
      1: {weight: [1, -2], bias: 0}                   # a flat list (or one number) of the right size is reshaped
      2: {weight: w2.npy}                             # a .npy file, relative to the session file
      3: {0: {weight: ...}}                           # inside a residual block: its layers by index

    weights: start.npz            # a checkpoint (dl-lab's keys: 0.weight, 0.bias, ...), e.g. another run's final.npz

``--set weights.1.bias=0.5`` edits one value as anywhere else in a session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dl_lab.core.errors import ConfigError

FILE_SUFFIXES = (".npy", ".npz")


def _number(where: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    return float(value) if isinstance(value, float) else value


def _values(where: str, value):
    """A number, a (nested) list of numbers, or a file name; returned as written (numbers checked)."""
    if isinstance(value, str):
        if not value.endswith(".npy"):
            raise ConfigError(f"{where}: expected a list of numbers or a .npy file, got {value!r}")
        return value
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"{where}: expected a list of numbers, got an empty list")
        return [
            _values(f"{where}[{i}]", v) if isinstance(v, list) else _number(f"{where}[{i}]", v)
            for i, v in enumerate(value)
        ]
    return _number(where, value)


def _entry(where: str, entry) -> dict:
    if not isinstance(entry, dict) or not entry:
        raise ConfigError(
            f"{where}: expected a mapping of parameters, e.g. {{weight: [[1, 1]], bias: [0]}}, got {entry!r}"
        )
    out: dict = {}
    for key, value in entry.items():
        if isinstance(key, int) and not isinstance(key, bool):
            out[key] = _entry(f"{where}.{key}", value)  # a residual block's layer
        elif isinstance(key, str) and key.isidentifier():
            out[key] = _values(f"{where}.{key}", value)
        else:
            raise ConfigError(f"{where}: {key!r} is neither a parameter name (weight, bias) nor a layer index")
    return out


def check_weights(raw, where: str = "weights"):
    """The ``weights:`` value checked for form (shapes are checked against the model when it is built)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        if not raw.endswith(".npz"):
            raise ConfigError(f"{where}: expected a checkpoint file (.npz) or a mapping by layer index, got {raw!r}")
        return raw
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            f"{where}: expected a mapping by layer index like {{0: {{weight: [[1, 1]], bias: [0]}}}} "
            f"or a checkpoint file (.npz), got {raw!r}"
        )
    out = {}
    for key, entry in raw.items():
        index = int(key) if isinstance(key, str) and key.isdigit() else key
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ConfigError(f"{where}: {key!r} is not a layer index (0 for model[0], ...)")
        out[index] = _entry(f"{where}.{index}", entry)
    return dict(sorted(out.items()))


def uses_files(weights) -> bool:
    """Whether ``weights`` reads any file (a run directory then records ``weights: checkpoints/initial.npz``, which
    holds the same starting values, so the run's session.yaml works without the files)."""
    if isinstance(weights, str):
        return True
    if isinstance(weights, dict):
        return any(uses_files(v) if isinstance(v, dict) else isinstance(v, str) for v in weights.values())
    return False


RECORDED = "checkpoints/initial.npz"


def _flatten(entry: dict, prefix: str, where: str, base_dir: Path, out: dict) -> None:
    for key, value in entry.items():
        if isinstance(key, int):
            _flatten(value, f"{prefix}{key}.", f"{where}.{key}", base_dir, out)
        else:
            out[f"{prefix}{key}"] = (f"{where}.{key}", _load(f"{where}.{key}", value, base_dir))


def _file(where: str, written: str, base_dir: Path) -> Path:
    path = Path(written)
    path = path if path.is_absolute() else Path(base_dir) / path
    if not path.is_file():
        raise ConfigError(f"{where}: file {written!r} not found (looked in {path.parent or '.'})")
    return path


def _load(where: str, value, base_dir: Path) -> np.ndarray:
    if isinstance(value, str):
        path = _file(where, value, base_dir)
        try:
            return np.asarray(np.load(path, allow_pickle=False), dtype=np.float64)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{where}: could not read {value!r} as a .npy array ({exc})") from None
    try:
        return np.asarray(value, dtype=np.float64)
    except ValueError:
        raise ConfigError(f"{where}: the rows of {value!r} differ in length") from None


def fixed_arrays(weights, base_dir=".") -> dict[str, tuple[str, np.ndarray]]:
    """Checkpoint key -> (where in the session, values) for each parameter ``weights`` fixes."""
    if weights is None:
        return {}
    base = Path(base_dir)
    if isinstance(weights, str):
        path = _file("weights", weights, base)
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {key: (f"weights: {weights} [{key}]", np.asarray(npz[key])) for key in npz.files}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"weights: could not read {weights!r} as a checkpoint ({exc})") from None
    out: dict[str, tuple[str, np.ndarray]] = {}
    for index, entry in weights.items():
        _flatten(entry, f"{index}.", f"weights.{index}", base, out)
    return out


def apply_weights(model, weights, base_dir=".") -> list[str]:
    """Set the parameters (and, from a checkpoint, buffers) ``weights`` names; the keys set, in model order.

    A key the model does not have, or values whose size differs from the parameter's, fail naming the
    session's key, the layer and both shapes."""
    arrays = fixed_arrays(weights, base_dir)
    if not arrays:
        return []
    params = dict(model.named_parameters())
    buffers = {key: value for key, value in model.named_buffers()}
    done = []
    for key, (where, values) in arrays.items():
        first, *inner = key.split(".")[:-1]
        layer_where = f"model[{first}]" + "".join(f".residual.layers[{j}]" for j in inner)
        if int(first) >= len(model.layers):
            raise ConfigError(f"{where}: there is no {layer_where}: the model has {len(model.layers)} layers")
        if key in params:
            shape = tuple(params[key].shape)
        elif key in buffers:
            shape = tuple(buffers[key].shape)
        else:
            index = key.rsplit(".", 1)[0]
            names = [k.rsplit(".", 1)[1] for k in params if k.rsplit(".", 1)[0] == index]
            has = f"its parameters: {', '.join(names)}" if names else "it has no parameters"
            raise ConfigError(f"{where}: {layer_where} has no parameter {key.rsplit('.', 1)[1]!r} ({has})")
        if values.shape != shape:
            if values.size != int(np.prod(shape)) or (values.ndim > 1 and values.shape != shape):
                kind = model.layers[int(first)].kind
                hints = {"dense": " (a dense weight is (out, in))", "conv2d": " (a conv weight is (out, in, kh, kw))"}
                hint = hints.get(kind, "") if key.endswith(".weight") else ""
                raise ConfigError(
                    f"{where}: {layer_where} expects shape {list(shape)}{hint}, got {list(values.shape)} "
                    f"({values.size} value{'s' if values.size != 1 else ''} for {int(np.prod(shape))})"
                )
            values = values.reshape(shape)
        if not np.isfinite(values).all():
            raise ConfigError(f"{where}: the values must be finite numbers")
        if key in params:
            params[key].data[...] = model.xp.asarray(values, dtype=model.dtype)
        else:
            index, name = key.split(".", 1)  # a residual block takes "<j>.<name>" for its layer j
            model.layers[int(index)].set_buffer(name, model.xp.array(values, dtype=model.dtype, copy=True))
        done.append(key)
    order = [k for k, _ in model.named_parameters()] + list(buffers)
    return sorted(done, key=order.index)
