"""The sweep file (sessions/sweeps/config.py): strict validation naming the key, the space as Optuna
distributions, a trial's parameters as --set overrides of the base session, and a grid sweep's combinations."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dl_lab.core.errors import DLLabError
from dl_lab.sessions.sweeps.config import SweepError, format_value, load_sweep, overrides

SESSION = """\
name: tiny
seed: 1
data: {dataset: spiral, samples: 100}
model:
  - dense: {units: 8, activation: relu}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.01}
training: {epochs: 1, batch_size: 16}
"""

SWEEP = """\
session: tiny.yaml
metric: {name: val_acc, goal: max}
sampler: tpe
pruner: median
trials: 20
space:
  optimizer.lr: {loguniform: [1.0e-4, 1.0e-1]}
  model[0].dense.units: {choice: [8, 16, 32, 64]}
  training.batch_size: {int: [8, 128], log: true}
  regularization.l2: {uniform: [0.0, 1.0e-3]}
"""


def write(tmp_path: Path, text: str, name: str = "search.yaml") -> Path:
    (tmp_path / "tiny.yaml").write_text(SESSION)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_issue_example_maps_onto_optuna_distributions(tmp_path):
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    config = load_sweep(write(tmp_path, SWEEP))
    assert (config.name, config.metric, config.goal, config.direction) == ("search", "val_acc", "max", "maximize")
    assert (config.sampler, config.pruner, config.trials, config.timeout_s) == ("tpe", "median", 20, None)
    d = config.distributions()
    assert d["optimizer.lr"] == FloatDistribution(1e-4, 0.1, log=True)
    assert d["model[0].dense.units"] == CategoricalDistribution([8, 16, 32, 64])
    assert d["training.batch_size"] == IntDistribution(8, 128, log=True)
    assert d["regularization.l2"] == FloatDistribution(0.0, 1e-3, log=False)


def test_a_trials_params_become_set_overrides_of_the_base_session(tmp_path):
    config = load_sweep(write(tmp_path, SWEEP))
    params = {"optimizer.lr": 1e-05, "model[0].dense.units": 16, "training.batch_size": 9, "regularization.l2": 0.0}
    assert overrides(params) == [
        "optimizer.lr=1.0e-05",
        "model[0].dense.units=16",
        "training.batch_size=9",
        "regularization.l2=0.0",
    ]
    spec = config.trial_session(params).spec
    assert spec["optimizer"]["lr"] == 1e-05 and spec["model"][0]["dense"]["units"] == 16
    assert spec["training"]["batch_size"] == 9 and spec["regularization"]["l2"] == 0.0
    assert spec["training"]["epochs"] == 1  # the rest is the base session's


@pytest.mark.parametrize("value", [1e-05, 0.001, 3.5e20, 2.0, 7, True, "relu", "1e3", None])
def test_values_round_trip_through_set(value):
    from dl_lab.sessions.config.session import apply_overrides

    assert apply_overrides({}, [f"x={format_value(value)}"])["x"] == value


def test_a_preset_name_is_a_session(tmp_path):
    config = load_sweep(write(tmp_path, SWEEP.replace("session: tiny.yaml", "session: spiral")))
    assert config.session.name == "spiral"


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (("trials: 20", "trials: 20\nworkers: 3"), "unknown key 'workers'"),
        (("session: tiny.yaml", "session: nowhere"), "session: 'nowhere': no such session file"),
        (("session: tiny.yaml", "session: missing.yaml"), "session:"),
        (("goal: max", "goal: up"), "metric.goal: 'up' is not max or min"),
        (("name: val_acc", "name: accuracy"), "metric.name: 'accuracy' is not an epoch metric"),
        (("sampler: tpe", "sampler: cmaes"), "sampler: 'cmaes' is not one of grid, random, tpe"),
        (("pruner: median", "pruner: asha"), "pruner: 'asha' is not one of none, median, hyperband"),
        (("trials: 20", "trials: 0"), "trials: 0 is not a whole number"),
        (("trials: 20", "timeout_s: -5"), "timeout_s: -5 is not a positive number"),
        (("optimizer.lr:", "optimizer.rate:"), "space.optimizer.rate: the base session has no 'rate' in optimizer"),
        (("model[0].dense.units:", "model[5].dense.units:"), "space.model[5].dense.units: the base session's model"),
        (("model[0].dense.units:", "model[0].conv2d.units:"), "space.model[0].conv2d.units: the base session has no"),
        (("[1.0e-4, 1.0e-1]", "[0.1, 0.01]"), "space.optimizer.lr: loguniform: the range [0.1, 0.01] is empty"),
        (("[1.0e-4, 1.0e-1]", "[0.0, 0.1]"), "space.optimizer.lr: a log range starts above 0"),
        (("{uniform: [0.0, 1.0e-3]}", "{uniform: [1.0e-3, 1.0e-3]}"), "space.regularization.l2: uniform: the range"),
        (("[8, 16, 32, 64]", "[]"), "space.model[0].dense.units: choice: a non-empty list"),
        (("[8, 16, 32, 64]", "[8, -3]"), "space.model[0].dense.units: -3 does not fit the session"),
        (("[8, 128], log: true", "[8, 128.5]"), "space.training.batch_size: int: the bounds are whole numbers"),
        (("{uniform: [0.0, 1.0e-3]}", "{normal: [0.0, 1.0]}"), "space.regularization.l2: give exactly one of"),
        (("{uniform: [0.0, 1.0e-3]}", "{uniform: [0.0, 1.0e-3], log: true}"), "space.regularization.l2: log:"),
        (("goal: max}", "goal: max, mode: best}"), "metric: expected {name: val_acc, goal: max}"),
    ],
)
def test_each_error_names_the_file_and_key(tmp_path, edit, says):
    old, new = edit
    assert old in SWEEP
    path = write(tmp_path, SWEEP.replace(old, new))
    with pytest.raises(SweepError) as info:
        load_sweep(path)
    assert isinstance(info.value, DLLabError)
    assert str(path) in str(info.value)
    assert says in str(info.value)


def test_a_missing_or_empty_space(tmp_path):
    with pytest.raises(SweepError, match="space: missing"):
        load_sweep(write(tmp_path, SWEEP.split("space:")[0]))
    with pytest.raises(SweepError, match="space: a mapping"):
        load_sweep(write(tmp_path, SWEEP.split("space:")[0] + "space: {}\n"))
    with pytest.raises(SweepError, match=r"absent\.yaml: no such sweep file"):
        load_sweep(tmp_path / "absent.yaml")


def test_the_grid_sampler_needs_values_and_says_which_key(tmp_path):
    with pytest.raises(SweepError, match=r"space\.optimizer\.lr: a loguniform range has no grid"):
        load_sweep(write(tmp_path, SWEEP.replace("sampler: tpe", "sampler: grid")))
    grid = """\
session: tiny.yaml
metric: {name: val_loss, goal: min}
sampler: grid
space:
  optimizer.lr: {choice: [0.01, 0.1]}
  training.batch_size: {int: [15, 16]}
"""
    config = load_sweep(write(tmp_path, grid))
    assert config.grid() == {"optimizer.lr": [0.01, 0.1], "training.batch_size": [15, 16]}
    assert config.grid_size() == 4 and config.direction == "minimize"


def test_a_grid_sweep_runs_each_combination_once(tmp_path):
    """A 2x2 grid with no trials: given: exactly its 4 combinations, each a recorded run (one worker, in process)."""
    from dl_lab.sessions.sweeps import study as sweeps

    grid = """\
session: tiny.yaml
metric: {name: val_loss, goal: min}
sampler: grid
space:
  optimizer.lr: {choice: [0.01, 0.1]}
  model[0].dense.units: {choice: [2, 4]}
"""
    path = write(tmp_path, grid, "grid.yaml")
    out = tmp_path / "out"
    out.mkdir()
    assert sweeps.work(sweeps.Worker(load_sweep(path), out)) == 4
    assert sweeps.work(sweeps.Worker(load_sweep(path), out)) == 0  # the grid is done: nothing more to ask
    study, _ = sweeps.open_status(str(out), None)
    records = sweeps.trial_records(study)
    combos = {(r["params"]["optimizer.lr"], r["params"]["model[0].dense.units"]) for r in records}
    assert combos == {(0.01, 2), (0.01, 4), (0.1, 2), (0.1, 4)} and len(records) == 4
    assert all(r["state"] == "COMPLETE" and math.isfinite(r["value"]) for r in records)
    for r in records:
        assert (Path(r["run_dir"]) / "summary.json").is_file()


def test_a_diverged_run_is_a_failed_trial_and_the_sweep_goes_on(tmp_path):
    from dl_lab.sessions.sweeps import study as sweeps

    (tmp_path / "sgd.yaml").write_text(SESSION.replace("name: adam", "name: sgd"))
    text = """\
session: sgd.yaml
metric: {name: val_loss, goal: min}
sampler: random
trials: 2
space:
  optimizer.lr: {choice: [1.0e+6]}
"""
    path = write(tmp_path, text, "diverge.yaml")
    out = tmp_path / "out"
    out.mkdir()
    assert sweeps.work(sweeps.Worker(load_sweep(path), out)) == 2
    study, _ = sweeps.open_status(str(out), None)
    records = sweeps.trial_records(study)
    assert [r["state"] for r in records] == ["FAIL", "FAIL"]
    assert all("exploded" in r["message"] or "not finite" in r["message"] for r in records)
    assert sweeps.best_record(study, records) is None
    assert all((Path(r["run_dir"]) / "summary.json").is_file() for r in records)


def test_a_timeout_alone_bounds_the_sweep_and_stale_trials_fail(tmp_path):
    import time

    from dl_lab.sessions.sweeps import study as sweeps

    text = SWEEP.replace("trials: 20\n", "timeout_s: 60\n").replace("sampler: tpe", "sampler: random")
    path = write(tmp_path, text)
    out = tmp_path / "out"
    out.mkdir()
    assert sweeps.budget_of(load_sweep(path), None) is None
    start = time.time()  # no new trial after the deadline
    assert sweeps.work(sweeps.Worker(load_sweep(path), out, deadline=start + 0.3)) >= 1
    assert time.time() - start < 5

    study, _ = sweeps.open_status(str(out), None)
    done = sweeps.counted(study)
    left = study.ask()  # as a killed sweep leaves it: RUNNING in the journal, no heartbeat to end it
    assert sweeps.counted(study) == done + 1
    assert sweeps.fail_stale(study) == 1
    frozen = study.get_trials()[left.number]
    assert frozen.state.name == "FAIL" and frozen.user_attrs[sweeps.INTERRUPTED] is True
    assert sweeps.counted(study) == done  # an interrupted trial is not counted in the budget


def test_the_study_keeps_its_sweep_for_workers_without_the_file(tmp_path):
    """A worker elsewhere has only the storage: the study holds the sweep file and its base session whole, the
    sweep read back from it searches the same space on the same session; another sweep of the same name is
    refused."""
    from dl_lab.sessions.sweeps import study as sweeps

    path = write(tmp_path, SWEEP)
    config = load_sweep(path)
    out = tmp_path / "out"
    out.mkdir()
    study = sweeps.open_study(config, sweeps.storage(out, None))
    (tmp_path / "tiny.yaml").unlink()  # not needed any more: the study has the session
    again = sweeps.stored_sweep(study)
    assert again.name == config.name == "search"
    assert again.space == config.space and again.session.spec == config.session.spec
    assert (again.metric, again.goal, again.sampler, again.pruner) == (config.metric, config.goal, "tpe", "median")
    assert sweeps.open_study(again, sweeps.storage(out, None)).study_name == "search"  # the same sweep: welcome

    (tmp_path / "tiny.yaml").write_text(SESSION.replace("units: 8", "units: 5"))
    with pytest.raises(SweepError, match="holds another sweep of that name"):
        sweeps.open_study(load_sweep(path), sweeps.storage(out, None))
    longer = write(tmp_path, SWEEP.replace("trials: 20", "trials: 40"), "search.yaml")
    (tmp_path / "tiny.yaml").write_text(SESSION)
    sweeps.open_study(load_sweep(longer), sweeps.storage(out, None))  # a new budget is the same sweep


def test_a_session_may_be_written_inline(tmp_path):
    import yaml

    inline = SWEEP.replace("session: tiny.yaml", "session:\n" + "".join(f"  {line}\n" for line in SESSION.splitlines()))
    config = load_sweep(write(tmp_path, inline))
    assert config.session.spec["model"][0]["dense"]["units"] == 8
    assert yaml.safe_load(inline)["session"]["name"] == "tiny"
    with pytest.raises(SweepError, match="session"):
        load_sweep(write(tmp_path, SWEEP.replace("session: tiny.yaml", "session: {model: 3}"), "bad.yaml"))
