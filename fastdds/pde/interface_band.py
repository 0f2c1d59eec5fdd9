"""The interface band of a level set: the cells next to its zero contour and their distances to
it, which fix the start of fast sweeping (scikit-fmm's initialisation).

NumPy on any number of axes. The search for sign changes is a few int8 passes over the grid;
the distances are computed on the band cells only, so the work grows with the contour, not the
grid, and a first solve compiles nothing here (its compile is the sweeps' alone).
"""

import numpy as np


def _sign_changes(sign, periodic):
    """Boolean array of sign's shape: True at the cells whose sign is opposite to an axis
    neighbour's (across the edge on periodic axes of 2 cells or more)."""
    near = np.zeros(sign.shape, bool)
    for ax, per in enumerate(periodic):
        n = sign.shape[ax]
        pairs = [(slice(0, n - 1), slice(1, n))]
        if per and n > 1:
            pairs.append((slice(n - 1, n), slice(0, 1)))
        for a, b in pairs:
            ia = (slice(None),) * ax + (a,)
            ib = (slice(None),) * ax + (b,)
            change = np.multiply(sign[ia], sign[ib]) < 0
            near[ia] |= change
            near[ib] |= change
    return near


def _neighbours(coords, ax, shape, per, valid):
    """Flat indices of the neighbours at offset -1 and +1 along axis `ax` of the cells at
    `coords` (one index array per axis), each with the mask of those that exist (inside the
    grid or wrapped on a periodic axis, and unmasked; a missing one is given as the cell)."""
    at, n = coords[ax], shape[ax]
    for o in (-1, 1):
        q = at + o
        if per and n > 1:
            q %= n
            inside = np.ones(at.size, bool)
        else:
            inside = (q >= 0) & (q < n)
        flat = np.ravel_multi_index(coords[:ax] + (np.where(inside, q, at),) + coords[ax + 1:], shape)
        yield flat, inside & valid[flat]


def interface_band(phi, dx, periodic, gradient, valid=None, speed=None, ext_mask=None):
    """The band cells of phi's zero contour and their distances to it (as scikit-fmm).

    Per axis, a sign change to a neighbour puts the contour at h phi_p / (phi_p - phi_q) by
    linear interpolation (the nearer of the two neighbours counts, the lower one on a tie); the
    axis distances d_k combine as 1 / d^2 = sum_k 1 / d_k^2. Cells where phi == 0 get 0.

    With `gradient`, every axis without a sign change adds (D_k phi / phi)^2 to that sum (D_k
    the central difference, one-sided at edges and masked cells): d = |phi| / |grad phi| with
    the one-sided differences towards the crossings, second-order accurate for smooth phi and
    the same as without it for a sign function (phi = +-1), whose differences vanish there.

    Parameters
    ----------
    phi : ndarray, any shape (d axes), float32 or float64; finite on unmasked cells
    dx : sequence of d floats
        Grid spacing per axis (any positive value on an axis of one cell).
    periodic : sequence of d bools
        Periodic axes: the end cells' neighbours wrap round.
    gradient : bool
    valid : ndarray of bool, shape of phi, or None
        False on masked cells (obstacles); None: none.
    speed : ndarray, shape of phi, dtype of phi, or None
        Values to extend to the band (None: no extension).
    ext_mask : ndarray of bool, shape of phi, or None
        True where speed does not count for the front (scikit-fmm's ext_mask): a crossing with
        such a cell takes the other cell's speed.

    Returns
    -------
    u : ndarray, shape and dtype of phi
        The band distances; inf elsewhere (obstacles included).
    fixed : ndarray of bool, shape of phi
        The band cells and the obstacles (the cells the sweeps leave as they are).
    side : ndarray of int8, shape of phi
        The sign of phi (0 on obstacles).
    fext : ndarray, shape and dtype of phi, or None
        With `speed`: on band cells the speed interpolated to the contour crossings, combined
        with the weights 1 / d_k^2; 0 elsewhere.
    count : int
        Number of band cells (0 means phi has no zero contour).
    """
    shape, dtype = phi.shape, phi.dtype
    valid = np.ones(shape, bool) if valid is None else valid
    side = (phi > 0).view(np.int8) - (phi < 0).view(np.int8)
    side[~valid] = 0
    cells = np.flatnonzero((_sign_changes(side, periodic) | (phi == 0)) & valid)  # side 0: masked cells change no sign
    flat_phi, flat_valid = phi.reshape(-1), valid.reshape(-1)
    p = flat_phi[cells]
    p64 = p.astype(np.float64)
    extend = speed is not None
    if extend:
        flat_speed, sp = speed.reshape(-1), speed.reshape(-1)[cells]
        flat_mask = np.zeros(phi.size, bool) if ext_mask is None else ext_mask.reshape(-1)
    inv, num, tail = (np.zeros(cells.size) for _ in range(3))
    coords = np.unravel_index(cells, shape)
    with np.errstate(divide="ignore", invalid="ignore"):  # inf and NaN arise only where they are not taken
        for ax in range(len(shape)):
            h = float(dx[ax])
            dmin, smin = np.full(cells.size, np.inf), np.zeros(cells.size)
            ends = []
            for q, ok in _neighbours(coords, ax, shape, periodic[ax], flat_valid):
                pq = flat_phi[q]
                ends.append((np.where(ok, pq, p), np.where(ok, h, 0.0)))
                d = np.full(cells.size, np.inf)
                np.divide(h * p64, (p - pq).astype(np.float64), out=d, where=ok & (p * pq < 0))
                nearer = d < dmin
                dmin[nearer] = d[nearer]
                if extend:
                    sq = flat_speed[q]
                    s = sp + d / h * (sq - sp).astype(np.float64)
                    s = np.where(flat_mask[cells], sq, np.where(flat_mask[q], sp, s))
                    smin[nearer] = s[nearer]
            inv += 1.0 / (dmin * dmin)
            num += smin / (dmin * dmin)
            if gradient:
                (lo, hlo), (hi, hhi) = ends
                span = hlo + hhi
                slope = np.zeros(cells.size)
                np.divide((hi - lo).astype(np.float64), span, out=slope, where=(dmin == np.inf) & (span > 0))
                tail += slope**2
        zero = p == 0
        band = zero | (inv > 0)
        u = np.full(shape, np.inf, dtype)
        d = 1.0 / np.sqrt(inv + tail / (p * p).astype(np.float64))
        u.reshape(-1)[cells] = np.where(band, np.where(zero, 0.0, d), np.inf)
        fext = None
        if extend:
            fext = np.zeros(shape, dtype)
            fext.reshape(-1)[cells[band]] = np.where(zero, sp, num / inv)[band]
    fixed = np.zeros(shape, bool)
    fixed.reshape(-1)[cells[band]] = True
    fixed |= ~valid
    return u, fixed, side, fext, int(band.sum())
