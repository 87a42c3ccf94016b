"""data.pca: the first k principal components, fitted on the training split (after the normalization), checked
against an SVD of the centred training data computed here; its errors, its record and its previews."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from dl_lab.cli.main import app as cli_app
from dl_lab.datasets import DataError, load
from dl_lab.datasets import pca as pca_module
from dl_lab.datasets.pca import PCAFit, fit_pca, preview
from dl_lab.datasets.probe import input_shape, sample_images


def svd_reference(train: np.ndarray, k: int):
    """Mean, the top k components (rows) and each component's share of the variance, from numpy's SVD."""
    flat = train.reshape(len(train), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    _, s, vt = np.linalg.svd(flat - mean, full_matrices=False)
    return mean, vt[:k], (s**2 / np.sum(s**2))[:k]


def assert_same_up_to_sign(got: np.ndarray, expected: np.ndarray, atol: float) -> None:
    """Each column of ``got`` equals the same column of ``expected``, or its negative."""
    assert got.shape == expected.shape
    for j in range(expected.shape[1]):
        sign = np.sign(got[:, j] @ expected[:, j])
        np.testing.assert_allclose(got[:, j], sign * expected[:, j], atol=atol, err_msg=f"component {j}")


@pytest.mark.parametrize("normalize", ["none", "standard"])
def test_pca_projects_on_the_svd_of_the_centred_training_data_and_applies_that_fit_to_val(normalize):
    k = 12
    ds = load("digits", pca=k, normalize=normalize, dtype="float64")
    plain = load("digits", normalize=normalize, dtype="float64")  # the same split, normalized, no PCA
    train, val = plain.x_train.reshape(len(plain.x_train), -1), plain.x_val.reshape(len(plain.x_val), -1)
    mean, vectors, ratio = svd_reference(train, k)
    assert ds.input_shape == (k,) and ds.x_train.shape == (len(train), k) and ds.x_val.shape == (len(val), k)
    assert_same_up_to_sign(ds.x_train, (train - mean) @ vectors.T, atol=1e-8)
    assert_same_up_to_sign(ds.x_val, (val - mean) @ vectors.T, atol=1e-8)  # the training mean and components
    fit = ds.pca_fit
    np.testing.assert_allclose(fit.ratio, ratio, rtol=1e-10)
    np.testing.assert_allclose(fit.mean, mean, atol=1e-12)
    np.testing.assert_allclose(np.abs(fit.vectors @ vectors.T), np.eye(k), atol=1e-8)
    np.testing.assert_allclose(ds.x_train.var(axis=0, ddof=1), fit.variance, rtol=1e-8)  # uncorrelated, ordered
    assert np.all(np.diff(fit.variance) <= 0)
    # the sign is fixed: the largest loading of each component is positive
    largest = fit.vectors[np.arange(k), np.abs(fit.vectors).argmax(axis=1)]
    assert np.all(largest > 0)
    # batches, and float32 data, give the same projection
    x, _ = next(iter(ds.batches("train", 100)))
    np.testing.assert_allclose(x, ds.x_train[:100], atol=1e-10)
    assert load("digits", pca=k, normalize=normalize).x_train.dtype == np.float32


@pytest.mark.parametrize("rows", [1438, 40])  # X^T X (more rows than features), X X^T (fewer)
def test_the_large_data_paths_through_x_transpose_x_give_the_same_components(monkeypatch, rows):
    train = load("digits", normalize="standard", dtype="float64").x_train.reshape(-1, 64)[:rows]
    mean, vectors, ratio = svd_reference(train, 5)
    monkeypatch.setattr(pca_module, "SVD_VALUES", 0)
    monkeypatch.setattr(pca_module, "SVD_THIN", 0)
    monkeypatch.setattr(pca_module, "_CHUNK_VALUES", 64 * 100)  # 100 rows a chunk
    fit = fit_pca(train, 5)
    np.testing.assert_allclose(fit.ratio, ratio, rtol=1e-8)
    np.testing.assert_allclose(np.linalg.norm(fit.vectors, axis=1), 1.0, rtol=1e-10)
    assert_same_up_to_sign(fit.apply(train, "float64"), (train - mean) @ vectors.T, atol=1e-7)


def test_the_fit_is_recorded_as_plain_json_and_in_the_dataset_description():
    ds = load("spiral", pca=2, features=["x1", "x2", "x1^2"])
    record = json.loads(json.dumps(ds.pca))
    again = PCAFit.from_record(record)
    np.testing.assert_allclose(again.apply(ds.normalize(ds.stored_inputs("val"))), ds.x_val, atol=1e-5)
    info = ds.describe()
    assert info["input_shape"] == [2] and info["options"]["pca"] == 2
    assert info["pca"]["components"] == 2 and info["pca"]["features"] == 3
    assert sum(info["pca"]["explained_variance_ratio"]) <= 1.0
    # the boundary grid goes through the same normalization and PCA as the data
    assert ds.featurize(np.zeros((4, 2))).shape == (4, 2)
    assert load("spiral").pca is None and load("spiral").describe()["pca"] is None
    assert sample_images(load("digits", pca=5), 4)[0].shape == (4, 1, 8, 8)  # the preview still shows the images
    assert load("spiral", pca=0).input_shape == (2,) and load("spiral", pca=None).pca is None


def test_too_many_components_and_an_image_layer_on_flat_pca_inputs_are_errors_naming_data_pca(tmp_path):
    with pytest.raises(DataError, match=r"^data\.pca: 65 components asked, but the inputs have 64 features"):
        load("digits", pca=65)
    with pytest.raises(DataError, match=r"^data\.pca: expected an integer >= 0"):
        load("digits", pca=-1)
    assert input_shape({"dataset": "mnist", "pca": 30}) == (30,)  # known without downloading
    session = "name: t\ndata: {dataset: digits, pca: 10}\nmodel:\n  - conv2d: {filters: 4, kernel: 3}\n" + (
        "  - flatten: {}\n  - dense: {units: 10}\nloss: cross_entropy\n"
    )
    (tmp_path / "s.yaml").write_text(session)
    result = CliRunner().invoke(cli_app, ["validate", str(tmp_path / "s.yaml")])
    assert result.exit_code == 2
    assert "s.yaml:2: data.pca: PCA gives the model flat inputs of shape (10,), but model[0].conv2d" in " ".join(
        result.output.split()
    )


def test_the_preview_shows_digits_classes_apart_with_the_share_of_variance():
    ds = load("digits")
    view = preview(ds)
    train = ds.x_train.reshape(len(ds.x_train), -1).astype(np.float64)
    mean, vectors, ratio = svd_reference(train, 2)
    np.testing.assert_allclose(view.ratio, ratio, rtol=1e-5)
    assert_same_up_to_sign(view.points, (train - mean) @ vectors.T, atol=1e-4)
    assert view.points.shape == (len(ds.y_train), 2) and view.class_names == ds.class_names
    assert view.line.startswith(f"PC1 {100 * ratio[0]:.1f}% · PC2 {100 * ratio[1]:.1f}% of the variance")
    # the classes separate: each class's centre is far from the others' compared with its spread
    centres = np.stack([view.points[view.labels == c].mean(axis=0) for c in range(10)])
    spread = np.mean([view.points[view.labels == c].std() for c in range(10)])
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)[np.triu_indices(10, 1)]
    assert np.median(gaps) > spread
    one = preview(load("sine"))  # one input feature: PC2 is 0
    assert one.regression and np.all(one.points[:, 1] == 0) and one.ratio[0] == pytest.approx(1.0)
    big = preview(ds, most=300)
    assert big.fitted == 300 and big.rows == len(ds.y_train) and "300 of" in big.line


def test_dl_lab_datasets_pca_draws_the_preview():
    result = CliRunner().invoke(cli_app, ["datasets", "digits", "--pca"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "PC1 (14." in result.output and "% of the variance (1438 training rows)" in result.output
    below = result.output.split("PC1 (14.")[1]  # the key under the plot, not over its points
    assert all(f"● {k}" in below for k in range(10)) and "normalize minmax, seed 0" in below
    # the app's box (Preview.bounds) for the data options asked for: the digits presets' standard scaling
    scaled = CliRunner().invoke(
        cli_app, ["datasets", "digits", "--pca", "-s", "normalize=standard"], env={"COLUMNS": "100"}
    )
    reach = preview(load("digits", normalize="standard")).bounds[1]
    assert scaled.exit_code == 0 and f"{reach:.3g}┤" in scaled.output and "normalize standard" in scaled.output
    refused = CliRunner().invoke(cli_app, ["datasets", "--pca"])
    assert refused.exit_code == 2 and "--pca: name a dataset" in refused.output
