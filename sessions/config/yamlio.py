"""YAML with the safe loader only: reading with line numbers per key path, and writing readable sessions."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from dl_lab.sessions.errors import SessionError


def key_path(parts) -> str:
    """('model', 2, 'conv2d', 'kernel') -> 'model[2].conv2d.kernel'."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _lines(node, parts, table) -> None:
    table[key_path(parts)] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            sub = (*parts, key_node.value)
            table[key_path(sub)] = key_node.start_mark.line + 1
            _lines(value_node, sub, table)
            table[key_path(sub)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*parts, i), table)


def parse_yaml(text: str, source: str) -> tuple[object, dict[str, int]]:
    """(data, {key path: line}) from YAML text, safe loader only; syntax errors name the file and line."""
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise SessionError(f"{where}: not valid YAML ({problem})") from None
    table: dict[str, int] = {}
    if node is not None:
        _lines(node, (), table)
    table.pop("", None)
    return data, table


_PATH_RE = re.compile(r"^([A-Za-z_][\w]*(?:\[\d+\]|\.[A-Za-z_][\w]*)*)")


def line_of(message: str, lines: dict[str, int]) -> int | None:
    """The line of the longest key path that prefixes ``message`` (errors start with their path)."""
    match = _PATH_RE.match(message)
    if not match:
        return None
    path = match.group(1)
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return None


def read_yaml_file(path: Path) -> tuple[object, dict[str, int]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SessionError(f"{path}: no such session file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SessionError(f"{path}: cannot read the session file ({exc})") from None
    return parse_yaml(text, str(path))


class _Dumper(yaml.SafeDumper):
    """Block style for mappings, but short lists of scalars and layer options inline, as people write them."""


def _represent_list(dumper, data):
    flow = all(isinstance(v, (int, float, str, bool)) or v is None for v in data) and len(data) <= 8
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


def _represent_dict(dumper, data):
    flow = bool(data) and all(isinstance(v, (int, float, str, bool)) or v is None for v in data.values())
    flow = flow and len(data) <= 6 and len(str(data)) < 90
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, _represent_dict)


def dump_yaml(data) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)
