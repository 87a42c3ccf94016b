"""`dl-lab run` tells what the run's health watch finds, once a kind, as it appears."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from dl_lab.cli.main import app

# Every ReLU starts negative on every sample (bias -5 under standardized inputs): dead units, then a plateau.
DEAD = """\
name: dead
seed: 3
data: {dataset: circle, samples: 200, noise: 0.1}
model:
  - dense: {units: 16, activation: relu, bias_init: {name: constant, value: -5}}
  - dense: {units: 2}
optimizer: {name: sgd, lr: 0.1}
training: {epochs: 6, batch_size: 16}
monitor: {every_steps: 5}
"""


def test_run_prints_each_finding_once_with_what_to_try(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "dead.yaml").write_text(DEAD)
    result = CliRunner().invoke(app, ["run", "dead.yaml", "--out", "r", "--quiet"])
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert err.count("dl-lab: health: dead units (epoch 1, step 5): 100% of model[0]'s relu units") == 1
    assert err.count("dl-lab: health: plateau (epoch 5") == 1
    assert "  try: use leaky_relu there (--set model.0.dense.activation=leaky_relu), or lower optimizer.lr" in err
    assert '"event":"diagnosis"' in (tmp_path / "r" / "metrics.jsonl").read_text()


def test_a_headless_replay_and_run_json_tell_the_findings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "dead.yaml").write_text(DEAD)
    result = CliRunner().invoke(app, ["run", "dead.yaml", "--out", "r", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)["diagnoses"]
    assert [d["kind"] for d in found] == ["dead_units", "plateau"] and found[0]["advice"].startswith("use leaky_relu")
    replayed = CliRunner().invoke(app, ["replay", "r", "--headless"])
    assert replayed.exit_code == 0, replayed.output
    out = replayed.stdout
    assert out.count("health: dead units (epoch 1, step 5): 100% of model[0]'s relu units") == 1
    assert out.count("health: plateau (epoch 5") == 1 and out.count("  try: ") == 2
