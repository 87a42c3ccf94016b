"""The house rules of imports, read from the source: which room may import which, and no UI below the UI.

core <- datasets <- sessions <- {cli, tui}: the engine imports nothing else of dl-lab and no UI or YAML library;
datasets imports only the engine; sessions imports no UI; the app and the CLI do not import each other (the
CLI's ``tui`` command opens the app, the one exception). CuPy is imported in core/backend.py alone. Every import
is checked, those inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROOMS = {"core": "core", "datasets": "datasets", "sessions": "sessions", "cli": "cli", "tui": "tui"}
UI = {"textual", "rich", "typer", "plotext"}
# room -> (the dl_lab rooms it may import, the third-party top-level modules it must not import)
RULES = {
    "core": ({"core"}, UI | {"yaml"}),
    "datasets": ({"core", "datasets"}, UI | {"yaml"}),
    "sessions": ({"core", "datasets", "sessions"}, UI),
    "cli": ({"core", "datasets", "sessions", "cli", "tui"}, {"textual"}),
    "tui": ({"core", "datasets", "sessions", "tui"}, {"typer"}),
}
CUPY_HOME = Path("core/backend.py")
CLI_OPENS_THE_APP = Path("cli/commands.py")  # `dl-lab tui` and `dl-lab replay` import the app, lazily


def _modules(room: str) -> list[Path]:
    return sorted(p.relative_to(ROOT) for p in (ROOT / room).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), str(path))
    package = ["dl_lab", *path.parent.parts]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def _violations(room: str) -> list[str]:
    allowed, banned = RULES[room]
    bad = []
    for path in _modules(room):
        for line, name in _imports(path):
            top = name.split(".")[0]
            where = f"{path}:{line} imports {name}"
            if top == "dl_lab":
                target = name.split(".")[1] if name.count(".") else ""
                if target == "tui" and room == "cli" and path != CLI_OPENS_THE_APP:
                    bad.append(f"{where} (only {CLI_OPENS_THE_APP} may open the app)")
                elif target not in allowed:
                    bad.append(f"{where} ({room} may import dl_lab.{{{', '.join(sorted(allowed))}}})")
            elif top in banned:
                bad.append(f"{where} ({room} must not import {top})")
            elif top == "cupy" and path != CUPY_HOME:
                bad.append(f"{where} (CuPy is imported in {CUPY_HOME} alone: use backend.import_cupy)")
    return bad


@pytest.mark.parametrize("room", list(ROOMS))
def test_each_room_imports_only_what_the_house_rules_allow(room):
    assert _modules(room), f"no modules found in {room}/"
    assert _violations(room) == []


def test_the_contract_check_catches_a_forbidden_import(tmp_path, monkeypatch):
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "bad.py").write_text(
        "import yaml\nfrom ..sessions import Trainer\n\ndef later():\n    import textual\n", encoding="utf-8"
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    found = _violations("core")
    assert [v.split(" (")[0] for v in found] == [
        "core/bad.py:1 imports yaml",
        "core/bad.py:2 imports dl_lab.sessions",
        "core/bad.py:5 imports textual",
    ]


def test_every_package_folder_is_installed_by_pyproject():
    """`pip install .` (not editable) installs only the packages pyproject.toml lists: a folder left out (as
    sessions/inspect once was) works in the editable checkout and is missing from a real install."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {
        "dl_lab." + ".".join((room, *init.parent.relative_to(ROOT / room).parts))
        for room in ROOMS
        for init in (ROOT / room).rglob("__init__.py")
    }
    assert folders - listed == set(), "add them to [tool.setuptools] packages"
