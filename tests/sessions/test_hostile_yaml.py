"""Hostile session files: each is refused with one message naming the file (and line), quickly, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from dl_lab.sessions import session_from_text
from dl_lab.sessions.config import yamlio
from dl_lab.sessions.config.session import apply_overrides, load_session
from dl_lab.sessions.errors import SessionError

BODY = """\
data: {dataset: circle, samples: 40}
model:
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 1, batch_size: 8}
"""


def billion_laughs() -> str:
    """10 levels of 9 aliases: 9**10 (3.5 billion) strings once expanded, in under 500 bytes."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_from_the_events_before_anything_expands(tmp_path):
    text = billion_laughs()
    assert len(text) < 500
    path = tmp_path / "laughs.yaml"
    path.write_text(text)
    start = time.perf_counter()
    with pytest.raises(SessionError, match=r"laughs\.yaml:1: an anchor \(&a\) is not allowed in a session file"):
        load_session(path)
    assert time.perf_counter() - start < 1.0


def test_an_alias_alone_is_refused_naming_its_line():
    text = "name: x\nseed: *s\n" + BODY
    with pytest.raises(SessionError, match=r"^<session>:2: an alias \(\*s\) is not allowed"):
        session_from_text(text)


def test_aliases_in_a_set_override_are_refused_too():
    with pytest.raises(SessionError, match=r"^--set seed=\[&a \[1\], \*a\]: an anchor \(&a\) is not allowed"):
        apply_overrides({}, ["seed=[&a [1], *a]"])


def test_deep_nesting_is_refused_with_a_message_not_a_recursion_error():
    text = "name: x\nseed: " + "[" * 500 + "]" * 500 + "\n"
    with pytest.raises(SessionError, match=rf"<session>:2: nested more than {yamlio.MAX_DEPTH} levels deep"):
        session_from_text(text)
    deep_block = "name: x\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(500))
    with pytest.raises(SessionError, match="nested more than"):
        session_from_text(deep_block)


def test_a_huge_session_file_is_refused_by_its_size(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: x\n" + "# padding\n" * 200_000)
    with pytest.raises(SessionError, match=r"big\.yaml: sessions are small; this file is 2\.0 MB"):
        load_session(path)


def test_a_session_of_a_million_values_is_refused_quickly():
    text = "name: x\nseed: [" + "1," * 500_000 + "1]\n"
    start = time.perf_counter()
    with pytest.raises(SessionError, match=r"^<session>:2: more than 100,000 values; a session holds a few hundred"):
        session_from_text(text)
    assert time.perf_counter() - start < 2.0


def test_libyaml_is_used_when_available_and_line_numbers_still_work():
    import yaml

    if yaml.__with_libyaml__:
        assert issubclass(yamlio.Loader, yaml.CSafeLoader)
    with pytest.raises(SessionError, match=r"^<session>:6: optimizer\.lr: "):
        session_from_text(
            "name: x\ndata: {dataset: circle}\nmodel: [{dense: {units: 2}}]\noptimizer:\n  name: adam\n  lr: -1\n"
        )


@pytest.mark.parametrize("name", ["_SafeLoader", "_CSafeLoader"])
def test_both_loaders_read_yaml_12_floats(name):
    import yaml

    if name == "_CSafeLoader" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML without libyaml")
    loader = getattr(yamlio, name)
    data = yaml.load("a: 1e-3\nb: 1E5\nc: -2.5e-4\nd: 1.0e5\ne: 3\nf: 1.5\ng: e5\nh: 1e\n", Loader=loader)
    assert data == {"a": 1e-3, "b": 1e5, "c": -2.5e-4, "d": 1e5, "e": 3, "f": 1.5, "g": "e5", "h": "1e"}
    assert isinstance(data["b"], float)


def test_lr_1e_3_is_the_number_the_user_meant_in_files_and_in_set():
    session = session_from_text("name: x\n" + BODY.replace("lr: 0.01", "lr: 1e-3"))
    assert session.spec["optimizer"]["lr"] == pytest.approx(1e-3)
    assert session.with_overrides(["optimizer.lr=2E-4"]).spec["optimizer"]["lr"] == pytest.approx(2e-4)


def test_a_name_that_reads_as_a_number_stays_the_text_written():
    assert session_from_text("name: 1e3\n" + BODY).name == "1e3"
    assert session_from_text("name: 2024\n" + BODY).name == "2024"
    assert session_from_text("name: '1e3'\n" + BODY).name == "1e3"
    assert session_from_text("name: x\n" + BODY).with_overrides(["name=1e3"]).name == "1e3"


def test_a_key_given_twice_names_both_lines():
    text = "name: x\n" + BODY + "seed: 1\noptimizer: {name: sgd}\n"
    with pytest.raises(SessionError, match=r"^<session>:8: optimizer: given twice, on lines 5 and 8$"):
        session_from_text(text)
    nested = "name: x\noptimizer:\n  name: adam\n  lr: 0.1\n  lr: 0.2\n"
    with pytest.raises(SessionError, match=r"<session>:5: optimizer\.lr: given twice, on lines 4 and 5"):
        session_from_text(nested)


def test_a_fifo_as_the_session_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "session.yaml"
    os.mkfifo(fifo)
    result: list[BaseException | None] = []

    def read() -> None:
        try:
            load_session(fifo)
            result.append(None)
        except BaseException as error:  # handed to the test's thread
            result.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # the old code blocks in open() waiting for a writer: release it
        with open(fifo, "w"):
            pass
        reader.join(5)
        pytest.fail("reading a FIFO blocked")
    assert isinstance(result[0], SessionError)
    assert str(result[0]) == f"{fifo}: not a regular file (a FIFO); a session is a YAML file"


def test_dev_zero_as_the_session_file_is_refused_at_once():
    start = time.perf_counter()
    with pytest.raises(SessionError, match=r"^/dev/zero: not a regular file \(a device\)"):
        load_session("/dev/zero")
    assert time.perf_counter() - start < 1.0


def test_the_cli_says_one_line_and_exits_2_for_a_billion_laughs(tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs())
    done = subprocess.run(
        [sys.executable, "-m", "dl_lab.cli.main", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DL_LAB_DEBUG": ""},
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"dl-lab: error: {path}:1: an anchor (&a) is not allowed in a session file; write the values out"
    ]
