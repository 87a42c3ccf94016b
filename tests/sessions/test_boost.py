"""AdaBoost of perceptrons (sessions/training/boost.py, a session's ``boost:``): the update against a two-round
example worked by hand, a recorded boosted run against the algorithm recomputed here from its perceptrons, the
session's checks, and a stopped boosted run that resumes where it stopped."""

from __future__ import annotations

import json
import math
from dataclasses import fields

import numpy as np
import pytest
from recorded import BOOSTED
from typer.testing import CliRunner

from dl_lab.cli.main import app
from dl_lab.sessions import Recorder, Trainer, open_run, session_from_text
from dl_lab.sessions.config import schema
from dl_lab.sessions.config.typed import BoostConfig
from dl_lab.sessions.errors import SessionError
from dl_lab.sessions.events import BoostRound, from_record, to_record
from dl_lab.sessions.runs.state import RunState
from dl_lab.sessions.training.boost import BoostTrainer, adaboost_step
from dl_lab.sessions.training.loop import resume_trainer, run_recorded


def boosted(*overrides: str):
    return session_from_text(BOOSTED).with_overrides(list(overrides))


def record(run_dir, session):
    trainer = Trainer(session)
    with Recorder(run_dir, trainer) as recorder:
        for event in trainer.run():
            recorder.record(event)
    return run_dir


def test_two_rounds_worked_by_hand():
    # Four points, y = (+1, +1, -1, -1). h_1 gets point 0 wrong, h_2 gets point 2 wrong.
    y = np.array([1.0, 1.0, -1.0, -1.0])
    h1 = np.array([-1.0, 1.0, -1.0, -1.0])
    h2 = np.array([1.0, 1.0, 1.0, -1.0])
    # Round 1: w_1 = 1/4 each; eps_1 = 1/4; alpha_1 = 1/2 ln(3/4 / 1/4) = 1/2 ln 3; e^alpha_1 = sqrt(3).
    # w_2 ~ (sqrt 3, 1/sqrt 3, 1/sqrt 3, 1/sqrt 3) / 4 ~ (3, 1, 1, 1): w_2 = (1/2, 1/6, 1/6, 1/6).
    eps, alpha, w2 = adaboost_step(np.full(4, 0.25), y, h1)
    assert eps == pytest.approx(0.25) and alpha == pytest.approx(0.5 * math.log(3.0))
    np.testing.assert_allclose(w2, [1 / 2, 1 / 6, 1 / 6, 1 / 6])
    # Round 2: eps_2 = w_2(2) = 1/6; alpha_2 = 1/2 ln(5/6 / 1/6) = 1/2 ln 5; e^alpha_2 = sqrt(5).
    # w_3 ~ (1/2 / sqrt 5, 1/6 / sqrt 5, 1/6 sqrt 5, 1/6 / sqrt 5), times 6 sqrt 5: (3, 1, 5, 1), over 10.
    eps, alpha, w3 = adaboost_step(w2, y, h2)
    assert eps == pytest.approx(1 / 6) and alpha == pytest.approx(0.5 * math.log(5.0))
    np.testing.assert_allclose(w3, [0.3, 0.1, 0.5, 0.1])
    # H_2 = sign(alpha_1 h_1 + alpha_2 h_2): ln 3 < ln 5, so where they disagree h_2 wins: (+1, +1, +1, -1).
    # A perfect learner still gets a finite vote.
    eps, alpha, w = adaboost_step(np.full(4, 0.25), y, y)
    assert eps > 0 and math.isfinite(alpha) and alpha > 10 and np.allclose(w, 0.25)


def test_a_boosted_run_records_each_round_as_adaboost_computes_it(tmp_path):
    session = boosted()
    run_dir = record(tmp_path / "run", session)
    trainer = Trainer(session)  # the same data, for the check
    assert isinstance(trainer, BoostTrainer)
    x = np.asarray(trainer.dataset.x_train, dtype=np.float64)
    y = np.where(np.asarray(trainer.dataset.y_train) > 0, 1.0, -1.0)
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    rounds = [r for r in records if r["event"] == "boost"]
    epochs = [r for r in records if r["event"] == "epoch"]
    assert [r["round"] for r in rounds] == [1, 2, 3] and [e["epoch"] for e in epochs] == [1, 2, 3]
    assert records[-1]["event"] == "end" and records[-1]["status"] == "completed"
    # each round: a perceptron, 2 epochs of 8 batches on its sample (80 training points)
    assert [r["step"] for r in rounds] == [16, 32, 48]
    w = np.full(len(y), 1.0 / len(y))
    f = np.zeros(len(y))
    for r, e in zip(rounds, epochs, strict=True):
        h = np.where(x @ np.asarray(r["weight"]) + r["bias"] > 0, 1.0, -1.0)
        eps = w[h != y].sum()
        alpha = 0.5 * math.log((1 - eps) / eps)
        w = w * np.exp(-alpha * y * h)
        w /= w.sum()
        f += alpha * h
        assert r["epsilon"] == pytest.approx(eps) and r["alpha"] == pytest.approx(alpha)
        np.testing.assert_allclose(r["sample_weights"], w, rtol=1e-9)
        assert r["learner_acc"] == pytest.approx(np.mean(h == y))
        assert r["train_acc"] == pytest.approx(np.mean((f > 0) == (y > 0))) == pytest.approx(e["train_acc"])
        assert r["exp_loss"] == pytest.approx(np.mean(np.exp(-y * f)))
        assert r["effective_size"] == pytest.approx(1 / np.sum(w * w))
    with np.load(run_dir / "checkpoints" / "boost.npz", allow_pickle=False) as npz:
        np.testing.assert_allclose(npz["alpha"], [r["alpha"] for r in rounds])
        np.testing.assert_allclose(npz["weight"], [r["weight"] for r in rounds])
        np.testing.assert_allclose(npz["bias"], [r["bias"] for r in rounds])
    with (
        np.load(run_dir / "checkpoints" / "initial.npz") as first,
        np.load(run_dir / "checkpoints" / "final.npz") as last,
    ):
        assert sorted(first.files) == sorted(last.files) == ["0.bias", "0.weight"]
        np.testing.assert_allclose(last["0.weight"].reshape(-1), rounds[-1]["weight"])  # the last perceptron
    # the replay's state holds the rounds, as the live one does
    state = RunState()
    for event in open_run(run_dir).events():
        state.apply(event)
    assert [r.round for r in state.boost_rounds] == [1, 2, 3] and len(state.epochs) == 3
    assert from_record(to_record(state.boost_rounds[0])) == state.boost_rounds[0]
    assert isinstance(state.boost_rounds[0], BoostRound)


def test_one_round_is_the_perceptron_alone(tmp_path):
    alone = record(tmp_path / "alone", boosted().with_overrides(["boost=null"]))
    one = record(tmp_path / "one", boosted("boost.rounds=1"))
    assert "boost" not in open_run(alone).session
    with np.load(alone / "checkpoints" / "final.npz") as a, np.load(one / "checkpoints" / "final.npz") as b:
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


def test_a_stopped_boosted_run_resumes_to_the_same_ensemble(tmp_path):
    whole = record(tmp_path / "whole", boosted())
    stopped = tmp_path / "stopped"
    trainer = Trainer(boosted())
    steps = []
    last = run_recorded(
        trainer, stopped, lambda: len(steps) >= 27, lambda e: steps.append(e) if e.event == "step" else 0
    )
    assert last is not None and last.event == "cancelled"  # in round 2, after its 11th batch
    trainer, lock = resume_trainer(stopped)
    assert isinstance(trainer, BoostTrainer) and len(trainer.alphas) == 1
    last = run_recorded(trainer, stopped, lambda: False, lambda e: None, resume=True, lock=lock)
    assert last is not None and last.event == "end"
    with np.load(whole / "checkpoints" / "boost.npz") as a, np.load(stopped / "checkpoints" / "boost.npz") as b:
        for key in ("alpha", "weight", "bias"):
            np.testing.assert_allclose(a[key], b[key])
    rounds = [r for r in (json.loads(line) for line in (stopped / "metrics.jsonl").open()) if r["event"] == "boost"]
    assert [r["round"] for r in rounds] == [1, 2, 3]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["boost.rounds=0"], "boost.rounds: expected"),
        (["boost.trees=3"], "boost: unknown option 'trees'"),
        (["model[0].dense.units=2", "loss=cross_entropy"], "boost: each weak learner is a perceptron"),
        (["model=[{dense: {units: 4, activation: tanh}}, {dense: {units: 1}}]"], "got 2 dense layers"),
        (["model[0].dense.activation=relu"], "takes no activation"),
        (["data={dataset: digits}"], "boost: AdaBoost here combines binary classifiers, but digits has 10"),
        (["data={dataset: sine}", "loss=mse"], "boost: AdaBoost here combines binary classifiers"),
    ],
)
def test_a_session_that_cannot_be_boosted_says_why(overrides, message):
    with pytest.raises(SessionError, match=message.replace("(", r"\(")):
        boosted(*overrides)


def test_dl_lab_run_refuses_a_session_that_cannot_be_boosted_and_reports_the_rounds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "160")
    runner = CliRunner()
    bad = runner.invoke(app, ["run", "spiral", "--set", "boost.rounds=3", "--out", "bad"])
    assert bad.exit_code == 2 and "boost:" in bad.output
    (tmp_path / "s.yaml").write_text(BOOSTED)
    good = runner.invoke(app, ["run", "s.yaml", "--out", "good"])
    assert good.exit_code == 0, good.output
    assert "AdaBoost: 3 perceptrons" in good.output and "ε" in good.output


def test_the_boost_dataclass_has_the_keys_its_schema_declares():
    session = boosted()
    assert {f.name for f in fields(BoostConfig)} == set(schema.BOOST)
    assert session.config.boost == BoostConfig(rounds=3)
    assert session.config.to_spec() == session.spec and session.spec["boost"] == {"rounds": 3}
