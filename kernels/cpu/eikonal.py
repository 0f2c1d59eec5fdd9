"""Eikonal kernels (Numba): fast sweeping in 2-D and 3-D (1-D grids run as 2-D with one row),
extension values, periodic ghost cells, and the explicit 1-D
Hamilton-Jacobi steps of -u_t + |u_x| - 1 = 0 (grids of 4 axes and more: ``eikonal_nd``).

Fast sweeping (Zhao 2005) solves |grad u| = f with Godunov upwind updates, Gauss-Seidel in
place, the grid visited in alternating orderings (4 in 2-D, 8 in 3-D). Arrays are padded by two
cells on every side (``u`` = inf there) so neighbour look-ups need no bounds checks. ``state``
(uint8, padded like u) drives the locking variant (Bak, McLaurin, Zhao 2010): 1 marks a cell
to update, 0 a cell whose neighbours have not changed since its last update, 2 or 3 a fixed
cell (source, interface band, obstacle or padding; on a periodic axis the padding holds
copies of the cells across the edge, refreshed after every sweep). A changed cell re-activates its
neighbours with ``state |= 1``, which leaves fixed cells fixed. Without a tolerance the result
is the plain Gauss-Seidel sweep's, bit for bit: a cell is skipped only when its update would
return the same value.

Gauss-Seidel sweeping is NOT a chain of layers y = P x + sum Q sigma(R x + b): each update reads
values written earlier in the same sweep, so no operator maps one whole state to the next. For
the same reason the sweep loops are sequential along every axis (a data dependence, not a missed
vectorisation); the 1-D Hamilton-Jacobi step, which is explicit, runs over contiguous slices.

Weights ``w_k = 1 / dx_k^2`` per axis; ``f`` = 1 / speed per cell (padded like u). The local
solve finds the largest root of sum_k w_k (u - a_k)^+^2 = f^2 over the smallest upwind values.

Numba inlines at its IR level (copying IR, most of the compile) only the sweep bodies and the
updates and stores of the per-cell hot path; the other helpers are ordinary compiled calls,
which LLVM inlines where it pays. Cold first solves, 2-D/3-D at orders 1 and 2 in one process,
float64: 13.4 s before, 10.5 s after; solve times unchanged within this guest's noise (2-D
n = 1000, 3-D n = 160, interleaved runs: 3-D order 1 259-317 ms before, 292-314 ms after).
"""

import math

import numba as nb
import numpy as np

from .arraycopy import copy_into

FIXED = 2
SETTLE = 16  # order 2 only lowers values after SETTLE cycles of the 2^d orderings
THIRD = 1.0 / 3.0  # divisions on the sweep's dependence chain become products (1 ulp)


@nb.njit(cache=True)
def _sort3(m0, w0, a0, m1, w1, a1, m2, w2, a2):
    """The three (m, w, a) triples in increasing m."""
    if m1 < m0:
        m0, w0, a0, m1, w1, a1 = m1, w1, a1, m0, w0, a0
    if m2 < m1:
        m1, w1, a1, m2, w2, a2 = m2, w2, a2, m1, w1, a1
    if m1 < m0:
        m0, w0, a0, m1, w1, a1 = m1, w1, a1, m0, w0, a0
    return m0, w0, a0, m1, w1, a1, m2, w2, a2


@nb.njit(cache=True)
def _solve2(m0, w0, a0, m1, w1, a1, f):
    """Largest root of sum w_k (u - a_k)^2 = f^2 using the terms with m_k below it (m0 <= m1).

    The one-term root a0 + f / sqrt(w0) stands when it does not exceed m1; otherwise the
    two-term root (w0 a0 + w1 a1 + sqrt((w0 + w1) f^2 - w0 w1 (a0 - a1)^2)) / (w0 + w1).
    Returns -1 when the two-term discriminant is negative (possible for second-order terms).
    """
    u = a0 + f / math.sqrt(w0)
    if u <= m1:
        return u
    s0 = w0 + w1
    disc = s0 * f * f - w0 * w1 * (a0 - a1) * (a0 - a1)
    if disc < 0.0:
        return -1.0
    return (w0 * a0 + w1 * a1 + math.sqrt(disc)) * (1.0 / s0)


@nb.njit(cache=True)
def _solve3(m0, w0, a0, m1, w1, a1, m2, w2, a2, f):
    """As `_solve2` with up to three terms, m0 <= m1 <= m2."""
    u = _solve2(m0, w0, a0, m1, w1, a1, f)
    if u <= m2:
        return u
    s0 = w0 + w1 + w2
    disc = s0 * f * f - (w0 * w1 * (a0 - a1) ** 2 + w0 * w2 * (a0 - a2) ** 2 + w1 * w2 * (a1 - a2) ** 2)
    if disc < 0.0:
        return -1.0
    return (w0 * a0 + w1 * a1 + w2 * a2 + math.sqrt(disc)) * (1.0 / s0)


@nb.njit(cache=True)
def _term2(u, side, im1, ip1, im2, ip2, s, w):
    """Upwind term of one axis for the second-order update (im1, ip1, im2, ip2: the index tuples
    of the cells 1 and 2 away on either side; both far cells are loaded before the upwind side is
    chosen, which keeps the load off the Gauss-Seidel dependence chain).

    Returns (m, w2, a): m the first-order upwind value min(u_-1, u_+1). The next cell v on that
    side counts with its signed value relative to the cell (-v when it lies across the
    interface, side != s, as scikit-fmm reads its signed distances); when that value is not
    above m, the one-sided difference (3u - 4 u_1 + u_2) / (2 dx) gives weight w2 = 9 w / 4 and
    a = (4 u_1 - u_2) / 3, else the first-order w2 = w and a = m.
    """
    um1, up1, um2, up2, sm2, sp2 = u[im1], u[ip1], u[im2], u[ip2], side[im2], side[ip2]
    if um1 <= up1:
        m, v, sv = um1, um2, sm2
    else:
        m, v, sv = up1, up2, sp2
    if sv != s and v < math.inf:
        v = -v
    if v <= m < math.inf:
        return m, 2.25 * w, (4.0 * m - v) * THIRD
    return m, w, m


@nb.njit(cache=True)
def extend(u, fext, cells, strides, weights, alias):
    """Extension values: grad f . grad u = 0, upwind, cell by cell in increasing u.

    f at a cell is sum_k w_k (u - m_k) f_k / sum_k w_k (u - m_k) over the axes whose upwind
    neighbour (value m_k, extension f_k) is below u, the weights of Adalsteinsson and Sethian
    that scikit-fmm uses; where no neighbour is below (a tie) the lowest neighbour's f is taken.
    One pass, exact for the given u, since every cell reads only cells of smaller u.

    Parameters
    ----------
    u : ndarray, flat padded values (unsigned distance or time; inf on obstacles and padding)
    fext : ndarray, shape of u; band values set, written on `cells`
    cells : ndarray of int64, flat indices of the cells to set, in increasing u
    strides : ndarray of int64, one flat stride per axis
    weights : ndarray of float64, 1 / dx_k^2 per axis
    alias : ndarray of int64, shape of u: the cell a ghost cell copies (periodic axes), else itself
    """
    for c in cells:
        uc = u[c]
        num, den = 0.0, 0.0
        best, fbest = math.inf, 0.0
        for k in range(strides.size):
            a, b = alias[c - strides[k]], alias[c + strides[k]]
            q = a if u[a] <= u[b] else b
            un = u[q]
            if un < uc:
                wt = weights[k] * (uc - un)
                num += wt * fext[q]
                den += wt
            if un < best:
                best, fbest = un, fext[q]
        fext[c] = num / den if den > 0.0 else fbest


@nb.njit(cache=True)
def _wrap(u, state, ghost, src, reader):
    """Copy the periodic ghost cells from the cells they mirror; re-activate the readers of a
    changed ghost. Entries (ghost[p], src[p], reader[p]) are grouped by ghost."""
    uf, sf = u.reshape(-1), state.reshape(-1)
    last, changed = -1, False
    for p in range(ghost.size):
        g = ghost[p]
        if g != last:
            v = uf[src[p]]
            changed = uf[g] != v
            uf[g] = v
            last = g
        if changed:
            sf[reader[p]] |= 1


@nb.njit(cache=True)
def finish(u, side, signed, out):
    """out = u, negated where side < 0 when `signed`; count the unreached (inf) cells.

    Parameters
    ----------
    u : ndarray, shape (n0, n1, n2) (a view of the padded solution; a 2-D grid as n0 = 1)
    side : ndarray of int8, shape of u
    signed : bool
    out : ndarray, shape of u, dtype of u; overwritten

    Returns
    -------
    int : number of cells where u is inf.
    """
    unreached = 0
    for i in range(u.shape[0]):
        for j in range(u.shape[1]):
            for k in range(u.shape[2]):
                v = u[i, j, k]
                unreached += v == math.inf
                out[i, j, k] = -v if signed and side[i, j, k] < 0 else v
    return unreached


@nb.njit(inline="always", cache=True)
def _lower(u, v, tol, cap, idx):
    """First-order store: u[idx] = v when v is below it and not above cap.

    Returns whether the stored value (rounded to u's dtype) dropped by more than tol.
    """
    old = u[idx]
    if v < old and v <= cap:
        u[idx] = v
        return u[idx] < old - tol
    return False


@nb.njit(inline="always", cache=True)
def _replace(u, v, tol, cap, idx):
    """Second-order store: u[idx] = v (no min: the update is not monotone).

    Values above cap are not stored. Returns whether the stored value (rounded to u's dtype)
    moved by more than tol.
    """
    if not v <= cap:
        return False
    old = u[idx]
    u[idx] = v
    return abs(u[idx] - old) > tol


@nb.njit(inline="always", cache=True)
def _update2d(u, f, w0, w1, h0, h1, i, j):
    """First-order Godunov value at (i, j) in 2-D (h_k = 1 / sqrt(w_k))."""
    a = min(u[i - 1, j], u[i + 1, j])
    b = min(u[i, j - 1], u[i, j + 1])
    fc = f[i, j]
    v = a + fc * h0 if a <= b else b + fc * h1
    if v > max(a, b):
        v = (w0 * a + w1 * b + math.sqrt((w0 + w1) * fc * fc - w0 * w1 * (a - b) ** 2)) / (w0 + w1)
    return v


@nb.njit(inline="always", cache=True)
def _update2d_order2(u, side, f, w0, w1, i, j):
    """Second-order value at (i, j) in 2-D (first order where the second-order root is not real;
    inf at once where no neighbour is reached yet)."""
    if min(u[i - 1, j], u[i + 1, j], u[i, j - 1], u[i, j + 1]) == math.inf:
        return math.inf
    s, fc = side[i, j], f[i, j]
    m0, q0, a0 = _term2(u, side, (i - 1, j), (i + 1, j), (i - 2, j), (i + 2, j), s, w0)
    m1, q1, a1 = _term2(u, side, (i, j - 1), (i, j + 1), (i, j - 2), (i, j + 2), s, w1)
    p0, p1 = w0, w1
    if m1 < m0:
        m0, q0, a0, p0, m1, q1, a1, p1 = m1, q1, a1, p1, m0, q0, a0, p0
    v = _solve2(m0, q0, a0, m1, q1, a1, fc)
    return v if v >= 0.0 else _solve2(m0, p0, m0, m1, p1, m1, fc)


@nb.njit(inline="always", cache=True)
def _godunov3(m0, m1, m2, w0, w1, w2, fc):
    """First-order Godunov value from the three axes' upwind values m_k."""
    b0, r0, c0, b1, r1, c1, b2, r2, c2 = _sort3(m0, w0, m0, m1, w1, m1, m2, w2, m2)
    return _solve3(b0, r0, c0, b1, r1, c1, b2, r2, c2, fc)


@nb.njit(inline="always", cache=True)
def _update3d(u, f, w0, w1, w2, i, j, k):
    """First-order Godunov value at (i, j, k) in 3-D."""
    return _godunov3(min(u[i - 1, j, k], u[i + 1, j, k]), min(u[i, j - 1, k], u[i, j + 1, k]),
                     min(u[i, j, k - 1], u[i, j, k + 1]), w0, w1, w2, f[i, j, k])


@nb.njit(inline="always", cache=True)
def _update3d_order2(u, side, f, w0, w1, w2, i, j, k):
    """Second-order value at (i, j, k) in 3-D (first order where the second-order root is not real;
    inf at once where no neighbour is reached yet)."""
    if min(u[i - 1, j, k], u[i + 1, j, k], u[i, j - 1, k], u[i, j + 1, k],
           u[i, j, k - 1], u[i, j, k + 1]) == math.inf:
        return math.inf
    s, fc = side[i, j, k], f[i, j, k]
    m0, q0, a0 = _term2(u, side, (i - 1, j, k), (i + 1, j, k), (i - 2, j, k), (i + 2, j, k), s, w0)
    m1, q1, a1 = _term2(u, side, (i, j - 1, k), (i, j + 1, k), (i, j - 2, k), (i, j + 2, k), s, w1)
    m2, q2, a2 = _term2(u, side, (i, j, k - 1), (i, j, k + 1), (i, j, k - 2), (i, j, k + 2), s, w2)
    b0, r0, c0, b1, r1, c1, b2, r2, c2 = _sort3(m0, q0, a0, m1, q1, a1, m2, q2, a2)
    v = _solve3(b0, r0, c0, b1, r1, c1, b2, r2, c2, fc)
    return v if v >= 0.0 else _godunov3(m0, m1, m2, w0, w1, w2, fc)


@nb.njit(inline="always", cache=True)
def _sweeps2d(u, state, side, f, w0, w1, order, tol, cap, max_sweeps, ghost, src, reader, first):
    """The body of `sweep2d`, inlined into the compiled form of one order (`_make_sweep`)."""
    n0, n1 = u.shape[0] - 4, u.shape[1] - 4
    h0, h1 = 1.0 / math.sqrt(w0), 1.0 / math.sqrt(w1)
    settle = SETTLE * 4
    _wrap(u, state, ghost, src, reader)
    for sweep in range(first, max_sweeps):
        ordering = sweep % 4
        s0 = 1 if ordering == 0 or ordering == 3 else -1
        s1 = 1 if ordering < 2 else -1
        changed = 0
        for ii in range(n0):
            i = 2 + ii if s0 > 0 else n0 + 1 - ii
            for jj in range(n1):
                j = 2 + jj if s1 > 0 else n1 + 1 - jj
                if state[i, j] != 1:
                    continue
                state[i, j] = 0
                if order == 1:
                    moved = _lower(u, _update2d(u, f, w0, w1, h0, h1, i, j), tol, cap, (i, j))
                else:
                    v = _update2d_order2(u, side, f, w0, w1, i, j)
                    moved = _replace(u, v, tol, cap, (i, j)) if sweep < settle else _lower(u, v, tol, cap, (i, j))
                if moved:
                    changed += 1
                    for o in range(1, order + 1):
                        state[i - o, j] |= 1
                        state[i + o, j] |= 1
                        state[i, j - o] |= 1
                        state[i, j + o] |= 1
        if changed == 0:
            return sweep + 1, True
        _wrap(u, state, ghost, src, reader)
    return max_sweeps, False


@nb.njit(inline="always", cache=True)
def _sweeps3d(u, state, side, f, w0, w1, w2, order, tol, cap, max_sweeps, ghost, src, reader, first):
    """The body of `sweep3d`, inlined into the compiled form of one order (`_make_sweep`)."""
    n0, n1, n2 = u.shape[0] - 4, u.shape[1] - 4, u.shape[2] - 4
    settle = SETTLE * 8
    _wrap(u, state, ghost, src, reader)
    for sweep in range(first, max_sweeps):
        ordering = sweep % 8
        s0 = 1 if ordering & 1 == 0 else -1
        s1 = 1 if ordering & 2 == 0 else -1
        s2 = 1 if ordering & 4 == 0 else -1
        changed = 0
        for ii in range(n0):
            i = 2 + ii if s0 > 0 else n0 + 1 - ii
            for jj in range(n1):
                j = 2 + jj if s1 > 0 else n1 + 1 - jj
                for kk in range(n2):
                    k = 2 + kk if s2 > 0 else n2 + 1 - kk
                    if state[i, j, k] != 1:
                        continue
                    state[i, j, k] = 0
                    if order == 1:
                        moved = _lower(u, _update3d(u, f, w0, w1, w2, i, j, k), tol, cap, (i, j, k))
                    else:
                        v = _update3d_order2(u, side, f, w0, w1, w2, i, j, k)
                        if sweep < settle:
                            moved = _replace(u, v, tol, cap, (i, j, k))
                        else:
                            moved = _lower(u, v, tol, cap, (i, j, k))
                    if moved:
                        changed += 1
                        for o in range(1, order + 1):
                            state[i - o, j, k] |= 1
                            state[i + o, j, k] |= 1
                            state[i, j - o, k] |= 1
                            state[i, j + o, k] |= 1
                            state[i, j, k - o] |= 1
                            state[i, j, k + o] |= 1
        if changed == 0:
            return sweep + 1, True
        _wrap(u, state, ghost, src, reader)
    return max_sweeps, False


def _make_sweep(ndim, order):
    """The compiled sweeps of one dimension (2 or 3) and order (1 or 2), taking the arguments of
    `sweep3d` less `order` (w2 unused in 2-D). The pair is a closure constant, so that a first
    solve compiles only its own loops (each form is cached on disk apart)."""
    if ndim == 2:
        @nb.njit(cache=True)
        def sweeps(u, state, side, f, w0, w1, w2, tol, cap, max_sweeps, ghost, src, reader, first):
            return _sweeps2d(u, state, side, f, w0, w1, order, tol, cap, max_sweeps, ghost, src, reader, first)
    else:
        @nb.njit(cache=True)
        def sweeps(u, state, side, f, w0, w1, w2, tol, cap, max_sweeps, ghost, src, reader, first):
            return _sweeps3d(u, state, side, f, w0, w1, w2, order, tol, cap, max_sweeps, ghost, src, reader, first)
    return sweeps


_SWEEPS = {(ndim, order): _make_sweep(ndim, order) for ndim in (2, 3) for order in (1, 2)}


def sweep2d(u, state, side, f, w0, w1, order, tol, cap, max_sweeps, ghost, src, reader, first=0):
    """Fast sweeping in 2-D (4 orderings), in place; stops when a sweep changes no cell.

    Gauss-Seidel (updates read values of the same sweep), so not expressible as a chain of layers.

    order 1: Godunov update: a = min(u_W, u_E), b = min(u_S, u_N); u_new = min(a, b) + f h when
    the other is not below it, else the two-term root (a + b + sqrt(2 f^2 h^2 - (a - b)^2)) / 2
    for equal spacings (weighted by w0, w1 otherwise); the smaller of u_new and u is kept.

    order 2: second-order one-sided differences where the two upwind cells of an axis decrease
    towards the interface, the second one read with its signed value (negated across the
    interface, from ``side``) as scikit-fmm's order=2 does with frozen cells; first order
    otherwise and wherever the second-order quadratic has no real root; the value is replaced
    (no min, since the update is not monotone) for the first SETTLE cycles of the orderings and
    only lowered after them, which ends the rare limit cycles of the non-monotone update (seen
    at box corners, amplitude 1e-10) within that many sweeps.

    A changed cell re-activates the cells within `order` along each axis.

    Parameters
    ----------
    u : ndarray, shape (n0 + 4, n1 + 4), float32 or float64
        Padded values: fixed cells hold their values, the others start at inf.
    state : ndarray of uint8, shape of u
        1 active, 0 inactive, 2 or 3 fixed (see the module docstring); updated in place.
    side : ndarray of int8, shape of u
        Sign of the level set (one constant for mask sources); read by order 2 only.
    f : ndarray, shape of u, dtype of u
        Slowness 1 / speed (any positive value on fixed cells).
    w0, w1 : float
        1 / dx0^2, 1 / dx1^2.
    order : int
        1 or 2.
    tol : float
        A cell counts as changed when it moves by more than tol (order 1: 0 means exact
        convergence; order 2 needs tol > 0).
    cap : float
        Values above cap are not accepted (narrow band; inf for none).
    max_sweeps : int
        Index of the sweep to stop before (sweeps first, ..., max_sweeps - 1 run).
    ghost, src, reader : ndarray of int64, equal lengths (empty without periodic axes)
        Flat indices into u: after each sweep ghost cell ghost[p] takes the value of src[p]
        (the cell it mirrors across a periodic edge) and, when that changed it, reader[p] (a
        cell within two cells of the ghost along its axis) is re-activated; grouped by ghost.
    first : int
        Index of the first sweep (its ordering is first mod 4, and order 2's SETTLE count runs
        from 0): a solve split into calls over consecutive ranges of sweeps, with u and state
        kept between them, gives the single call's result bit for bit.

    Returns
    -------
    sweeps : int
        Index of the last sweep done plus one (each sweep one ordering over the whole grid).
    converged : bool
        True when the last sweep changed no cell.
    """
    return _SWEEPS[2, order](u, state, side, f, w0, w1, 0.0, tol, cap, max_sweeps, ghost, src, reader, first)


def sweep3d(u, state, side, f, w0, w1, w2, order, tol, cap, max_sweeps, ghost, src, reader, first=0):
    """Fast sweeping in 3-D (8 orderings), in place; arguments and updates as `sweep2d`.

    u, state, side, f have shape (n0 + 4, n1 + 4, n2 + 4); w2 = 1 / dx2^2.

    Returns
    -------
    sweeps : int
    converged : bool
    """
    return _SWEEPS[3, order](u, state, side, f, w0, w1, w2, tol, cap, max_sweeps, ghost, src, reader, first)


@nb.njit(inline="always", cache=True)
def _hj1d_step(a, b, p, g, d, dt):
    """b = one explicit step of a (see `hj1d_steps`); the end values of b are set to 0."""
    n = a.size
    pm, p0, pp = p[0], p[1], p[2]
    dm, d0, dp = d[0], d[1], d[2]
    am, ac, ap = a[0:n - 2], a[1:n - 1], a[2:n]
    bc = b[1:n - 1]
    for k in range(n - 2):
        z = abs(g * ap[k] - g * am[k]) + (dm * am[k] + d0 * ac[k] + dp * ap[k])
        bc[k] = (pm * am[k] + p0 * ac[k] + pp * ap[k]) - dt * max(z, 0.0) + dt
    b[0] = 0.0
    b[n - 1] = 0.0


@nb.njit(cache=True)
def hj1d_steps(u, nsteps, p, g, d, dt, work):
    """`nsteps` explicit steps of u_tau + |u_x| - 1 = 0 (tau = 1 - t), in place.

    One step, for the interior nodes (the two end nodes are set to 0):

        u_i <- p . (u_{i-1}, u_i, u_{i+1}) - dt max(0, |g (u_{i+1} - u_{i-1})| + d . (u_{i-1}, u_i, u_{i+1})) + dt

    Lax-Friedrichs: p = (c, 1 - 2c, c) with c = alpha dt / (2h), g = 1 / (2h), d = 0.
    Godunov (H = |p|: max(max(p-, 0), -min(p+, 0)) = max(0, |D0 u| + (p- - p+) / 2)):
    p = (0, 1, 0), g = 1 / (2h), d = (-1/(2h), 1/h, -1/(2h)).

    Parameters
    ----------
    u : ndarray, shape (n,), float32 or float64; overwritten with the result
    nsteps : int
    p, d : ndarray, shape (3,), dtype of u
    g, dt : float
    work : ndarray, shape (n,), dtype of u; scratch
    """
    a, b = u, work
    for _ in range(nsteps):
        _hj1d_step(a, b, p, g, d, dt)
        a, b = b, a
    if nsteps % 2 == 1:
        copy_into(u, work)
