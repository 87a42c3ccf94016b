"""The command palette's settings, the build screen's pickers (layer kinds, presets), the open dialog's completion,
and the key help (`?`): the screen's keys first, the run panes' terms under them."""

from __future__ import annotations

import os

from lab_runs import tiny_session, wait_for
from rich.console import Console
from textual.widgets import Input, OptionList, Static
from textual.widgets._key_panel import BindingsTable
from typer.testing import CliRunner

from dl_lab.sessions import PRESETS
from dl_lab.sessions.config.presets import ORDER, course_order
from dl_lab.tui.app import make_app
from dl_lab.tui.commands import commands, settings
from dl_lab.tui.dialogs.build_dialogs import ChoiceDialog, PathDialog, completed, path_matches
from dl_lab.tui.widgets.forms import OptionField

SMALL = (80, 24)


def palette_titles(app) -> set[str]:
    return {c.title for c in commands(app)}


# --- 1. the palette finds settings by name -------------------------------------------------------------------
def test_the_palette_offers_the_build_screen_s_settings_by_name(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    titles = palette_titles(app)
    for title in (
        "Setting: learning rate (training pane)",
        "Setting: seed (training pane)",
        "Setting: epochs (training pane)",
        "Setting: batch size (training pane)",
        "Setting: optimizer (training pane)",
        "Setting: dataset (data pane)",
        "Setting: noise (data pane)",
    ):
        assert title in titles
    wheres = {s.where for s in settings()}
    assert {"optimizer.lr", "training.epochs", "data.noise", "seed"} <= wheres  # read off the declarations


def focused_where(app) -> str | None:
    focused = app.screen.focused
    field = next((w for w in focused.ancestors_with_self if isinstance(w, OptionField)), None) if focused else None
    return None if field is None else field.where


async def palette_run(app, pilot, words: str, title: str) -> None:
    await pilot.press("ctrl+p", *words)

    def highlighted() -> str | None:
        found = app.screen.query("CommandList")
        option = found.first().highlighted_option if found else None
        return None if option is None else str(option.hit.text)

    await wait_for(pilot, lambda: highlighted() == title, what=title)
    await pilot.press("enter")


async def test_a_setting_chosen_in_the_palette_is_focused_on_the_build_screen(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=SMALL) as pilot:
        await palette_run(app, pilot, "learning rate", "Setting: learning rate (training pane)")
        await wait_for(pilot, lambda: focused_where(app) == "optimizer.lr", what="the learning rate's field")
        assert app.current_mode == "build" and app.screen.section == "training"
        await palette_run(app, pilot, "noise", "Setting: noise (data pane)")
        await wait_for(pilot, lambda: focused_where(app) == "data.noise", what="the noise field")
        assert app.screen.section == "data"
        await palette_run(app, pilot, "dataset", "Setting: dataset (data pane)")
        await wait_for(pilot, lambda: getattr(app.screen.focused, "id", None) == "dataset", what="the dataset")


# --- 2. the layer picker opens at the top, with a cursor ---------------------------------------------------
async def test_the_layer_picker_opens_at_the_top_with_a_visible_cursor(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        app.screen.last_kind = "dropout"  # as after adding a dropout layer
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the layer picker")
        await pilot.pause()
        choices = app.screen.query_one(OptionList)
        assert choices.highlighted == 0 and app.screen.focused is choices
        cursor, other = choices.render_line(0), choices.render_line(1)
        backgrounds = {s.style.bgcolor for s in cursor if s.text.strip()}
        assert backgrounds and backgrounds.isdisjoint({s.style.bgcolor for s in other if s.text.strip()})


# --- 3. presets: the course's order, a line each ------------------------------------------------------------
def test_presets_come_in_the_course_s_order_declared_once():
    assert list(PRESETS) == [name for name in ORDER if name in PRESETS]
    assert [name for name in PRESETS if name in ("perceptron", "adaline", "logistic_regression", "xor")] == [
        "perceptron",
        "adaline",
        "logistic_regression",
        "xor",
    ]
    assert course_order(["zeta", "alpha", "xor", "perceptron"]) == ["perceptron", "xor", "alpha", "zeta"]


def test_dl_lab_new_list_shows_the_presets_in_the_course_s_order():
    from dl_lab.cli.main import app

    output = CliRunner().invoke(app, ["new", "--list"], env={"COLUMNS": "200"}).output
    shown = sorted(PRESETS, key=lambda name: output.index(f" {name} "))
    assert shown == list(PRESETS)  # the course's order, checked against ORDER above


async def test_the_preset_picker_shows_a_line_per_preset_cut_to_the_dialog(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), what="the preset picker")
        await pilot.pause()
        choices = app.screen.query_one(OptionList)
        assert choices.virtual_size.height == choices.option_count == len(PRESETS)  # one line each, none wraps
        first = "".join(s.text for s in choices.render_line(0))
        assert "mcculloch_pitts" in first and first.rstrip().endswith("…")  # the course's first model comes first
        assert choices.get_option_at_index(0).id == "mcculloch_pitts" and choices.highlighted == 0


# --- 4. the open dialog completes paths --------------------------------------------------------------------
def make_files(folder):
    (folder / "sessions").mkdir()
    for name in ("spiral_a.yaml", "spiral_b.yaml", "notes.txt", ".hidden.yaml"):
        (folder / "sessions" / name).write_text("name: x\n")
    (folder / "spirals").mkdir()


def test_path_matches_are_folders_and_session_files_and_tab_completes_their_common_prefix(tmp_path):
    make_files(tmp_path)
    base = f"{tmp_path}/"
    assert path_matches(f"{base}s") == [f"{base}sessions/", f"{base}spirals/"]
    assert path_matches(f"{base}sessions/") == [f"{base}sessions/spiral_a.yaml", f"{base}sessions/spiral_b.yaml"]
    assert completed(f"{base}se") == f"{base}sessions/"
    assert completed(f"{base}sessions/s") == f"{base}sessions/spiral_"
    assert completed(f"{base}nothing") == f"{base}nothing"
    assert path_matches(f"{base}missing/x") == []


async def test_the_open_dialog_lists_matches_as_you_type_and_tab_completes(tmp_path):
    make_files(tmp_path)
    app = make_app(tiny_session(), runs_root=tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        results = []
        app.push_screen(PathDialog("open a session file", f"{tmp_path}/se"), results.append)
        await pilot.pause()
        field = app.screen.query_one("#path", Input)
        await pilot.press("tab")
        assert field.value == f"{tmp_path}/sessions/" and app.screen.focused is field
        await pilot.press("s", "tab")
        assert field.value == f"{tmp_path}/sessions/spiral_"
        listed = str(app.screen.query_one("#path-matches", Static).render())
        assert "spiral_a.yaml" in listed and "spiral_b.yaml" in listed and "notes.txt" not in listed
        await pilot.press("b")
        await pilot.pause()
        listed = str(app.screen.query_one("#path-matches", Static).render())
        assert "spiral_b.yaml" in listed and "spiral_a.yaml" not in listed
        await pilot.press("tab", "enter")
        assert results == [f"{tmp_path}/sessions/spiral_b.yaml"]


# --- 5. the key help: the screen's keys first, the panes' terms --------------------------------------------
def key_rows(app) -> list[str]:
    console = Console(width=60, record=True, file=open(os.devnull, "w"))  # noqa: SIM115 - the console's sink
    console.print(app.screen.query_one(BindingsTable).render())
    return [" ".join(line.split()) for line in console.export_text().splitlines() if line.strip()]


async def test_the_key_help_shows_the_build_screen_s_keys_first_at_80x24(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen.query(BindingsTable), what="the key help")
        await pilot.pause()
        rows = key_rows(app)
        assert rows[0] == "a Add a layer"
        text = "\n".join(rows)
        assert "Focus" not in text and "Copy" not in text and "Scroll" not in text and "Page" not in text
        assert not app.screen.query("#glossary")  # the run panes' terms are the training screen's


async def test_the_key_help_explains_the_run_panes_terms_on_the_training_screen(tmp_path):
    app = make_app(tiny_session(), runs_root=tmp_path, mode="train")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen.query("#glossary"), what="the glossary")
        glossary = str(app.screen.query_one("#glossary", Static).render())
        for term in ("update/weight", "dead units", "‖∇W‖"):
            assert term in glossary
        assert key_rows(app)[0].startswith("space Run")
