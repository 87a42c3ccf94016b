"""The engine stays UI-free: importing it loads no Textual, Typer, Rich, YAML or CuPy."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_engine_loads_neither_textual_nor_cupy():
    code = (
        "import sys, dl_lab.core; "
        "bad = [m for m in ('textual', 'cupy', 'typer', 'rich', 'yaml') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
