"""Fast sweeping (2-D, 3-D, orders 1 and 2, speed fields, obstacles) and the explicit 1-D
Hamilton-Jacobi schemes (fused kernel and chain) against exact solutions."""

import numpy as np
import pytest

from fastdds import backend
from fastdds.exact.eikonal import distance_to_box, distance_to_points, eikonal_time_1d, grid_coordinates
from fastdds.pde import eikonal as ek


def square(n, d=2):
    """Spacing and node coordinates of an n^d grid on [-1, 1]^d."""
    h = 2.0 / (n - 1)
    return h, grid_coordinates((n,) * d, h, -1.0)


def order(e_coarse, e_fine):
    return np.log2(e_coarse / e_fine)


def godunov_residual(u, src, h):
    """max |u - Godunov update of u| over the non-source cells (the brief's 2-D formula)."""
    p = np.pad(u, 1, constant_values=np.inf)
    a = np.minimum(p[:-2, 1:-1], p[2:, 1:-1])
    b = np.minimum(p[1:-1, :-2], p[1:-1, 2:])
    with np.errstate(invalid="ignore"):
        two = (a + b + np.sqrt(np.maximum(2 * h * h - (a - b) ** 2, 0))) / 2
    new = np.where(np.abs(a - b) >= h, np.minimum(a, b) + h, two)
    return np.abs(new - u)[~src].max()


# ---------------------------------------------------------------- point sources and boxes (order 1)

def test_point_source_solves_godunov_and_is_exact_on_axes():
    n = 61
    h, X = square(n)
    src = np.zeros((n, n), bool)
    src[30, 30] = True
    u, info = ek.arrival_time(src, dx=h, return_info=True)
    r = distance_to_points(X, [0.0, 0.0])
    assert info.converged and info.sweeps <= 8
    assert godunov_residual(u, src, h) < 1e-13
    assert np.abs(u[30] - r[30]).max() < 1e-13 and np.abs(u[:, 30] - r[:, 30]).max() < 1e-13
    assert np.all(u >= r - 1e-13)  # the first-order Godunov solution overestimates


def test_point_source_first_order():
    """A point source with its exact values on a disc of fixed radius converges at first order
    (a one-cell source adds an O(h log h) term: observed order about 0.75 at these sizes)."""
    errors = []
    for n in (41, 81, 161):
        h, X = square(n)
        r = distance_to_points(X, [0.0, 0.0])
        u = ek.arrival_time(r <= 0.1 + 1e-12, dx=h, values=r)
        far = r >= 0.25
        errors.append((np.abs(u - r)[far].mean(), np.abs(u - r)[far].max()))
    errors = np.array(errors)
    assert np.all(order(errors[:-1], errors[1:]) >= 0.9)
    assert errors[-1, 1] < 0.012


def test_box_source_is_exact_beside_faces_and_first_order_at_corners():
    errs = []
    for n in (41, 81):
        h, X = square(n)
        box = distance_to_box(X, [-0.3, -0.2], [0.4, 0.5])
        u = ek.arrival_time(box <= 1e-12, dx=h)
        beside = (np.abs(X[0] - 0.05) <= 0.35) | (np.abs(X[1] - 0.15) <= 0.35)
        assert np.abs(u - box)[beside].max() < 1e-13
        errs.append(np.abs(u - box).max())
    assert errs[1] < 0.65 * errs[0] and errs[1] < 0.03  # corners act as point sources: h log h


def test_signed_distance_to_box_from_level_set():
    h, X = square(81)
    phi = distance_to_box(X, [-0.5, -0.4], [0.45, 0.35], signed=True)
    d = ek.distance(phi, h)
    assert np.array_equal(np.sign(d), np.sign(phi))
    assert np.abs(d - phi).max() < 2 * h


def test_point_source_3d():
    errors = []
    for n in (21, 41):
        h, X = square(n, 3)
        r = distance_to_points(X, [0.0, 0.0, 0.0])
        src = np.zeros((n,) * 3, bool)
        src[n // 2, n // 2, n // 2] = True
        u, info = ek.arrival_time(src, dx=h, return_info=True)
        assert info.converged and info.sweeps <= 16
        c = n // 2
        for axis in (u[:, c, c] - r[:, c, c], u[c, :, c] - r[c, :, c], u[c, c, :] - r[c, c, :]):
            assert np.abs(axis).max() < 1e-13
        disc = ek.arrival_time(r <= 0.2 + 1e-12, dx=h, values=r)
        errors.append(np.abs(disc - r)[r >= 0.4].mean())
    assert order(errors[0], errors[1]) >= 0.9


def test_anisotropic_spacing():
    h0, h1 = 0.025, 0.05
    X = grid_coordinates((81, 41), (h0, h1), -1.0)
    r = distance_to_points(X, [0.0, 0.0])
    u = ek.arrival_time(r <= 0.1 + 1e-12, dx=(h0, h1), values=r)
    assert np.abs(u[40] - r[40]).max() < 1e-13 and np.abs(u[:, 20] - r[:, 20]).max() < 1e-13
    assert np.abs(u - r).max() < 0.04


def test_agrees_with_scikit_fmm_first_order():
    skfmm = pytest.importorskip("skfmm")
    h, X = square(101)
    phi = np.hypot(X[0] - 0.1, X[1] + 0.2) - 0.35
    assert np.abs(ek.distance(phi, h) - skfmm.distance(phi, h, order=1)).max() < 1e-12


# ---------------------------------------------------------------- second order

def test_second_order_circle():
    errors = {1: [], 2: []}
    for n in (41, 81, 161):
        h, X = square(n)
        r = np.hypot(X[0], X[1])
        phi = r - 0.5
        for o in (1, 2):
            d = ek.distance(phi, h, order=o)
            errors[o].append(np.abs(d - phi)[r >= 0.25].mean())
    e1, e2 = np.array(errors[1]), np.array(errors[2])
    assert np.all(e2 < e1 / 10)
    assert np.all(order(e2[:-1], e2[1:]) > 1.5)


def test_second_order_sphere_3d():
    errors = []
    for n in (17, 33):
        h, X = square(n, 3)
        r = np.sqrt(sum(x**2 for x in X))
        d = ek.distance(r - 0.5, h, order=2)
        errors.append(np.abs(d - (r - 0.5))[r >= 0.25].mean())
    assert order(errors[0], errors[1]) > 1.5


def test_second_order_at_least_as_accurate_as_scikit_fmm():
    skfmm = pytest.importorskip("skfmm")
    h, X = square(201)
    phi = np.hypot(X[0] - 0.1, X[1] + 0.2) - 0.35
    e_ours = np.abs(ek.distance(phi, h, order=2) - phi)
    e_skfmm = np.abs(skfmm.distance(phi, h, order=2) - phi)
    assert e_ours.mean() <= e_skfmm.mean() / 10
    off_centre = np.hypot(X[0] - 0.1, X[1] + 0.2) >= 0.1  # both are first order at the centre's kink
    assert e_ours[off_centre].max() <= e_skfmm[off_centre].max() / 2


# ---------------------------------------------------------------- speed fields and obstacles

def test_constant_speed_is_distance_over_speed():
    h, X = square(81)
    phi = np.hypot(X[0], X[1]) - 0.3
    for o in (1, 2):
        t = ek.travel_time(phi, 2.5, h, order=o)
        t_field = ek.travel_time(phi, np.full(phi.shape, 2.5), h, order=o)
        assert np.abs(t - np.abs(ek.distance(phi, h, order=o)) / 2.5).max() < 1e-12
        assert np.abs(t - t_field).max() < 1e-12


def test_linear_speed_travel_time():
    """c = c0 + g y: T = arccosh(1 + g^2 |x - s|^2 / (2 c(s) c(x))) / g."""
    g, c0 = 0.5, 1.5
    errors = {1: [], 2: []}
    for n in (81, 161):
        h, X = square(n)
        c = c0 + g * X[1]
        dist2 = X[0] ** 2 + X[1] ** 2
        exact = np.arccosh(1 + g * g * dist2 / (2 * c0 * c)) / g
        disc = dist2 <= 0.1**2 + 1e-12
        for o in (1, 2):
            t = ek.arrival_time(disc, c, h, order=o, values=exact)
            errors[o].append(np.abs(t - exact)[dist2 >= 0.25**2].mean())
    assert order(*errors[1]) >= 0.9 and errors[1][1] < 5e-3
    assert order(*errors[2]) > 1.5 and errors[2][1] < errors[1][1] / 10


def test_obstacle_path_goes_around():
    """A wall y = 0, x <= 0.5 between (0, -0.6) and (0, 0.6): the path bends round (0.5, 0)."""
    around = 2 * np.hypot(0.5, 0.6)
    errors = []
    for n in (81, 161):
        h, X = square(n)
        wall = (np.abs(X[1]) < h / 2) & (X[0] <= 0.5 + 1e-12)
        r = np.hypot(X[0], X[1] + 0.6)
        u = ek.arrival_time(r <= 0.1 + 1e-12, dx=h, values=r, obstacles=wall)
        assert np.ma.isMaskedArray(u) and np.array_equal(np.ma.getmaskarray(u), wall)
        target = u[n // 2, int(round(1.6 / h))]  # (0, 0.6); the straight line (1.2) is blocked
        assert target > around
        errors.append(target - around)
        free = ek.arrival_time(r <= 0.1 + 1e-12, dx=h, values=r)
        assert np.all(u[X[1] < -h] == free[X[1] < -h])  # the side of the source is unaffected
    assert order(errors[0], errors[1]) >= 0.9 and errors[1] < 0.05


def test_masked_level_set_and_enclosed_cells():
    n = 41
    h, X = square(n)
    phi = np.hypot(X[0] + 0.5, X[1] + 0.5) - 0.2
    ring = np.abs(np.maximum(np.abs(X[0] - 0.5), np.abs(X[1] - 0.5)) - 0.25) < h / 2
    d = ek.distance(np.ma.MaskedArray(phi, mask=ring), h)
    inside = np.maximum(np.abs(X[0] - 0.5), np.abs(X[1] - 0.5)) < 0.25 - h / 2
    assert np.all(np.ma.getmaskarray(d)[ring | inside])
    assert not np.ma.getmaskarray(d)[~(ring | inside)].any()
    mask_speed = np.ma.MaskedArray(np.ones_like(phi), mask=ring)
    t = ek.travel_time(phi, mask_speed, h)
    assert np.all(np.ma.getmaskarray(t)[ring | inside])


def test_narrow_band():
    h, X = square(81)
    phi = np.hypot(X[0], X[1]) - 0.5
    full = ek.distance(phi, h)
    band = ek.distance(phi, h, narrow=0.3)
    near = np.abs(full) <= 0.3
    assert np.array_equal(np.ma.getmaskarray(band), ~near)
    assert np.abs(band[near] - full[near]).max() == 0.0


def test_float32():
    h, X = square(81)
    phi = np.hypot(X[0], X[1]) - 0.5
    for o in (1, 2):
        d32 = ek.distance(phi.astype(np.float32), np.float32(h), order=o)
        assert d32.dtype == np.float32
        assert np.abs(d32 - ek.distance(phi, h, order=o)).max() < 1e-5
    t32 = ek.travel_time(phi.astype(np.float32), np.full(phi.shape, 2.0, np.float32), h)
    assert t32.dtype == np.float32


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, match", [
    (lambda: ek.distance(np.ones(5) - 0.5), "2-D or 3-D"),
    (lambda: ek.distance(np.ones((1, 5))), "at least 2"),
    (lambda: ek.distance(np.ones((4, 4)) - 0.5, dx=0.0), "positive"),
    (lambda: ek.distance(np.ones((4, 4)) - 0.5, dx=(1.0, 1.0, 1.0)), "one spacing per axis"),
    (lambda: ek.distance(np.where(np.eye(4) > 0, np.nan, 1.0)), "NaN"),
    (lambda: ek.distance(np.ones((4, 4))), "no zero contour"),
    (lambda: ek.distance(np.eye(4) - 0.5, order=3), "order"),
    (lambda: ek.distance(np.eye(4) - 0.5, narrow=-1), "narrow"),
    (lambda: ek.travel_time(np.eye(4) - 0.5, np.zeros((4, 4))), "positive and finite"),
    (lambda: ek.travel_time(np.eye(4) - 0.5, -1.0), "positive and finite"),
    (lambda: ek.travel_time(np.eye(4) - 0.5, np.full((4, 4), np.inf)), "positive and finite"),
    (lambda: ek.travel_time(np.eye(4) - 0.5, np.ones((3, 4))), "shape"),
    (lambda: ek.arrival_time(np.zeros((4, 4), bool)), "empty"),
    (lambda: ek.arrival_time(np.zeros((4, 4))), "boolean"),
    (lambda: ek.arrival_time(np.eye(4, dtype=bool), values=-np.ones((4, 4))), "values"),
    (lambda: ek.arrival_time(np.eye(4, dtype=bool), obstacles=np.ones((3, 3), bool)), "obstacles"),
])
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_max_sweeps_warns():
    h, X = square(41)
    with pytest.warns(RuntimeWarning, match="max_sweeps"):
        ek.distance(np.hypot(X[0], X[1]) - 0.5, h, max_sweeps=2)


# ---------------------------------------------------------------- 1-D Hamilton-Jacobi, -u_t + |u_x| - 1 = 0

@pytest.mark.parametrize("scheme, alpha", [("godunov", 1.0), ("lax_friedrichs", 1.0), ("lax_friedrichs", 2.0)])
def test_hj1d_converges_to_exact(scheme, alpha):
    """First order in L1; the kinks |x| = 1 - t are contact-like (shock speed = characteristic
    speed), smeared over sqrt(h), so the max error converges at order 1/2."""
    l1, linf = [], []
    for n in (101, 201, 401):
        x, u, nsteps = ek.hj1d_solve(n, scheme, cfl=0.9, alpha=alpha)
        e = u - eikonal_time_1d(x, 0.0)
        assert u[0] == 0.0 and u[-1] == 0.0
        l1.append(np.abs(e).mean())
        linf.append(np.abs(e).max())
    assert np.all(order(np.array(l1[:-1]), np.array(l1[1:])) >= 0.9)
    assert np.all(order(np.array(linf[:-1]), np.array(linf[1:])) >= 0.4)
    assert l1[-1] < (5e-4 if alpha == 1.0 else 5e-3)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("scheme, alpha", [("godunov", 1.0), ("lax_friedrichs", 1.5)])
def test_hj1d_chain_equals_fused(scheme, alpha, dtype, tol, rng):
    n, nsteps = 33, 150
    dt = 0.8 * ek.hj1d_max_step(n, alpha if scheme == "lax_friedrichs" else 1.0)
    u0 = rng.uniform(-0.5, 0.5, n).astype(dtype)  # local minima exercise the Godunov relu
    u0[[0, -1]] = 0.0
    chain = ek.hj1d_chain(scheme, n, dt, nsteps, dtype=dtype, alpha=alpha)
    assert len(chain.blocks) == (2 if scheme == "godunov" else 1) * nsteps
    c = ek.hj1d_coefficients(scheme, n, dt, dtype, alpha)
    fused = u0.copy()
    backend.kernels("eikonal", like=fused).hj1d_steps(fused, nsteps, c["p"], c["g"], c["d"], c["dt"],
                                                      np.empty_like(fused))
    by_chain = ek.hj1d_chain_run(chain, u0)
    assert by_chain.dtype == dtype and fused.dtype == dtype
    assert np.abs(by_chain - fused).max() < tol
    assert np.abs(fused - u0).max() > 0.1  # the steps did something


def test_hj1d_godunov_and_lax_friedrichs_differ_only_at_minima():
    n, dt = 21, 0.05
    u0 = np.zeros(n)
    u0[10] = -0.2  # a local minimum
    out = {}
    for scheme in ek.HJ1D_SCHEMES:
        c = ek.hj1d_coefficients(scheme, n, dt)
        u = u0.copy()
        backend.kernels("eikonal", like=u).hj1d_steps(u, 1, c["p"], c["g"], c["d"], c["dt"], np.empty_like(u))
        out[scheme] = u
    diff = np.abs(out["godunov"] - out["lax_friedrichs"])
    assert diff[10] > 0.01 and np.all(diff[np.arange(n) != 10] < 1e-15)
    h = 0.1  # Godunov at the minimum: H = 0, so u + dt exactly
    assert out["godunov"][10] == pytest.approx(-0.2 + dt)
    assert out["lax_friedrichs"][10] == pytest.approx(-0.2 + dt + dt * 0.2 / h)


def test_hj1d_cfl_error_names_the_largest_step():
    with pytest.raises(ValueError, match="largest stable step is 0.05"):
        ek.hj1d_solve(41, "godunov", dt=0.06)
    with pytest.raises(ValueError, match="largest stable step is 0.025"):
        ek.hj1d_coefficients("lax_friedrichs", 41, 0.03, alpha=2.0)
    with pytest.raises(ValueError, match="unknown scheme"):
        ek.hj1d_coefficients("upwind", 41, 0.01)
    with pytest.raises(ValueError, match="alpha"):
        ek.hj1d_coefficients("lax_friedrichs", 41, 0.01, alpha=0.5)


# ---------------------------------------------------------------- command line

def test_cli_writes_errors_and_solution(tmp_path):
    import json

    from fastdds.cli import main

    out = tmp_path / "t.json"
    assert main(["solve", "eikonal", "--problem", "time1d", "--n", "101", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    x, u, nsteps = ek.hj1d_solve(101, "godunov", 0.9)
    e = u - eikonal_time_1d(x, 0.0)
    assert res["steps"] == nsteps and res["errors"]["Linf"] == pytest.approx(np.abs(e).max())
    assert res["errors"]["L2"] == pytest.approx(np.sqrt(np.mean(e**2)))
    out = tmp_path / "p.json"
    assert main(["solve", "eikonal", "--problem", "point", "--n", "41", "--order", "2", "--max-output", "500",
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["converged"] and res["solution_stride"] == 2 and np.array(res["solution"]).shape == (21, 21)
    h, X = square(41)
    assert np.array(res["solution"]) == pytest.approx(ek.distance(np.where(np.hypot(*X) < 1e-9, 0.0, 1.0), h,
                                                                  order=2)[::2, ::2])
    assert 0 < res["errors"]["L1"] < res["errors"]["Linf"] < 0.05
    assert main(["solve", "eikonal", "--problem", "box", "--n", "2"]) == 2
