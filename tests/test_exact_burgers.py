"""Exact Burgers references: Cole-Hopf against the published table, the PDE residual, Riemann data."""

import numpy as np
import pytest

from fastdds.exact.burgers import burgers_raissi, burgers_sin2pi, cole_hopf, riemann

NU = 0.01 / np.pi


def test_raissi_matches_published_table(shared_data):
    d = np.load(shared_data / "burgers_shock_raissi.npz")
    u = burgers_raissi(d["x"][:, None], d["t"][None, :])
    assert u.shape == d["usol"].shape and u.dtype == np.float64
    assert np.abs(u - d["usol"]).max() < 1e-8


@pytest.mark.parametrize("exact, lo, hi", [(burgers_raissi, -1.0, 1.0), (burgers_sin2pi, 0.0, 1.0)])
def test_initial_condition_and_zero_ends(exact, lo, hi):
    x = np.linspace(lo, hi, 41)
    u0 = -np.sin(np.pi * x) if exact is burgers_raissi else np.sin(2 * np.pi * x)
    assert np.abs(exact(x, 0.0) - u0).max() < 1e-15
    assert np.abs(exact(np.array([lo, hi]), np.array([[0.2], [0.7]]))).max() < 1e-12


def test_residual_of_pde_is_small_near_the_front():
    # u_t + u u_x - nu u_xx by 4th-order central differences at points straddling the front (x = 0.5).
    x = np.linspace(0.47, 0.53, 13)
    t, h, k = 0.4, 1e-4, 1e-4
    u = lambda xx, tt: burgers_sin2pi(xx, tt)
    d1 = lambda f, a, s: (f(a - 2 * s) - 8 * f(a - s) + 8 * f(a + s) - f(a + 2 * s)) / (12 * s)
    ut = d1(lambda tt: u(x, tt), t, k)
    ux = d1(lambda xx: u(xx, t), x, h)
    uxx = (-u(x - 2 * h, t) + 16 * u(x - h, t) - 30 * u(x, t) + 16 * u(x + h, t) - u(x + 2 * h, t)) / (12 * h * h)
    res = ut + u(x, t) * ux - NU * uxx
    scale = np.abs(u(x, t) * ux).max()
    assert scale > 10  # the front really is steep here
    assert np.abs(res).max() < 1e-5 * scale


def test_front_is_antisymmetric_to_round_off():
    x = np.linspace(0.45, 0.55, 101)
    u = burgers_sin2pi(x, 0.6)
    assert abs(u[50]) < 1e-14
    assert np.abs(u + u[::-1]).max() < 1e-13


def test_large_viscosity_decays_like_the_linear_mode():
    # For large nu the nonlinearity is negligible: u ~ sin(2 pi x) exp(-4 pi^2 nu t) + O(amplitude^2).
    x = np.linspace(0, 1, 33)
    u = burgers_sin2pi(x, 0.1, nu=50.0)
    lin = np.sin(2 * np.pi * x) * np.exp(-4 * np.pi**2 * 50.0 * 0.1)
    assert np.abs(u - lin).max() < 1e-12


def test_cole_hopf_rejects_bad_input():
    with pytest.raises(ValueError, match="nu"):
        cole_hopf(0.0, 1.0, np.sin, np.cos, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="t >= 0|>= 0"):
        burgers_raissi(0.0, -1.0)


def test_riemann_shock_and_fan():
    x = np.linspace(0, 1, 11)
    u = riemann(x, 0.3, 1.0, 0.0)  # shock at 0.5 + 0.5 * 0.3 = 0.65
    assert np.array_equal(u, np.where(x < 0.65, 1.0, 0.0))
    v = riemann(x, 0.5, -1.0, 1.0)  # fan (x - 0.5) / 0.5 on [0, 1]
    assert np.allclose(v, np.clip((x - 0.5) / 0.5, -1, 1), atol=1e-15)
    assert np.array_equal(riemann(x, 0.0, -1.0, 1.0), np.where(x < 0.5, -1.0, 1.0))
    # conservation: int u dx grows by the flux difference (uL^2 - uR^2)/2 * t
    xf = np.linspace(-1, 2, 300001)
    for ul, ur in ((1.0, 0.0), (-0.5, 1.0), (2.0, -1.0)):
        m = np.trapezoid(riemann(xf, 0.4, ul, ur) - riemann(xf, 0.0, ul, ur), xf)
        assert abs(m - 0.5 * (ul**2 - ur**2) * 0.4) < 1e-4


def test_quadrature_is_converged_at_the_front(monkeypatch):
    # the default eta grid against one 6x finer and much wider: agreement to round-off, front included
    import fastdds.exact.burgers as eb

    x = np.linspace(0.4, 0.6, 201)
    t = np.array([[0.05], [0.3], [1.0], [3.0]])
    u = burgers_sin2pi(x, t)
    monkeypatch.setattr(eb, "_quadrature_nodes", lambda *args: np.linspace(-30.0, 30.0, 24001))
    fine = burgers_sin2pi(x, t)
    assert np.abs(u - fine).max() < 1e-13
    assert np.abs(np.diff(u[1])).max() > 0.1  # at t = 0.3 the grid straddles a steep front
