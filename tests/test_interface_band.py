"""The interface band (NumPy, any number of axes): exact on planes, masks, periodic edges."""

import numpy as np
import pytest

from fastdds.exact.eikonal import grid_coordinates
from fastdds.pde.interface_band import interface_band


@pytest.mark.parametrize("dim", [1, 2, 3, 5])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-14), (np.float32, 1e-6)])
def test_band_distances_are_exact_for_a_plane(dim, dtype, tol):
    """phi = a . x - c is its own signed distance times |a|: the linear crossings and, on the axes
    without one, the central differences are exact, so every band cell gets |phi| / |a|."""
    rng = np.random.default_rng(dim)
    n, h = 7, 0.25
    a = rng.uniform(0.5, 1.5, dim) * rng.choice([-1, 1], dim)
    x = grid_coordinates((n,) * dim, h, 0.0)
    phi64 = sum(ak * (xk - 0.5 * (n - 1) * h) for ak, xk in zip(a, x)) + 0.1 * h  # through the middle, no node on it
    phi = phi64.astype(dtype)
    u, fixed, side, fext, count = interface_band(phi, (h,) * dim, (False,) * dim, gradient=True)
    sign = np.sign(phi)
    near = np.zeros(phi.shape, bool)
    for ax in range(dim):
        change = np.diff(sign, axis=ax) != 0
        lo = (slice(None),) * ax + (slice(0, n - 1),)
        hi = (slice(None),) * ax + (slice(1, n),)
        near[lo] |= change
        near[hi] |= change
    assert count == near.sum() > 0 and np.array_equal(fixed, near) and fext is None
    assert np.array_equal(side, sign.astype(np.int8)) and u.dtype == dtype
    assert np.isinf(u[~near]).all()
    exact = np.abs(phi.astype(np.float64)) / np.linalg.norm(a)
    assert np.abs(u[near] - exact[near]).max() < tol * (n - 1) * h


def test_linear_band_combines_the_axis_crossings():
    """Without `gradient` a cell with one crossing gets that axis's interpolated distance
    h p / (p - pq), with crossings on two axes 1 / d^2 adds, and the extended speed is the one
    interpolated to the crossing (on a tie, the lower neighbour's)."""
    phi = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, -3.0], [1.0, -1.0, 1.0]])
    speed = np.arange(9.0).reshape(3, 3)
    u, fixed, side, fext, count = interface_band(phi, (0.5, 2.0), (False, False), gradient=False, speed=speed)
    assert count == fixed.sum() == 6 and side[1, 2] == -1
    assert u[0, 2] == 0.5 * 1 / 4
    d0, d1 = 0.5 * 1 / 4, 2.0 * 1 / 2
    assert u[2, 2] == pytest.approx(1 / np.sqrt(1 / d0**2 + 1 / d1**2), rel=1e-15)
    assert fext[0, 2] == pytest.approx(speed[0, 2] + 0.25 * (speed[1, 2] - speed[0, 2]), rel=1e-15)
    u, _, _, fext, _ = interface_band(np.array([-1.0, 1.0, -1.0]), (1.0,), (False,), gradient=False,
                                      speed=np.array([10.0, 0.0, 20.0]))
    assert u[1] == 0.5 and fext[1] == 5.0


def test_masked_cells_and_periodic_edges():
    """Masked cells are fixed at inf with side 0 and hide their crossings; a periodic axis finds the
    crossing across its edge."""
    phi = np.array([-1.0, 1.0, 1.0, 1.0, 3.0])
    u, fixed, side, _, count = interface_band(phi, (1.0,), (False,), gradient=False)
    assert count == 2 and u[0] == 0.5 and u[1] == 0.5 and np.isinf(u[2:]).all()
    u, fixed, side, _, count = interface_band(phi, (1.0,), (True,), gradient=False)
    assert count == 3 and u[4] == pytest.approx(0.75) and u[0] == pytest.approx(0.25)
    valid = np.array([True, False, True, True, True])
    u, fixed, side, _, count = interface_band(phi, (1.0,), (True,), gradient=False, valid=valid)
    assert count == 2 and side[1] == 0 and fixed[1] and np.isinf(u[1])
    assert not fixed[2] and np.isinf(u[2])
    none = interface_band(np.ones((3, 4)), (1.0, 1.0), (True, True), gradient=True)
    assert none[4] == 0 and not none[1].any()
