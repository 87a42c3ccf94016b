"""A trained run on new data: predictions (``dl-lab predict``) and metrics (``dl-lab evaluate``).

``read_data(inspected, data)`` turns DATA into the model's inputs exactly as training did: a dataset name (the
run's own) is its validation split; a CSV file's feature columns, matched by name, go through the dataset's own
``featurize`` (Playground features, the recorded normalization, the recorded PCA), so no formula is written twice.
Columns a CSV must hold (``input_columns``): the training CSV's feature columns (``csv``), ``x1`` and ``x2`` (the
raw points of the 2-D sets, whatever their features), ``x`` (``sine``, one-column ``points``), ``x1``, ``x2``, ...
(``points``); a target column (``target_columns``: ``data.target`` for ``csv``, ``target`` otherwise) may be
there too, and ``evaluate`` needs it. Images come by CSV only for a ``csv`` run with ``data.shape`` (the pixel
columns of its training file, C*H*W of them); the built-in image sets name no pixel columns: DATA is then the
dataset's name.

``predict(inspected, inputs)`` gives the predicted classes with a probability per class (softmax of the logits,
or the sigmoid of a one-output binary model's score, computed in float64), or the predicted values;
``evaluate(inspected, inputs)`` the validation metrics, computed by the trainer's own ``training.metrics.evaluate``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from dl_lab.core.errors import DLLabError
from dl_lab.core.step import predict_batches
from dl_lab.datasets.csvfile import Table, read_table
from dl_lab.datasets.registry import DATASETS
from dl_lab.sessions.inspect.common import Inspected, open_inspected

__all__ = [
    "Inputs",
    "PredictError",
    "Predictions",
    "evaluate",
    "input_columns",
    "open_run_model",
    "predict",
    "read_data",
    "target_columns",
]


class PredictError(DLLabError):
    """DATA that does not fit the run (a missing or unknown column, an image set given by CSV, another dataset)."""


@dataclass
class Inputs:
    """Model inputs ``x`` (features, normalization and PCA applied), their targets ``y`` (class ids, or values
    ``(N, outputs)``; None when DATA has no target column) and where they come from (``source``)."""

    x: np.ndarray
    y: np.ndarray | None
    source: str


@dataclass
class Predictions:
    """``outputs``: the model's outputs (float64); ``classes``: predicted class ids and ``probabilities``
    ``(N, classes)`` for a classification (None for a regression); ``columns`` and ``rows``: the table to print."""

    outputs: np.ndarray
    classes: np.ndarray | None
    probabilities: np.ndarray | None
    columns: list[str]
    rows: list[list[str]]


def open_run_model(run_dir: Path | str, checkpoint: str | None = None) -> Inspected:
    """The run's model at ``checkpoint`` with its data rebuilt (inspect's ``open_inspected``); a boosted run is
    refused (its answer is the vote of checkpoints/boost.npz, not one model)."""
    inspected = open_inspected(run_dir, checkpoint)
    if inspected.session.config.boost is not None:
        raise PredictError(
            f"{run_dir}: a boosted run (boost:) answers with the vote of its ensemble (checkpoints/boost.npz); "
            "predict and evaluate take a run of one model"
        )
    return inspected


def input_columns(inspected: Inspected) -> list[str] | None:
    """The columns a CSV gives the inputs in (see the module's docstring); None for images."""
    ds = inspected.dataset
    if ds.name == "csv" and ds.feature_names is None:  # data.shape: pixel columns, named by the training file
        targets = target_columns(inspected)
        return [c for c in _training_header(inspected) if c not in targets]
    if len(ds.data_shape) != 1 or ds.feature_names is None:
        return None
    if ds.points_2d is not None:  # the 2-D sets: raw points, from which featurize computes the features
        return ["x1", "x2"]
    return list(ds.feature_names)


def _training_header(inspected: Inspected) -> list[str]:
    """The column names of a csv run's training file (its first non-blank row; the file was read to rebuild the
    data already, so it is a CSV table)."""
    written = str(inspected.dataset.options["train"])
    path = Path(written).expanduser()
    path = path if path.is_absolute() else inspected.session.base_dir / path
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(row for row in csv.reader(f) if "".join(row).strip())
    except (OSError, StopIteration, UnicodeDecodeError, csv.Error):
        raise PredictError(f"data.train: cannot read the column names of {written}, the run's training file") from None
    return [name.strip() for name in header]


def target_columns(inspected: Inspected) -> list[str]:
    """The target column(s) of a CSV: the training CSV's (``data.target``), else ``target``."""
    target = inspected.dataset.options.get("target")
    if inspected.dataset.name == "csv" and target:
        return [target] if isinstance(target, str) else list(target)
    return ["target"]


def _is_dataset_name(data: str) -> bool:
    key = data.strip().lower().replace("-", "_")
    return key in DATASETS and not Path(data).exists()


def read_data(inspected: Inspected, data: str, base_dir: Path | None = None) -> Inputs:
    """DATA (a dataset name or a CSV file, relative to ``base_dir``, default the working folder) as model inputs."""
    ds = inspected.dataset
    if _is_dataset_name(data):
        key = data.strip().lower().replace("-", "_")
        if key != ds.name:
            raise PredictError(
                f"{data}: the run was trained on {ds.name}; a dataset name means the run's own validation split "
                f"({ds.name}), other data comes as a CSV file"
            )
        x_val, y_val = inspected.validation()
        split = "training split (val_fraction 0)" if ds.val_is_train or not len(ds.y_val) else "validation split"
        return Inputs(x_val, y_val, f"{ds.name} {split}")
    columns = input_columns(inspected)
    if columns is None:
        shape = "x".join(str(d) for d in ds.data_shape)
        raise PredictError(
            f"{data}: the run's inputs are images ({ds.name}, {shape}); images cannot be given by CSV here: "
            f"give the dataset name ({ds.name}) to use the run's validation split"
        )
    table = read_table(base_dir or Path.cwd(), data, min_columns=1)  # a one-input run's file has one column
    header_row = table.header_row
    targets = target_columns(inspected)
    for column in table.header:
        if column not in columns and column not in targets:
            raise PredictError(
                f"{data}: row {header_row}, column {column[:40]!r}: not an input of the run "
                f"(inputs: {_listed(columns)}; target: {', '.join(targets)})"
            )
    for column in columns:
        if column not in table.header:
            raise PredictError(
                f"{data}: row {header_row}: no column {column!r}; the run's inputs are {_listed(columns)}"
            )
    raw = table.numbers(columns)  # a DataError naming the file, row and column for a cell that is not a number
    x = ds.featurize(raw)
    given = _targets(inspected, table, targets) if all(t in table.header for t in targets) else None
    return Inputs(x, given, data)


def _listed(columns: list[str], most: int = 8) -> str:
    """Column names for a message: all of a table's, the first few of an image's pixels and how many."""
    shown = ", ".join(columns[:most])
    return shown if len(columns) <= most else f"{shown}, ... ({len(columns)} columns)"


def _targets(inspected: Inspected, table: Table, targets: list[str]) -> np.ndarray:
    ds = inspected.dataset
    if ds.task == "regression":
        return np.asarray(table.numbers(targets), dtype=ds.dtype).reshape(len(table.rows), -1)
    names = ds.class_names or []
    ids = {name: i for i, name in enumerate(names)}
    out = np.empty(len(table.rows), dtype=np.int64)
    for i, label in enumerate(table.column(targets[0])):
        found = ids.get(str(label))
        if found is None:  # "1.0" for the class named "1", as the csv loader reads numeric labels
            try:
                found = ids.get(f"{float(label):g}")
            except ValueError:
                found = None
        if found is None:
            raise PredictError(
                f"{table.where(i, targets[0])}: class {str(label)[:40]!r} is not one of the run's classes "
                f"({', '.join(names)})"
            )
        out[i] = found
    return out


def _outputs(inspected: Inspected, x: np.ndarray):
    """The model's outputs on ``x`` as the trainer computes them (evaluation mode, the run's dtype)."""
    return predict_batches(inspected.model, x)


def predict(inspected: Inspected, inputs: Inputs) -> Predictions:
    """Predicted classes and their probabilities, or predicted values, one row per input."""
    model, loss, ds = inspected.model, inspected.loss, inspected.dataset
    out = _outputs(inspected, inputs.x)
    outputs = np.asarray(model.backend.to_host(out), dtype=np.float64).reshape(len(inputs.x), -1)
    if not loss.classification:
        names = target_columns(inspected)
        columns = ["prediction"] if outputs.shape[1] == 1 else [f"prediction_{n}" for n in _names(names, outputs)]
        rows = [[repr(float(v)) for v in row] for row in outputs]
        return Predictions(outputs, None, None, columns, rows)
    classes = np.asarray(model.backend.to_host(loss.predict(out)), dtype=np.int64).reshape(-1)
    probabilities = np.asarray(loss.probabilities(outputs), dtype=np.float64)
    if probabilities.shape[1] == 1:  # one output: the sigmoid of the score is the second class's probability
        probabilities = np.concatenate([1.0 - probabilities, probabilities], axis=1)
    class_names = ds.class_names or [str(k) for k in range(probabilities.shape[1])]
    columns = ["prediction"] + [f"p_{name}" for name in class_names]
    rows = [
        [class_names[c], *(repr(float(p)) for p in ps)] for c, ps in zip(classes.tolist(), probabilities, strict=True)
    ]
    return Predictions(outputs, classes, probabilities, columns, rows)


def _names(names: list[str], outputs: np.ndarray) -> list[str]:
    k = outputs.shape[1]
    return names if len(names) == k else [str(i + 1) for i in range(k)]


def evaluate(inspected: Inspected, inputs: Inputs) -> dict:
    """The validation metrics of the trainer (``training.metrics.evaluate``) on ``inputs``: ``loss``, ``acc``,
    ``confusion`` (rows: true class, columns: predicted), ``precision`` and ``recall`` per class, or ``loss``,
    ``mae`` and ``r2``; with ``rows``, ``source``, ``task`` and ``class_names``."""
    from dl_lab.sessions.training.metrics import evaluate as metrics

    if inputs.y is None:
        raise PredictError(
            f"{inputs.source}: no target column ({', '.join(target_columns(inspected))}); evaluate needs the "
            "true answers"
        )
    model, ds = inspected.model, inspected.dataset
    out = _outputs(inspected, inputs.x)
    y = model.backend.asarray(inputs.y)
    shim = SimpleNamespace(y_val=inputs.y, num_classes=ds.num_classes)  # the targets evaluate reads from a Dataset
    values = metrics(inspected.loss, out, y, model.backend, shim)
    values.pop("samples", None)
    result = {k.removeprefix("val_"): v for k, v in values.items()}
    return {
        "run": str(inspected.run_dir),
        "checkpoint": inspected.checkpoint,
        "source": inputs.source,
        "rows": len(inputs.x),
        "task": ds.task,
        "class_names": ds.class_names if ds.task == "classification" else None,
        **result,
    }
