"""sessions/export/predict.py on real recorded runs: predictions on the validation split against the trainer's
recorded metrics and an independent float64 softmax, CSV columns matched by name through Playground features and
PCA, regression, evaluate against the last epoch's record, and every error naming the file, row and column."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from recorded import BOOSTED, record

from dl_lab.core.errors import DLLabError
from dl_lab.sessions.export.predict import evaluate, open_run_model, predict, read_data
from dl_lab.sessions.inspect.common import open_inspected

SPIRAL = """\
name: spiral-sin
seed: 3
data: {dataset: spiral, samples: 200, noise: 0.1, normalize: standard, features: [x1, x2, sin(x1), x1*x2]}
model: [{dense: {units: 8, activation: tanh}}, {dense: {units: 2}}]
optimizer: {name: adam, lr: 0.03}
training: {epochs: 3, batch_size: 16}
monitor: {every_steps: 0}
"""
TABLE = """\
name: table-pca
seed: 1
data: {dataset: csv, train: train.csv, target: kind, task: classification, normalize: standard, pca: 2}
model: [{dense: {units: 8, activation: relu}}, {dense: {units: 3}}]
optimizer: {name: adam, lr: 0.03}
training: {epochs: 3, batch_size: 16}
monitor: {every_steps: 0}
"""
SINE = """\
name: sine
seed: 2
data: {dataset: sine, samples: 120}
model: [{dense: {units: 8, activation: tanh}}, {dense: {units: 1}}]
loss: mse
optimizer: {name: adam, lr: 0.03}
training: {epochs: 3, batch_size: 16}
monitor: {every_steps: 0}
"""
DIGITS = """\
name: digits
seed: 0
data: {dataset: digits, samples: 100}
model: [flatten, {dense: {units: 10}}]
training: {epochs: 1, batch_size: 50}
monitor: {every_steps: 0}
"""


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(0)
    kinds = rng.integers(0, 3, 150)
    table = rng.normal(size=(150, 4)) + kinds[:, None] * np.array([1.0, -0.5, 0.3, 0.0])
    names = np.array(["ant", "bee", "cat"])
    _write_csv(
        root / "train.csv",
        ["a", "b", "kind", "c", "d"],
        [[*r[:2], names[k], *r[2:]] for r, k in zip(table, kinds, strict=True)],
    )
    return {
        "spiral": record(root / "spiral", SPIRAL),
        "table": record(root / "table", TABLE.replace("train.csv", str(root / "train.csv"))),
        "sine": record(root / "sine", SINE),
    }


def _last_epoch(run_dir) -> dict:
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in lines if r["event"] == "epoch"][-1]


def test_validation_split_predictions_are_the_trainers_and_a_float64_softmax(runs):
    ins = open_run_model(runs["spiral"])
    result = predict(ins, read_data(ins, "spiral"))
    ds = ins.dataset
    final = json.loads((runs["spiral"] / "summary.json").read_text())["final"]
    assert float((result.classes == ds.y_val).mean()) == final["val_acc"] == _last_epoch(runs["spiral"])["val_acc"]
    other = open_inspected(runs["spiral"])  # an independent forward of the engine, softmax in float64
    logits = np.asarray(other.model.forward(other.dataset.x_val, training=False), dtype=np.float64)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(result.probabilities, expected, rtol=0, atol=1e-6)
    assert result.columns == ["prediction", "p_negative", "p_positive"]
    assert [row[0] for row in result.rows] == [ds.class_names[c] for c in expected.argmax(axis=1)]


def test_raw_points_by_csv_go_through_the_runs_features(runs, tmp_path):
    ins = open_run_model(runs["spiral"])
    ds = ins.dataset
    points, labels = ds.points_2d["val_points"], ds.points_2d["val_labels"]
    rows = [[repr(float(p[1])), ds.class_names[int(t)], repr(float(p[0]))] for p, t in zip(points, labels, strict=True)]
    path = _write_csv(tmp_path / "raw.csv", ["x2", "target", "x1"], rows)  # another order, with a target
    from_csv = predict(ins, read_data(ins, str(path)))
    on_split = predict(ins, read_data(ins, "spiral"))
    np.testing.assert_array_equal(from_csv.classes, on_split.classes)
    np.testing.assert_allclose(from_csv.probabilities, on_split.probabilities, rtol=0, atol=1e-6)
    assert evaluate(ins, read_data(ins, str(path)))["acc"] == _last_epoch(runs["spiral"])["val_acc"]


def test_csv_columns_by_name_through_normalization_and_pca(runs, tmp_path):
    ins = open_run_model(runs["table"])
    ds = ins.dataset
    assert ds.pca_fit is not None and ds.input_shape == (2,)
    raw = ds.stored_inputs("val")  # the training file's a, b, c, d, before normalization and PCA
    rows = [[ds.class_names[int(t)], *(repr(float(v)) for v in r[::-1])] for r, t in zip(raw, ds.y_val, strict=True)]
    path = _write_csv(tmp_path / "rows.csv", ["kind", "d", "c", "b", "a"], rows)
    from_csv = predict(ins, read_data(ins, str(path)))
    on_split = predict(ins, read_data(ins, "csv"))
    assert from_csv.columns == ["prediction", "p_ant", "p_bee", "p_cat"]
    np.testing.assert_array_equal(from_csv.classes, on_split.classes)
    np.testing.assert_allclose(from_csv.probabilities, on_split.probabilities, rtol=0, atol=1e-6)
    last = _last_epoch(runs["table"])
    got = evaluate(ins, read_data(ins, str(path)))
    assert (got["acc"], got["confusion"], got["precision"], got["recall"]) == (
        last["val_acc"],
        last["confusion"],
        last["precision"],
        last["recall"],
    )
    assert got["loss"] == pytest.approx(last["val_loss"], rel=1e-6)


def test_evaluate_on_the_validation_split_is_the_last_epochs_record(runs):
    for name in ("spiral", "table"):
        ins = open_run_model(runs[name])
        got, last = evaluate(ins, read_data(ins, ins.dataset.name)), _last_epoch(runs[name])
        for key in ("loss", "acc", "confusion", "precision", "recall"):
            assert got[key] == last[f"val_{key}" if key in ("loss", "acc") else key], (name, key)
        assert got["rows"] == len(ins.dataset.y_val) and got["class_names"] == ins.dataset.class_names


def test_regression_predicts_values_and_evaluates_r2_and_mae(runs, tmp_path):
    ins = open_run_model(runs["sine"])
    ds = ins.dataset
    on_split = predict(ins, read_data(ins, "sine"))
    assert on_split.columns == ["prediction"] and on_split.classes is None
    expected = np.asarray(ins.model.forward(ds.x_val, training=False), dtype=np.float64)
    np.testing.assert_allclose(on_split.outputs, expected, rtol=0, atol=1e-6)
    last, got = _last_epoch(runs["sine"]), evaluate(ins, read_data(ins, "sine"))
    assert (got["loss"], got["r2"], got["mae"]) == (last["val_loss"], last["val_r2"], last["val_mae"])
    raw = ds.stored_inputs("val")
    path = _write_csv(tmp_path / "x.csv", ["x"], [[repr(float(v))] for v in raw[:, 0]])  # one column is enough
    np.testing.assert_allclose(predict(ins, read_data(ins, str(path))).outputs, on_split.outputs, atol=1e-6)


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        (["x1"], [["1"]], "bad.csv: row 1: no column 'x2'"),
        (["x1", "x2", "x3"], [["1", "2", "3"]], "bad.csv: row 1, column 'x3': not an input of the run"),
        (["x1", "x2"], [["1", "2"], ["3", "four"]], "bad.csv: row 3, column 'x2': expected a number, got 'four'"),
        (["x1", "x2"], [["1", "2"], ["3"]], "bad.csv: row 3: expected 2 values like the header, got 1"),
        (["x1", "x2", "target"], [["1", "2", "positive"], ["1", "2", "purple"]], "bad.csv: row 3, column 'target'"),
    ],
)
def test_bad_csv_names_the_file_row_and_column(runs, tmp_path, monkeypatch, header, rows, message):
    monkeypatch.chdir(tmp_path)
    _write_csv(tmp_path / "bad.csv", header, rows)
    ins = open_run_model(runs["spiral"])
    with pytest.raises(DLLabError) as error:
        evaluate(ins, read_data(ins, "bad.csv"))
    assert message in str(error.value)


def test_a_csv_runs_images_come_by_its_pixel_columns(tmp_path):
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 60)
    pixels = rng.uniform(0, 255, size=(60, 2, 2, 2)) + labels[:, None, None, None] * 40
    header = [f"px{k}" for k in range(8)]
    _write_csv(
        tmp_path / "images.csv", ["label", *header], [[t, *p.ravel()] for p, t in zip(pixels, labels, strict=True)]
    )
    session = (
        "name: tiny-images\nseed: 1\ndata: {dataset: csv, train: images.csv, target: label, task: classification, "
        "shape: [2, 2, 2], normalize: standard}\nmodel: [flatten, {dense: {units: 2}}]\n"
        "training: {epochs: 2, batch_size: 20}\nmonitor: {every_steps: 0}\n"
    ).replace("images.csv", str(tmp_path / "images.csv"))
    ins = open_run_model(record(tmp_path / "run", session))
    raw = ins.dataset.stored_inputs("val").reshape(-1, 8)
    path = _write_csv(tmp_path / "val.csv", header[::-1], [[repr(float(v)) for v in r[::-1]] for r in raw])
    from_csv, on_split = predict(ins, read_data(ins, str(path))), predict(ins, read_data(ins, "csv"))
    np.testing.assert_allclose(from_csv.probabilities, on_split.probabilities, rtol=0, atol=1e-6)
    _write_csv(tmp_path / "short.csv", header[:7], [["1"] * 7])
    with pytest.raises(DLLabError, match=r"short\.csv: row 1: no column 'px7'"):
        read_data(ins, str(tmp_path / "short.csv"))


def test_what_cannot_be_predicted_says_why(runs, tmp_path):
    ins = open_run_model(runs["spiral"])
    with pytest.raises(DLLabError, match="trained on spiral; a dataset name means the run's own validation split"):
        read_data(ins, "circle")
    path = _write_csv(tmp_path / "no-target.csv", ["x1", "x2"], [["0", "1"]])
    with pytest.raises(DLLabError, match="no target column \\(target\\); evaluate needs the true answers"):
        evaluate(ins, read_data(ins, str(path)))
    digits = open_run_model(record(tmp_path / "digits", DIGITS))
    with pytest.raises(DLLabError, match="images cannot be given by CSV here: give the dataset name \\(digits\\)"):
        read_data(digits, str(path))
    assert len(predict(digits, read_data(digits, "digits")).columns) == 11
    with pytest.raises(DLLabError, match="a boosted run"):
        open_run_model(record(tmp_path / "boost", BOOSTED))
