"""Weight initializers (Glorot, He, ...), drawn on the host with NumPy so every backend starts alike."""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError
from .spec import unknown_name


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) as PyTorch computes them: dense (out, in); conv (out, in, kh, kw)."""
    if len(shape) < 2:
        n = shape[0] if shape else 1
        return n, n
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _zeros(rng, shape, **_):
    return np.zeros(shape)


def _constant(rng, shape, value=0.0, **_):
    return np.full(shape, float(value))


def _normal(rng, shape, std=0.05, **_):
    return rng.normal(0.0, std, size=shape)


def _uniform(rng, shape, limit=0.05, **_):
    return rng.uniform(-limit, limit, size=shape)


def _glorot_uniform(rng, shape, **_):
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)


def _glorot_normal(rng, shape, **_):
    fan_in, fan_out = fans(shape)
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def _he_uniform(rng, shape, **_):
    fan_in = fans(shape)[0]
    limit = math.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=shape)


def _he_normal(rng, shape, **_):
    fan_in = fans(shape)[0]
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)


def _torch_default(rng, shape, **_):
    # PyTorch's nn.Linear / nn.Conv2d default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    fan_in = fans(shape)[0]
    limit = 1.0 / math.sqrt(fan_in)
    return rng.uniform(-limit, limit, size=shape)


INITIALIZERS = {
    "zeros": _zeros,
    "constant": _constant,
    "normal": _normal,
    "uniform": _uniform,
    "glorot_uniform": _glorot_uniform,
    "glorot_normal": _glorot_normal,
    "he_uniform": _he_uniform,
    "he_normal": _he_normal,
    "torch_default": _torch_default,
}
ALIASES = {
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
}
INITIALIZER_NAMES = tuple(INITIALIZERS) + tuple(ALIASES)
_ARGS = {"constant": ("value",), "normal": ("std",), "uniform": ("limit",)}


def parse_initializer(spec, where: str = "init") -> tuple[str, dict]:
    """``"he_normal"`` or ``{name: normal, std: 0.1}`` -> (canonical name, keyword arguments)."""
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name", None)
        kwargs = spec
    else:
        name, kwargs = spec, {}
    name = ALIASES.get(name, name)
    if name not in INITIALIZERS:
        raise unknown_name(where, "initializer", name, INITIALIZER_NAMES)
    allowed = _ARGS.get(name, ())
    for key, value in kwargs.items():
        if key not in allowed:
            raise ConfigError(f"{where}: initializer {name} takes {', '.join(allowed) or 'no options'}, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
    return name, kwargs


def initialize(spec, shape: tuple[int, ...], rng: np.random.Generator, where: str = "init") -> np.ndarray:
    """A float64 host array of ``shape`` drawn by the initializer ``spec``."""
    name, kwargs = parse_initializer(spec, where)
    return np.asarray(INITIALIZERS[name](rng, tuple(shape), **kwargs), dtype=np.float64)
