"""The one boundary vocabulary: one table of codes, one meaning per name, one error."""

import numpy as np
import pytest

from fastdds import boundaries
from fastdds.kernels import BOUNDARY_CODES
from fastdds.kernels.cpu import banded as banded_kernels
from fastdds.kernels.cpu import burgers as burgers_kernels
from fastdds.operators import Banded
from fastdds.pde import burgers as B
from fastdds.pde import heat as H


def test_one_table_of_codes():
    assert boundaries.CODES is BOUNDARY_CODES
    assert BOUNDARY_CODES == {"periodic": 0, "zero": 1, "neumann": 2, "dirichlet": 3, "outflow": 4}
    assert set(boundaries.MEANINGS) == set(BOUNDARY_CODES)
    for supported in (Banded.BOUNDARIES, B.BOUNDARIES, H.BOUNDARIES):
        assert set(supported) <= set(BOUNDARY_CODES)
        assert [boundaries.code(b, supported, "x") for b in supported] == [BOUNDARY_CODES[b] for b in supported]
    assert (banded_kernels.PERIODIC, banded_kernels.ZERO) == (0, 1)
    assert (burgers_kernels.PERIODIC, burgers_kernels.DIRICHLET, burgers_kernels.OUTFLOW) == (0, 3, 4)


@pytest.mark.parametrize("boundary, first, last", [
    ("periodic", [-2, 1, 0, 0, 1], [1, 0, 0, 1, -2]),  # wraps
    ("zero", [-2, 1, 0, 0, 0], [0, 0, 0, 1, -2]),  # the terms past the ends drop
    ("neumann", [-2, 2, 0, 0, 0], [0, 0, 0, 2, -2]),  # x_{-1} = x_1, x_5 = x_3
])
def test_meaning_on_a_banded_operator(boundary, first, last):
    A = Banded.stencil([1.0, -2.0, 1.0], 5, boundary=boundary).to_dense()
    np.testing.assert_array_equal(A[0], first)
    np.testing.assert_array_equal(A[-1], last)
    np.testing.assert_array_equal(A[2], [0, 1, -2, 1, 0])


def _lf_euler_step(u, dx, dt, nu, alpha, boundary, left, right):
    """One forward-Euler Lax-Friedrichs step, written from the meaning of each boundary."""
    if boundary == "periodic":
        ext = np.r_[u[-1], u, u[0]]
    elif boundary == "outflow":
        ext = np.r_[u[0], u, u[-1]]
    else:
        u = np.r_[left, u[1:-1], right]
        ext = np.r_[2 * left - u[1], u, 2 * right - u[-2]]
    flux = 0.25 * (ext[:-1] ** 2 + ext[1:] ** 2) - 0.5 * alpha * (ext[1:] - ext[:-1])
    new = u - dt / dx * (flux[1:] - flux[:-1]) + nu * dt / dx**2 * (ext[2:] - 2 * ext[1:-1] + ext[:-2])
    if boundary == "dirichlet":
        new[0], new[-1] = left, right  # held at the prescribed values
    return new


@pytest.mark.parametrize("boundary", ["periodic", "dirichlet", "outflow"])
def test_meaning_on_a_burgers_step(boundary, rng):
    u0 = rng.uniform(-1, 1, 9)
    dx, dt, nu, alpha, left, right = 0.1, 0.01, 0.05, 1.2, 0.3, -0.2
    got = B.solve(u0, dx, nu=nu, scheme="lf", nsteps=1, dt=dt, boundary=boundary, left=left, right=right,
                  alpha=alpha).u
    want = _lf_euler_step(u0, dx, dt, nu, alpha, boundary, left, right)
    assert np.abs(got - want).max() < 1e-14
    if boundary == "dirichlet":
        assert (got[0], got[-1]) == (left, right)
        P = B.step_layers("lf", 9, dx, dt, nu, boundary, alpha=alpha)[0].P.to_dense()
        np.testing.assert_array_equal(P[[0, -1]], np.eye(9)[[0, -1]])  # identity end rows keep the ends


def test_heat_zero_is_the_former_dirichlet():
    """heat "zero": interior nodes, zero values beyond the ends = Banded "zero" applied to u."""
    u0 = np.sin(np.pi * np.arange(1, 8) / 8)
    r = 0.2  # D dt / dx^2 with D = dx = 1
    got = H.ftcs(u0, 1.0, r, 1, 1.0, boundary="zero")
    want = u0 + r * Banded.stencil([1.0, -2.0, 1.0], 7, boundary="zero").apply(u0)
    assert np.abs(got - want).max() < 1e-15


def test_unsupported_names_are_refused_with_the_supported_list():
    d = np.ones((1, 4))
    with pytest.raises(ValueError, match=r"Banded has no boundary 'dirichlet'; it supports 'periodic', 'zero', "
                                         r"'neumann'.*spelled \"zero\""):
        Banded((0,), d, "dirichlet")
    with pytest.raises(ValueError, match=r"the heat solvers has no boundary 'dirichlet'.*spelled \"zero\""):
        H.ftcs(np.ones(5), 0.1, 1e-3, 1, 1.0, boundary="dirichlet")
    with pytest.raises(ValueError, match=r"the heat layers has no boundary 'dirichlet'.*spelled \"zero\""):
        H.ftcs_layer(5, 0.2, boundary="dirichlet")
    with pytest.raises(ValueError, match=r"burgers.solve has no boundary 'neumann'; it supports 'periodic', "
                                         r"'dirichlet', 'outflow' \('neumann': terms past an end read"):
        B.solve(np.zeros(5), 0.1, nu=0.0, nsteps=1, dt=0.01, boundary="neumann")
    with pytest.raises(ValueError, match=r"burgers.step_layers has no boundary 'zero'"):
        B.step_layers("lf", 5, 0.1, 0.01, 0.0, "zero", alpha=1.0)
    with pytest.raises(ValueError, match=r"unknown boundary 'wrap'; Banded supports 'periodic', 'zero', 'neumann'"):
        Banded((0,), d, "wrap")
