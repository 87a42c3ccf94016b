"""`dl-lab predict` and `dl-lab evaluate` on runs recorded by `dl-lab run`: the CSV on stdout and in -o, the
evaluate table and JSON against the run's last epoch, and exit status 2 with one line naming the file, row and
column."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from dl_lab.cli.main import app

SPIRAL = """\
name: spiral-pca
seed: 5
data: {dataset: spiral, samples: 160, noise: 0.1, normalize: standard, features: [x1, x2, x1^2, sin(x2)], pca: 3}
model: [{dense: {units: 8, activation: relu}}, {dense: {units: 2}}]
optimizer: {name: adam, lr: 0.03}
training: {epochs: 3, batch_size: 16}
monitor: {every_steps: 0}
"""
SINE = """\
name: sine
seed: 2
data: {dataset: sine, samples: 100}
model: [{dense: {units: 8, activation: tanh}}, {dense: {units: 1}}]
loss: mse
training: {epochs: 2, batch_size: 20}
monitor: {every_steps: 0}
"""


def dl_lab(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict-cli")
    made = {}
    for name, text in (("spiral", SPIRAL), ("sine", SINE)):
        (root / f"{name}.yaml").write_text(text)
        result = dl_lab("run", root / f"{name}.yaml", "--out", root / name, "--quiet")
        assert result.exit_code == 0, result.output
        made[name] = root / name
    return made


def last_epoch(run_dir) -> dict:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r["event"] == "epoch"][-1]


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_predict_prints_a_csv_whose_accuracy_is_the_runs(runs, tmp_path):
    result = dl_lab("predict", runs["spiral"], "spiral")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert list(rows[0]) == ["prediction", "p_negative", "p_positive"]
    p = np.array([[float(r["p_negative"]), float(r["p_positive"])] for r in rows])
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)
    assert [r["prediction"] for r in rows] == [["negative", "positive"][k] for k in p.argmax(axis=1)]
    evaluated = dl_lab("evaluate", runs["spiral"], "--json")
    assert evaluated.exit_code == 0, evaluated.output
    values = json.loads(evaluated.stdout)
    truth = [values["class_names"][i] for i, row in enumerate(values["confusion"]) for _ in range(sum(row))]
    assert len(rows) == values["rows"] == len(truth)
    correct = sum(np.diag(values["confusion"]))
    assert sum(r["prediction"] == "negative" for r in rows) == sum(row[0] for row in values["confusion"])
    assert correct / len(rows) == last_epoch(runs["spiral"])["val_acc"]
    out = tmp_path / "p.csv"
    written = dl_lab("predict", runs["spiral"], "spiral", "-o", out)
    assert written.exit_code == 0 and f"wrote {len(rows)} predictions to {out}" in written.stderr
    assert out.read_text() == result.stdout


def test_raw_columns_in_any_order_through_features_and_pca_give_the_split_predictions(runs, tmp_path):
    from dl_lab.sessions.inspect.common import open_inspected

    ds = open_inspected(runs["spiral"]).dataset
    points, labels = ds.points_2d["val_points"], ds.points_2d["val_labels"]
    with open(tmp_path / "raw.csv", "w", newline="") as f:
        csv.writer(f).writerows(
            [
                ["target", "x2", "x1"],
                *(
                    [ds.class_names[int(t)], repr(float(p[1])), repr(float(p[0]))]
                    for p, t in zip(points, labels, strict=True)
                ),
            ]
        )
    from_csv, on_split = (
        dl_lab("predict", runs["spiral"], tmp_path / "raw.csv"),
        dl_lab("predict", runs["spiral"], "spiral"),
    )
    assert from_csv.exit_code == 0, from_csv.output
    a, b = rows_of(from_csv.stdout), rows_of(on_split.stdout)
    assert [r["prediction"] for r in a] == [r["prediction"] for r in b]
    np.testing.assert_allclose(
        [float(r["p_positive"]) for r in a], [float(r["p_positive"]) for r in b], rtol=0, atol=1e-6
    )
    on_file = json.loads(dl_lab("evaluate", runs["spiral"], tmp_path / "raw.csv", "--json").stdout)
    assert on_file["acc"] == last_epoch(runs["spiral"])["val_acc"] and on_file["source"] == str(tmp_path / "raw.csv")


def test_evaluate_table_and_json_are_the_last_epochs_metrics(runs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    last = last_epoch(runs["spiral"])
    values = json.loads(dl_lab("evaluate", runs["spiral"], "--json").stdout)
    for key in ("confusion", "precision", "recall"):
        assert values[key] == last[key]
    assert (values["loss"], values["acc"]) == (last["val_loss"], last["val_acc"])
    table = dl_lab("evaluate", runs["spiral"])
    assert table.exit_code == 0, table.output
    out = table.stdout
    assert "on spiral validation split: 32 rows" in out and f"{last['val_acc']:.4f}" in out
    assert "confusion (rows: true, columns: predicted)" in out and "precision" in out and "recall" in out
    sine = dl_lab("evaluate", runs["sine"])
    assert sine.exit_code == 0 and "R²" in sine.stdout and "MAE" in sine.stdout
    assert f"{last_epoch(runs['sine'])['val_r2']:.4f}" in sine.stdout


def test_regression_predicts_a_value_per_row(runs, tmp_path):
    (tmp_path / "x.csv").write_text("x\n0.5\n-1\n")
    result = dl_lab("predict", runs["sine"], tmp_path / "x.csv")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert [list(r) for r in rows] == [["prediction"], ["prediction"]]
    assert all(-2 < float(r["prediction"]) < 2 for r in rows)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x2,target\n1,positive\n", "dl-lab: error: bad.csv: row 1: no column 'x1'"),
        ("x1,x2,colour\n1,2,red\n", "dl-lab: error: bad.csv: row 1, column 'colour': not an input of the run"),
        ("x1,x2\n1,2\n3,\n", "dl-lab: error: bad.csv: row 3, column 'x2': expected a number, got ''"),
        ("x1,x2,target\n1,2,purple\n", "dl-lab: error: bad.csv: row 2, column 'target': class 'purple' is not one"),
    ],
)
def test_bad_data_exits_2_naming_the_file_row_and_column(runs, tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text(text)
    command = "evaluate" if "purple" in text else "predict"
    result = dl_lab(command, runs["spiral"], "bad.csv")
    assert result.exit_code == 2 and result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_other_errors_exit_2_with_one_line(runs, tmp_path):
    for args, message in (
        (("predict", runs["spiral"], "moons"), "moons: the run was trained on spiral"),
        (("predict", runs["spiral"], tmp_path / "none.csv"), "none.csv: cannot read"),
        (
            ("predict", runs["spiral"], "spiral", "-o", tmp_path / "no" / "p.csv"),
            "cannot write the file (no such folder)",
        ),
        (("predict", runs["spiral"], "spiral", "--checkpoint", "epoch-9"), "--checkpoint epoch-9: not in"),
        (("evaluate", tmp_path), "dl-lab: error:"),
    ):
        result = dl_lab(*args)
        assert result.exit_code == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.output
