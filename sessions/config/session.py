"""A session: a validated experiment description, read from YAML (with --set overrides) and written back."""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dl_lab.core.errors import DLLabError
from dl_lab.datasets import DataError
from dl_lab.sessions.config.schema import validate
from dl_lab.sessions.config.typed import SessionConfig
from dl_lab.sessions.config.yamlio import dump_yaml, line_of, load_value, parse_yaml, read_yaml_file
from dl_lab.sessions.errors import SessionError

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
# String options where an unquoted number is still meant as text (name: 1e3, train: 2024): kept as written.
TEXT_PATHS = ("name", "data.train", "data.val", "data.target")


@dataclass
class Session:
    """A complete session (``spec``: every default filled in) and where it came from."""

    spec: dict
    source: Path | None = None
    base_dir: Path = field(default_factory=Path)
    lines: dict = field(default_factory=dict, repr=False)
    overrides: tuple = ()

    def located(self, exc: Exception) -> SessionError:
        """An error about this session's content, prefixed with its file and line (or the --set that caused it)."""
        return locate(str(exc), self.source, self.lines, self.overrides)

    @property
    def config(self) -> SessionConfig:
        """The session in typed form (``spec`` is the validated mapping it is made from, as YAML holds it)."""
        return SessionConfig.from_spec(self.spec)

    @property
    def name(self) -> str:
        return self.spec["name"]

    def to_yaml(self) -> str:
        return dump_yaml(self.spec)

    def save(self, path) -> None:
        Path(path).write_text(self.to_yaml(), encoding="utf-8")

    def with_overrides(self, overrides) -> Session:
        return session_from_dict(
            apply_overrides(self.spec, overrides),
            base_dir=self.base_dir,
            source=self.source,
            overrides=tuple(overrides),
        )

    def copy(self) -> Session:
        return Session(copy.deepcopy(self.spec), self.source, self.base_dir, dict(self.lines), self.overrides)


def parse_path(path: str) -> list:
    """'model[0].dense.units' (or 'model.0.dense.units') -> ['model', 0, 'dense', 'units']."""
    parts = []
    for name, index in _TOKEN.findall(path):
        parts.append(int(index) if index else (int(name) if name.isdigit() else name))
    if not parts or "".join(re.findall(r"[^.\[\]]", path)) != "".join(str(p) for p in parts):
        raise SessionError(f"--set {path}: not a key path like training.epochs or model[0].dense.units")
    return parts


def apply_overrides(raw: dict, overrides) -> dict:
    """A copy of ``raw`` with each 'key.path=value' applied (values parsed as YAML: 5, 0.1, true, [1, 2])."""
    raw = copy.deepcopy(raw) if raw is not None else {}
    for item in overrides or ():
        if "=" not in item:
            raise SessionError(f"--set {item}: expected key.path=value, e.g. --set training.epochs=5")
        path, text = item.split("=", 1)
        parts = parse_path(path.strip())
        try:
            value = load_value(text, f"--set {item}") if text.strip() else None
        except yaml.YAMLError:
            value = text
        if path.strip() in TEXT_PATHS and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = text.strip()  # --set name=1e3: a name, as in a file
        node = raw
        for here, nxt in itertools.pairwise(parts):
            node = _child(node, here, nxt, path)
        _assign(node, parts[-1], value, path)
    return raw


def _child(node, key, nxt, path):
    if isinstance(key, int) and isinstance(node, dict):  # a mapping keyed by number: weights.1.bias
        if not isinstance(node.get(key), (dict, list)):
            node[key] = {}
        return node[key]
    if isinstance(key, int):
        if not isinstance(node, list) or key >= len(node):
            raise SessionError(f"--set {path}: index [{key}] is out of range")
        return node[key]
    if not isinstance(node, dict):
        raise SessionError(f"--set {path}: {key!r} is not inside a mapping")
    if not isinstance(node.get(key), (dict, list)):
        node[key] = {} if not isinstance(nxt, int) else []
    return node[key]


def _assign(node, key, value, path):
    if isinstance(key, int) and isinstance(node, dict):
        node[key] = value
    elif isinstance(key, int):
        if not isinstance(node, list) or key > len(node):
            raise SessionError(f"--set {path}: index [{key}] is out of range")
        if key == len(node):
            node.append(value)
        else:
            node[key] = value
    elif isinstance(node, dict):
        node[key] = value
    else:
        raise SessionError(f"--set {path}: {key!r} is not inside a mapping")


def locate(message: str, source, lines: dict, overrides=()) -> SessionError:
    """Prefix an error message with where it comes from: a --set override, or the file and line."""
    for item in overrides:
        path = item.split("=", 1)[0].strip()
        if message.startswith(path) or path.startswith(message.split(":", 1)[0]):
            return SessionError(f"--set {item}: {message}")
    line = line_of(message, lines or {})
    where = f"{source}:{line}: " if source and line else (f"{source}: " if source else "")
    return SessionError(f"{where}{message}")


def session_from_dict(raw, *, base_dir=".", source=None, lines=None, overrides=()) -> Session:
    """Validate ``raw``; errors become one SessionError naming the file, the line and the key path."""
    try:
        spec = validate(raw)
    except (DLLabError, DataError) as exc:
        raise locate(str(exc), source, lines, overrides) from None
    return Session(spec, Path(source) if source else None, Path(base_dir), lines or {}, tuple(overrides))


def load_session(path, overrides=()) -> Session:
    """Read, override and validate a session file."""
    path = Path(path)
    raw, lines = read_yaml_file(path, TEXT_PATHS)
    if raw is None:
        raise SessionError(f"{path}: the session file is empty")
    raw = apply_overrides(raw, overrides) if isinstance(raw, dict) else raw  # not a mapping: validate says so
    return session_from_dict(raw, base_dir=path.parent, source=path, lines=lines, overrides=tuple(overrides))


def session_from_text(text: str, source: str = "<session>", base_dir=".") -> Session:
    raw, lines = parse_yaml(text, source, TEXT_PATHS)
    return session_from_dict(raw, base_dir=base_dir, source=source, lines=lines)
