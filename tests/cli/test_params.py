"""Text and path values are read without Pydantic (cli/params.py) and come out as Typer's own coercion reads them."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer._coercion import build_runtime_param, resolve_type_descriptor
from typer.core import TyperOption

from dl_lab.cli.params import PlainRuntimeParam, plain_coercion


def descriptor(annotation, **info):
    return resolve_type_descriptor(annotation, typer.Option(**info))


def option(multiple: bool = False) -> TyperOption:
    return TyperOption(param_decls=["--x"], type_descriptor=descriptor(str), multiple=multiple)


@pytest.mark.parametrize(
    ("annotation", "values"),
    [
        (str, ["spiral", "", "a b=c", b"bytes"]),
        (Path, ["runs", "some/where/run-1", Path("a/b")]),
        (list[str], [["optimizer.lr=0.1", "training.epochs=3"], ("x",)]),
        (list[Path], [["runs/a", "runs/b"], ("c",)]),
    ],
)
def test_plain_values_come_out_as_typer_reads_them(annotation, values):
    d = descriptor(annotation)
    plain, typer_own = plain_coercion(d), build_runtime_param(d)
    assert isinstance(plain, PlainRuntimeParam)
    param = option(multiple=annotation in (list[str], list[Path]))
    for value in values:
        got, expected = plain.coerce(value, param=param, ctx=None), typer_own.coerce(value, param=param, ctx=None)
        assert got == expected and type(got) is type(expected)
        if isinstance(got, list):
            assert [type(v) for v in got] == [type(v) for v in expected]


def test_typer_s_path_checks_still_apply(tmp_path):
    d = descriptor(Path, exists=True, dir_okay=False)
    plain = plain_coercion(d)
    with pytest.raises(typer.BadParameter, match="does not exist"):
        plain.coerce(str(tmp_path / "missing"), param=option(), ctx=None)
    with pytest.raises(typer.BadParameter, match="is a directory"):
        plain.coerce(str(tmp_path), param=option(), ctx=None)


@pytest.mark.parametrize("annotation", [int, float, bool, int | None, list[int]])
def test_numbers_and_flags_keep_typer_s_own_checks(annotation):
    assert plain_coercion(descriptor(annotation)) is None


def test_a_command_reads_its_text_and_paths_through_the_plain_coercion():
    from typer.testing import CliRunner

    from dl_lab.cli.main import app

    result = CliRunner().invoke(app, ["runs", "--dir", "no-such-folder"])
    assert result.exit_code == 2 and "--dir no-such-folder: no such folder" in result.output
    result = CliRunner().invoke(app, ["runs", "--sort", "nonsense"])
    assert result.exit_code == 2 and "--sort: expected one of" in result.output
    result = CliRunner().invoke(app, ["run", "spiral", "--epochs", "many"])
    assert result.exit_code == 2 and "'--epochs'" in result.output and "valid integer" in result.output  # Typer's
