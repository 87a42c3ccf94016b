"""Shared fixtures: the array backends every engine test runs on (CuPy joins when a GPU is present).

The suite starts many Python processes (its xdist workers, `dl-lab` commands, sweep workers, the app's training
process): where PYTHONDONTWRITEBYTECODE is set (some CI machines set it), each of them compiled dl-lab's modules
from source again, about 0.2 s a process. The tests let Python keep the compiled modules (in __pycache__ folders,
which git ignores), for this process and every one it starts.
"""

from __future__ import annotations

import os
import sys

import pytest

from dl_lab.core import cupy_available, get_backend

os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: one worker more than the cores. Many tests spend seconds waiting on processes they started
    (`dl-lab` commands, sweep workers, a PostgreSQL server, the app in tmux); a third worker on two cores uses that
    time (a full run: 269 s against 277 s to 302 s with two)."""
    return (os.cpu_count() or 1) + 1


BACKENDS = ["numpy"] + (["cupy"] if cupy_available() else [])


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each test taking ``backend`` runs once per available backend."""
    if request.param == "cupy":
        request.applymarker(pytest.mark.gpu)
    return get_backend(request.param)
