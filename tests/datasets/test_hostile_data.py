"""Hostile data: special files, huge or non-CSV files, values float32 cannot hold, crafted caches, slow mirrors.

Each is refused with one DataError naming the file (and row and column where they apply), promptly.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from dl_lab.datasets import SHA256, DataError, load
from dl_lab.datasets.images import DECODED

SECRET = "s3cr3t-hash"


def in_thread(fn, seconds: float = 10.0):
    """fn()'s result or exception, or pytest.fail if it is still running after ``seconds``."""
    box: list = []

    def run() -> None:
        try:
            box.append(("ok", fn()))
        except BaseException as error:  # handed to the test's thread
            box.append(("error", error))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds} s")
    return box[0]


# ---- files that are not regular files -------------------------------------------------------------------


def test_a_fifo_as_the_training_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "train.csv")
    try:
        kind, error = in_thread(lambda: load("csv", train="train.csv", base_dir=tmp_path), 5)
    finally:
        fd = os.open(tmp_path / "train.csv", os.O_RDWR | os.O_NONBLOCK)  # releases a reader blocked in open()
        os.close(fd)
    assert kind == "error" and isinstance(error, DataError), error
    assert str(error) == f"train.csv: {tmp_path / 'train.csv'} is not a regular file (a FIFO); expected a CSV file"


def test_dev_zero_as_the_training_file_is_refused_at_once():
    kind, error = in_thread(lambda: load("csv", train="/dev/zero"), 5)
    assert kind == "error" and isinstance(error, DataError), error
    assert str(error) == "/dev/zero: /dev/zero is not a regular file (a device); expected a CSV file"


def test_a_folder_as_the_training_file_is_refused(tmp_path):
    with pytest.raises(DataError, match=r"is not a regular file \(a folder\)"):
        load("csv", train=str(tmp_path))


def test_a_csv_over_the_size_limit_is_refused_without_reading_it(tmp_path, monkeypatch):
    from dl_lab.datasets import csvfile

    monkeypatch.setattr(csvfile, "MAX_BYTES", 1 << 10)
    (tmp_path / "big.csv").write_text("a,target\n" + "1,0\n" * 1000)
    with pytest.raises(DataError, match=r"^big\.csv: .*big\.csv is 0\.0 GiB; CSV files are read whole, up to 0 GiB"):
        load("csv", train="big.csv", base_dir=tmp_path)


# ---- contents ---------------------------------------------------------------------------------------


def test_a_feature_float32_cannot_hold_names_row_and_column(tmp_path):
    (tmp_path / "t.csv").write_text("x1,x2,target\n1,2,0\n3,1e39,1\n5,6,0\n7,8,1\n")
    with pytest.raises(DataError, match=r"^t\.csv: row 3, column 'x2': 1e\+39 is beyond the range of float32"):
        load("csv", train="t.csv", base_dir=tmp_path)
    assert load("csv", train="t.csv", base_dir=tmp_path, dtype="float64").x_train.max() == 1e39


def test_a_regression_target_float32_cannot_hold_names_row_and_column(tmp_path):
    (tmp_path / "t.csv").write_text("x,y\n1,2\n2,3\n3,1e200\n4,5\n")
    with pytest.raises(DataError, match=r"^t\.csv: row 4, column 'y': 1e\+200 is beyond the range of float32"):
        load("csv", train="t.csv", target="y", task="regression", base_dir=tmp_path)
    (tmp_path / "v.csv").write_text("x,y\n1,2\n-1e300,3\n")
    with pytest.raises(DataError, match=r"^v\.csv: row 3, column 'x': -1e\+300 is beyond"):
        load("csv", train="t.csv", val="v.csv", target="y", task="regression", base_dir=tmp_path)
    with pytest.raises(DataError, match=r"^v\.csv: row 3, column 'x': -1e\+300 is beyond"):
        load("csv", train="v.csv", target="y", task="regression", base_dir=tmp_path)


def test_a_field_over_the_csv_limit_names_its_row(tmp_path):
    (tmp_path / "t.csv").write_text('a,target\n1,0\n2,"' + "x" * 200_000 + '"\n3,1\n')
    with pytest.raises(DataError, match=r"^t\.csv: row 3: a value longer than 131,072 characters"):
        load("csv", train="t.csv", base_dir=tmp_path)


SHADOW = f"root:{SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nuser:{SECRET}2:19000:0:99999:7:::\n"


@pytest.mark.parametrize(
    ("text", "a_table"),
    [
        (SHADOW, False),  # one field a line: no CSV header
        (f"{SECRET},x\nroot:{SECRET}\n", False),  # a "header" of two fields, then rows of another width
        (f"\x00{SECRET}\n", False),
        (f"{SECRET},{SECRET}\n1,2\n", True),  # parsed as a table: its header may be named
    ],
)
def test_a_file_that_is_not_a_csv_table_is_never_quoted(tmp_path, text, a_table):
    path = tmp_path / "elsewhere" / "shadow"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(DataError) as caught:
        load("csv", train=str(path), base_dir=tmp_path / "session")
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    told = message.replace(str(path), "<path>")
    if a_table:
        assert told == f"<path>: row 1: column names must be unique and non-empty, got ['{SECRET}']"
    else:
        assert SECRET not in told and "root" not in told and "daemon" not in told, told


def test_a_binary_file_is_refused_without_quoting_it(tmp_path):
    (tmp_path / "t.csv").write_bytes(b"\x1f\x8b\x08" + SECRET.encode())
    with pytest.raises(DataError, match=r"^t\.csv: .* is not UTF-8 text \(byte 1\); expected a CSV file$"):
        load("csv", train="t.csv", base_dir=tmp_path)


def test_a_long_bad_cell_is_quoted_shortened(tmp_path):
    (tmp_path / "t.csv").write_text("a,target\n1,0\n" + "y" * 500 + ",1\n")
    with pytest.raises(DataError) as caught:
        load("csv", train="t.csv", base_dir=tmp_path)
    assert str(caught.value) == f"t.csv: row 3, column 'a': expected a number, got '{'y' * 40}...'"


# ---- the decoded cache of a downloaded set ----------------------------------------------------------


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _crafted(tiny: dict, **changes) -> dict[str, np.ndarray]:
    arrays = {
        "x_train": tiny["x_train"][:, None],
        "y_train": tiny["y_train"].astype(np.int64),
        "x_test": tiny["x_test"][:, None],
        "y_test": tiny["y_test"].astype(np.int64),
        "sha256": np.array(list(SHA256["mnist"].values())),  # as if decoded from the files in the cache
    }
    return {**arrays, **changes}


def test_a_crafted_cache_is_checked_and_rebuilt_from_the_raw_files(tiny_mnist, isolated_cache, go_offline, capsys):
    load("mnist", progress=False)
    decoded = isolated_cache / "mnist" / DECODED
    go_offline()
    wrong = [
        ({"y_train": np.full(40, 200, np.int64)}, "y_train holds label 200, expected 0..9"),
        ({"x_train": tiny_mnist["x_train"]}, "x_train is uint8 (40, 28, 28), expected uint8 (N, (1, 28, 28))"),
        ({"x_train": tiny_mnist["x_train"][:, None].astype(np.float64)}, "x_train is float64 (40, 1, 28, 28)"),
        ({"y_test": np.arange(9, dtype=np.int64)}, "10 test images for 9 labels"),
        ({"x_test": np.zeros((60001, 1, 28, 28), np.uint8)}, "x_test holds 60001 items, expected at most 10000"),
        ({"sha256": np.array(["0" * 64] * 4)}, "was decoded from other files"),
        ({"extra": np.zeros(1)}, "holds ["),
    ]
    for changes, reason in wrong:
        decoded.write_bytes(_npz(_crafted(tiny_mnist, **changes)))
        ds = load("mnist", normalize="none")
        np.testing.assert_array_equal(ds.y_train, tiny_mnist["y_train"])
        np.testing.assert_array_equal(ds.x_train[:, 0], tiny_mnist["x_train"])
        err = capsys.readouterr().err
        assert f"mnist: {decoded} is not a valid cache (" in err and reason in err, err
    np.testing.assert_array_equal(load("mnist").y_val, tiny_mnist["y_test"])  # rebuilt: valid again
    assert capsys.readouterr().err == ""
    decoded.write_bytes(_npz({key: value for key, value in _crafted(tiny_mnist).items() if key != "sha256"}))
    np.testing.assert_array_equal(load("mnist").y_val, tiny_mnist["y_test"])
    assert capsys.readouterr().err == ""  # a cache from before the checks is rebuilt quietly


def test_a_cache_header_claiming_a_huge_array_is_refused_before_allocating(tiny_mnist, isolated_cache, go_offline):
    load("mnist", progress=False)
    decoded = isolated_cache / "mnist" / DECODED
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 1, 28, 28)})
    crafted = io.BytesIO()
    with zipfile.ZipFile(crafted, "w") as archive:
        for key, array in _crafted(tiny_mnist).items():
            if key == "x_train":
                continue
            member = io.BytesIO()
            np.save(member, array)
            archive.writestr(f"{key}.npy", member.getvalue())
        archive.writestr("x_train.npy", header.getvalue() + b"\x00" * 100)  # 713 TiB promised
    decoded.write_bytes(crafted.getvalue())
    go_offline()
    kind, ds = in_thread(lambda: load("mnist", progress=False), 10)
    assert kind == "ok", ds
    np.testing.assert_array_equal(ds.y_train, tiny_mnist["y_train"])


def test_a_cache_of_an_official_set_with_too_few_images_is_refused(isolated_cache, tiny_mnist):
    folder = isolated_cache / "cifar10"
    folder.mkdir(parents=True)
    small = {
        "x_train": np.zeros((3, 3, 32, 32), np.uint8),
        "y_train": np.zeros(3, np.int64),
        "x_test": np.zeros((1, 3, 32, 32), np.uint8),
        "y_test": np.zeros(1, np.int64),
    }
    (folder / DECODED).write_bytes(_npz(small))  # the built-in checksums: the real set of 50000 + 10000
    with pytest.raises(DataError, match=r"cifar10: could not download cifar-10-binary\.tar\.gz"):
        load("cifar10", progress=False)
    assert not (folder / DECODED).exists()


# ---- slow mirrors -----------------------------------------------------------------------------------


class _Trickle(BaseHTTPRequestHandler):
    """Promises a megabyte, then sends one byte every 20 ms until the server stops."""

    stop = threading.Event()

    def do_GET(self) -> None:  # the name http.server calls
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        try:
            while not self.stop.is_set():
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.02)
        except OSError:
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def slow_mirror(monkeypatch):
    _Trickle.stop = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("DL_LAB_MIRROR", url)
    yield url
    _Trickle.stop.set()
    server.shutdown()
    server.server_close()


def test_a_trickling_mirror_hits_the_overall_deadline_and_leaves_no_part_file(slow_mirror, isolated_cache, monkeypatch):
    monkeypatch.setenv("DL_LAB_DOWNLOAD_TIMEOUT", "0.5")
    start = time.monotonic()
    kind, error = in_thread(lambda: load("cifar10", progress=False), 10)
    assert kind == "error" and isinstance(error, DataError), error
    assert "DL_LAB_DOWNLOAD_TIMEOUT" in str(error) and "cifar-10-binary.tar.gz" in str(error)
    assert time.monotonic() - start < 5
    assert not list(isolated_cache.rglob("*.part"))


def test_a_bad_download_timeout_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DL_LAB_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(DataError, match=r"DL_LAB_DOWNLOAD_TIMEOUT: expected a number of seconds above 0, got 'soon'"):
        load("cifar10", progress=False)


def test_sigterm_during_a_download_leaves_no_part_file(slow_mirror, isolated_cache):
    script = "from dl_lab.datasets import load; load('cifar10', progress=False)"
    child = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ), stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not list(isolated_cache.rglob("*.part")):
            assert child.poll() is None and time.monotonic() < deadline, "no download started"
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        child.wait(10)
    finally:
        child.kill()
        child.wait()
    assert not list(isolated_cache.rglob("*.part"))
    assert child.returncode == 128 + signal.SIGTERM
