"""Eikonal kernels (Numba) on grids of any number of axes (used from 4-D on): fast sweeping and
extension values, the updates of ``fastdds.kernels.cpu.eikonal``
(whose module docstring describes the method, the locking states and order 2) in d axes.

Arrays are flat and unpadded, in C order, with per-axis strides; neighbours are found through
the cell's coordinates (off the grid they count as inf), and periodic axes wrap directly (no
ghost cells). A kernel group of its own, so that the backend answers for its missing GPU twin.
Only the sweep body and the cell update are inlined at Numba's IR level; the small helpers are
ordinary compiled calls (a cold first 4-D solve: 10.0 s before, 7.1 s after; run times equal
within noise).
"""

import math

import numba as nb
import numpy as np

from .eikonal import FIXED, SETTLE, THIRD, _lower, _replace

__all__ = ["FIXED", "extend_nd", "sweep_nd"]


@nb.njit(cache=True)
def _nd_neighbour(c, x, o, n, stride, per):
    """Flat index of the cell o steps along one axis from cell c (coordinate x on that axis of
    length n), wrapping on a periodic axis (n >= 2); -1 when it falls off the grid."""
    y = x + o
    if 0 <= y < n:
        return c + o * stride
    if not per or n < 2:
        return -1
    return c + ((y % n) - x) * stride


@nb.njit(cache=True)
def _nd_at(a, q, off):
    """a[q], or `off` when q == -1 (off the grid)."""
    return a[q] if q >= 0 else off


@nb.njit(cache=True)
def _nd_sort(m, perm, d):
    """perm[:d] = the axes in increasing m (insertion sort: stable, as `_sort3`)."""
    for k in range(d):
        perm[k] = k
    for k in range(1, d):
        p = perm[k]
        j = k - 1
        while j >= 0 and m[p] < m[perm[j]]:
            perm[j + 1] = perm[j]
            j -= 1
        perm[j + 1] = p


@nb.njit(cache=True)
def _nd_solve(m, w, a, perm, d, f):
    """Largest root of sum_k w_k (u - a_k)^2 = f^2 over the axes in increasing m (perm), adding
    axes while the root stays above the next m (as `_solve3`, the d-term discriminant
    S f^2 - sum_{p<q} w_p w_q (a_p - a_q)^2 kept pair by pair); -1 when it is negative."""
    i0 = perm[0]
    u = a[i0] + f / math.sqrt(w[i0])
    s, num, pairs = w[i0], w[i0] * a[i0], 0.0
    for k in range(1, d):
        ik = perm[k]
        if u <= m[ik]:
            return u
        for p in range(k):
            ip = perm[p]
            pairs += w[ip] * w[ik] * (a[ip] - a[ik]) ** 2
        s += w[ik]
        num += w[ik] * a[ik]
        disc = s * f * f - pairs
        if disc < 0.0:
            return -1.0
        u = (num + math.sqrt(disc)) * (1.0 / s)
    return u


@nb.njit(inline="always", cache=True)
def _nd_update(u, side, f, c, x, shape, strides, pers, w, order, m, q, a, perm):
    """Godunov value at flat cell c (coordinates x), order 1 or 2 (first order where the
    second-order root is not real); m, q, a, perm: scratch of length d."""
    d = shape.size
    s = side[c]
    for k in range(d):
        n, st, per = shape[k], strides[k], pers[k]
        lo, hi = _nd_neighbour(c, x[k], -1, n, st, per), _nd_neighbour(c, x[k], 1, n, st, per)
        um1, up1 = _nd_at(u, lo, math.inf), _nd_at(u, hi, math.inf)
        mk = min(um1, up1)
        m[k], q[k], a[k] = mk, w[k], mk
        if order == 2:
            far = _nd_neighbour(c, x[k], -2 if um1 <= up1 else 2, n, st, per)
            v = _nd_at(u, far, math.inf)
            if v < math.inf and side[far] != s:
                v = -v
            if v <= mk < math.inf:
                q[k], a[k] = 2.25 * w[k], (4.0 * mk - v) * THIRD
    _nd_sort(m, perm, d)
    v = _nd_solve(m, q, a, perm, d, f[c])
    if v >= 0.0 or order == 1:
        return v
    return _nd_solve(m, w, m, perm, d, f[c])


@nb.njit(inline="always", cache=True)
def _nd_sweeps(u, state, side, f, shape, strides, pers, w, order, tol, cap, max_sweeps, first):
    """The body of `sweep_nd`; inlined with a literal order so that each order compiles alone."""
    d = shape.size
    total = 1
    for k in range(d):
        total *= shape[k]
    m, q, a = np.empty(d), np.empty(d), np.empty(d)
    perm = np.empty(d, np.int64)
    x = np.empty(d, np.int64)
    step = np.empty(d, np.int64)
    orderings = 1 << d
    settle = SETTLE * min(orderings, 8)
    for sweep in range(first, max_sweeps):
        ordering = sweep % orderings
        c = 0
        for k in range(d):
            step[k] = 1 if (ordering >> k) & 1 == 0 else -1
            x[k] = 0 if step[k] > 0 else shape[k] - 1
            c += x[k] * strides[k]
        changed = 0
        for _ in range(total):
            if state[c] == 1:
                state[c] = 0
                v = _nd_update(u, side, f, c, x, shape, strides, pers, w, order, m, q, a, perm)
                if order == 1 or sweep >= settle:
                    moved = _lower(u, v, tol, cap, c)
                else:
                    moved = _replace(u, v, tol, cap, c)
                if moved:
                    changed += 1
                    for k in range(d):
                        for o in range(1, order + 1):
                            for so in (-o, o):
                                r = _nd_neighbour(c, x[k], so, shape[k], strides[k], pers[k])
                                if r >= 0:
                                    state[r] |= 1
            k = d - 1  # next cell of this ordering: an odometer, the last axis fastest
            while k >= 0:
                x[k] += step[k]
                c += step[k] * strides[k]
                if 0 <= x[k] < shape[k]:
                    break
                back = shape[k] * step[k]
                x[k] -= back
                c -= back * strides[k]
                k -= 1
        if changed == 0:
            return sweep + 1, True
    return max_sweeps, False


@nb.njit(cache=True)
def sweep_nd(u, state, side, f, shape, strides, pers, w, order, tol, cap, max_sweeps, first=0):
    """Fast sweeping on a d-axis grid (any d >= 1), in place; the updates of `sweep2d` in d axes.

    The grid is visited in the 2^d orderings (ordering k runs axis a backwards when bit a of k is
    set; axis 0 outermost, as `sweep3d`), one ordering per sweep. The Godunov update sorts the
    axes' upwind values m_k and adds axes while the root of sum_k w_k (u - a_k)^2 = f^2 stays
    above the next m_k. Order 2, locking, tol and cap are those of `sweep2d`; order 2 only lowers
    values after SETTLE * min(2^d, 8) sweeps (16 cycles of the orderings up to 3-D, 128 sweeps
    from 4-D on, so that the limit-cycle rule still acts within the default 500 sweeps).
    Arrays are flat and unpadded: neighbours off the grid count as inf, periodic axes wrap
    directly (the cell across the edge is read and re-activated in the same sweep).

    Parameters
    ----------
    u : ndarray, shape (N,), float32 or float64
        Values (C order): fixed cells hold their values, the others start at inf.
    state : ndarray of uint8, shape (N,)
        1 active, 0 inactive, 2 fixed; updated in place.
    side : ndarray of int8, shape (N,)
        Sign of the level set (read by order 2 only).
    f : ndarray, shape (N,), dtype of u
        Slowness 1 / speed.
    shape, strides : ndarray of int64, shape (d,)
        Grid shape and flat strides (in cells) per axis.
    pers : ndarray of bool, shape (d,)
        Periodic axes.
    w : ndarray of float64, shape (d,)
        1 / dx_k^2.
    order : int
        1 or 2.
    tol, cap, max_sweeps, first :
        As `sweep2d`.

    Returns
    -------
    sweeps : int
    converged : bool
    """
    if order == 1:
        return _nd_sweeps(u, state, side, f, shape, strides, pers, w, 1, tol, cap, max_sweeps, first)
    return _nd_sweeps(u, state, side, f, shape, strides, pers, w, 2, tol, cap, max_sweeps, first)


@nb.njit(cache=True)
def extend_nd(u, fext, cells, shape, strides, weights, pers):
    """`extend` on a d-axis grid, flat unpadded arrays (neighbours off the grid count as inf,
    periodic axes wrap).

    Parameters
    ----------
    u : ndarray, shape (N,): unsigned distance or time (inf on obstacles)
    fext : ndarray, shape (N,); band values set, written on `cells`
    cells : ndarray of int64, the cells to set in increasing u
    shape, strides : ndarray of int64, shape (d,)
    weights : ndarray of float64, 1 / dx_k^2 per axis
    pers : ndarray of bool, shape (d,)
    """
    d = shape.size
    x = np.empty(d, np.int64)
    for c in cells:
        r = c
        for k in range(d - 1, -1, -1):
            x[k] = r % shape[k]
            r //= shape[k]
        uc = u[c]
        num, den = 0.0, 0.0
        best, fbest = math.inf, 0.0
        for k in range(d):
            lo = _nd_neighbour(c, x[k], -1, shape[k], strides[k], pers[k])
            hi = _nd_neighbour(c, x[k], 1, shape[k], strides[k], pers[k])
            if lo < 0 and hi < 0:
                continue
            qq = hi if lo < 0 or (hi >= 0 and u[hi] < u[lo]) else lo
            un = u[qq]
            if un < uc:
                wt = weights[k] * (uc - un)
                num += wt * fext[qq]
                den += wt
            if un < best:
                best, fbest = un, fext[qq]
        fext[c] = num / den if den > 0.0 else fbest
