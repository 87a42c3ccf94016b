"""YAML with the safe loader only: reading with line numbers per key path, and writing readable sessions.

Session files are small hand-written mappings, so reading them refuses what they never need and what makes
YAML dangerous to read: anchors and aliases (the "billion laughs" expansion), nesting deeper than
``MAX_DEPTH``, files over ``MAX_BYTES``, anything that is not a regular file (a FIFO, /dev/zero), and a key
given twice in one mapping (YAML would silently keep the last). All of that is checked on the event stream
before anything is composed or constructed. Floats are read as YAML 1.2 writes them: ``1e-3`` is a number
(YAML 1.1 wants ``1.0e-3`` and reads ``1e-3`` as a string).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from dl_lab.datasets.formats import NotRegularFile, TooLarge, read_regular
from dl_lab.sessions.errors import SessionError

MAX_BYTES = 1 << 20  # sessions are a few hundred bytes; a generated one with a long model stays far below this
MAX_DEPTH = 50  # a session nests 4 deep (model[i].layer.option: [h, w]); 50 leaves room and no RecursionError
MAX_VALUES = 100_000  # a session holds a few hundred; this bounds the (pure-Python) construction to well under 1 s

# YAML 1.2 floats that YAML 1.1 reads as strings: an exponent without a dot (1e-3, 1E5) or without a sign
# (1.0e5). Those with a dot and a signed exponent already match YAML 1.1's resolver, which runs first.
_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class _SafeLoader(yaml.SafeLoader):
    """The pure-Python safe loader, with YAML 1.2 floats."""


_SafeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))
_LOADERS: list[type] = [_SafeLoader]
if getattr(yaml, "__with_libyaml__", False):

    class _CSafeLoader(yaml.CSafeLoader):
        """libyaml's safe loader (about ten times faster), with YAML 1.2 floats."""

    _CSafeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))
    _LOADERS.insert(0, _CSafeLoader)
Loader: type = _LOADERS[0]  # what reads session files and --set values


def load_value(text: str, source: str) -> object:
    """One YAML value (a --set override's right-hand side) read like a session file's values.

    Anchors, aliases and deep nesting are refused as in a file (SessionError naming ``source``); a syntax
    error raises yaml.YAMLError for the caller to decide.
    """
    _scan(text, source, (), numbered=False)
    return yaml.load(text, Loader=Loader)  # a safe loader: SafeLoader or CSafeLoader


def key_path(parts) -> str:
    """('model', 2, 'conv2d', 'kernel') -> 'model[2].conv2d.kernel'."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Frame:
    """An open mapping or sequence while scanning events: its path, and what the next event is."""

    __slots__ = ("index", "is_map", "key", "parts", "seen")

    def __init__(self, parts: tuple, is_map: bool) -> None:
        self.parts, self.is_map = parts, is_map
        self.index = 0  # sequences: the next item's index
        self.key: str | None = None  # mappings: the key whose value comes next (None: a key comes next)
        self.seen: dict[str, int] = {}  # mappings: key -> line


def _scan(
    text: str, source: str, as_text: tuple[str, ...], numbered: bool = True
) -> tuple[dict[str, int], dict[str, str]]:
    """Check the event stream and return ({key path: line}, {path in as_text: its plain scalar as written}).

    Raises SessionError for anchors, aliases, too deep nesting, complex keys and duplicate keys; never
    composes a node graph, so nothing is expanded.
    """
    table: dict[str, int] = {}
    texts: dict[str, str] = {}
    stack: list[_Frame] = []

    def refuse(line: int, problem: str) -> SessionError:
        return SessionError(f"{source}:{line}: {problem}" if numbered else f"{source}: {problem}")

    for count, event in enumerate(yaml.parse(text, Loader=Loader)):
        line = event.start_mark.line + 1 if event.start_mark else 0  # both parsers always give a mark
        if count > MAX_VALUES:
            raise refuse(line, f"more than {MAX_VALUES:,} values; a session holds a few hundred")
        if isinstance(event, yaml.AliasEvent):
            raise refuse(line, f"an alias (*{event.anchor}) is not allowed in a session file; write the value out")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise refuse(line, f"an anchor (&{anchor}) is not allowed in a session file; write the values out")
        is_node = isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent))
        if is_node and stack and stack[-1].is_map and stack[-1].key is None:  # a key
            frame = stack[-1]
            if not isinstance(event, yaml.ScalarEvent):
                raise refuse(line, "a key must be a plain name, not a list or a mapping")
            key = event.value
            path = key_path((*frame.parts, key))
            if key in frame.seen:
                raise refuse(line, f"{path}: given twice, on lines {frame.seen[key]} and {line}")
            frame.seen[key] = line
            frame.key = key
            table[path] = line
            continue
        if is_node:  # a value: the document's root, a sequence item or a mapping value
            parts: tuple = ()
            if stack:
                frame = stack[-1]
                if frame.is_map:
                    parts, frame.key = (*frame.parts, frame.key), None
                else:
                    parts = (*frame.parts, frame.index)
                    frame.index += 1
            path = key_path(parts)
            table.setdefault(path, line)  # a mapping value keeps its key's line
            if isinstance(event, yaml.ScalarEvent):
                if path in as_text and not event.style and event.implicit[0]:  # plain: style None, or '' (libyaml)
                    texts[path] = event.value
            else:
                if len(stack) >= MAX_DEPTH:
                    raise refuse(line, f"nested more than {MAX_DEPTH} levels deep; a session needs a few")
                stack.append(_Frame(parts, isinstance(event, yaml.MappingStartEvent)))
        elif isinstance(event, yaml.CollectionEndEvent):
            stack.pop()
    table.pop("", None)
    return table, texts


def parse_yaml(text: str, source: str, as_text: tuple[str, ...] = ()) -> tuple[object, dict[str, int]]:
    """(data, {key path: line}) from YAML text, safe loader only; errors name the file and line.

    ``as_text``: key paths of string options (``name``, ``data.train``): a number written there unquoted
    (``name: 1e3``) is kept as the text it was written as.
    """
    if len(text) > MAX_BYTES:
        raise SessionError(f"{source}: sessions are small; this text is {len(text) / 1e6:.1f} MB")
    try:
        table, texts = _scan(text, source, as_text)
        data = yaml.load(text, Loader=Loader)  # a safe loader: SafeLoader or CSafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise SessionError(f"{where}: not valid YAML ({problem})") from None
    except RecursionError:  # the depth check comes first; this is a second line of defence
        raise SessionError(f"{source}: nested too deep") from None
    for path, written in texts.items():
        *outer, last = path.split(".")
        holder = data
        for part in outer:
            holder = holder.get(part) if isinstance(holder, dict) else None
        value = holder.get(last) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and isinstance(value, (int, float)) and not isinstance(value, bool):
            holder[last] = written
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


def read_yaml_file(path: Path, as_text: tuple[str, ...] = ()) -> tuple[object, dict[str, int]]:
    """``parse_yaml`` of a session file: a regular file of at most MAX_BYTES (a FIFO is never waited on)."""
    try:
        data = read_regular(Path(path), MAX_BYTES)
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise SessionError(f"{path}: no such session file") from None
    except NotRegularFile as exc:
        raise SessionError(f"{path}: {exc}; a session is a YAML file") from None
    except TooLarge as exc:
        raise SessionError(f"{path}: sessions are small; this file is {exc.size / 1e6:.1f} MB") from None
    except UnicodeDecodeError as exc:
        raise SessionError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise SessionError(f"{path}: cannot read the session file ({exc.strerror or exc})") from None
    return parse_yaml(text, str(path), as_text)


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
