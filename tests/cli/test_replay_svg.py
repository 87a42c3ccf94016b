"""`dl-lab replay RUN_DIR --headless --svg DIR`: the replay's curves, confusion matrix and decision boundary as SVG
files, drawn as the app draws its panes; the plain-text output unchanged; a folder it cannot write: exit status 2."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from recorded import record
from typer.testing import CliRunner

from dl_lab.cli.main import app

SVG = "{http://www.w3.org/2000/svg}"
TINY = """\
name: tiny
seed: 5
dtype: float64
data: {dataset: circle, samples: 120, noise: 0.1}
model: [{dense: {units: 6, activation: relu}}, {dense: {units: 2}}]
optimizer: {name: adam, lr: 0.03}
training: {epochs: 2, batch_size: 16}
monitor: {every_steps: 4, boundary_resolution: 16}
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    return record(tmp_path_factory.mktemp("runs") / "tiny", TINY)


def cli(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "100"})


def svg_text(path: Path) -> str:
    """The words of an SVG (its title and every line drawn), after checking that it parses."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return " ".join((t.text or "") for t in root.iter(f"{SVG}text")).replace("\xa0", " ")


def test_svg_writes_the_curves_the_confusion_matrix_and_the_boundary_into_a_new_folder(tiny_run, tmp_path):
    out = tmp_path / "new" / "pictures"
    plain = cli("replay", str(tiny_run), "--headless")
    drawn = cli("replay", str(tiny_run), "--headless", "--svg", str(out))
    assert drawn.exit_code == 0, drawn.output
    names = ("curves", "confusion", "boundary")
    assert drawn.stdout == plain.stdout + "".join(f"saved {out / name}.svg\n" for name in names)
    assert sorted(p.name for p in out.iterdir()) == ["boundary.svg", "confusion.svg", "curves.svg"]
    texts = {name: svg_text(out / f"{name}.svg") for name in names}
    assert texts["curves"].count("loss and accuracy") == 1  # the SVG's title; each pane's on its border
    assert re.search(r"╭─ +loss +─.*╭─ +accuracy +─", texts["curves"]) and "epoch" in texts["curves"]
    assert texts["confusion"].count("confusion (validation)") == 2 and "rows: true class" in texts["confusion"]
    assert texts["boundary"].count("decision boundary") == 2 and "train" in texts["boundary"]


def test_a_folder_it_cannot_write_is_one_message_and_exit_status_2(tiny_run, tmp_path):
    (tmp_path / "a-file").write_text("")
    for where, why in (
        (tmp_path / "a-file" / "pictures", "cannot write there (not a directory)"),
        (tmp_path / "a-file", "not a folder"),
        (tiny_run, "a run's folder"),
    ):
        refused = cli("replay", str(tiny_run), "--headless", "--svg", str(where))
        assert refused.exit_code == 2
        assert refused.output == f"dl-lab: error: --svg {where}: {why}" + refused.output.split(why, 1)[1]
        assert refused.output.count("\n") == 1  # one line, nothing printed before it
    assert not list(tiny_run.glob("*.svg")) and not (tiny_run / "pictures").exists()
    refused = cli("replay", str(tiny_run), "--svg", str(tmp_path / "pictures"))
    assert refused.exit_code == 2 and "goes with --headless" in refused.output
