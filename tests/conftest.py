"""Shared fixtures (the data folder, RNG, the backend parametrisation for kernel tests) and the
session hooks that order the tests for a cold cache and start the GPU-simulator rerun early."""

import importlib.util
import os
from pathlib import Path

import gpu_simulator
import numpy as np
import pytest

from fastdds import backend

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"  # inside the simulator rerun
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


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist, absent with -p no:xdist
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per core this process may use, at most 8 (on a cold cache each
    worker compiles the kernels of its own test files)."""
    return max(1, min(8, len(os.sched_getaffinity(0))))


def _starts_simulator(config):
    """Whether this process may start the simulator run: not inside it, not in an xdist worker
    (the controller or a plain session does), and only with numba-cuda installed."""
    return (not SIM and not hasattr(config, "workerinput")
            and importlib.util.find_spec("numba_cuda") is not None)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session):
    """Under xdist, the controller starts the simulator run before the workers start (they
    inherit its folder's name), when the paths asked for include tests/test_gpu_twins.py."""
    config = session.config
    if not (_starts_simulator(config) and config.getoption("numprocesses", None)):
        return
    twins = Path(__file__).resolve().with_name("test_gpu_twins.py")
    paths = [Path(config.invocation_params.dir, a.split("::")[0]).resolve() for a in config.args]
    if any(p == twins or p in twins.parents for p in paths):
        gpu_simulator.start()


def pytest_collection_modifyitems(items):
    """The GPU-twin file goes last (xdist hands out files in this order), so that the simulator
    run it waits for has the rest of the suite's time."""
    if not SIM:
        items.sort(key=lambda item: item.path.name == "test_gpu_twins.py")


def pytest_collection_finish(session):
    """Start the simulator run as soon as the tests are collected, when one of them needs it:
    its half minute of single-threaded Python then overlaps the rest of the suite on a second
    core."""
    if _starts_simulator(session.config) and any(
            "simulator_run" in getattr(item, "fixturenames", ()) for item in session.items):
        gpu_simulator.start()


def pytest_sessionfinish(session):
    gpu_simulator.close()
