"""Learned stencils against sparse regression (PySINDy's PDE-FIND) on the same trajectories:
accuracy of the recovered nu and speed, and the fit time, both measured in the same run.

Ours: `fastdds.nn.learned_stencil` with the physical moment constraints; advection-diffusion by
the exact least-squares fit of a width-5 stencil (stride 1), Burgers by L-BFGS on a width-3
banded layer repeated 4 times per snapshot interval (through the Chain's backward). The peer:
PDE-FIND, a PDELibrary of u, u^2 and their first two x-derivatives with interactions (periodic
second-order finite differences in x; u_t by second-order finite differences along the time
axis) and STLSQ (threshold 1e-3), fitted to the list of trajectories, dt given. The
peer's coefficients read back: nu from the u_xx term, the speed from -(u_x term) for
advection-diffusion and -(u u_x term) for Burgers; `peer_spurious` is its largest other term.
Under --benchmark-disable each runs once on the small data.
"""

import time
import warnings

import numpy as np
import pytest

from fastdds.nn import learned_stencil as L

ps = pytest.importorskip("pysindy")

OURS = {"advection-diffusion": dict(width=5, stride=1, method="lstsq"),
        "burgers": dict(width=3, stride=4, method="lbfgs")}


def pde_find(data):
    """PDE-FIND on `data`: (nu, speed, largest other coefficient in magnitude, seconds)."""
    T, B, n = data.u.shape
    lib = ps.PDELibrary(function_library=ps.PolynomialLibrary(degree=2, include_bias=False), derivative_order=2,
                        spatial_grid=np.arange(n) * data.dx, include_bias=True,
                        diff_kwargs={"is_uniform": True, "periodic": True})
    model = ps.SINDy(optimizer=ps.STLSQ(threshold=1e-3, alpha=1e-12), feature_library=lib,
                     differentiation_method=ps.FiniteDifference(order=2, axis=-2))
    trajectories = [np.ascontiguousarray(data.u[:, b, :].T[:, :, None], dtype=np.float64) for b in range(B)]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(trajectories, t=data.dt)
    seconds = time.perf_counter() - t0
    coef = dict(zip(model.get_feature_names(), model.coefficients()[0]))
    speed_term = "x0_1" if data.case == "advection-diffusion" else "x0x0_1"
    others = [abs(v) for k, v in coef.items() if k not in ("x0_11", speed_term)]
    return coef.get("x0_11", 0.0), -coef.get(speed_term, 0.0), max(others, default=0.0), seconds


def ours(data):
    model = L.LearnedStencil(data.u.shape[2], OURS[data.case]["width"], nonlinear=data.case == "burgers",
                             stride=OURS[data.case]["stride"], constraints=L.CONSTRAINTS[data.case])
    res = L.fit(model, data, OURS[data.case]["method"])
    return res["nu"], res["speed"], res["seconds"]


@pytest.mark.parametrize("noise", [0.0, 1e-3], ids=["clean", "noise1e-3"])
@pytest.mark.parametrize("case", list(OURS))
def test_learned_stencil_vs_pde_find(benchmark, benchmarking, peer_time, case, noise):
    size = dict(snapshots=51, batch=4) if benchmarking else dict(snapshots=21, batch=2)
    make = L.advection_diffusion_data if case == "advection-diffusion" else L.burgers_data
    data = L.add_noise(make(**size), noise, seed=1)
    nu, speed, _ = benchmark(lambda: ours(data))
    p_nu, p_speed, p_spurious, _ = pde_find(data)
    t_ours = peer_time(lambda: ours(data), repeat=3 if benchmarking else 1)
    t_peer = peer_time(lambda: pde_find(data), repeat=3 if benchmarking else 1)
    err = {"nu_error": abs(nu / data.nu - 1), "speed_error": abs(speed / data.speed - 1),
           "peer_nu_error": abs(p_nu / data.nu - 1), "peer_speed_error": abs(p_speed / data.speed - 1)}
    if noise == 0:
        assert max(err["nu_error"], err["speed_error"]) < 0.01, err
    assert np.isfinite(list(err.values())).all()
    benchmark.extra_info.update(dict(err, peer_spurious=p_spurious, seconds=t_ours, peer_seconds=t_peer,
                                     speedup_vs_pde_find=t_peer / t_ours, weights=OURS[case]["width"] * (
                                         2 if case == "burgers" else 1)))
