"""The example sessions shipped in sessions/presets/: each offline one validates and trains an epoch into a run
directory as the contract lays it out; the ones on downloaded data validate without downloading."""

from __future__ import annotations

import json
import re
import socket

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dl_lab.cli.main import app
from dl_lab.datasets.registry import DATASETS
from dl_lab.sessions import PRESETS, preset_path

SAMPLES_CAP = 200  # rows of generated or built-in data: one epoch then takes a fraction of a second
COURSE_EXAMPLES = {
    "spiral",
    "perceptron",
    "adaline",
    "logistic_regression",
    "xor",
    "circle_width",
    "spiral_deep",
    "sine",
    "activations",
    "optimizers",
    "regularization",
    "initialization",
    "digits_mlp",
    "digits_cnn",
    "lenet5_digits",
    "residual",
    "mnist",
    "lenet5",
    "fashion_mnist",
    "cifar10",
    "vgg_small",
}


def raw_preset(name: str) -> dict:
    return yaml.safe_load(preset_path(name).read_text(encoding="utf-8"))


def dataset_of(name: str):
    return DATASETS[raw_preset(name)["data"]["dataset"]]


OFFLINE = [name for name in PRESETS if dataset_of(name).offline]
DOWNLOADED = [name for name in PRESETS if not dataset_of(name).offline]


def one_epoch_overrides(name: str) -> list[str]:
    """--set values for a quick run: one epoch (one round of boosting), and at most SAMPLES_CAP rows where the
    dataset has a size."""
    overrides = ["training.epochs=1"]
    if raw_preset(name).get("boost"):  # a boosted session's epochs are its rounds: one round of one epoch
        overrides.append("boost.rounds=1")
    samples = raw_preset(name)["data"].get("samples")
    if "samples" in dataset_of(name).options and (samples is None or samples > SAMPLES_CAP):
        overrides.append(f"data.samples={SAMPLES_CAP}")
    return overrides


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


@pytest.fixture
def no_network(tmp_path, monkeypatch):
    """An empty dataset cache, and any attempt to open a connection fails the test."""
    monkeypatch.setenv("DL_LAB_CACHE", str(tmp_path / "empty-cache"))

    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_the_course_examples_are_all_shipped_as_presets():
    assert not COURSE_EXAMPLES - set(PRESETS), "missing presets"
    assert set(DOWNLOADED) == {"mnist", "fashion_mnist", "cifar10", "lenet5", "vgg_small"}


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_example_opens_with_a_one_line_description_and_explains_itself(name):
    lines = preset_path(name).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and len(lines[0]) <= 100, lines[0]
    assert sum(line.startswith("#") for line in lines) >= 3, "a few comment lines on what the example teaches"


@pytest.mark.parametrize("name", OFFLINE)
def test_an_offline_example_validates_and_trains_an_epoch_into_a_contract_run_directory(cli, tmp_path, name):
    result = cli("validate", name)
    assert result.exit_code == 0 and "is a valid session" in result.output, result.output
    sets = [arg for value in one_epoch_overrides(name) for arg in ("--set", value)]
    result = cli("run", name, *sets, "--out", "run", "--quiet")
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "run"
    session = yaml.safe_load((run_dir / "session.yaml").read_text(encoding="utf-8"))
    assert session["name"] == raw_preset(name)["name"] and session["training"]["epochs"] == 1
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    epochs = [r for r in records if r["event"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1] and records[-1]["event"] == "end"
    wanted = {"epoch", "train_loss", "val_loss"}
    if raw_preset(name)["data"].get("task", dataset_of(name).task) == "classification":  # xor_by_hand: regression
        wanted |= {"train_acc", "val_acc"}
    assert all(epochs[0].get(key) is not None for key in wanted), epochs[0]
    keys = []
    for checkpoint in ("initial", "final"):
        with np.load(run_dir / "checkpoints" / f"{checkpoint}.npz", allow_pickle=False) as npz:
            keys.append(sorted(npz.files))
    assert keys[0] == keys[1] and all(re.fullmatch(r"(\d+\.)+[a-z_]+", key) for key in keys[0]), keys[0]
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "completed" and summary["train_samples_per_s"] > 0
    assert summary["final"]["epoch"] == 1


@pytest.mark.parametrize("name", DOWNLOADED)
def test_an_example_on_downloaded_data_validates_without_downloading(cli, no_network, name):
    result = cli("validate", name)
    assert result.exit_code == 0 and "is a valid session" in result.output, result.output
