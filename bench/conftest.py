"""Shared helpers for the benchmark suites.

Every benchmark measures fastdds with pytest-benchmark and times its peer (NumPy, copy
bandwidth, PyTorch, scikit-fmm, ...) in the same run, reporting the ratio in
``benchmark.extra_info``. Under ``--benchmark-disable`` (CI) each runs once on small sizes.
"""

import time

import pytest


def best_time(fn, repeat=5, number=1):
    """Best wall time in seconds of `number` calls of fn, over `repeat` trials (after one warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def best_times(*runs, rounds=3):
    """Best wall time of each run over `rounds` interleaved rounds of `best_time`, so that a
    slower spell of a shared machine falls on every side alike. A run is a function, or a tuple
    (fn, repeat, number) of `best_time`'s arguments."""
    runs = [run if isinstance(run, tuple) else (run,) for run in runs]
    best = [float("inf")] * len(runs)
    for _ in range(rounds):
        for i, run in enumerate(runs):
            best[i] = min(best[i], best_time(*run))
    return best


@pytest.fixture
def benchmarking(request):
    """True when pytest-benchmark is timing (False under --benchmark-disable: use small sizes)."""
    return not request.config.getoption("benchmark_disable")


@pytest.fixture
def peer_time():
    """`best_time` as a fixture."""
    return best_time


@pytest.fixture
def peer_times(benchmarking):
    """`best_times` as a fixture: 3 interleaved rounds when timing, 1 under --benchmark-disable."""
    return lambda *runs: best_times(*runs, rounds=3 if benchmarking else 1)


@pytest.fixture
def code_paths():
    """The instruction sets fastdds's side and OpenBLAS were built for: OpenBLAS's core (the
    kernels its products run; OpenBLAS reads $OPENBLAS_CORETYPE), Numba's target CPU
    ($NUMBA_CPU_NAME, else the host's) and the register tiles' vector register (32 bytes: AVX2,
    64: AVX-512)."""
    import llvmlite.binding as ll
    from numba.core import config
    from threadpoolctl import threadpool_info

    from fastdds.kernels.cpu.llvm_vectors import VECTOR_BYTES

    cores = sorted({p.get("architecture") or "?" for p in threadpool_info() if p["internal_api"] == "openblas"})
    return {"openblas_core": ",".join(cores), "numba_cpu": config.CPU_NAME or ll.get_host_cpu_name(),
            "vector_bytes": VECTOR_BYTES}
