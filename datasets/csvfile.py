"""Your own data from CSV files: a header row, numeric feature columns and a target column.

Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2.
Errors name the file as written in the session, the row and the column.

A ``train:`` path may point anywhere the user can read, so nothing of a file's text appears in a message
until it has parsed as a CSV table (a header of two or more names, every row as wide): before that,
errors say what is wrong with counts and row numbers only, so pointing at /etc/shadow shows none of it.
Only regular files are read (never a FIFO or /dev/zero), at most ``MAX_BYTES`` of them.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np

from .assembly import LoadContext, Prepared, finish
from .dataset import Dataset
from .errors import DataError
from .formats import NotRegularFile, TooLarge, read_regular

MAX_BYTES = 2 << 30  # 2 GiB: a CSV is read whole into memory; beyond this it is not a table to train on here
_SHOWN = 40  # characters of a cell quoted in a message, at most


def _quoted(cell: object) -> str:
    text = str(cell)
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


@dataclass
class Table:
    """A CSV file's cells as strings: ``cells[i, j]`` is data row ``rows[i]``, column ``header[j]``."""

    name: str
    header: list[str]
    cells: np.ndarray
    rows: np.ndarray
    header_row: int = 1  # the header's row number in the file (comment or blank lines may come first)

    def column(self, column: str) -> np.ndarray:
        return self.cells[:, self.header.index(column)]

    def numbers(self, columns: list[str]) -> np.ndarray:
        """The columns as float64 ``(N, len(columns))``, row-major; the first bad cell raises a DataError."""
        block = self.cells[:, [self.header.index(c) for c in columns]]
        try:
            # row-major: a column selection is laid out column by column, and a batch gathers whole rows (a batch
            # of 128 rows of 784 columns: 45 us from rows, 600 us from columns)
            values = block.astype(np.float64, order="C")
        except ValueError:
            values = None
        if values is None or not np.isfinite(values).all():
            self._raise_first_bad(block, columns)
        return values

    def _raise_first_bad(self, block: np.ndarray, columns: list[str]) -> NoReturn:
        for i, j in np.ndindex(block.shape):  # error path only: find the first cell that is not a number
            try:
                ok = np.isfinite(float(block[i, j]))
            except ValueError:
                ok = False
            if not ok:
                raise DataError(self.where(i, columns[j]) + f": expected a number, got {_quoted(block[i, j])}")
        # float() and NumPy's conversion agree on every cell, so a bad block has a bad cell; should they ever differ:
        raise DataError(f"{self.name}: columns {', '.join(map(repr, columns))}: expected numbers")

    def where(self, index: int, column: str) -> str:
        return f"{self.name}: row {self.rows[index]}, column {column!r}"


def _read_text(path: Path, written: str) -> str:
    try:
        data = read_regular(path, MAX_BYTES)
        return data.decode("utf-8-sig")  # -sig: spreadsheets often prepend a byte-order mark
    except NotRegularFile as error:
        raise DataError(f"{written}: {path} is {error}; expected a CSV file") from None
    except TooLarge as error:
        raise DataError(
            f"{written}: {path} is {error.size / 2**30:.1f} GiB; CSV files are read whole, up to {MAX_BYTES >> 30} GiB"
        ) from None
    except UnicodeDecodeError as error:
        raise DataError(f"{written}: {path} is not UTF-8 text (byte {error.start}); expected a CSV file") from None
    except OSError as error:
        raise DataError(f"{written}: cannot read {path} ({error.strerror or error})") from None


def _records(text: str, written: str) -> list[tuple[int, list[str]]]:
    """(row number, fields) of every non-blank row; a csv.Error names the row, never its text."""
    records, number = [], 0
    try:
        for number, row in enumerate(csv.reader(io.StringIO(text)), 1):  # number: the row a csv.Error stops at
            if "".join(row).strip():
                records.append((number, row))
    except csv.Error as error:
        if "field limit" in str(error):
            raise DataError(
                f"{written}: row {number + 1}: a value longer than {csv.field_size_limit():,} characters; "
                "expected a CSV file of numbers and labels"
            ) from None
        raise DataError(f"{written}: row {number + 1}: not readable as CSV ({error})") from None
    return records


def read_table(base_dir: Path, written: str, min_columns: int = 2) -> Table:
    """Read ``written`` (relative to ``base_dir`` unless absolute) into a Table of stripped strings. A training file
    has two columns at least (features and a target); ``min_columns=1`` reads inputs alone (dl-lab predict)."""
    path = Path(written).expanduser()
    path = path if path.is_absolute() else Path(base_dir) / path
    records = _records(_read_text(path, written), written)
    if not records:
        raise DataError(f"{written}: the file is empty; expected a header row of column names")
    header_row, header = records[0][0], [name.strip() for name in records[0][1]]
    if len(header) < min_columns:
        raise DataError(
            f"{written}: row {header_row}: expected a CSV header of two or more comma-separated column names "
            f"(features and a target), got {len(header)} field"
        )
    body = records[1:]
    if not body:
        raise DataError(f"{written}: no data rows below the header")
    lengths = np.array([len(row) for _, row in body])
    wrong = np.flatnonzero(lengths != len(header))
    if wrong.size:
        number, row = body[wrong[0]]
        raise DataError(f"{written}: row {number}: expected {len(header)} values like the header, got {len(row)}")
    # From here on the file is a CSV table with a header: its column names (and cells) may appear in messages.
    repeated = sorted({name for name in header if header.count(name) > 1 or not name})
    if repeated:
        raise DataError(f"{written}: row {header_row}: column names must be unique and non-empty, got {repeated}")
    cells = np.char.strip(np.array([row for _, row in body], dtype=str))
    return Table(written, header, cells, np.array([number for number, _ in body]), header_row)


def _check_range(table: Table, values: np.ndarray, columns: list[str], dtype: str) -> None:
    """Refuse a value that is finite in float64 but would become infinite in ``dtype`` (1e39 in float32)."""
    largest = float(np.finfo(np.dtype(dtype)).max)
    too_big = np.abs(values) > largest
    if too_big.any():
        i, j = np.argwhere(too_big)[0]
        raise DataError(
            f"{table.where(i, columns[j])}: {values[i, j]:g} is beyond the range of {dtype} (+-{largest:.3g}); "
            "rescale the column, or set dtype: float64 in the session"
        )


def _require_columns(table: Table, columns: list[str], option: str) -> None:
    for column in columns:
        if column not in table.header:
            close = difflib.get_close_matches(column, table.header, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DataError(
                f"{option}: {table.name} has no column {column!r}{hint}; columns: {', '.join(table.header)}"
            )


def _label_keys(labels: np.ndarray) -> tuple[np.ndarray, bool]:
    """Labels as sortable keys: numbers when every label is one (so 10 sorts after 9), else strings."""
    try:
        numbers = labels.astype(np.float64)
        if np.isfinite(numbers).all():
            return numbers, True
    except ValueError:
        pass
    return labels, False


def _class_ids(train: Table, val: Table | None, target: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """Class ids per table, classes being the training file's distinct labels in sorted order."""
    tables = {"train": train} if val is None else {"train": train, "val": val}
    labels = {split: table.column(target) for split, table in tables.items()}
    for split, table in tables.items():
        empty = np.flatnonzero(labels[split] == "")
        if empty.size:
            raise DataError(f"{table.where(empty[0], target)}: expected a class label, got an empty cell")
    keys, numeric = _label_keys(np.concatenate(list(labels.values())))
    split_keys = dict(zip(tables, np.split(keys, [len(labels["train"])]), strict=False))
    classes = np.unique(split_keys["train"])
    if len(classes) < 2:
        raise DataError(f"{train.name}: column {target!r} holds one class only; classification needs two or more")
    ids = {}
    for split, table in tables.items():
        found = np.minimum(np.searchsorted(classes, split_keys[split]), len(classes) - 1)
        unseen = np.flatnonzero(classes[found] != split_keys[split])
        if unseen.size:
            label = str(labels[split][unseen[0]])
            raise DataError(f"{table.where(unseen[0], target)}: class {_quoted(label)} does not appear in {train.name}")
        ids[split] = found.astype(np.int64)
    names = [f"{c:g}" if numeric else str(c) for c in classes]
    return ids, names


def _check_options(options: dict) -> list[str]:
    if options["train"] is None:
        raise DataError("data.train: the csv dataset needs a training file, e.g. train: train.csv")
    if options["val"] is not None and options["val_fraction"] is not None:
        raise DataError("data.val_fraction: cannot be combined with data.val (the val file is the val split)")
    target = options["target"]
    if options["task"] == "classification" and not isinstance(target, str):
        raise DataError(f"data.target: classification takes one target column, got {target}")
    return [target] if isinstance(target, str) else list(target)


def _feature_columns(train: Table, val: Table | None, targets: list[str], shape: list[int] | None) -> list[str]:
    columns = [c for c in train.header if c not in targets]
    if not columns:
        raise DataError(f"{train.name}: no feature columns besides the target {', '.join(targets)}")
    if val is not None:
        _require_columns(val, columns + targets, "data.val")
        extra = sorted(set(val.header) - set(train.header))
        if extra:
            raise DataError(f"{val.name}: columns {extra} are not in {train.name}")
    if shape is not None and int(np.prod(shape)) != len(columns):
        needed = int(np.prod(shape))
        raise DataError(
            f"data.shape: {shape} needs {needed} values a row, {train.name} has {len(columns)} feature columns"
        )
    return columns


def load_csv(name: str, options: dict, ctx: LoadContext) -> Dataset:
    """``csv``: train file (+ val file or val_fraction), target column(s), task, optional image shape."""
    targets = _check_options(options)
    train = read_table(ctx.base_dir, options["train"])
    val = read_table(ctx.base_dir, options["val"]) if options["val"] else None
    _require_columns(train, targets, "data.target")
    shape = options["shape"]
    columns = _feature_columns(train, val, targets, shape)
    x_train, x_val = train.numbers(columns), val.numbers(columns) if val else None
    _check_range(train, x_train, columns, ctx.dtype)
    if val is not None and x_val is not None:
        _check_range(val, x_val, columns, ctx.dtype)
    if shape is not None:
        x_train = x_train.reshape(len(x_train), *shape)
        x_val = None if x_val is None else x_val.reshape(len(x_val), *shape)
    class_names: list[str] | None = None
    if options["task"] == "classification":
        ids, class_names = _class_ids(train, val, targets[0])
        y_train, y_val = ids["train"], ids.get("val")
    else:
        y_train, y_val = train.numbers(targets), val.numbers(targets) if val else None
        _check_range(train, y_train, targets, ctx.dtype)
        if val is not None and y_val is not None:
            _check_range(val, y_val, targets, ctx.dtype)
    prepared = Prepared(
        name=name,
        task=options["task"],
        source="file",
        inputs=x_train,
        targets=y_train,
        class_names=class_names,
        feature_names=None if shape else columns,
        val_inputs=x_val,
        val_targets=y_val,
        axis="channel" if shape else "feature",
        to_inputs=(lambda raw: np.asarray(raw, np.float64).reshape(len(raw), *shape)) if shape else None,
    )
    return finish(prepared, options, ctx.dtype)
