"""Small sessions for trainer, recorder and CLI tests: they train in a fraction of a second."""

from __future__ import annotations

import pytest

from dl_lab.sessions import session_from_text

SMALL = """\
name: small
seed: 3
data: {dataset: circle, samples: 120, noise: 0.1}
model:
  - dense: {units: 8, activation: relu}
  - dropout: {p: 0.2}
  - dense: {units: 2}
optimizer: {name: adam, lr: 0.02}
training: {epochs: 4, batch_size: 16}
monitor: {every_steps: 5}
"""


@pytest.fixture
def small_session():
    def make(**overrides):
        s = session_from_text(SMALL)
        return s.with_overrides([f"{k.replace('__', '.')}={v}" for k, v in overrides.items()])

    return make
