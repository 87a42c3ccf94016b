"""Downloads through a local HTTP mirror: formats, checksums, the cache, progress and failures."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from dl_lab.datasets import MIRRORS, SHA256, DataError, download, list_datasets, load


def cache_files(cache):
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def test_mnist_idx_files_download_verify_and_parse(tiny_mnist, isolated_cache):
    ds = load("mnist", progress=False)
    assert ds.input_shape == (1, 28, 28) and ds.source == "downloaded"
    np.testing.assert_array_equal(ds.x_train, tiny_mnist["x_train"][:, None] / np.float32(255))
    np.testing.assert_array_equal(ds.y_train, tiny_mnist["y_train"])
    np.testing.assert_array_equal(ds.y_val, tiny_mnist["y_test"])  # val is the official test set
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert cache_files(isolated_cache) == [
        "mnist/decoded.npz",
        "mnist/t10k-images-idx3-ubyte.gz",
        "mnist/t10k-labels-idx1-ubyte.gz",
        "mnist/train-images-idx3-ubyte.gz",
        "mnist/train-labels-idx1-ubyte.gz",
    ]


def test_a_cached_set_loads_again_without_network(tiny_mnist, go_offline):
    first = load("mnist", progress=False)
    go_offline()
    again = load("mnist", progress=False)
    np.testing.assert_array_equal(first.x_val, again.x_val)


def test_a_damaged_decoded_cache_is_rebuilt_from_the_raw_files(tiny_mnist, isolated_cache, go_offline):
    load("mnist", progress=False)
    (isolated_cache / "mnist" / "decoded.npz").write_bytes(b"not a zip")
    go_offline()
    np.testing.assert_array_equal(load("mnist", progress=False).y_train, tiny_mnist["y_train"])


def test_val_fraction_on_mnist_splits_the_training_images_instead(tiny_mnist):
    ds = load("mnist", val_fraction=0.25, progress=False)
    assert len(ds.y_train) == 30 and len(ds.y_val) == 10
    assert np.bincount(ds.y_val).tolist() == [1] * 10


def test_samples_on_mnist_subsets_train_and_test_in_their_ratio(tiny_mnist):
    ds = load("mnist", samples=20, progress=False)
    assert len(ds.y_train) == 20 and len(ds.y_val) == 5
    assert np.bincount(ds.y_train).tolist() == [2] * 10
    with pytest.raises(DataError, match=r"data\.samples: mnist has 40 training images, got 41"):
        load("mnist", samples=41, progress=False)


def test_fashion_mnist_uses_its_clothing_class_names(mirror, idx_gz):
    labels = np.arange(10, dtype=np.uint8)
    for prefix in ("train", "t10k"):
        mirror.publish("fashion_mnist", f"{prefix}-images-idx3-ubyte.gz", idx_gz(np.zeros((10, 28, 28))))
        mirror.publish("fashion_mnist", f"{prefix}-labels-idx1-ubyte.gz", idx_gz(labels))
    ds = load("fashion_mnist", progress=False)
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"


def test_cifar10_binary_archive_parses_into_nchw_images_without_extracting(
    mirror, isolated_cache, tmp_path, cifar_tar_gz
):
    rng = np.random.default_rng(0)
    batches = {
        name: (rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n))
        for name, n in [*[(f"data_batch_{i}.bin", 3) for i in range(1, 6)], ("test_batch.bin", 4)]
    }
    evil = {"../../escaped.bin": b"x", "/var/absolute.bin": b"y"}
    mirror.publish("cifar10", "cifar-10-binary.tar.gz", cifar_tar_gz(batches, extra=evil))
    ds = load("cifar10", normalize="none", progress=False)
    images = np.concatenate([batches[f"data_batch_{i}.bin"][0] for i in range(1, 6)])
    np.testing.assert_array_equal(ds.x_train, images)
    np.testing.assert_array_equal(ds.y_val, batches["test_batch.bin"][1])
    assert ds.input_shape == (3, 32, 32) and ds.class_names[0] == "airplane"
    assert not list(tmp_path.rglob("escaped.bin")) and "cifar10/decoded.npz" in cache_files(isolated_cache)


def test_a_cifar_archive_missing_a_batch_is_an_error(mirror, cifar_tar_gz):
    batch = (np.zeros((1, 3, 32, 32), np.uint8), np.zeros(1, int))
    mirror.publish("cifar10", "cifar-10-binary.tar.gz", cifar_tar_gz({"data_batch_1.bin": batch}))
    with pytest.raises(DataError, match=r"archive lacks data_batch_2\.bin"):
        load("cifar10", progress=False)


def test_a_checksum_mismatch_is_an_error_and_leaves_nothing_in_the_cache(mirror, isolated_cache, idx_gz):
    mirror.publish("mnist", "train-images-idx3-ubyte.gz", idx_gz(np.zeros((2, 28, 28))), sha256="0" * 64)
    with pytest.raises(DataError) as caught:
        load("mnist", progress=False)
    message = str(caught.value)
    assert "checksum mismatch" in message and f"{mirror.url}/mnist/train-images-idx3-ubyte.gz" in message
    assert "0" * 64 in message and cache_files(isolated_cache) == []


def test_an_unreachable_mirror_names_the_url_and_where_to_put_files(isolated_cache):
    url = os.environ["DL_LAB_MIRROR"]
    with pytest.raises(DataError) as caught:
        load("cifar10", progress=False)
    message = str(caught.value)
    assert f"{url}/cifar10/cifar-10-binary.tar.gz" in message
    assert str(isolated_cache / "cifar10") in message and "cifar-10-binary.tar.gz" in message
    assert cache_files(isolated_cache) == []


def test_a_missing_file_on_the_mirror_is_reported_like_no_network(mirror):
    with pytest.raises(
        DataError, match=r"could not download train-images-idx3-ubyte\.gz from .*\(HTTP 404 File not found\)"
    ):
        load("mnist", progress=False)


def test_files_put_in_the_cache_by_hand_are_verified_and_used_offline(isolated_cache, monkeypatch, cifar_tar_gz):
    data = cifar_tar_gz({})
    folder = isolated_cache / "cifar10"
    folder.mkdir(parents=True)
    (folder / "cifar-10-binary.tar.gz").write_bytes(data)
    with pytest.raises(DataError, match=r"does not match its sha256 .*; delete it and retry"):
        download("cifar10", progress=False)
    monkeypatch.setitem(SHA256["cifar10"], "cifar-10-binary.tar.gz", hashlib.sha256(data).hexdigest())
    assert download("cifar10", progress=False) == folder  # the mirror is unreachable: no download tried


def test_the_progress_callback_gets_bytes_so_far_and_the_total(tiny_mnist):
    calls = []
    load("mnist", progress=lambda done, total: calls.append((done, total)))
    assert calls and all(done <= total for done, total in calls if total)
    finals = [call for call in calls if call[0] == call[1]]
    assert len(finals) >= 4  # each file ends with done == total


def test_the_default_progress_bar_draws_on_stderr(tiny_mnist, capsys):
    load("mnist")
    err = capsys.readouterr().err
    assert "mnist/train-images-idx3-ubyte.gz [" in err and "100%" in err
    assert err.count("\n") == 4  # one finished line per file


def test_an_unusable_cache_folder_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DL_LAB_CACHE", str(blocker))
    with pytest.raises(DataError, match=r"cannot create the cache folder .*set DL_LAB_CACHE to a writable folder"):
        load("mnist", progress=False)


def test_plain_http_mirrors_are_refused_outside_localhost(monkeypatch):
    monkeypatch.setenv("DL_LAB_MIRROR", "http://example.com/data")
    with pytest.raises(DataError, match=r"DL_LAB_MIRROR: expected an https:// URL"):
        load("mnist", progress=False)


def test_built_in_sources_are_https_with_a_sha256_for_every_file():
    for dataset, bases in MIRRORS.items():
        assert bases and all(base.startswith("https://") and base.endswith("/") for base in bases)
        assert all(len(digest) == 64 and int(digest, 16) >= 0 for digest in SHA256[dataset].values())


def test_list_datasets_reports_a_downloaded_set_as_available_offline(tiny_mnist):
    offline = {row.name: row.offline for row in list_datasets()}
    assert offline["mnist"] is False
    load("mnist", progress=False)
    assert {row.name: row.offline for row in list_datasets()}["mnist"] is True


@pytest.mark.network
def test_real_mnist_downloads_from_the_built_in_mirrors(monkeypatch):
    monkeypatch.delenv("DL_LAB_MIRROR")
    ds = load("mnist", progress=False)
    assert len(ds.y_train) == 60000 and len(ds.y_val) == 10000
