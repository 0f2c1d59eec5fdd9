"""Heat and advection-diffusion chains: u_t + U u_x = D u_xx on a uniform grid.

Central differences give the semi-discrete system u' = L u with dt L the constant tridiagonal
stencil (s + r, -2 r, r - s), r = D dt / dx^2, s = U dt / (2 dx). Three time steppers:

    FTCS             u <- W u,  W = I + dt L: W[i, i-1] = s + r, W[i, i] = 1 - 2 r, W[i, i+1] = r - s
    Crank-Nicolson   (I - dt L / 2) u_new = (I + dt L / 2) u   (Thomas / cyclic Sherman-Morrison)
    RK4              u <- R4(dt L) u,  R4(z) = 1 + z + z^2/2 + z^3/6 + z^4/24
                     (the stability polynomial of `fastdds.tableaus.RK4`, whose constants
                     the kernel also receives)

Boundaries (``fastdds.boundaries``): "periodic" (n nodes, x_n = x_0) or "zero" (the array holds
the interior nodes; the values beyond both ends are zero: homogeneous Dirichlet data on nodes
outside the array; spelled "dirichlet" before the shared vocabulary, which now refuses it
here). Each stepper runs all its steps in one fused kernel (``fastdds.kernels.cpu.tridiag``).
FTCS and RK4 are chains of layers (`ftcs_layer`: one banded P per step; `rk4_layer`: one banded
P = R4(dt L), a 9-point stencil, per step, since RK4 of a linear system is a polynomial in its
operator). Crank-Nicolson is not a banded chain: its step
(I - dt L/2)^{-1} (I + dt L/2) is a dense matrix.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from .. import backend, boundaries
from ..layers import Layer
from ..operators import Banded
from ..tableaus import RK4
from ..validation import check_finite, check_time_step

BOUNDARIES = ("periodic", "zero")
_RK4 = RK4.stability_polynomial()  # (1, 1, 1/2, 1/6, 1/24)


def _rk4_constants(tableau, dtype):
    """(a21, a32, a43, w, m) of the tridiagonal RK4 kernel from a tableau of the classical shape
    (stage matrix on the first subdiagonal, weights w (1, m, m, 1))."""
    a, b = tableau.a, tableau.b
    if any(a[i][j] for i in range(4) for j in range(i - 1)) or b[0] != b[3] or b[1] != b[2]:
        raise ValueError(f"tableau {tableau.name!r} is not of the classical RK4 shape the kernel steps")
    return np.array([a[1][0], a[2][1], a[3][2], b[0], b[1] / b[0]], dtype=dtype)


def coefficients(dx, dt, D, U=0.0):
    """(r, s) = (D dt / dx^2, U dt / (2 dx)); dx, dt in the units of x and t."""
    return D * dt / dx**2, U * dt / (2.0 * dx)


def _amplification(poly, r, s, theta):
    z = -2.0 * r * (1.0 - np.cos(theta)) - 2j * s * np.sin(theta)
    return np.abs(np.polyval(poly[::-1], z))


def max_stable_dt(method, dx, D, U=0.0):
    """Largest time step for which every Fourier mode stays bounded (von Neumann).

    FTCS: dt <= min(dx^2 / (2 D), 2 D / U^2) (r <= 1/2 and (U dt/dx)^2 <= 2 r). RK4: found by
    bisection on max over modes of |R4(dt lambda)| <= 1 (pure diffusion: r <= 0.696).
    Crank-Nicolson is unconditionally stable (inf).

    Parameters
    ----------
    method : {"ftcs", "rk4", "cn"}
    dx : float
    D, U : float
        Diffusivity (>= 0) and advection speed.

    Returns
    -------
    float (units of t); 0 when no step is stable (FTCS with D = 0, U != 0).
    """
    if method == "cn":
        return np.inf
    if method == "ftcs":
        return min(dx * dx / (2 * D) if D > 0 else np.inf, 2 * D / U**2 if U != 0 else np.inf)
    if method != "rk4":
        raise ValueError(f"unknown method {method!r}; choose 'ftcs', 'rk4' or 'cn'")
    if D == 0 and U == 0:
        return np.inf
    theta = np.linspace(0.0, np.pi, 4097)
    stable = lambda dt: _amplification(_RK4, *coefficients(dx, dt, D, U), theta).max() <= 1 + 1e-13
    lo, hi = 0.0, 3.0 / (4 * D / dx**2 + abs(U) / dx)  # beyond the RK4 region's extent 2.83
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return lo


def _check(u0, dx, dt, nsteps, D, U, boundary, dtype):
    boundaries.code(boundary, BOUNDARIES, "the heat solvers")
    u = np.asarray(u0) if not hasattr(u0, "dtype") else u0
    dtype = backend.resolve_dtype(dtype, like=u)
    if u.ndim not in (1, 2) or u.shape[-1] < 3:
        raise ValueError(f"u0 has shape {u.shape}; expected (n,) or (batch, n) with n >= 3")
    u2 = backend.array_module(u).ascontiguousarray(u.reshape(-1, u.shape[-1]), dtype=dtype)
    check_finite("u0", u2)
    for name, v in (("dx", dx), ("dt", dt)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} = {v} must be a positive number")
    if not (np.isfinite(D) and D >= 0):
        raise ValueError(f"diffusivity D = {D} must be >= 0")
    if not np.isfinite(U):
        raise ValueError(f"advection speed U = {U} must be finite")
    if int(nsteps) < 0:
        raise ValueError(f"nsteps = {nsteps} must be >= 0")
    return u2, u.ndim == 1


def _check_stable(method, dx, dt, D, U, unsafe):
    check_time_step(dt, max_stable_dt(method, dx, D, U), f"{method.upper()} (dx = {dx:g}, D = {D:g}, U = {U:g})",
                    unsafe, stacklevel=4)


def _stencil(dx, dt, D, U, dtype):
    r, s = coefficients(dx, dt, D, U)
    return dtype.type(s + r), dtype.type(-2.0 * r), dtype.type(r - s)


def ftcs(u0, dx, dt, nsteps, D, U=0.0, boundary="periodic", unsafe=False, dtype=None):
    """Forward-time centred-space steps u <- W u of u_t + U u_x = D u_xx.

    Parameters
    ----------
    u0 : ndarray, shape (n,) or (batch, n), float32 or float64
        A CuPy array is refused by ``fastdds.backend.kernels`` (the tridiagonal kernels have no
        GPU twin): NotImplementedError naming the groups that have one.
    dx, dt : float
        Grid spacing and time step (units of x and t).
    nsteps : int
    D, U : float
        Diffusivity (>= 0) and advection speed.
    boundary : {"periodic", "zero"}
    unsafe : bool
        Warn instead of raising when dt exceeds `max_stable_dt`.
    dtype : optional
        Default: u0's float dtype, else float64.

    Returns
    -------
    ndarray, the shape and dtype of u0 (after the cast).
    """
    u, squeeze = _check(u0, dx, dt, nsteps, D, U, boundary, dtype)
    _check_stable("ftcs", dx, dt, D, U, unsafe)
    lo, di, up = _stencil(dx, dt, D, U, u.dtype)
    kern, xp = backend.kernels("tridiag", like=u), backend.array_module(u)
    out = xp.empty_like(u)
    kern.explicit_steps(u, out, int(nsteps), lo, u.dtype.type(1 + di), up, boundary == "periodic",
                        xp.empty((2, u.shape[1]), u.dtype))
    return out[0] if squeeze else out


def rk4(u0, dx, dt, nsteps, D, U=0.0, boundary="periodic", unsafe=False, dtype=None):
    """Classical RK4 method of lines for u_t + U u_x = D u_xx (central differences).

    Parameters and returns as in `ftcs`.
    """
    u, squeeze = _check(u0, dx, dt, nsteps, D, U, boundary, dtype)
    _check_stable("rk4", dx, dt, D, U, unsafe)
    lo, di, up = _stencil(dx, dt, D, U, u.dtype)
    kern, xp = backend.kernels("tridiag", like=u), backend.array_module(u)
    out = xp.empty_like(u)
    kern.rk4_steps(u, out, int(nsteps), lo, di, up, boundary == "periodic", xp.asarray(_rk4_constants(RK4, u.dtype)),
                   xp.empty((4, u.shape[1]), u.dtype))
    return out[0] if squeeze else out


def crank_nicolson(u0, dx, dt, nsteps, D, U=0.0, boundary="periodic", dtype=None):
    """Crank-Nicolson steps (I - dt L/2) u_new = (I + dt L/2) u; unconditionally stable.

    The tridiagonal solve is the Thomas algorithm (zero) or its cyclic form by
    Sherman-Morrison (periodic), inside one fused kernel for all steps.

    Parameters and returns as in `ftcs` (no stability limit, so no `unsafe`).
    """
    u, squeeze = _check(u0, dx, dt, nsteps, D, U, boundary, dtype)
    lo, di, up = _stencil(dx, dt, D, U, u.dtype)
    h = u.dtype.type(0.5)
    n = u.shape[1]
    kern, xp = backend.kernels("tridiag", like=u), backend.array_module(u)
    mat = [xp.full((1, n), v, dtype=u.dtype) for v in (-h * lo, 1 - h * di, -h * up)]
    out = xp.empty_like(u)
    kern.implicit_steps(u, out, int(nsteps), h * lo, 1 + h * di, h * up, *mat, boundary == "periodic",
                        xp.empty((5, n), u.dtype))
    return out[0] if squeeze else out


def solve_tridiagonal(lower, diag, upper, rhs, periodic=False):
    """Solve A x = rhs for tridiagonal A (batched Thomas; cyclic by Sherman-Morrison).

    Parameters
    ----------
    lower, diag, upper : ndarray, shape (n,) or (batch, n)
        A[i, i-1] = lower[i], A[i, i] = diag[i], A[i, i+1] = upper[i]. Non-periodic: lower[0] and
        upper[n-1] are ignored; periodic: they are the corners A[0, n-1] and A[n-1, 0].
    rhs : ndarray, shape (n,) or (batch, n)
    periodic : bool

    Returns
    -------
    ndarray, the shape of rhs, its float dtype. No pivoting: A should be diagonally dominant.
    """
    b, squeeze = _check(rhs, 1.0, 1.0, 0, 0.0, 0.0, "zero", None)
    kern, xp = backend.kernels("tridiag", like=b), backend.array_module(b)
    coeffs = []
    for name, c in (("lower", lower), ("diag", diag), ("upper", upper)):
        c = xp.asarray(c, dtype=b.dtype)
        c = c.reshape(1, -1) if c.ndim == 1 else c
        if c.ndim != 2 or c.shape[1] != b.shape[1] or c.shape[0] not in (1, b.shape[0]):
            raise ValueError(f"{name} has shape {c.shape}; expected ({b.shape[1]},) or ({b.shape[0]}, {b.shape[1]})")
        check_finite(name, c)
        coeffs.append(xp.ascontiguousarray(c))
    out = xp.empty_like(b)
    kern.solve(*coeffs, b, out, bool(periodic), xp.empty((3, b.shape[1]), b.dtype))
    return out[0] if squeeze else out


def _check_layer(nx, r, s, boundary, method, unsafe):
    boundaries.code(boundary, BOUNDARIES, "the heat layers")
    if int(nx) < 3:
        raise ValueError(f"nx = {nx}; a grid needs at least 3 nodes")
    if not (np.isfinite(r) and r >= 0 and np.isfinite(s)):
        raise ValueError(f"r = {r} must be >= 0 and s = {s} finite")
    # with dx = 1, dt = 1: D = r, U = 2 s
    r_ok = max_stable_dt(method, 1.0, r, 2 * s)
    if r_ok < 1 - 1e-9:
        msg = (f"this {method.upper()} step (r = {r:g}, s = {s:g}) is unstable: the largest stable step is "
               f"{r_ok:.6g} times this one (r = {r * r_ok:.6g}, s = {s * r_ok:.6g})")
        if not unsafe:
            raise ValueError(msg + "; lower dt, or pass unsafe=True")
        warnings.warn(msg, RuntimeWarning, stacklevel=3)


def ftcs_layer(nx, r, s=0.0, boundary="periodic", unsafe=False, dtype=None):
    """One FTCS step as a layer y = P x, P = tridiag(s + r, 1 - 2 r, r - s).

    Parameters
    ----------
    nx : int
    r, s : float
        r = D dt / dx^2 (>= 0), s = U dt / (2 dx).
    boundary : {"periodic", "zero"}
    unsafe : bool
        Warn instead of raising for an unstable step (r > 1/2 or 4 s^2 > 2 r).
    dtype : optional

    Returns
    -------
    Layer
    """
    _check_layer(nx, r, s, boundary, "ftcs", unsafe)
    return Layer(Banded((-1, 0, 1), [s + r, 1 - 2 * r, r - s], boundary, n=int(nx), dtype=dtype))


def rk4_layer(nx, r, s=0.0, boundary="periodic", unsafe=False, dtype=None):
    """One RK4 step of the central semi-discretisation as a layer y = P x, P = R4(A),
    A = tridiag(s + r, -2 r, r - s): a 9-point banded operator.

    Parameters as in `ftcs_layer` (the stability limit is RK4's).

    Returns
    -------
    Layer
    """
    _check_layer(nx, r, s, boundary, "rk4", unsafe)
    nx = int(nx)
    a = np.array([s + r, -2 * r, r - s])
    if boundary == "periodic" and nx >= 9:
        poly, power = np.zeros(9), np.array([1.0])
        for k, c in enumerate(_RK4):
            poly[4 - k:5 + k] += c * power
            power = np.convolve(power, a)
        return Layer(Banded(np.arange(-4, 5), poly, "periodic", n=nx, dtype=dtype))
    A = sp.diags([a[0], a[1], a[2]], [-1, 0, 1], shape=(nx, nx), format="csr")
    if boundary == "periodic":
        A = A + sp.csr_matrix(([a[0], a[2]], ([0, nx - 1], [nx - 1, 0])), shape=(nx, nx))
    M, power = sp.csr_matrix((nx, nx)), sp.identity(nx, format="csr")
    for c in _RK4:
        M, power = M + c * power, power @ A
    return Layer(Banded.from_sparse(M, dtype=dtype))
