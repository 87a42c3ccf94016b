"""The registry, option checking with clear messages, list_datasets and import hygiene."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dl_lab.datasets import DATASETS, DataError, list_datasets, load, load_config


def test_every_registered_dataset_declares_its_options_and_metadata():
    for name, info in DATASETS.items():
        assert info.name == name and info.task in ("classification", "regression")
        assert {"seed", "val_fraction", "normalize"} <= set(info.options)
        assert info.description


@pytest.mark.parametrize("name", [n for n, info in DATASETS.items() if info.offline and n != "csv"])
def test_every_offline_dataset_loads_with_its_defaults_and_matches_its_registry_entry(name):
    ds = load(name)
    info = DATASETS[name]
    assert ds.task == info.task and ds.input_shape == info.input_shape and ds.num_classes == info.num_classes
    assert len(ds.y_train) + (0 if ds.val_is_train else len(ds.y_val)) == info.size
    assert set(ds.options) == set(info.options)
    json.dumps(ds.options)
    json.dumps(ds.normalization)


def test_list_datasets_gives_one_row_per_dataset_with_the_documented_columns():
    rows = list_datasets()
    assert [row.name for row in rows] == list(DATASETS)
    assert rows[0]._fields == ("name", "task", "input_shape", "classes", "size", "offline", "description")
    by_name = {row.name: row for row in rows}
    assert by_name["digits"] == ("digits", "classification", (1, 8, 8), 10, 1797, True, by_name["digits"][-1])
    assert by_name["cifar10"].offline is False and by_name["cifar10"].size == 60000
    assert by_name["plane"].classes is None and by_name["gate_xor"].size == 4


def test_an_unknown_dataset_lists_the_valid_ones_and_suggests_the_closest():
    with pytest.raises(DataError, match=r"data\.dataset: unknown dataset 'spirl' \(did you mean 'spiral'\?\); valid: "):
        load("spirl")
    with pytest.raises(DataError, match="circle, xor, gaussian"):
        load("nothing-like-it")


def test_dataset_names_forgive_case_and_dashes():
    assert load("Gate-XOR").name == "gate_xor"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"noise": -1}, r"^data\.noise: expected a number >= 0, got -1$"),
        ({"noise": "lots"}, r"^data\.noise: expected a number >= 0, got 'lots'$"),
        ({"samples": 1}, r"^data\.samples: expected an integer from 2 to 1000000, got 1$"),
        ({"samples": 10.5}, r"^data\.samples: expected an integer"),
        ({"samples": True}, r"^data\.samples: expected an integer"),
        ({"seed": -2}, r"^data\.seed: expected an integer >= 0, got -2$"),
        ({"normalize": "std"}, r"^data\.normalize: unknown value 'std' \(did you mean 'standard'\?\)"),
        (
            {"nosie": 0.1},
            r"^data\.nosie: unknown option for dataset 'spiral' \(did you mean 'noise'\?\); valid options: ",
        ),
        ({"dtype": "int8"}, r"^dtype: expected float32 or float64, got 'int8'$"),
    ],
)
def test_bad_options_raise_one_clear_message_naming_the_option(options, message):
    with pytest.raises(DataError, match=message):
        load("spiral", **options)


def test_options_a_dataset_does_not_take_are_errors():
    with pytest.raises(DataError, match=r"data\.noise: unknown option for dataset 'gate_and'"):
        load("gate_and", noise=0.1)
    with pytest.raises(DataError, match=r"data\.features: unknown option for dataset 'digits'"):
        load("digits", features=["x1"])


def test_integral_floats_are_accepted_where_integers_are_expected():
    assert load("xor", samples=100.0).options["samples"] == 100


def test_options_record_every_default_filled_in():
    ds = load("spiral", noise=0.1)
    assert ds.options == {
        "samples": 500,
        "noise": 0.1,
        "seed": 0,
        "val_fraction": 0.2,
        "normalize": "standard",
        "features": ["x1", "x2"],
        "pca": None,
    }


def test_load_config_takes_a_session_data_mapping():
    ds = load_config({"dataset": "spiral", "samples": 1000, "noise": 0.1, "val_fraction": 0.2})
    assert ds.name == "spiral" and len(ds.y_train) == 800
    with pytest.raises(DataError, match=r"data\.dataset: expected a mapping"):
        load_config({"samples": 3})


def test_importing_the_package_loads_no_data_and_no_ui_or_network_modules():
    code = (
        "import sys, dl_lab.datasets; "
        "bad = [m for m in ('textual', 'rich', 'urllib.request', 'sklearn', 'yaml') if m in sys.modules]; "
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
