"""`dl-lab run` and `validate` refuse a model that cannot fit in memory: exit 2, one located message, no run folder."""

from __future__ import annotations

import re
import time

import pytest
from typer.testing import CliRunner

from dl_lab.cli.main import app
from dl_lab.core.memory import LIMIT_ENV
from dl_lab.sessions import PRESETS

WIDE = """\
name: wide
data: {dataset: moons, samples: 200}
model:
  - dense: {units: 20000000}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 1, batch_size: 32}
"""

BIG_KERNEL = """\
name: big-kernel
data: {dataset: digits}
model:
  - conv2d: {filters: 8, kernel: 1000, padding: same}
  - flatten: {}
  - dense: {units: 10}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 1, batch_size: 32}
"""


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.delenv("DL_LAB_RUNS", raising=False)
    monkeypatch.delenv("DL_LAB_DEBUG", raising=False)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, list(args))

    return invoke


def _files(root):
    return [p for p in root.rglob("*") if p.is_file() and p.suffix not in (".yaml",)]


def test_run_refuses_20_million_units_at_once_and_leaves_no_run_folder(cli, tmp_path, monkeypatch):
    monkeypatch.setenv(LIMIT_ENV, "1G")
    (tmp_path / "wide.yaml").write_text(WIDE)
    start = time.perf_counter()
    result = cli("run", "wide.yaml")
    elapsed = time.perf_counter() - start
    assert result.exit_code == 2, result.output
    assert elapsed < 5
    assert re.search(r"wide\.yaml:\d+: model\[0\]\.dense: about ", result.output)
    assert f"{LIMIT_ENV} allows 1.0 GB" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()
    assert _files(tmp_path) == []


def test_run_with_out_refuses_before_creating_the_folder(cli, tmp_path, monkeypatch):
    monkeypatch.setenv(LIMIT_ENV, "1G")
    (tmp_path / "wide.yaml").write_text(WIDE)
    result = cli("run", "wide.yaml", "--out", "r")
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "r").exists()


def test_a_kernel_of_1000_on_digits_is_refused_on_this_machine(cli, tmp_path):
    (tmp_path / "k.yaml").write_text(BIG_KERNEL)
    result = cli("run", "k.yaml")
    assert result.exit_code == 2, result.output
    assert re.search(r"k\.yaml:\d+: model\[0\]\.conv2d: about ", result.output)
    assert "activations and scratch buffers" in result.output
    assert not (tmp_path / "runs").exists()


def test_validate_prints_the_estimate_and_refuses_what_cannot_fit(cli, tmp_path, monkeypatch):
    result = cli("validate", "digits_cnn")
    assert result.exit_code == 0, result.output
    assert "memory: about " in result.output and "available" in result.output
    monkeypatch.setenv(LIMIT_ENV, "1G")
    (tmp_path / "wide.yaml").write_text(WIDE)
    result = cli("validate", "wide.yaml")
    assert result.exit_code == 2 and "model[0].dense: about " in result.output


@pytest.mark.parametrize("preset", list(PRESETS))
def test_no_preset_is_refused_with_the_machine_limit(cli, preset, monkeypatch):
    monkeypatch.delenv(LIMIT_ENV, raising=False)
    result = cli("validate", preset)
    assert result.exit_code == 0, result.output
