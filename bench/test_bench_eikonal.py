"""Fast sweeping (fastdds.pde.eikonal.distance) against scikit-fmm's fast marching on a point source,
in 2-D and 3-D at both orders.

The problem: one source node at (0.4, 0.55[, 0.45]) of the unit square (cube), given to both as the
level set phi = 1 with phi = 0 at the source, n = 1000 per axis in 2-D and 200 in 3-D when
benchmarking (200 and 40 with --benchmark-disable). Both solve the same discrete equations (order 1:
Godunov upwind; order 2: one-sided second-order differences where the upwind cells allow), so their
errors against the exact distance agree to round-off (checked). The ratio is scikit-fmm's best time
over ours, measured in the same run, with cells per second for both; the errors of fastdds's
point-source correction (source_radius = 0.05) are reported beside them.
Run: pytest bench/test_bench_eikonal.py
"""

import math

import numpy as np
import pytest

from fastdds.pde import eikonal as ek

skfmm = pytest.importorskip("skfmm")

SOURCE = (0.4, 0.55, 0.45)


def _problem(n, dim):
    h = 1.0 / (n - 1)
    c = tuple(int(s * (n - 1)) for s in SOURCE[:dim])
    phi = np.ones((n,) * dim)
    phi[c] = 0.0
    idx = np.indices(phi.shape)
    return phi, h, h * np.sqrt(sum((i - ci) ** 2 for i, ci in zip(idx, c)))


def _errors(d, exact):
    e = d - exact
    return {"L1": float(np.abs(e).mean()), "L2": float(np.sqrt((e**2).mean())), "Linf": float(np.abs(e).max())}


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("order", [1, 2])
def test_fast_sweeping_vs_scikit_fmm(benchmark, request, peer_time, order, dim):
    disabled = request.config.getoption("benchmark_disable")
    n = {2: 200, 3: 40}[dim] if disabled else {2: 1000, 3: 200}[dim]
    repeats = 1 if disabled else {2: 5, 3: 3}[dim]
    phi, h, exact = _problem(n, dim)
    ours = ek.distance(phi, h, order=order)  # also compiles
    theirs = skfmm.distance(phi, h, order=order)
    corrected = ek.distance(phi, h, order=order, source_radius=0.05)
    t_ours = peer_time(lambda: ek.distance(phi, h, order=order), repeat=repeats)
    t_theirs = peer_time(lambda: skfmm.distance(phi, h, order=order), repeat=repeats)
    benchmark.pedantic(ek.distance, args=(phi, h), kwargs={"order": order}, rounds=repeats, iterations=1)
    e_ours, e_theirs = _errors(ours, exact), _errors(theirs, exact)
    cells = math.prod(phi.shape)
    benchmark.extra_info.update({
        "dim": dim, "n": n, "order": order, "seconds_fastdds": t_ours, "seconds_skfmm": t_theirs,
        "speedup_vs_skfmm": t_theirs / t_ours, "cells_per_second_fastdds": cells / t_ours,
        "cells_per_second_skfmm": cells / t_theirs, "errors_fastdds": e_ours, "errors_skfmm": e_theirs,
        "errors_fastdds_source_radius_0.05": _errors(corrected, exact),
    })
    print(f"\n{dim}-D n = {n} order {order}: fastdds {t_ours:.3f} s ({cells / t_ours:.3g} cells/s), "
          f"scikit-fmm {t_theirs:.3f} s ({cells / t_theirs:.3g} cells/s), ratio {t_theirs / t_ours:.2f}")
    assert np.abs(ours - theirs).max() < 1e-9
    for k in ("L1", "Linf"):
        assert _errors(corrected, exact)[k] < e_ours[k]
