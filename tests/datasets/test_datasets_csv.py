"""Your own CSV files: labels, regression, val files, image shapes, and errors naming file, row, column."""

from __future__ import annotations

import numpy as np
import pytest

from dl_lab.datasets import DataError, load


def write(folder, name, text):
    path = folder / name
    path.write_text(text.strip() + "\n")
    return path


@pytest.fixture
def animals(tmp_path):
    rows = "\n".join(f"{i},{i % 3 * 1.5},{['cat', 'dog', 'bird'][i % 3]}" for i in range(30))
    write(tmp_path, "train.csv", "x1,x2,label\n" + rows)
    return tmp_path


def test_string_labels_become_sorted_class_ids_with_class_names(animals):
    ds = load("csv", train="train.csv", target="label", base_dir=animals, val_fraction=0, normalize="none")
    assert ds.class_names == ["bird", "cat", "dog"] and ds.num_classes == 3
    np.testing.assert_array_equal(ds.y_train[:3], [1, 2, 0])
    assert ds.feature_names == ["x1", "x2"] and ds.input_shape == (2,)
    np.testing.assert_array_equal(ds.x_train[:2], [[0, 0], [1, 1.5]])


def test_numeric_labels_sort_as_numbers(tmp_path):
    write(tmp_path, "t.csv", "a,target\n" + "\n".join(f"{i},{i % 11}" for i in range(44)))
    ds = load("csv", train="t.csv", base_dir=tmp_path)
    assert ds.class_names == [str(i) for i in range(11)]
    assert ds.y_train.max() == 10


def test_val_fraction_keeps_the_training_rows_in_file_order(animals):
    ds = load("csv", train="train.csv", target="label", base_dir=animals, val_fraction=0.2, normalize="none")
    first_column = ds.x_train[:, 0]
    assert (np.diff(first_column) > 0).all() and len(first_column) == 24
    np.testing.assert_array_equal(np.bincount(ds.y_val), [2, 2, 2])
    x, _ = next(ds.batches("train", 5, shuffle=False))
    np.testing.assert_array_equal(x, ds.x_train[:5])


@pytest.mark.parametrize("normalize", ["none", "minmax", "standard"])
def test_inputs_are_stored_row_major_so_that_a_batch_gathers_whole_rows(animals, normalize):
    # the columns come out of the text column by column; a batch of a 784-column file gathered from a column-major
    # array took 13x as long
    write(animals, "val.csv", "label,x2,x1\ndog,7,70\ncat,8,80")
    for val in ({"val_fraction": 0.2}, {"val": "val.csv"}):
        ds = load("csv", train="train.csv", target="label", base_dir=animals, normalize=normalize, **val)
        assert ds.x_train.flags.c_contiguous and ds.x_val.flags.c_contiguous
        x, _ = next(ds.batches("train", 4, shuffle=True))
        assert x.flags.c_contiguous and x.dtype == np.float32


def test_a_separate_val_file_is_the_val_split_even_with_columns_reordered(animals):
    write(animals, "val.csv", "label,x2,x1\ndog,7,70\ncat,8,80")
    ds = load("csv", train="train.csv", val="val.csv", target="label", base_dir=animals, normalize="none")
    np.testing.assert_array_equal(ds.x_val, [[70, 7], [80, 8]])
    np.testing.assert_array_equal(ds.y_val, [2, 1])
    assert len(ds.y_train) == 30
    np.testing.assert_array_equal(ds.x_train[:, 0], np.arange(30))  # training split = the file, in order


def test_normalization_uses_the_training_file_only(animals):
    write(animals, "val.csv", "x1,x2,label\n1000,1000,cat")
    ds = load("csv", train="train.csv", val="val.csv", target="label", base_dir=animals, normalize="standard")
    assert ds.normalization["mean"] == pytest.approx([14.5, 1.5])
    assert ds.x_val[0, 0] == pytest.approx((1000 - 14.5) / np.arange(30).std())


def test_regression_targets_are_float_columns(tmp_path):
    write(tmp_path, "r.csv", "x,y,z\n1,2,3\n2,4,6\n3,6,9\n4,8,12")
    ds = load("csv", train="r.csv", target="y", task="regression", base_dir=tmp_path, val_fraction=0.25)
    assert ds.task == "regression" and ds.num_classes is None and ds.class_names is None
    assert ds.y_train.shape == (3, 1) and ds.y_train.dtype == np.float32 and ds.output_dim == 1
    assert ds.feature_names == ["x", "z"]
    two = load("csv", train="r.csv", target=["y", "z"], task="regression", base_dir=tmp_path, val_fraction=0)
    assert two.y_train.shape == (4, 2) and two.input_shape == (1,)


def test_an_image_shape_turns_rows_into_nchw_images(tmp_path):
    header = ",".join(f"p{i}" for i in range(8)) + ",target"
    rows = "\n".join(",".join(str(v) for v in range(k, k + 8)) + f",{k % 2}" for k in range(10))
    write(tmp_path, "img.csv", f"{header}\n{rows}")
    ds = load("csv", train="img.csv", shape=[2, 2, 2], base_dir=tmp_path, val_fraction=0, normalize="none")
    assert ds.input_shape == (2, 2, 2) and ds.feature_names is None
    np.testing.assert_array_equal(ds.x_train[1], np.arange(1, 9).reshape(2, 2, 2))
    assert ds.normalization["method"] == "none"
    standard = load("csv", train="img.csv", shape=[2, 2, 2], base_dir=tmp_path, normalize="standard")
    assert standard.normalization["axis"] == "channel" and len(standard.normalization["mean"]) == 2


def test_a_bad_number_names_the_file_the_row_and_the_column(tmp_path):
    write(tmp_path, "train.csv", "x1,x3,target\n1,2,a\n3,abc,b\n")
    with pytest.raises(DataError, match=r"^train\.csv: row 3, column 'x3': expected a number, got 'abc'$"):
        load("csv", train="train.csv", base_dir=tmp_path)


def test_empty_and_non_finite_cells_are_errors(tmp_path):
    write(tmp_path, "e.csv", "x1,target\n1,a\n,b")
    with pytest.raises(DataError, match=r"e\.csv: row 3, column 'x1': expected a number, got ''"):
        load("csv", train="e.csv", base_dir=tmp_path)
    write(tmp_path, "n.csv", "x1,target\nnan,a\n1,b")
    with pytest.raises(DataError, match=r"n\.csv: row 2, column 'x1': expected a number, got 'nan'"):
        load("csv", train="n.csv", base_dir=tmp_path)


def test_an_empty_label_is_named(tmp_path):
    write(tmp_path, "l.csv", "x,target\n1,a\n2,\n3,b")
    with pytest.raises(DataError, match=r"l\.csv: row 3, column 'target': expected a class label, got an empty cell"):
        load("csv", train="l.csv", base_dir=tmp_path)


def test_a_row_of_the_wrong_length_is_named(tmp_path):
    write(tmp_path, "w.csv", "a,b,target\n1,2,x\n1,2\n")
    with pytest.raises(DataError, match=r"w\.csv: row 3: expected 3 values like the header, got 2"):
        load("csv", train="w.csv", base_dir=tmp_path)


def test_a_missing_target_column_suggests_the_closest(animals):
    with pytest.raises(DataError, match=r"data\.target: train\.csv has no column 'lable' \(did you mean 'label'\?\)"):
        load("csv", train="train.csv", target="lable", base_dir=animals)


def test_a_val_label_unseen_in_training_is_named(animals):
    write(animals, "val.csv", "x1,x2,label\n1,1,cat\n2,2,fish")
    with pytest.raises(DataError, match=r"val\.csv: row 3, column 'label': class 'fish' does not appear in train\.csv"):
        load("csv", train="train.csv", val="val.csv", target="label", base_dir=animals)


def test_a_missing_file_names_the_path_as_written(tmp_path):
    with pytest.raises(DataError, match=r"^nope\.csv: cannot read"):
        load("csv", train="nope.csv", base_dir=tmp_path)


def test_a_shape_that_does_not_match_the_columns_is_an_error(animals):
    with pytest.raises(DataError, match=r"data\.shape: \[1, 2, 2\] needs 4 values a row, train\.csv has 2"):
        load("csv", train="train.csv", target="label", shape=[1, 2, 2], base_dir=animals)


def test_csv_option_conflicts_and_omissions_are_errors(animals):
    with pytest.raises(DataError, match=r"data\.train: the csv dataset needs a training file"):
        load("csv", base_dir=animals)
    with pytest.raises(DataError, match=r"data\.val_fraction: cannot be combined with data\.val"):
        load("csv", train="train.csv", val="train.csv", val_fraction=0.1, target="label", base_dir=animals)
    with pytest.raises(DataError, match=r"data\.shape: expected \[channels, height, width\].*\[1, 8, 8\]"):
        load("csv", train="train.csv", shape=[8, 8], base_dir=animals)
