"""Headless polish: export/compare default to every run, whole help lines, whole epoch ticks, gradcheck's summary
line, a stopped run called "stopped" everywhere, the runs table's model and optimizer, the README's preset."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dl_lab.cli import history
from dl_lab.cli.main import app
from dl_lab.cli.render import curves, epoch_ticks
from dl_lab.sessions import Recorder, Trainer, session_from_text
from dl_lab.sessions.config.presets import preset_text

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")

SESSION = """\
name: polish
seed: 1
data: {dataset: moons, samples: 200, noise: 0.1}
model:
  - dense: {units: 16, activation: relu}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.02}
training: {epochs: 3, batch_size: 20}
"""


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("DL_LAB_RUNS", raising=False)
    (tmp_path / "s.yaml").write_text(SESSION)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, list(args))

    return invoke


@pytest.fixture
def two_runs(cli, tmp_path) -> list[str]:
    """Two runs recorded under ./runs (the default runs folder); their folders' names, the oldest first."""
    assert cli("run", "s.yaml", "-q", "--out", "runs/first").exit_code == 0
    assert cli("run", "s.yaml", "-q", "--out", "runs/second", "--set", "optimizer.name=sgd").exit_code == 0
    return ["first", "second"]


def _help(columns: int) -> str:
    env = {**os.environ, "COLUMNS": str(columns)}
    done = subprocess.run([sys.executable, "-m", "dl_lab.cli.main", "--help"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("Commands:", 1)[1]


def test_help_lists_every_command_s_description_whole_at_200_columns():
    wide = _help(200)
    assert "..." not in wide, wide
    lines = [" ".join(line.split()) for line in wide.splitlines()]  # one line each, whole
    assert "tui Open the app: build a network, train it and watch it learn, browse and replay runs." in lines
    assert "gradcheck Compare back-propagation with float64 finite differences, per parameter tensor." in lines
    narrow = _help(80)  # wrapped, never cut
    assert "..." not in narrow and "per parameter tensor." in " ".join(narrow.split())


def test_export_and_compare_default_to_every_run_under_the_runs_folder(cli, tmp_path, two_runs):
    exported = cli("export", "--csv", "-")
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert [Path(r["run"]).name for r in rows] == ["first"] * 3 + ["second"] * 3  # every epoch of each, oldest first
    compared = cli("compare")
    assert compared.exit_code == 0, compared.output
    assert "first" in compared.output and "second" in compared.output
    assert "sgd lr=0.02" in compared.output and "adam lr=0.02" in compared.output
    # --dir chooses the folder, as `dl-lab runs` does
    (tmp_path / "runs").rename(tmp_path / "elsewhere")
    assert cli("compare", "--dir", "elsewhere").exit_code == 0
    dir_export = cli("export", "--csv", "-", "--dir", "elsewhere")
    assert dir_export.exit_code == 0 and len(list(csv.DictReader(io.StringIO(dir_export.output)))) == 6
    none = cli("export", "--csv", "-")
    assert none.exit_code == 2 and "no runs in runs" in none.output
    both = cli("compare", "elsewhere/first", "--dir", "elsewhere")
    assert both.exit_code == 2 and "not both" in both.output


def test_curves_mark_whole_epochs():
    assert epoch_ticks(1, 30, 6) == [1, 7, 13, 19, 25, 30]
    assert epoch_ticks(1, 3) == [1, 2, 3] and epoch_ticks(1, 1) == [1]
    xs = list(range(1, 31))
    chart = ANSI.sub("", curves({"val": (xs, [1.0 / x for x in xs])}, "loss", "loss", width=79))
    lines = chart.splitlines()
    axis = next(i for i, line in enumerate(lines) if "└" in line)
    ticks = lines[axis + 1].split()
    assert ticks and all(t.isdigit() for t in ticks), lines[axis + 1]  # 1, 7, 13, ..., never 15.8
    assert ticks[0] == "1" and ticks[-1] == "30"


def test_gradcheck_ends_with_one_summary_line(cli):
    result = cli("gradcheck", "s.yaml")
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"gradcheck: 4 tensors, worst relative error \d\.\d\de-\d\d: ok", last), last


def test_headless_replay_calls_a_stopped_run_stopped_as_the_lists_do(cli, tmp_path):
    trainer = Trainer(session_from_text(SESSION))
    batches = iter(range(100))
    with Recorder(tmp_path / "runs" / "halted", trainer) as recorder:
        for event in trainer.run(lambda: next(batches) >= 3):  # stopped on request after a few batches
            recorder.record(event)
    replayed = cli("replay", "runs/halted", "--headless")
    assert replayed.exit_code == 0, replayed.output
    assert re.search(r"status\s*│\s*stopped", replayed.output) and "cancelled" not in replayed.output
    listed = cli("runs")
    assert "stopped" in listed.output and "cancelled" not in listed.output


def test_runs_lists_each_run_s_model_and_optimizer(cli, two_runs):
    listed = cli("runs")
    assert listed.exit_code == 0, listed.output
    header = next(line for line in listed.output.splitlines() if line.lstrip().startswith("run "))
    assert "model" in header.split() and "optimizer" in header.split()
    first = next(line for line in listed.output.splitlines() if line.startswith("first "))
    assert "mlp, 2 layers" in first and "adam lr=0.02" in first
    second = next(line for line in listed.output.splitlines() if line.startswith("second "))
    assert "sgd lr=0.02" in second
    # they are the first to go in a narrow terminal, after the speed and the date
    assert history.RUNS_DROP_ORDER[:4] == ("samples/s", "date", "optimizer", "model")


def _yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, flags=re.S)


def test_the_readme_shows_the_spiral_preset_as_shipped():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    spiral = [b for b in _yaml_blocks(readme) if b.startswith("name: spiral\n")]
    assert len(spiral) == 1
    assert yaml.safe_load(spiral[0]) == yaml.safe_load(preset_text("spiral"))
