"""The typed session: every preset survives the round trip, and each dataclass holds exactly its schema's keys."""

from __future__ import annotations

from dataclasses import fields

import pytest

from dl_lab.sessions import PRESETS, preset_session
from dl_lab.sessions.config import schema
from dl_lab.sessions.config.typed import (
    EarlyStoppingConfig,
    MonitorConfig,
    RegularizationConfig,
    SessionConfig,
    TrainingConfig,
)


def _names(cls) -> set[str]:
    return {f.name for f in fields(cls)}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_survives_the_round_trip_through_the_typed_form(name):
    session = preset_session(name)
    assert session.config.to_spec() == session.spec


@pytest.mark.parametrize(
    ("cls", "declared"),
    [
        (TrainingConfig, schema.TRAINING),
        (MonitorConfig, schema.MONITOR),
        (RegularizationConfig, schema.REGULARIZATION),
        (EarlyStoppingConfig, schema.EARLY_STOPPING),
    ],
)
def test_each_section_dataclass_has_exactly_the_keys_its_schema_declares(cls, declared):
    assert _names(cls) == set(declared)


def test_the_session_dataclass_has_exactly_the_top_level_keys():
    assert _names(SessionConfig) == set(schema.TOP_KEYS)


def test_the_typed_form_reads_what_the_file_says():
    overrides = ["optimizer.lr=0.03", "training.epochs=4", "data.noise=0.2", "training.early_stopping.metric=val_acc"]
    session = preset_session("spiral").with_overrides(overrides)
    config = session.config
    assert config.optimizer.name == "adam" and config.optimizer.lr == 0.03
    assert config.training.epochs == 4 and config.data.dataset == "spiral" and config.data.get("noise") == 0.2
    stopping = config.training.early_stopping
    assert stopping is not None and stopping.metric == "val_acc" and stopping.patience == 10  # the default
    assert stopping.larger_is_better
