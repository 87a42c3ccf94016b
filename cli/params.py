"""Command-line values read without Pydantic where they are plain text or paths.

Typer (0.2x) checks every parameter's value with a Pydantic validator it builds as the command starts: Pydantic's
import and the validators cost `dl-lab runs` a fifth of a second, for values that are text (a preset's name, a
sort key, ``--set`` pairs) or paths (a run folder) and need no checking. ``plain_coercion`` gives those
parameters a coercion of their own: text as Typer's own validator reads it (bytes decoded), paths through Typer's
own path checks (``coerce_cli_path``: ``exists``, ``dir_okay`` and the rest, with their messages). Numbers,
choices, dates and files keep Typer's validators. With a Typer that works otherwise (no ``typer._coercion``),
every parameter keeps Typer's.
"""

from __future__ import annotations

import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_path
except ImportError:  # another Typer: its own coercion throughout (``runtime_param`` is then never called)
    RuntimeParam = None  # type: ignore[assignment,misc]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode(sys.getfilesystemencoding())
        except UnicodeError:
            return value.decode("utf-8", "replace")
    return str(value)


def _unwrapped(annotation: Any) -> Any:
    """``X`` for ``X | None`` (and ``Optional[X]``), else ``annotation``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _item_type(annotation: Any) -> tuple[Any, bool]:
    """(the type of one value, whether the parameter is a list of them)."""
    annotation = _unwrapped(annotation)
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation) or (Any,)
        return _unwrapped(item), True
    return annotation, False


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class PlainRuntimeParam(RuntimeParam):
        """Text or a path (or a list of them), coerced as Typer's validators would, without Pydantic."""

        item: type = str
        many: bool = False

        def _coerce_value(self, value: Any, param, ctx) -> Any:
            if self.many:
                values = value if isinstance(value, (list, tuple)) else [value]
                return [self._one(v, param, ctx) for v in values]
            return self._one(value, param, ctx)

        def _one(self, value: Any, param, ctx) -> Any:
            if self.item is str:
                return _text(value)
            path = value if isinstance(value, Path) else Path(_text(value))
            return coerce_cli_path(path, self.parameter_info, path_type=Path, param=param, ctx=ctx)


def plain_coercion(descriptor) -> Any:
    """The coercion of a parameter whose values are text or paths (``PlainRuntimeParam``), else None (Typer's)."""
    if RuntimeParam is None:
        return None
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or getattr(info, "parser", None) is not None:
        return None
    item, many = _item_type(descriptor.annotation)
    if item is not str and item is not Path:
        return None
    return PlainRuntimeParam(parameter_info=info, annotation=descriptor.annotation, item=item, many=many)


def runtime_param(param) -> Any:
    """A Typer parameter's ``get_runtime_param``: the plain coercion where it applies, else Typer's own."""
    if param._runtime_param is None:
        descriptor = param.type_descriptor
        param._runtime_param = plain_coercion(descriptor) or build_runtime_param(descriptor)
    return param._runtime_param
