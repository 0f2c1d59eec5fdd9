"""Eikonal kernels (Numba): fast sweeping in 2-D and 3-D, interface initialisation, and the
explicit 1-D Hamilton-Jacobi steps of -u_t + |u_x| - 1 = 0.

Fast sweeping (Zhao 2005) solves |grad u| = f with Godunov upwind updates, Gauss-Seidel in
place, the grid visited in alternating orderings (4 in 2-D, 8 in 3-D). Arrays are padded by two
cells on every side (``u`` = inf there) so neighbour look-ups need no bounds checks. ``state``
(uint8, padded like u) drives the locking variant (Bak, McLaurin, Zhao 2010): 1 marks a cell
to update, 0 a cell whose neighbours have not changed since its last update, 2 or 3 a fixed
cell (source, interface band, obstacle or padding). A changed cell re-activates its
neighbours with ``state |= 1``, which leaves fixed cells fixed. Without a tolerance the result
is the plain Gauss-Seidel sweep's, bit for bit: a cell is skipped only when its update would
return the same value.

Gauss-Seidel sweeping is NOT a chain of layers y = P x + sum Q sigma(R x + b): each update reads
values written earlier in the same sweep, so no operator maps one whole state to the next. For
the same reason the sweep loops are sequential along every axis (a data dependence, not a missed
vectorisation); the 1-D Hamilton-Jacobi step, which is explicit, runs over contiguous slices.

Weights ``w_k = 1 / dx_k^2`` per axis; ``f`` = 1 / speed per cell (padded like u). The local
solve finds the largest root of sum_k w_k (u - a_k)^+^2 = f^2 over the smallest upwind values.
"""

import math

import numba as nb

FIXED = 2


@nb.njit(inline="always", cache=True)
def _sort3(m0, w0, a0, m1, w1, a1, m2, w2, a2):
    """The three (m, w, a) triples in increasing m."""
    if m1 < m0:
        m0, w0, a0, m1, w1, a1 = m1, w1, a1, m0, w0, a0
    if m2 < m1:
        m1, w1, a1, m2, w2, a2 = m2, w2, a2, m1, w1, a1
    if m1 < m0:
        m0, w0, a0, m1, w1, a1 = m1, w1, a1, m0, w0, a0
    return m0, w0, a0, m1, w1, a1, m2, w2, a2


@nb.njit(inline="always", cache=True)
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
    return (w0 * a0 + w1 * a1 + math.sqrt(disc)) / s0


@nb.njit(inline="always", cache=True)
def _solve3(m0, w0, a0, m1, w1, a1, m2, w2, a2, f):
    """As `_solve2` with up to three terms, m0 <= m1 <= m2."""
    u = _solve2(m0, w0, a0, m1, w1, a1, f)
    if u <= m2:
        return u
    s0 = w0 + w1 + w2
    disc = s0 * f * f - (w0 * w1 * (a0 - a1) ** 2 + w0 * w2 * (a0 - a2) ** 2 + w1 * w2 * (a1 - a2) ** 2)
    if disc < 0.0:
        return -1.0
    return (w0 * a0 + w1 * a1 + w2 * a2 + math.sqrt(disc)) / s0


@nb.njit(inline="always", cache=True)
def _term2(um2, um1, up1, up2, sm2, sp2, s, w):
    """Upwind term of one axis for the second-order update.

    Returns (m, w2, a): m the first-order upwind value min(u_-1, u_+1); when the next cell on
    that side is on the cell's side of the interface (s) and not larger, the second-order
    one-sided difference (3u - 4 u_1 + u_2) / (2 dx) gives weight w2 = 9 w / 4 and
    a = (4 u_1 - u_2) / 3, else the first-order w2 = w and a = m.
    """
    if um1 <= up1:
        m, v, sv = um1, um2, sm2
    else:
        m, v, sv = up1, up2, sp2
    if sv == s and v <= m < math.inf:
        return m, 2.25 * w, (4.0 * m - v) / 3.0
    return m, w, m


@nb.njit(cache=True)
def interface_band(phi, valid, h0, h1, h2, gradient, u, state, side, pad):
    """Fix the cells next to the zero contour of phi at their distance to it.

    Per axis, a sign change to a neighbour puts the contour at h phi_p / (phi_p - phi_q) by
    linear interpolation (the nearer one of the two neighbours counts); the axis distances
    d_k combine as 1 / d^2 = sum_k 1 / d_k^2, as scikit-fmm does. With ``gradient`` the band
    cells take |phi| / |grad phi| instead (central differences, one-sided at edges and masked
    cells), which is second-order accurate for smooth phi. Nodes where phi == 0 get 0.

    Parameters
    ----------
    phi : ndarray, shape (n0, n1, n2), float32 or float64 (a 2-D grid as n0 = 1)
    valid : ndarray of uint8, shape of phi
        0 for masked cells (obstacles).
    h0, h1, h2 : float
        Grid spacing per axis (any positive value for a singleton axis).
    gradient : bool
    u : ndarray, padded, dtype of phi
        Written at [i + pad[0], j + pad[1], k + pad[2]]: the band distance, inf elsewhere.
    state : ndarray of uint8, shape of u
        Written: 2 for band cells and obstacles, 1 for the cells to solve.
    side : ndarray of int8, shape of u
        Written: the sign of phi (0 on obstacles).
    pad : tuple of 3 ints
        Offset of phi's cells in u, state and side.

    Returns
    -------
    int : number of band cells (0 means phi has no zero contour).
    """
    n0, n1, n2 = phi.shape
    hs = (h0, h1, h2)
    nband = 0
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                ip, jp, kp = i + pad[0], j + pad[1], k + pad[2]
                p = phi[i, j, k]
                if valid[i, j, k] == 0:
                    u[ip, jp, kp] = math.inf
                    state[ip, jp, kp] = FIXED
                    side[ip, jp, kp] = 0
                    continue
                side[ip, jp, kp] = 1 if p > 0.0 else (-1 if p < 0.0 else 0)
                inv = 0.0
                grad2 = 0.0
                for ax in range(3):
                    n = phi.shape[ax]
                    c = (i, j, k)[ax]
                    dmin = math.inf
                    lo, hi = p, p
                    hlo, hhi = 0.0, 0.0
                    for o in (-1, 1):
                        q = c + o
                        if q < 0 or q >= n:
                            continue
                        iq, jq, kq = (q, j, k) if ax == 0 else ((i, q, k) if ax == 1 else (i, j, q))
                        if valid[iq, jq, kq] == 0:
                            continue
                        pq = phi[iq, jq, kq]
                        if o < 0:
                            lo, hlo = pq, hs[ax]
                        else:
                            hi, hhi = pq, hs[ax]
                        if p * pq < 0.0:
                            dmin = min(dmin, hs[ax] * p / (p - pq))
                    if dmin < math.inf:
                        inv += 1.0 / (dmin * dmin)
                    if hlo + hhi > 0.0:
                        grad2 += ((hi - lo) / (hlo + hhi)) ** 2
                if p == 0.0 or inv > 0.0:
                    d = 0.0 if p == 0.0 else 1.0 / math.sqrt(inv)
                    if gradient and p != 0.0 and grad2 > 0.0:
                        d = abs(p) / math.sqrt(grad2)
                    u[ip, jp, kp] = d
                    state[ip, jp, kp] = FIXED
                    nband += 1
                else:
                    u[ip, jp, kp] = math.inf
                    state[ip, jp, kp] = 1
    return nband


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
def _replace(u, v, vfirst, tol, cap, idx):
    """Second-order store: u[idx] = v (the first-order vfirst where v is no valid root).

    Values above cap are not stored. Returns whether the stored value (rounded to u's dtype)
    moved by more than tol.
    """
    if v < 0.0:
        v = vfirst
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
    """Second-order value at (i, j) in 2-D and the first-order fallback, as (v2, v1)."""
    s, fc = side[i, j], f[i, j]
    m0, q0, a0 = _term2(u[i - 2, j], u[i - 1, j], u[i + 1, j], u[i + 2, j], side[i - 2, j], side[i + 2, j], s, w0)
    m1, q1, a1 = _term2(u[i, j - 2], u[i, j - 1], u[i, j + 1], u[i, j + 2], side[i, j - 2], side[i, j + 2], s, w1)
    p0, p1 = w0, w1
    if m1 < m0:
        m0, q0, a0, p0, m1, q1, a1, p1 = m1, q1, a1, p1, m0, q0, a0, p0
    return _solve2(m0, q0, a0, m1, q1, a1, fc), _solve2(m0, p0, m0, m1, p1, m1, fc)


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
    """Second-order value at (i, j, k) in 3-D and the first-order fallback, as (v2, v1)."""
    s, fc = side[i, j, k], f[i, j, k]
    m0, q0, a0 = _term2(u[i - 2, j, k], u[i - 1, j, k], u[i + 1, j, k], u[i + 2, j, k],
                        side[i - 2, j, k], side[i + 2, j, k], s, w0)
    m1, q1, a1 = _term2(u[i, j - 2, k], u[i, j - 1, k], u[i, j + 1, k], u[i, j + 2, k],
                        side[i, j - 2, k], side[i, j + 2, k], s, w1)
    m2, q2, a2 = _term2(u[i, j, k - 2], u[i, j, k - 1], u[i, j, k + 1], u[i, j, k + 2],
                        side[i, j, k - 2], side[i, j, k + 2], s, w2)
    b0, r0, c0, b1, r1, c1, b2, r2, c2 = _sort3(m0, q0, a0, m1, q1, a1, m2, q2, a2)
    return _solve3(b0, r0, c0, b1, r1, c1, b2, r2, c2, fc), _godunov3(m0, m1, m2, w0, w1, w2, fc)


@nb.njit(inline="always", cache=True)
def _sweeps2d(u, state, side, f, w0, w1, order, tol, cap, max_sweeps):
    """The body of `sweep2d`; inlined with a literal order so that each order compiles alone."""
    n0, n1 = u.shape[0] - 4, u.shape[1] - 4
    h0, h1 = 1.0 / math.sqrt(w0), 1.0 / math.sqrt(w1)
    for sweep in range(max_sweeps):
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
                    v2, v1 = _update2d_order2(u, side, f, w0, w1, i, j)
                    moved = _replace(u, v2, v1, tol, cap, (i, j))
                if moved:
                    changed += 1
                    for o in range(1, order + 1):
                        state[i - o, j] |= 1
                        state[i + o, j] |= 1
                        state[i, j - o] |= 1
                        state[i, j + o] |= 1
        if changed == 0:
            return sweep + 1, True
    return max_sweeps, False


@nb.njit(inline="always", cache=True)
def _sweeps3d(u, state, side, f, w0, w1, w2, order, tol, cap, max_sweeps):
    """The body of `sweep3d`; inlined with a literal order so that each order compiles alone."""
    n0, n1, n2 = u.shape[0] - 4, u.shape[1] - 4, u.shape[2] - 4
    for sweep in range(max_sweeps):
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
                        v2, v1 = _update3d_order2(u, side, f, w0, w1, w2, i, j, k)
                        moved = _replace(u, v2, v1, tol, cap, (i, j, k))
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
    return max_sweeps, False


@nb.njit(cache=True)
def sweep2d(u, state, side, f, w0, w1, order, tol, cap, max_sweeps):
    """Fast sweeping in 2-D (4 orderings), in place; stops when a sweep changes no cell.

    Gauss-Seidel (updates read values of the same sweep), so not expressible as a chain of layers.

    order 1: Godunov update: a = min(u_W, u_E), b = min(u_S, u_N); u_new = min(a, b) + f h when
    the other is not below it, else the two-term root (a + b + sqrt(2 f^2 h^2 - (a - b)^2)) / 2
    for equal spacings (weighted by w0, w1 otherwise); the smaller of u_new and u is kept.

    order 2: second-order one-sided differences where the two upwind cells of an axis are on
    the cell's side of the interface (``side``) and decrease towards it (as scikit-fmm's order=2
    does with frozen cells), first order otherwise and wherever the second-order quadratic has
    no real root; the value is replaced (no min, since the update is not monotone).

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

    Returns
    -------
    sweeps : int
        Sweeps done (each one ordering over the whole grid).
    converged : bool
        True when the last sweep changed no cell.
    """
    if order == 1:
        return _sweeps2d(u, state, side, f, w0, w1, 1, tol, cap, max_sweeps)
    return _sweeps2d(u, state, side, f, w0, w1, 2, tol, cap, max_sweeps)


@nb.njit(cache=True)
def sweep3d(u, state, side, f, w0, w1, w2, order, tol, cap, max_sweeps):
    """Fast sweeping in 3-D (8 orderings), in place; arguments and updates as `sweep2d`.

    u, state, side, f have shape (n0 + 4, n1 + 4, n2 + 4); w2 = 1 / dx2^2.

    Returns
    -------
    sweeps : int
    converged : bool
    """
    if order == 1:
        return _sweeps3d(u, state, side, f, w0, w1, w2, 1, tol, cap, max_sweeps)
    return _sweeps3d(u, state, side, f, w0, w1, w2, 2, tol, cap, max_sweeps)


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
        u[:] = work
