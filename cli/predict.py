"""`dl-lab predict` and `dl-lab evaluate`: a trained run on new data (sessions/export/predict.py does the work)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from dl_lab.sessions.export.predict import PredictError, evaluate, open_run_model, predict, read_data

from .render import console, fmt


def predict_command(run_dir: Path, data: str, out: Path | None, checkpoint: str | None) -> None:
    """One CSV row per input of DATA: ``prediction`` and ``p_<class>`` per class, or the predicted value; to
    standard output, or to ``out`` (written whole or not at all)."""
    inspected = open_run_model(run_dir, checkpoint)
    result = predict(inspected, read_data(inspected, data))
    if out is None or str(out) == "-":
        _write(sys.stdout, result.columns, result.rows)
        return
    from dl_lab.sessions.runs.files import RunWriteError, replacing

    if out.is_dir():
        raise PredictError(f"-o {out}: a folder; expected a CSV file to write")
    try:
        with replacing(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            _write(f, result.columns, result.rows)
    except RunWriteError as exc:
        reason = "no such folder" if not out.parent.is_dir() else str(exc).rsplit(": ", 1)[-1]
        raise PredictError(f"-o {out}: cannot write the file ({reason})") from None
    console(stderr=True).print(escape(f"wrote {len(result.rows)} predictions to {out}"), soft_wrap=True)


def _write(stream, columns: list[str], rows: list[list[str]]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)


def evaluate_command(run_dir: Path, data: str | None, as_json: bool, checkpoint: str | None) -> None:
    """The run's validation metrics on DATA (default: its validation split): a table, or JSON."""
    inspected = open_run_model(run_dir, checkpoint)
    values = evaluate(inspected, read_data(inspected, data or inspected.dataset.name))
    if as_json:
        print(json.dumps(values))
        return
    con = console()
    where = f"{values['run']} ({values['checkpoint']}) on {values['source']}: {values['rows']} rows"
    con.print(escape(where), soft_wrap=True)
    table = Table(title="metrics", title_justify="left", show_header=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    keys = ("loss", "acc") if values["task"] == "classification" else ("loss", "r2", "mae")
    for key in keys:
        table.add_row({"acc": "accuracy", "r2": "R²", "mae": "MAE"}.get(key, key), fmt(values[key]))
    con.print(table)
    if values["task"] == "classification":
        con.print(_confusion_table(values))


def _confusion_table(values: dict) -> Table:
    names = [escape(name) for name in values["class_names"]]
    table = Table(title="confusion (rows: true, columns: predicted)", title_justify="left")
    table.add_column("true \\ predicted")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("recall", justify="right")
    for name, row, recall in zip(names, values["confusion"], values["recall"], strict=True):
        table.add_row(name, *(str(v) for v in row), fmt(recall))
    table.add_row("precision", *(fmt(p) for p in values["precision"]), "")
    return table
