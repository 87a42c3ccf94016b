"""The `dl-lab` command as the CLI tests run it: a small session file (s.yaml) in a fresh folder, and Typer's
CliRunner at 200 columns (the `cli` fixture of tests/cli/conftest.py)."""

from __future__ import annotations

from typer.testing import CliRunner

from dl_lab.cli.main import app

SESSION = """\
name: cli-small
seed: 1
data: {dataset: moons, samples: 200, noise: 0.1}
model:
  - dense: {units: 16, activation: relu}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.02}
training: {epochs: 3, batch_size: 20}
"""


def cli_in(folder, monkeypatch):
    """``invoke(*args, input=None)``: `dl-lab ARGS` run in ``folder`` (which holds s.yaml), its Result."""
    monkeypatch.chdir(folder)
    monkeypatch.setenv("COLUMNS", "200")
    (folder / "s.yaml").write_text(SESSION)
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(app, [str(a) for a in args], input=input)

    return invoke
