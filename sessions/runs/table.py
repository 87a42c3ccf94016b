"""The columns of a table of runs, declared once for `dl-lab runs` and the app's runs screen (no UI library here).
They read a run's summary and ``listed`` session parts only, which list_runs reads from summary.json alone.

Each column says what it is called, how to read its value from a run (the value it sorts by), which way it sorts,
and how its cells read as plain text. A front end picks the columns it shows, in its own order, and draws them;
``compact`` text is for the app's narrower table. `dl-lab runs --sort` takes the columns' sort keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from dl_lab.sessions.config.naming import model_text, optimizer_text
from dl_lab.sessions.formatting import MISSING, count, fixed, minute, significant
from dl_lab.sessions.runs.directory import Run


class Column(NamedTuple):
    """One column of a runs table."""

    label: str  # its header
    read: Callable[[Run], object]  # the value it sorts by; None when the run does not say (sorted last)
    descending: bool  # bigger first
    format: Callable[[object, Run, bool], str]  # (value, run, compact) -> the cell as plain text
    sort_key: str | None = None  # its `dl-lab runs --sort` name (None: not offered there)
    aliases: tuple[str, ...] = ()  # other --sort names for it
    sort_help: str = ""  # what sorting by it means, where its name does not say
    numeric: bool = False  # a number: right-aligned where the table aligns
    long_label: str = ""  # a longer header, for a table with room for it

    def header(self, compact: bool = False) -> str:
        return self.label if compact or not self.long_label else self.long_label

    def text(self, run: Run, compact: bool = False) -> str:
        """The run's cell in this column; ``compact`` for a narrow table (the app's)."""
        return self.format(self.read(run), run, compact)


def _final(key: str) -> Callable[[Run], object]:
    return lambda run: run.final().get(key)


def _quality(run: Run) -> float | None:
    q = run.quality()  # accuracy, or R² for a regression run: bigger is better for both
    return q[1] if q else None


def _dataset(run: Run) -> str | None:
    data = run.listed.get("data")
    name = data.get("dataset") if isinstance(data, dict) else None
    return None if name is None else str(name)


def _model(run: Run) -> str | None:
    return model_text(run.listed.get("model"))  # "mlp, 3 layers": sorts by family, then size


def _model_text(value, run: Run, compact: bool) -> str:
    return model_text(run.listed.get("model"), compact) or MISSING


def _optimizer(run: Run) -> str | None:
    return optimizer_text(run.listed.get("optimizer"))  # as `dl-lab compare` writes it: "adam lr=0.01"


def _optimizer_text(value, run: Run, compact: bool) -> str:
    return optimizer_text(run.listed.get("optimizer"), compact) or MISSING


def _plain(value, run: Run, compact: bool) -> str:
    return MISSING if value is None else str(value)


def _metric(value, run: Run, compact: bool) -> str:
    return significant(value) if compact else fixed(value)  # 4 significant digits, else 4 decimals


def _quality_text(value, run: Run, compact: bool) -> str:
    return run.quality_text(3 if compact else 4)  # "0.9500", or "R² 0.9976" for a regression run


def _rate(value, run: Run, compact: bool) -> str:
    return count(value)


def _date(value, run: Run, compact: bool) -> str:
    return minute(run.started_at)  # the clock as the run recorded it (the value is its timestamp)


# Declared in the order `dl-lab runs --help` lists the sort keys; each table shows its own choice, in its own order.
COLUMNS: tuple[Column, ...] = (
    Column("date", Run.started_ts, True, _date, "time", sort_help="the newest first", long_label="started"),
    Column("run", lambda run: run.path.name, False, _plain, "run"),
    Column("status", lambda run: run.state, False, _plain, "status"),
    Column("epochs", _final("epoch"), True, _metric, "epochs", numeric=True),
    Column("train loss", _final("train_loss"), False, _metric, "train_loss", numeric=True),
    Column("val loss", _final("val_loss"), False, _metric, "val_loss", numeric=True),
    Column(
        "val acc/R²",
        _quality,
        True,
        _quality_text,
        "val_acc",
        aliases=("val_r2",),
        sort_help="the best accuracy (R² for regression) first",
        numeric=True,
    ),
    Column("val mae", _final("val_mae"), False, _metric, "val_mae", numeric=True),
    Column("samples/s", Run.samples_per_s, True, _rate, "samples_per_s", numeric=True),
    Column("dataset", _dataset, False, _plain),
    Column("model", _model, False, _model_text),
    Column("optimizer", _optimizer, False, _optimizer_text),
)
BY_LABEL: dict[str, Column] = {c.label: c for c in COLUMNS}
# `dl-lab runs --sort KEY`: every column's sort key and its aliases, in COLUMNS order.
SORT_KEYS: dict[str, Column] = {key: c for c in COLUMNS for key in (c.sort_key, *c.aliases) if key is not None}


def columns(*labels: str) -> tuple[Column, ...]:
    """The columns with these labels, in this order (a table's choice)."""
    return tuple(BY_LABEL[label] for label in labels)


def sort_help() -> str:
    """What `--sort` takes, in words: every key, then what the less obvious ones mean."""
    notes = [f"{c.sort_key}: {c.sort_help}" for c in COLUMNS if c.sort_key and c.sort_help]
    return "; ".join([f"one of {', '.join(SORT_KEYS)}", *notes])


def sort_runs(
    runs: Iterable[Run], column: Column, reverse: bool = False, value: Callable[[Run], object] | None = None
) -> list[Run]:
    """``runs`` sorted by ``column`` (the other way round with ``reverse``); runs without its value (None, NaN)
    come last, in their given order. ``value``: the column's values as read before (the app keeps them)."""
    read = value or column.read
    values = [(read(r), r) for r in runs]

    def known(v) -> bool:
        return isinstance(v, (int, float, str)) and v == v  # v == v: not NaN

    present: list[tuple[Any, Run]] = [(v, r) for v, r in values if known(v)]
    missing = [r for v, r in values if not known(v)]
    return [r for _, r in sorted(present, key=lambda vr: vr[0], reverse=column.descending != reverse)] + missing
