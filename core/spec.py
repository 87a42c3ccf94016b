"""Declarative option checking shared by layers, losses, optimizers and the session schema."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

_MISSING = object()


def closest(name: str, valid) -> str:
    """' (did you mean X?)' for the nearest valid name, or ''."""
    match = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""


def unknown_name(where: str, kind: str, name, valid) -> ConfigError:
    """The error for a name that is not one of ``valid``, listing them."""
    return ConfigError(
        f"{where}: unknown {kind} {name!r}{closest(name, valid)}; expected one of {', '.join(map(str, valid))}"
    )


@dataclass(frozen=True)
class Option:
    """One option of a component: its type, default and constraints.

    ``kind`` is one of int, float, bool, str, choice, int_or_pair, padding, list, any.
    """

    kind: str
    default: Any = _MISSING
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    choices: tuple = ()
    help: str = ""

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def describe(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(map(str, self.choices))
        bound = ""
        if self.min is not None:
            bound = f" {'>' if self.min_exclusive else '>='} {self.min:g}"
        if self.max is not None:
            bound += f"{' and' if bound else ''} <= {self.max:g}"
        noun = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}
        return noun.get(self.kind, self.kind) + bound

    def check(self, where: str, value):
        """Return the value converted to its kind, or raise a ConfigError naming ``where``."""
        if value is None and self.default is None:
            return None  # "not set", written out as null in a completed session
        checker = _CHECKERS.get(self.kind)
        value = checker(self, where, value) if checker else value
        if self.kind in ("int", "float"):
            low_bad = self.min is not None and (value <= self.min if self.min_exclusive else value < self.min)
            if low_bad or (self.max is not None and value > self.max):
                raise ConfigError(f"{where}: expected {self.describe()}, got {value!r}")
        return value


def _fail(opt: Option, where: str, value) -> ConfigError:
    return ConfigError(f"{where}: expected {opt.describe()}, got {value!r}")


def _int(opt, where, v):
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        raise _fail(opt, where, v)
    return v


def _float(opt, where, v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(opt, where, v)
    if v != v or v in (float("inf"), float("-inf")):
        raise _fail(opt, where, v)
    return float(v)


def _bool(opt, where, v):
    if not isinstance(v, bool):
        raise _fail(opt, where, v)
    return v


def _str(opt, where, v):
    if not isinstance(v, str):
        raise _fail(opt, where, v)
    return v


def _choice(opt, where, v):
    if v not in opt.choices:
        raise ConfigError(
            f"{where}: expected one of {', '.join(map(str, opt.choices))}, got {v!r}{closest(v, opt.choices)}"
        )
    return v


def _int_or_pair(opt, where, v):
    """A positive integer or a pair [h, w] of them (kernels, strides, pool sizes)."""
    items = list(v) if isinstance(v, (list, tuple)) else [v, v]
    if len(items) != 2 or any(isinstance(i, bool) or not isinstance(i, int) or i < 1 for i in items):
        raise ConfigError(f"{where}: expected a positive integer or a pair [h, w] of them, got {v!r}")
    return v if isinstance(v, int) else list(items)


def _padding(opt, where, v):
    if v in ("valid", "same"):
        return v
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v
    raise ConfigError(f"{where}: expected valid, same or an integer >= 0, got {v!r}")


def _list(opt, where, v):
    if not isinstance(v, list):
        raise ConfigError(f"{where}: expected a list, got {v!r}")
    return v


_CHECKERS: dict[str, Callable] = {
    "int": _int,
    "float": _float,
    "bool": _bool,
    "str": _str,
    "choice": _choice,
    "int_or_pair": _int_or_pair,
    "padding": _padding,
    "list": _list,
}


def check_options(where: str, options: dict[str, Option], given: dict | None) -> dict:
    """Validate ``given`` against ``options``: unknown keys, missing required ones, types and ranges.

    Returns a new dict with every default filled in.
    """
    given = {} if given is None else given
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: expected a mapping of options, got {given!r}")
    for key in given:
        if key not in options:
            valid = ", ".join(options) or "none"
            raise ConfigError(f"{where}: unknown option {key!r}{closest(key, options)}; valid options: {valid}")
    out = {}
    for key, opt in options.items():
        if key in given:
            out[key] = opt.check(f"{where}.{key}", given[key])
        elif opt.required:
            raise ConfigError(f"{where}.{key}: required ({opt.describe()})")
        else:
            out[key] = opt.default
    return out
