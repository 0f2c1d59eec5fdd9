"""Tridiagonal kernels (Numba): batched Thomas solves (plain and cyclic) and fused time stepping
of constant-coefficient tridiagonal linear systems (FTCS, Crank-Nicolson, RK4).

A tridiagonal matrix is given by three coefficient arrays of shape (nb, n), nb = 1 (one matrix
for the whole batch) or nb = batch (one per right-hand side):

    (A x)_i = lo[i] x[i-1] + di[i] x[i] + up[i] x[i+1]

Non-cyclic: lo[0] and up[n-1] are ignored. Cyclic (periodic): lo[0] multiplies x[n-1] and
up[n-1] multiplies x[0]. States are C-contiguous (batch, n); `work` arrays are scratch space.
The time-stepping kernels take constant stencils (lo, di, up) as scalars of the state's dtype, and
the Runge-Kutta kernel its method's constants as an array (the caller reads them from its tableau).
"""

import numba as nb
import numpy as np

from .arraycopy import copy_into


@nb.njit(inline="always", cache=True)
def _thomas_row(a, b, c, d, x, cp):
    """Solve one non-cyclic tridiagonal system; cp is scratch of length n."""
    n = d.size
    inv = 1 / b[0]
    cp[0] = c[0] * inv
    x[0] = d[0] * inv
    for i in range(1, n):
        inv = 1 / (b[i] - a[i] * cp[i - 1])
        cp[i] = c[i] * inv
        x[i] = (d[i] - a[i] * x[i - 1]) * inv
    for i in range(n - 2, -1, -1):
        x[i] -= cp[i] * x[i + 1]


@nb.njit(inline="always", cache=True)
def _cyclic_row(a, b, c, d, x, work):
    """Cyclic tridiagonal solve by Sherman-Morrison: A = T + w v^T with T tridiagonal,
    w = (g, 0, ..., 0, beta), v = (1, 0, ..., 0, alpha / g), g = -b[0], alpha = a[0], beta = c[n-1].
    work : shape (3, n): modified diagonal, T^{-1} w, Thomas scratch."""
    n = d.size
    alpha, beta = a[0], c[n - 1]
    g = -b[0]
    bb, z, cp = work[0], work[1], work[2]
    copy_into(bb, b)
    bb[0] = b[0] - g
    bb[n - 1] = b[n - 1] - alpha * beta / g
    _thomas_row(a, bb, c, d, x, cp)
    z[:] = 0
    z[0] = g
    z[n - 1] = beta
    _thomas_row(a, bb, c, z, z, cp)
    fact = (x[0] + alpha * x[n - 1] / g) / (1 + z[0] + alpha * z[n - 1] / g)
    for i in range(n):
        x[i] -= fact * z[i]


@nb.njit(inline="always", cache=True)
def _solve_row(a, b, c, d, x, periodic, work):
    """Solve one tridiagonal system, cyclic when `periodic`; work : shape (3, n)."""
    if periodic:
        _cyclic_row(a, b, c, d, x, work)
    else:
        _thomas_row(a, b, c, d, x, work[2])


@nb.njit(inline="always", cache=True)
def _solve_rows(lo, di, up, rhs, out, periodic, work):
    """The body of `solve`; inlined with a literal `periodic` so that each case compiles alone."""
    nb_ = di.shape[0]
    for k in range(rhs.shape[0]):
        m = k if nb_ > 1 else 0
        _solve_row(lo[m], di[m], up[m], rhs[k], out[k], periodic, work)


@nb.njit(cache=True)
def solve(lo, di, up, rhs, out, periodic, work):
    """Batched tridiagonal solve: out[k] = A_k^{-1} rhs[k] (no pivoting: A diagonally dominant).

    Thomas algorithm; when `periodic`, the cyclic system by Sherman-Morrison (two Thomas solves).

    Parameters
    ----------
    lo, di, up : ndarray, shape (nb, n), nb in {1, batch}; when periodic, lo[:, 0] and
        up[:, n-1] are the corners
    rhs, out : ndarray, shape (batch, n), same dtype (out may be rhs); n >= 3 when periodic
    periodic : bool
    work : ndarray, shape (3, n)
    """
    if periodic:
        _solve_rows(lo, di, up, rhs, out, True, work)
    else:
        _solve_rows(lo, di, up, rhs, out, False, work)


@nb.njit(inline="always", cache=True)
def _apply3(x, y, lo, di, up, periodic):
    """y = A x for the constant stencil (lo, di, up); zero values outside unless periodic."""
    n = x.size
    xm, x0, xp, yi = x[0:n - 2], x[1:n - 1], x[2:n], y[1:n - 1]
    for i in range(n - 2):
        yi[i] = lo * xm[i] + di * x0[i] + up * xp[i]
    left = x[n - 1] if periodic else x[0] * 0
    right = x[0] if periodic else x[0] * 0
    y[0] = lo * left + di * x[0] + up * x[1]
    y[n - 1] = lo * x[n - 2] + di * x[n - 1] + up * right


@nb.njit(cache=True)
def explicit_steps(u, out, nsteps, lo, di, up, periodic, work):
    """u <- W u, `nsteps` times, W the constant tridiagonal stencil (lo, di, up) (FTCS).

    Parameters
    ----------
    u, out : ndarray, shape (batch, n), n >= 3
    nsteps : int
    lo, di, up : scalars of u's dtype
    periodic : bool
        Wrap around; else zero values outside (homogeneous Dirichlet beyond the ends).
    work : ndarray, shape (2, n)
    """
    for k in range(u.shape[0]):
        a, b = work[0], work[1]
        copy_into(a, u[k])
        for _ in range(nsteps):
            _apply3(a, b, lo, di, up, periodic)
            a, b = b, a
        copy_into(out[k], a)


@nb.njit(cache=True)
def rk4_steps(u, out, nsteps, lo, di, up, periodic, coef, work):
    """A four-stage Runge-Kutta method of the classical shape for u' = L u, `nsteps` steps, with
    dt L the stencil (lo, di, up):

        k1 = dt L y, k2 = dt L (y + a21 k1), k3 = dt L (y + a32 k2), k4 = dt L (y + a43 k3)
        y <- y + w (k1 + m k2 + m k3 + k4)

    Parameters
    ----------
    u, out : ndarray, shape (batch, n), n >= 3
    lo, di, up : scalars of u's dtype, the stencil of dt L
    periodic : bool
    coef : ndarray, shape (5,), u's dtype
        (a21, a32, a43, w, m); classical RK4 is (1/2, 1/2, 1, 1/6, 2), given by the caller
        from its Butcher tableau.
    work : ndarray, shape (4, n)
    """
    a21, a32, a43, w, m = coef[0], coef[1], coef[2], coef[3], coef[4]
    n = u.shape[1]
    y, s, k, acc = work[0], work[1], work[2], work[3]
    for r in range(u.shape[0]):
        copy_into(y, u[r])
        for _ in range(nsteps):
            _apply3(y, k, lo, di, up, periodic)  # k1
            for i in range(n):
                acc[i] = k[i]
                s[i] = y[i] + a21 * k[i]
            _apply3(s, k, lo, di, up, periodic)  # k2
            for i in range(n):
                acc[i] += m * k[i]
                s[i] = y[i] + a32 * k[i]
            _apply3(s, k, lo, di, up, periodic)  # k3
            for i in range(n):
                acc[i] += m * k[i]
                s[i] = y[i] + a43 * k[i]
            _apply3(s, k, lo, di, up, periodic)  # k4
            for i in range(n):
                y[i] += w * (acc[i] + k[i])
        copy_into(out[r], y)


@nb.njit(cache=True)
def implicit_steps(u, out, nsteps, elo, edi, eup, ilo, idi, iup, periodic, work):
    """u <- B^{-1} (E u), `nsteps` times (Crank-Nicolson: E = I + A/2, B = I - A/2).

    Parameters
    ----------
    u, out : ndarray, shape (batch, n), n >= 3
    elo, edi, eup : scalars, the explicit stencil E
    ilo, idi, iup : ndarray, shape (1, n) each, the implicit matrix B (cyclic when periodic)
    periodic : bool
    work : ndarray, shape (5, n)
    """
    for r in range(u.shape[0]):
        y, rhs = work[0], work[1]
        copy_into(y, u[r])
        for _ in range(nsteps):
            _apply3(y, rhs, elo, edi, eup, periodic)
            _solve_row(ilo[0], idi[0], iup[0], rhs, y, periodic, work[2:5])
        copy_into(out[r], y)
