"""Fast sweeping (fastdds.pde.eikonal.distance) against scikit-fmm's fast marching on a point source.

The problem: a single source node at (0.4, 0.55) on an n x n grid over [0, 1]^2 (n = 1000 when
benchmarking, 200 with --benchmark-disable), given to both as the level set phi = 1 with
phi = 0 at the source. Both solve the same discrete equations (first order: Godunov upwind;
second order: one-sided second-order differences where the upwind cells allow), so the errors
against the exact distance should agree to round-off; the ratio is scikit-fmm's best time over
ours, measured in the same run. Run: pytest bench/test_bench_eikonal.py
"""


import numpy as np
import pytest

from fastdds.pde import eikonal as ek

skfmm = pytest.importorskip("skfmm")


def _problem(n):
    h = 1.0 / (n - 1)
    i0, j0 = int(0.4 * (n - 1)), int(0.55 * (n - 1))
    phi = np.ones((n, n))
    phi[i0, j0] = 0.0
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return phi, h, h * np.hypot(i - i0, j - j0)


def _errors(d, exact):
    e = d - exact
    return {"L1": float(np.abs(e).mean()), "L2": float(np.sqrt((e**2).mean())), "Linf": float(np.abs(e).max())}


@pytest.mark.parametrize("order", [1, 2])
def test_fast_sweeping_vs_scikit_fmm(benchmark, request, peer_time, order):
    disabled = request.config.getoption("benchmark_disable")
    n = 200 if disabled else 1000
    repeats = 1 if disabled else 5
    phi, h, exact = _problem(n)
    ours = ek.distance(phi, h, order=order)  # also compiles
    theirs = skfmm.distance(phi, h, order=order)
    t_ours = peer_time(lambda: ek.distance(phi, h, order=order), repeat=repeats)
    t_theirs = peer_time(lambda: skfmm.distance(phi, h, order=order), repeat=repeats)
    benchmark(ek.distance, phi, h, order=order)
    e_ours, e_theirs = _errors(ours, exact), _errors(theirs, exact)
    benchmark.extra_info.update({
        "n": n, "order": order, "seconds_fastdds": t_ours, "seconds_skfmm": t_theirs,
        "speedup_vs_skfmm": t_theirs / t_ours, "errors_fastdds": e_ours, "errors_skfmm": e_theirs,
    })
    for k in ("L1", "Linf"):
        assert e_ours[k] <= e_theirs[k] * (1 + 1e-9)
