"""`dl-lab inspect RUN_DIR VIEW`: filters, features, saliency and adversarial examples of recorded digits runs (an
MLP and a CNN, float64, offline), their JSON keys, their numbers against independent computations, and one clear
error with exit status 2 for what does not apply."""

from __future__ import annotations

import json

import numpy as np
import pytest
from recorded import record
from typer.testing import CliRunner

from dl_lab.cli.main import app
from dl_lab.sessions.inspect.common import open_inspected

DIGITS = """\
name: {name}
seed: 3
dtype: float64
data: {{dataset: digits, samples: 300, normalize: standard}}
model: {model}
optimizer: {{name: adam, lr: 0.01}}
training: {{epochs: 2, batch_size: 32}}
monitor: {{every_steps: 5}}
"""
MLP = "[{flatten: {}}, {dense: {units: 16, activation: relu}}, {dense: {units: 10}}]"
CNN = (
    # average pooling: the digits' flat background makes max-pooling windows tie exactly, where the score has no
    # derivative for central differences to agree with
    "[{conv2d: {filters: 4, kernel: 3, padding: 1, activation: relu}}, {avgpool2d: {size: 2}}, {flatten: {}}, "
    "{dense: {units: 10}}]"
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspect")
    return {
        "mlp": record(root / "mlp", DIGITS.format(name="digits-mlp", model=MLP)),
        "cnn": record(root / "cnn", DIGITS.format(name="digits-cnn", model=CNN)),
    }


def inspect(*args):
    result = CliRunner().invoke(app, ["inspect", *map(str, args)])
    return result


def as_json(*args) -> dict:
    result = inspect(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_filters_are_the_conv_kernels_or_the_first_dense_rows_over_the_image(runs):
    cnn = as_json(runs["cnn"], "filters")
    assert set(cnn) == {"view", "checkpoint", "layers"} and cnn["checkpoint"] == "final"
    [layer] = cnn["layers"]
    ins = open_inspected(runs["cnn"])
    np.testing.assert_allclose(layer["filters"], ins.model.layers[0].weight.data, rtol=1e-5)
    assert layer["shape"] == [4, 1, 3, 3]
    mlp = as_json(runs["mlp"], "filters")
    [dense] = mlp["layers"]
    assert dense["kind"] == "dense" and dense["shape"] == [16, 1, 8, 8]
    w = open_inspected(runs["mlp"]).model.layers[1].weight.data  # flatten is layer 0
    np.testing.assert_allclose(np.asarray(dense["filters"]).reshape(16, 64), w, rtol=1e-5)


def test_features_are_every_conv_and_pool_output_and_an_mlp_has_none(runs):
    data = as_json(runs["cnn"], "features", "--sample", 2)
    assert {"view", "checkpoint", "sample", "true", "predicted", "probability", "image", "layers"} <= set(data)
    assert [(layer["index"], layer["after"]) for layer in data["layers"]] == [(0, "activation"), (1, "pooling")]
    assert np.asarray(data["layers"][0]["maps"]).shape == (4, 8, 8) and np.min(data["layers"][0]["maps"]) >= 0
    assert np.asarray(data["layers"][1]["maps"]).shape == (4, 4, 4)
    result = inspect(runs["mlp"], "features")
    assert result.exit_code == 2 and "feature maps need conv layers" in result.output and "try filters" in result.output


def test_saliency_is_the_central_difference_of_the_class_score(runs):
    data = as_json(runs["cnn"], "saliency", "--sample", 1, "--class", 7)
    ins = open_inspected(runs["cnn"])
    x = ins.validation()[0][1:2]
    for m in data["maps"]:
        c = m["class"]
        grad = np.zeros_like(x)
        for i in np.ndindex(*x.shape):
            up, down = x.copy(), x.copy()
            up[i] += 1e-6
            down[i] -= 1e-6
            grad[i] = (ins.model.forward(up)[0, c] - ins.model.forward(down)[0, c]) / 2e-6
        np.testing.assert_allclose(m["saliency"], np.abs(grad[0]).max(axis=0), rtol=1e-4, atol=1e-7)
    assert [m["class"] for m in data["maps"]][1:] in ([7], [])  # the predicted class first, then the one asked


def test_adversarial_accuracy_starts_at_the_runs_and_the_perturbation_is_eps_in_raw_units(runs):
    data = as_json(runs["cnn"], "adversarial", "--eps", "0,1,3", "--steps", "3")
    keys = {"view", "checkpoint", "units", "range", "samples", "eps", "fgsm_accuracy", "pgd_accuracy", "pgd_steps"}
    assert keys | {"clean_accuracy", "run_val_acc", "examples"} == set(data)
    assert data["fgsm_accuracy"][0] == data["clean_accuracy"] == pytest.approx(data["run_val_acc"], abs=1e-6)
    assert data["range"] == [0.0, 16.0]  # the digits' raw pixel values
    assert data["fgsm_accuracy"][2] < data["fgsm_accuracy"][0]
    assert data["pgd_accuracy"][0] == data["clean_accuracy"] and data["pgd_accuracy"][2] < data["pgd_accuracy"][0]
    for ex in data["examples"]:
        perturbation = np.abs(np.asarray(ex["perturbation"]))
        assert perturbation.max() == pytest.approx(ex["eps"], rel=1e-5)  # max-norm ε, in raw units
        adv = np.asarray(ex["adversarial_image"])
        assert adv.min() >= 0.0 and adv.max() <= 16.0  # clipped to the data's range


def test_views_that_do_not_apply_and_bad_arguments_are_one_message_and_status_2(runs, tmp_path):
    cases = [
        ((runs["cnn"], "dreamz"), "VIEW 'dreamz'"),
        ((runs["cnn"], "filters", "--checkpoint", "epoch-9"), "--checkpoint epoch-9: not in"),
        ((runs["cnn"], "saliency", "--sample", 100000), "--sample 100000"),
        ((runs["cnn"], "saliency", "--class", 12), "--class 12"),
        ((runs["cnn"], "adversarial", "--eps", "a,b"), "--eps 'a,b'"),
        ((tmp_path / "nothing", "filters"), "nothing"),
    ]
    for args, message in cases:
        result = inspect(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output


def test_the_picture_is_drawn_and_saved_as_svg(runs, tmp_path):
    svg = tmp_path / "saliency.svg"
    result = inspect(runs["cnn"], "saliency", "--svg", svg)
    assert result.exit_code == 0, result.output
    assert "▀" in result.output and "predicted" in result.output
    assert svg.read_text().startswith("<svg") and f"saved {svg}" in result.output


def test_dream_landscape_and_gradients_from_the_command_line(runs, tmp_path):
    dream = as_json(runs["mlp"], "dream", "--class", 3, "--steps", 30, "--l2", 0.01, "--jitter", 0, "--blur", 0.5)
    assert (dream["l2"], dream["jitter"], dream["blur"]) == (0.01, 0, 0.5)  # the regularization asked for
    [tile] = dream["tiles"]
    assert tile["class"] == 3 and tile["progress"][-1]["score"] > tile["progress"][0]["score"]
    plane = as_json(runs["cnn"], "landscape", "--grid", 5, "--samples", 40)
    assert plane["mode"] == "2d" and np.asarray(plane["loss"]).shape == (5, 5)
    ins = open_inspected(runs["cnn"])
    x, y = ins.validation(40)
    value, _ = ins.loss(ins.model.forward(x), y)
    assert plane["centre_loss"] == pytest.approx(float(value), rel=1e-5)
    line = as_json(runs["cnn"], "landscape", "--mode", "1d", "--grid", 5, "--samples", 40)
    assert line["final_loss"] == pytest.approx(float(value), rel=1e-5)
    grads = as_json(runs["cnn"], "gradients", "--batch", 16)
    assert [layer["index"] for layer in grads["layers"]] == [0, 3] and grads["batch"] == 16
    result = inspect(runs["cnn"], "landscape", "--grid", 4)
    assert result.exit_code == 2 and "steps" in result.output
    for view in ("dream", "landscape", "gradients"):
        drawn = inspect(runs["cnn"], view, "--steps", 5, "--grid", 5, "--samples", 20)
        assert drawn.exit_code == 0, (view, drawn.output)
        assert "▀" in drawn.output or "┌" in drawn.output, (view, drawn.output)  # half-blocks or a plotext frame


@pytest.fixture(scope="module")
def preset_runs(tmp_path_factory):
    """The digits MLP and CNN presets, one epoch each, recorded offline."""
    from dl_lab.sessions import preset_session

    root = tmp_path_factory.mktemp("presets")
    one_epoch = ["training.epochs=1"]
    return {
        name: record(root / name, preset_session(name).with_overrides(one_epoch))
        for name in ("digits_mlp", "digits_cnn")
    }


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_every_view_runs_on_the_digits_presets_or_says_why_not(preset_runs, name):
    quick = {
        "adversarial": ["--eps", "0,2", "--steps", "2", "--samples", "64"],
        "dream": ["--steps", "10"],
        "landscape": ["--grid", "5", "--samples", "64"],
    }
    for view in ("filters", "features", "saliency", "adversarial", "dream", "landscape", "gradients"):
        result = inspect(preset_runs[name], view, "--json", *quick.get(view, []))
        if view == "features" and name == "digits_mlp":
            assert result.exit_code == 2 and "feature maps need conv layers" in result.output
            continue
        assert result.exit_code == 0, (view, result.output)
        data = json.loads(result.output)
        assert data["view"] == view and data["checkpoint"] == "final"
