"""What `dl-lab` imports to start: `--help` and the command list need neither NumPy, nor the app (Textual), nor the
sessions; the app's first screen needs neither the key help's Markdown nor the palette's entries. Each check runs
in a fresh interpreter and reads its ``sys.modules`` (timings are in bench/startup_bench.py, never here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "textual", "dl_lab.sessions", "rich.table", "yaml")


def modules_after(code: str) -> set[str]:
    """The modules loaded once ``code`` has run in a new interpreter (its SystemExit, as `--help` ends, caught)."""
    script = (
        "import json, sys\n"
        f"try:\n    exec({code!r})\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)) + '\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.rsplit("MODULES ", 1)[1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def cli(*args: str) -> str:
    return f"import sys; sys.argv = ['dl-lab', *{list(args)!r}]; from dl_lab.cli.main import main; main()"


def test_importing_the_command_line_loads_neither_numpy_nor_the_app_nor_the_sessions():
    assert heavy(modules_after("import dl_lab.cli.main")) == []


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["run", "--help"], ["validate", "--help"], ["sweep", "--help"]])
def test_help_loads_neither_numpy_nor_the_app_nor_the_sessions(args):
    modules = modules_after(cli(*args))
    assert "dl_lab.cli.main" in modules  # the help was shown by dl-lab's command line, not by a failed import
    assert heavy(modules) == []


def test_a_command_that_runs_still_finds_what_the_help_left_unloaded():
    modules = modules_after(cli("new", "--list"))  # the presets: the sessions, read when the command runs
    assert "dl_lab.sessions" in modules and "dl_lab.cli.commands" in modules


def test_the_app_opens_without_the_key_help_s_markdown_or_the_palette_s_entries():
    modules = modules_after("import dl_lab.tui.app")
    assert "textual.app" in modules
    assert [m for m in ("markdown_it", "textual.widgets._markdown", "dl_lab.tui.commands") if m in modules] == []


def test_listing_runs_loads_neither_numpy_nor_the_engine_nor_the_datasets_nor_pydantic(tmp_path):
    modules = modules_after(cli("runs", "--dir", str(tmp_path)))
    assert "dl_lab.sessions.runs.table" in modules  # the listing ran (an empty folder: "no runs in ...")
    engine = (
        "numpy",
        "textual",
        "yaml",
        "pydantic",
        "dl_lab.datasets",
        "dl_lab.core.layers",
        "dl_lab.sessions.training",
    )
    assert sorted(m for m in modules if any(m == e or m.startswith(e + ".") for e in engine)) == []


def test_an_error_class_of_the_engine_comes_without_the_engine():
    modules = modules_after("from dl_lab.core.errors import DLLabError; from dl_lab.sessions import SessionError")
    assert "dl_lab.core.errors" in modules and "numpy" not in modules and "dl_lab.core.layers" not in modules


@pytest.mark.parametrize("package", ["dl_lab.core", "dl_lab.sessions"])
def test_each_name_a_package_offers_is_its_module_s_object(package):
    import importlib

    offered = importlib.import_module(package)
    assert set(offered.__all__) == set(offered.WHERE)
    for name in offered.__all__:
        assert getattr(offered, name) is getattr(importlib.import_module(offered.WHERE[name], package), name)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        offered.nothing_here  # noqa: B018
