"""The CLI tests' ``cli`` fixture (tests/cli_runner.py)."""

from __future__ import annotations

import pytest
from cli_runner import cli_in


@pytest.fixture
def cli(tmp_path, monkeypatch):
    return cli_in(tmp_path, monkeypatch)
