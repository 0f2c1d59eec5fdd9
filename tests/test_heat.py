"""Heat / advection-diffusion chains: Thomas solves, Fourier-mode decay with orders, chains == kernels."""

import numpy as np
import pytest
from scipy.linalg import solve_banded

from fastdds.layers import Chain
from fastdds.pde import heat as H

STEPPERS = {"ftcs": H.ftcs, "rk4": H.rk4, "cn": H.crank_nicolson}


def test_thomas_matches_solve_banded(rng):
    n, batch = 37, 5
    lo, up = rng.uniform(-1, 1, (2, batch, n))
    di = 3 + rng.uniform(0, 1, (batch, n))
    rhs = rng.standard_normal((batch, n))
    x = H.solve_tridiagonal(lo, di, up, rhs)
    for k in range(batch):
        ab = np.vstack([np.r_[0, up[k, :-1]], di[k], np.r_[lo[k, 1:], 0]])
        assert np.abs(x[k] - solve_banded((1, 1), ab, rhs[k])).max() < 1e-13
    shared = H.solve_tridiagonal(lo[0], di[0], up[0], rhs)  # one matrix for the whole batch
    ab0 = np.vstack([np.r_[0, up[0, :-1]], di[0], np.r_[lo[0, 1:], 0]])
    assert np.abs(shared - solve_banded((1, 1), ab0, rhs.T).T).max() < 1e-13


def test_cyclic_solve_matches_dense(rng):
    n = 23
    lo, up = rng.uniform(-1, 1, (2, n))
    di = 3 + rng.uniform(0, 1, n)
    A = np.diag(di) + np.diag(lo[1:], -1) + np.diag(up[:-1], 1)
    A[0, -1], A[-1, 0] = lo[0], up[-1]
    rhs = rng.standard_normal((3, n))
    x = H.solve_tridiagonal(lo, di, up, rhs, periodic=True)
    assert np.abs(x - np.linalg.solve(A, rhs.T).T).max() < 1e-13


def _mode_error(method, nx, dt, T, D, U, boundary):
    if boundary == "periodic":
        x = np.arange(nx) / nx
        dx = 1.0 / nx
        exact = np.exp(-4 * np.pi**2 * D * T) * np.sin(2 * np.pi * (x - U * T))
        u0 = np.sin(2 * np.pi * x)
    else:
        dx = 1.0 / (nx + 1)
        x = dx * np.arange(1, nx + 1)
        exact = np.exp(-np.pi**2 * D * T) * np.sin(np.pi * x)
        u0 = np.sin(np.pi * x)
    ns = int(round(T / dt))
    u = STEPPERS[method](u0, dx, T / ns, ns, D, U, boundary)
    return np.abs(u - exact).max()


@pytest.mark.parametrize("method", ["ftcs", "rk4", "cn"])
@pytest.mark.parametrize("boundary, U", [("periodic", 1.0), ("zero", 0.0)])
def test_second_order_in_space_against_exact_mode_decay(method, boundary, U):
    D, T = 0.1, 0.1
    errs = []
    for nx in (32, 64, 128):
        dx = 1.0 / nx
        errs.append(_mode_error(method, nx, 0.2 * dx * dx / D, T, D, U, boundary))
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert errs[-1] < 1e-3 and orders.min() > 1.9, (errs, orders)


@pytest.mark.parametrize("method, order", [("ftcs", 1), ("cn", 2), ("rk4", 4)])
def test_time_order_against_semi_discrete_solution(method, order):
    # mode theta of the periodic grid decays exactly as exp(lambda t) in the semi-discrete system
    nx, k, D, U = 64, 8, 0.1, 1.0
    dx = 1.0 / nx
    theta = 2 * np.pi * k / nx
    lam = D / dx**2 * (2 * np.cos(theta) - 2) - 1j * U / dx * np.sin(theta)
    j = np.arange(nx)
    T = 0.0128
    errs = []
    for ns in (16, 32, 64):
        u = STEPPERS[method](np.sin(theta * j), dx, T / ns, ns, D, U)
        exact = np.imag(np.exp(lam * T + 1j * theta * j))
        errs.append(np.abs(u - exact).max() / np.abs(exact).max())
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert orders.min() > order - 0.15, (errs, orders)


@pytest.mark.parametrize("boundary", ["periodic", "zero"])
@pytest.mark.parametrize("method", ["ftcs", "rk4"])
def test_chain_equals_fused_kernel(method, boundary, rng):
    nx, dx, dt, D, U, ns = 40, 0.025, 2e-4, 1.0, 3.0, 300
    r, s = H.coefficients(dx, dt, D, U)
    u0 = rng.standard_normal(nx)
    layer = (H.ftcs_layer if method == "ftcs" else H.rk4_layer)(nx, r, s, boundary)
    y = Chain([layer] * ns)(u0)
    u = STEPPERS[method](u0, dx, dt, ns, D, U, boundary)
    assert np.abs(y - u).max() <= 1e-12 * np.abs(u).max()
    assert np.abs(u - u0).max() > 0.1


def test_ftcs_layer_coefficients():
    layer = H.ftcs_layer(10, 0.3, 0.1, "zero")
    W = layer.P.to_dense()
    assert np.allclose(np.diag(W, -1), 0.4) and np.allclose(np.diag(W), 0.4) and np.allclose(np.diag(W, 1), 0.2)
    assert np.allclose(H.ftcs_layer(10, 0.3, 0.1).P.to_dense()[0, -1], 0.4)  # periodic corner


def test_float32_stays_float32():
    x = np.arange(32) / 32
    for f in STEPPERS.values():
        u = f(np.sin(2 * np.pi * x).astype(np.float32), 1 / 32, 1e-4, 50, 0.5, 1.0)
        assert u.dtype == np.float32
        ref = f(np.sin(2 * np.pi * x), 1 / 32, 1e-4, 50, 0.5, 1.0)
        assert np.abs(u - ref).max() < 1e-5


def test_stability_limits_and_bad_input():
    dx, D = 0.01, 1.0
    assert H.max_stable_dt("ftcs", dx, D) == pytest.approx(dx * dx / 2)
    assert H.max_stable_dt("ftcs", dx, 0.01, 2.0) == pytest.approx(2 * 0.01 / 4)
    assert H.max_stable_dt("rk4", dx, D) == pytest.approx(0.6963 * dx * dx, rel=1e-3)  # 2.785 / 4
    assert H.max_stable_dt("cn", dx, D) == np.inf
    u = np.sin(np.linspace(0, 2 * np.pi, 100, endpoint=False))
    with pytest.raises(ValueError, match=r"largest stable dt is 5e-05"):
        H.ftcs(u, dx, 6e-5, 10, D)
    with pytest.raises(ValueError, match="largest stable dt"):
        H.rk4(u, dx, 8e-5, 10, D)
    with pytest.warns(RuntimeWarning, match="unstable"):
        H.ftcs(u, dx, 6e-5, 2, D, unsafe=True)
    with pytest.raises(ValueError, match=r"r = 0\.5"):
        H.ftcs_layer(10, 0.6)
    with pytest.raises(ValueError, match="D = -1"):
        H.crank_nicolson(u, dx, 1e-3, 10, -1.0)
    bad = u.copy()
    bad[3] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        H.ftcs(bad, dx, 1e-5, 10, D)
    with pytest.raises(ValueError, match="shape"):
        H.ftcs(u.reshape(2, 5, 10), dx, 1e-5, 10, D)
    with pytest.raises(ValueError, match="boundary"):
        H.ftcs(u, dx, 1e-5, 10, D, boundary="neumann")
    with pytest.raises(ValueError, match="lower has shape"):
        H.solve_tridiagonal(np.ones(5), 3 * np.ones(6), np.ones(6), np.ones(6))
