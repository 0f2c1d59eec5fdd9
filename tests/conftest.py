"""Shared fixtures: the data folder, RNG, and the backend parametrisation for kernel tests."""

import os
from pathlib import Path

import numpy as np
import pytest

from fastdds import backend

SHARED_DATA = Path(os.environ.get("FASTDDS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data():
    """Path of the shared data folder (../shared/data beside the checkout, or $FASTDDS_SHARED_DATA)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}; set FASTDDS_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(params=["cpu", pytest.param("gpu", marks=pytest.mark.gpu)])
def xp(request):
    """The array module of each backend; GPU cases skip with the reason when no GPU is usable."""
    if request.param == "gpu":
        ok, why = backend.gpu_available()
        if not ok:
            pytest.skip(f"GPU backend not usable: {why}")
        import cupy

        return cupy
    return np
