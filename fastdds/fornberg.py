"""Finite-difference weights on arbitrary grids (Fornberg 1988)."""

import numpy as np


def fornberg_weights(points, order, x0=0.0):
    """Weights w such that sum_j w_j f(points[j]) approximates f^(order)(x0).

    Parameters
    ----------
    points : array_like, shape (p,)
        Distinct node positions (in units of the grid spacing, or physical units).
    order : int
        Derivative order, 0 <= order < p.
    x0 : float
        Where the derivative is taken.

    Returns
    -------
    ndarray, shape (p,), float64. Exact for polynomials of degree < p.
    """
    x = np.asarray(points, dtype=np.float64)
    p = x.size
    if order < 0 or order >= p:
        raise ValueError(f"derivative order {order} needs more than {p} points")
    if np.unique(x).size != p:
        raise ValueError("stencil points must be distinct")
    c = np.zeros((p, order + 1))
    c[0, 0] = 1.0
    c1, c4 = 1.0, x[0] - x0
    for i in range(1, p):
        mn = min(i, order)
        c2, c5, c4 = 1.0, c4, x[i] - x0
        for j in range(i):
            c3 = x[i] - x[j]
            c2 *= c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i, k] = c1 * (k * c[i - 1, k - 1] - c5 * c[i - 1, k]) / c2
                c[i, 0] = -c1 * c5 * c[i - 1, 0] / c2
            for k in range(mn, 0, -1):
                c[j, k] = (c4 * c[j, k] - k * c[j, k - 1]) / c3
            c[j, 0] = c4 * c[j, 0] / c3
        c1 = c2
    return c[:, order]


def stencil_offsets(order, accuracy, kind="central"):
    """Integer offsets of the standard stencil for a derivative of `order` to `accuracy`.

    Parameters
    ----------
    order : int >= 1
    accuracy : int >= 1
        Formal order of the truncation error; even for central stencils.
    kind : {"central", "forward", "backward"}

    Returns
    -------
    ndarray of int64
    """
    if order < 1 or accuracy < 1:
        raise ValueError(f"order ({order}) and accuracy ({accuracy}) must be positive")
    if kind == "central":
        if accuracy % 2:
            raise ValueError(f"central stencils have even accuracy; got {accuracy}")
        half = (order + 1) // 2 - 1 + accuracy // 2
        return np.arange(-half, half + 1)
    if kind in ("forward", "backward"):
        offs = np.arange(order + accuracy)
        return offs if kind == "forward" else -offs[::-1]
    raise ValueError(f"unknown stencil kind {kind!r}; choose central, forward or backward")
