"""Banded apply against NumPy slicing and against copy bandwidth (np.copyto), same run.

Timed through the public call a user makes, ``op.apply(x, out=out)`` on a 1-D state: input
validation, the NaN/inf test (fused into the kernel's pass) and dispatch are included.
``op.apply(x)``, which allocates its result, is reported beside it; the three are timed in 3
interleaved rounds (best of each), so that a slower spell of the machine's memory falls on all.
Effective bandwidth counts the bytes the update must move: read x, write y (constant
coefficients are not streamed).
Targets: >= 0.8 of copy bandwidth at n = 1e7, >= 0.7 at n = 1e5 (in cache), >= 3x NumPy.
"""

import numpy as np
import pytest

from fastdds import Banded

STENCILS = {3: [1.0, -2.0, 1.0], 5: [-1 / 12, 4 / 3, -5 / 2, 4 / 3, -1 / 12]}


def numpy_stencil(x, coeffs, out):
    """The same periodic update with NumPy slicing (interior slices, wrapped ends by np.roll)."""
    half = (len(coeffs) - 1) // 2
    n = x.size
    inner = out[half:n - half]
    np.multiply(x[0:n - 2 * half], coeffs[0], out=inner)
    for k in range(1, len(coeffs)):
        inner += coeffs[k] * x[k:n - 2 * half + k]
    edges = np.r_[0:half, n - half:n]
    out[edges] = sum(c * np.roll(x, half - k)[edges] for k, c in enumerate(coeffs))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("width", [3, 5])
@pytest.mark.parametrize("n", [10**3, 10**5, 10**7], ids=["1e3", "1e5", "1e7"])
def test_banded_apply(benchmark, benchmarking, peer_time, peer_times, n, width, dtype):
    if not benchmarking:
        n = min(n, 10**5)
    op = Banded.stencil(STENCILS[width], n, boundary="periodic", dtype=dtype)
    x = np.random.default_rng(0).standard_normal(n).astype(dtype)
    out = np.empty_like(x)

    def run():
        return op.apply(x, out=out)

    run()  # compile (or load from Numba's cache) outside the timing
    benchmark(run)
    ref = np.empty(n, dtype)
    numpy_stencil(x, np.asarray(STENCILS[width], dtype), ref)
    np.testing.assert_allclose(out, ref, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)
    number = max(1, 10**7 // n)
    t_copy, t_ours, t_alloc = peer_times((lambda: np.copyto(out, x), 5, number), (run, 5, number),
                                         (lambda: op.apply(x), 5, number))
    t_numpy = peer_time(lambda: numpy_stencil(x, STENCILS[width], ref), repeat=3, number=max(1, number // 10))
    nbytes = 2 * x.nbytes
    benchmark.extra_info.update({
        "GB_per_s": nbytes / t_ours / 1e9,
        "copy_GB_per_s": nbytes / t_copy / 1e9,
        "fraction_of_copy_bandwidth": t_copy / t_ours,
        "fraction_of_copy_bandwidth_allocating": t_copy / t_alloc,
        "speedup_vs_numpy_slicing": t_numpy / t_ours,
    })
