"""Shared fixtures: the array backends every engine test runs on (CuPy joins when a GPU is present)."""

from __future__ import annotations

import pytest

from dl_lab.core import cupy_available, get_backend

BACKENDS = ["numpy"] + (["cupy"] if cupy_available() else [])


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Each test taking ``backend`` runs once per available backend."""
    if request.param == "cupy":
        request.applymarker(pytest.mark.gpu)
    return get_backend(request.param)
