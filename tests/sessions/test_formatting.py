"""Numbers, times and runs-table cells as plain text: written once (dl_lab.sessions), read by `dl-lab` and the app."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dl_lab.sessions.formatting import count, fixed, human, minute, significant
from dl_lab.sessions.runs.directory import Run
from dl_lab.sessions.runs.table import BY_LABEL, COLUMNS, SORT_KEYS, sort_help, sort_runs


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "-"),
        (0.67551234, "0.6755"),
        (1.8218, "1.8218"),
        (2, "2"),
        (123456.7, "1.23e+05"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        ("gate_xor", "gate_xor"),
    ],
)
def test_fixed_writes_four_decimals(value, expected):
    assert fixed(value) == expected


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (None, 4, "-"),
        (0.67551234, 4, "0.6755"),
        (1.8218, 4, "1.822"),
        (123456.7, 4, "1.235e+05"),
        (0.000123456, 3, "0.000123"),
        (12, 4, "12"),
        (12345, 4, "12345"),
        (float("nan"), 4, "nan"),
    ],
)
def test_significant_writes_significant_digits(value, digits, expected):
    assert significant(value, digits) == expected


def test_counts_rates_and_big_numbers():
    assert [count(v) for v in (None, 0.4, 1696.7, 60063.9, 1234567.0)] == ["-", "0", "1,697", "60,064", "1,234,567"]
    assert [human(v) for v in (12, 999, 1000, 235_200, 1_500_000, 3_200_000_000)] == [
        "12",
        "999",
        "1.0k",
        "235.2k",
        "1.5M",
        "3.2G",
    ]
    at = dt.datetime(2025, 3, 4, 10, 0, 59, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    assert minute(at) == "2025-03-04 10:00" and minute(None) == "-"


def run(name: str, **final) -> Run:
    summary = {"status": "completed", "started_at": "2025-03-04T10:00:00", "train_samples_per_s": 60063.9}
    return Run(
        Path("/runs") / name, {"data": {"dataset": "spiral"}}, summary, [{"event": "epoch", "epoch": 3, **final}]
    )


def test_each_column_writes_its_cells_in_full_and_compact():
    r = run("a", train_loss=1.82184, val_loss=0.67551234, val_acc=0.80784)
    full = {c.label: c.text(r) for c in COLUMNS}
    compact = {c.label: c.text(r, compact=True) for c in COLUMNS}
    assert full == {
        "date": "2025-03-04 10:00",
        "run": "a",
        "status": "completed",
        "epochs": "3",
        "train loss": "1.8218",
        "val loss": "0.6755",
        "val acc/R²": "0.8078",
        "val mae": "-",
        "samples/s": "60,064",
        "dataset": "spiral",
        "model": "-",  # the session records neither
        "optimizer": "-",
    }
    assert compact == {**full, "train loss": "1.822", "val acc/R²": "0.808"}
    sine = run("s", val_loss=0.16652, val_r2=0.67192)
    assert BY_LABEL["val acc/R²"].text(sine) == "R² 0.6719"
    assert BY_LABEL["val acc/R²"].text(sine, compact=True) == "R² 0.672"
    assert BY_LABEL["date"].header() == "started" and BY_LABEL["date"].header(compact=True) == "date"


def test_sorting_puts_runs_without_the_value_last_and_reverse_turns_it_round():
    a, b, c, d = run("a", val_loss=0.5), run("b", val_loss=0.2), run("c"), run("d", val_loss=float("nan"))
    assert [r.path.name for r in sort_runs([a, b, c, d], SORT_KEYS["val_loss"])] == ["b", "a", "c", "d"]
    assert [r.path.name for r in sort_runs([a, b, c, d], SORT_KEYS["val_loss"], reverse=True)] == ["a", "b", "c", "d"]
    assert SORT_KEYS["val_acc"] is SORT_KEYS["val_r2"] and SORT_KEYS["val_acc"].descending


def test_the_sort_keys_and_their_help_come_from_the_columns():
    assert list(SORT_KEYS) == [
        "time",
        "run",
        "status",
        "epochs",
        "train_loss",
        "val_loss",
        "val_acc",
        "val_r2",
        "val_mae",
        "samples_per_s",
    ]
    assert sort_help() == (
        "one of time, run, status, epochs, train_loss, val_loss, val_acc, val_r2, val_mae, "
        "samples_per_s; time: the newest first; val_acc: the best accuracy (R² for regression) "
        "first"
    )
