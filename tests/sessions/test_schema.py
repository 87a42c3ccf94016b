"""Session files: strict validation naming the YAML path and line, defaults filled in, --set overrides."""

from __future__ import annotations

import pytest

from dl_lab.sessions import SessionError, apply_overrides, load_session, session_from_text

MINIMAL = """\
name: tiny
data: {dataset: circle, samples: 60}
model:
  - dense: {units: 4, activation: tanh}
  - dense: {units: 2}
"""


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_default_is_filled_in(tmp_path):
    spec = load_session(write(tmp_path, MINIMAL)).spec
    assert spec["version"] == 1 and spec["seed"] == 0 and spec["backend"] == "numpy" and spec["dtype"] == "float32"
    assert spec["loss"] == "cross_entropy"  # classification data
    assert spec["optimizer"] == {"name": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert spec["training"]["epochs"] == 20 and spec["training"]["batch_size"] == 32
    assert spec["monitor"]["every_steps"] == 200
    assert spec["data"]["seed"] == 0 and spec["data"]["noise"] == 0.0 and spec["data"]["normalize"] == "standard"
    assert spec["model"][0] == {
        "dense": {"units": 4, "activation": "tanh", "bias": True, "init": None, "bias_init": "zeros"}
    }


def test_a_regression_dataset_defaults_to_mse_and_refuses_classification_losses(tmp_path):
    text = "data: {dataset: sine}\nmodel: [{dense: {units: 1}}]\n"
    assert load_session(write(tmp_path, text)).spec["loss"] == "mse"
    with pytest.raises(SessionError, match=r"s\.yaml:3: loss: cross_entropy is a classification loss"):
        load_session(write(tmp_path, text + "loss: cross_entropy\n"))


@pytest.mark.parametrize(
    "extra,expected",
    [
        ("trainng: {epochs: 2}\n", r"s\.yaml:6: trainng: unknown key \(did you mean 'training'\?\)"),
        ("training: {epochs: 0}\n", r"s\.yaml:6: training\.epochs: expected an integer >= 1, got 0"),
        ("training: {batch_size: two}\n", r"s\.yaml:6: training\.batch_size: expected an integer >= 1, got 'two'"),
        ("optimizer: {name: adam, lr: -1}\n", r"s\.yaml:6: optimizer\.lr: expected a number > 0"),
        ("optimizer: {name: sgd, momentun: 0.9}\n", r"unknown option 'momentun' \(did you mean 'momentum'\?\)"),
        ("loss: hinj\n", r"s\.yaml:6: loss: .*did you mean 'hinge'"),
        ("backend: torch\n", r"s\.yaml:6: backend: expected one of numpy, cupy, auto, got 'torch'"),
        ("monitor: {every_steps: -5}\n", r"monitor\.every_steps: expected an integer >= 0, got -5"),
        ("training: {schedule: {name: cosin}}\n", r"training\.schedule\.name: unknown schedule 'cosin'"),
        ("training: {early_stopping: {metric: val_acc, patience: 0}}\n", r"early_stopping\.patience"),
    ],
)
def test_invalid_values_are_reported_with_their_path_and_line(tmp_path, extra, expected):
    with pytest.raises(SessionError, match=expected):
        load_session(write(tmp_path, MINIMAL + extra))


def test_a_bad_layer_option_names_its_index_and_line(tmp_path):
    text = MINIMAL.replace("{units: 2}", "{units: 2, activation: softmx}")
    with pytest.raises(SessionError, match=r"s\.yaml:5: model\[1\]\.dense\.activation: .*did you mean 'softmax'"):
        load_session(write(tmp_path, text))


def test_yaml_syntax_errors_and_missing_files_are_one_message(tmp_path):
    with pytest.raises(SessionError, match=r"s\.yaml:3: not valid YAML"):
        load_session(write(tmp_path, "name: x\ndata: {dataset: circle\nmodel: []\n"))
    with pytest.raises(SessionError, match=r"nope\.yaml: no such session file"):
        load_session(tmp_path / "nope.yaml")


def test_unsafe_yaml_tags_are_refused(tmp_path):
    with pytest.raises(SessionError, match="not valid YAML"):
        load_session(write(tmp_path, "name: !!python/object/apply:os.system ['true']\n" + MINIMAL[11:]))


def test_set_overrides_any_value_with_yaml_typed_values(tmp_path):
    s = load_session(
        write(tmp_path, MINIMAL),
        ["training.epochs=3", "model[0].dense.units=7", "optimizer={name: sgd, lr: 0.5}", "data.features=[x1, x2]"],
    )
    assert s.spec["training"]["epochs"] == 3
    assert s.spec["model"][0]["dense"]["units"] == 7
    assert s.spec["optimizer"]["name"] == "sgd" and s.spec["optimizer"]["lr"] == 0.5
    assert s.spec["data"]["features"] == ["x1", "x2"]


def test_an_invalid_override_is_blamed_on_the_set_option(tmp_path):
    with pytest.raises(SessionError, match=r"--set training\.epochs=-1: training\.epochs"):
        load_session(write(tmp_path, MINIMAL), ["training.epochs=-1"])
    with pytest.raises(SessionError, match=r"--set model\[9\]\.dense\.units: index \[9\] is out of range"):
        load_session(write(tmp_path, MINIMAL), ["model[9].dense.units=3"])
    with pytest.raises(SessionError, match=r"expected key\.path=value"):
        apply_overrides({}, ["training.epochs"])


def test_a_written_session_reads_back_to_the_same_spec(tmp_path):
    s = load_session(write(tmp_path, MINIMAL))
    again = session_from_text(s.to_yaml())
    assert again.spec == s.spec
