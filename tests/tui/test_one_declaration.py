"""Facts the CLI and the app share are declared once: the runs table's columns and the data options."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from dl_lab.cli import history
from dl_lab.cli.main import app as cli_app
from dl_lab.datasets import DATASETS
from dl_lab.datasets.options import CHECKS, DATA_OPTIONS
from dl_lab.sessions.runs import table
from dl_lab.tui.panes.data import FORM_OPTIONS, data_options
from dl_lab.tui.screens.runs import COLUMNS as APP_COLUMNS


def test_the_cli_sort_keys_and_the_app_runs_columns_come_from_one_declaration():
    declared = set(map(id, table.COLUMNS))
    assert all(isinstance(c, table.Column) and id(c) in declared for c in (*APP_COLUMNS, *history.RUNS_COLUMNS))
    assert history.SORT_KEYS is table.SORT_KEYS
    help_text = " ".join(CliRunner().invoke(cli_app, ["runs", "--help"], env={"COLUMNS": "300"}).output.split())
    assert re.sub(r"[│ ]+", " ", table.sort_help()) in re.sub(r"[│ ]+", " ", help_text)
    refused = CliRunner().invoke(cli_app, ["runs", "--sort", "bogus"])
    assert refused.exit_code == 2 and f"expected one of {', '.join(table.SORT_KEYS)}, got 'bogus'" in refused.output
    # every column the app sorts by, the CLI sorts the same way under its key (where it has one)
    for column in APP_COLUMNS:
        if column.sort_key is not None:
            assert table.SORT_KEYS[column.sort_key] is column


def test_the_build_form_shows_the_declared_data_options_with_each_dataset_s_defaults():
    for name, info in DATASETS.items():
        assert set(info.options) <= set(DATA_OPTIONS), name  # every option a dataset takes is declared
        form = data_options(name)
        assert list(form) == [k for k in FORM_OPTIONS if k in info.options]
        for key, option in form.items():
            declared = DATA_OPTIONS[key]
            assert (option.kind, option.min, option.max, option.choices, option.help) == (
                declared.kind,
                declared.min,
                declared.max,
                declared.choices,
                declared.help,
            )
            assert option.default == info.options[key]
    assert set(CHECKS) == set(DATA_OPTIONS)
