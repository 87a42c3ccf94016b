"""Weights fixed by hand in a session (``weights:``) and points typed into it (``dataset: points``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dl_lab.cli.main import app
from dl_lab.sessions import SessionError, load_session, session_from_text
from dl_lab.sessions.training.build import build

XOR = """
name: fixed
data: {dataset: gate_xor, task: regression}
model:
  - dense: {units: 2, activation: relu}
  - dense: {units: 1}
loss: mse
weights:
  0: {weight: [[1, 1], [1, 1]], bias: [0, -1]}
  1: {weight: [1, -2]}
"""


def test_fixed_weights_replace_the_initializer_for_the_parameters_they_name():
    model = build(session_from_text(XOR)).model
    state = model.state_dict()
    assert state["0.weight"].tolist() == [[1, 1], [1, 1]] and state["0.bias"].tolist() == [0, -1]
    assert state["1.weight"].tolist() == [[1, -2]]  # a flat list of the right size is reshaped
    unfixed = build(session_from_text(XOR.replace("  1: {weight: [1, -2]}\n", ""))).model.state_dict()
    assert unfixed["1.weight"].tolist() != [[1, -2]] and unfixed["1.bias"].tolist() == state["1.bias"].tolist()
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    assert model.forward(x).reshape(-1).tolist() == [0, 1, 1, 0]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "weights.1.weight=[1, 2, 3]",
            r"weights\.1\.weight: model\[1\] expects shape \[1, 2\] \(a dense weight is \(out, in\)\), got \[3\]",
        ),
        ("weights.0.weight=[[1, 2, 3], [4, 5, 6]]", r"weights\.0\.weight: model\[0\] expects shape \[2, 2\]"),
        (
            "weights.1.gamma=1",
            r"weights\.1\.gamma: model\[1\] has no parameter 'gamma' \(its parameters: weight, bias\)",
        ),
        ("weights.7.bias=1", r"weights\.7\.bias: there is no model\[7\]: the model has 2 layers"),
        ("weights.0.bias=[1, true]", r"weights\.0\.bias\[1\]: expected a number, got True"),
        ("weights.x=1", r"weights: 'x' is not a layer index"),
        ("weights.0.bias=missing.npy", r"weights\.0\.bias: file 'missing\.npy' not found"),
        ("weights=start.npz", r"weights: file 'start\.npz' not found"),
    ],
)
def test_weights_that_do_not_fit_fail_naming_the_key_and_the_shapes(tmp_path, override, message):
    path = tmp_path / "s.yaml"
    path.write_text(XOR, encoding="utf-8")
    with pytest.raises(SessionError, match=message):
        build(load_session(path, [override]))


def test_weights_from_files_and_a_run_directory_that_needs_none_of_them(tmp_path, monkeypatch):
    np.save(tmp_path / "w1.npy", np.array([[1.0, -2.0]]))
    text = XOR.replace("  1: {weight: [1, -2]}", "  1: {weight: w1.npy}")
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "s.yaml", "--out", "run", "--quiet", "--set", "training.epochs=1"])
    assert result.exit_code == 0, result.output
    recorded = yaml.safe_load((tmp_path / "run" / "session.yaml").read_text(encoding="utf-8"))
    assert recorded["weights"] == "checkpoints/initial.npz"  # the same starting values, inside the run
    with np.load(tmp_path / "run" / "checkpoints" / "initial.npz", allow_pickle=False) as npz:
        assert npz["1.weight"].tolist() == [[1, -2]] and npz["0.bias"].tolist() == [0, -1]
    (tmp_path / "w1.npy").unlink()
    again = CliRunner().invoke(app, ["run", "run/session.yaml", "--out", "again", "--quiet"])
    assert again.exit_code == 0, again.output
    first = [
        json.loads(line)["train_loss"]
        for line in (tmp_path / "run" / "metrics.jsonl").open()
        if '"event":"epoch"' in line
    ]
    second = [
        json.loads(line)["train_loss"]
        for line in (tmp_path / "again" / "metrics.jsonl").open()
        if '"event":"epoch"' in line
    ]
    assert first == second


def test_a_bad_weights_value_exits_2_with_one_line(tmp_path, monkeypatch):
    (tmp_path / "s.yaml").write_text(XOR, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "s.yaml", "--quiet", "--set", "weights.1.weight=[[1, 2], [3, 4]]"])
    assert result.exit_code == 2 and "weights.1.weight" in result.output and "Traceback" not in result.output


def test_points_typed_into_the_session():
    session = session_from_text(
        "name: p\ndata: {dataset: points, inputs: [[0, 1], [2, 3], [4, 5]], targets: [1, 0, 1], task: classification}\n"
        "model: [{dense: {units: 2}}]\n"
    )
    ds = build(session).dataset
    assert ds.task == "classification" and ds.input_shape == (2,) and ds.num_classes == 2
    assert ds.x_train.tolist() == [[0, 1], [2, 3], [4, 5]] and ds.y_train.tolist() == [1, 0, 1]
    for data, message in (
        ("{dataset: points, inputs: [[1], [2]], targets: [1]}", "data.targets: 1 targets for 2 rows"),
        ("{dataset: points, inputs: [[1, 2], [3]], targets: [1, 2]}", r"data.inputs\[1\]: expected 2 numbers"),
        ("{dataset: points, inputs: [[1], [2]], targets: [0.5, 1], task: classification}", "needs class ids"),
    ):
        with pytest.raises(SessionError, match=message):
            build(session_from_text(f"name: p\ndata: {data}\nmodel: [{{dense: {{units: 1}}}}]\n"))


def test_dl_lab_backprop_prints_the_walk_and_its_json(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    runner = CliRunner()
    result = runner.invoke(app, ["backprop", "backprop_example"])
    assert result.exit_code == 0, result.output
    assert (
        "z1 = w1·x + b1 = 5·3 + 0 = 15" in result.output and "∂L/∂w2 = ∂L/∂z2 · a1 = (-4) · 15 = -60" in result.output
    )
    result = runner.invoke(app, ["backprop", "backprop_example", "--json"])
    steps = json.loads(result.output)
    assert all({"node", "formula", "inputs", "value"} <= set(s) for s in steps)
    assert {s["node"]: s["value"] for s in steps}["∂L/∂w1"] == 12.0
    bad = runner.invoke(app, ["backprop", "backprop_example", "--sample", "1"])
    assert bad.exit_code == 2 and "--sample 1: the training split has 1 sample (0 to 0)" in bad.output
    monkeypatch.chdir(tmp_path)
    assert (
        runner.invoke(app, ["run", "xor_by_hand", "--out", "run", "--quiet", "--set", "training.epochs=2"]).exit_code
        == 0
    )
    result = runner.invoke(app, ["backprop", "run", "--sample", "3", "--checkpoint", "initial", "--json"])
    assert result.exit_code == 0, result.output
    assert {s["node"]: s["value"] for s in json.loads(result.output)}["a1[1]"] == 2.0
