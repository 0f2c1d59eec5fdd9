"""Exact Eikonal references with speed 1: distances to point sets and boxes, and the 1-D
time-dependent problem.

|grad u| = 1 with u = 0 on a set S has the viscosity solution u(x) = dist(x, S). The
time-dependent form studied as a PINN benchmark,

    -u_t + |u_x| - 1 = 0 on x in [-1, 1], t in [0, 1],  u(1, x) = 0,  u(t, +-1) = 0,

has u(t, x) = min(1 - |x|, 1 - t): the time to reach either the final time or the boundary.
"""

import numpy as np


def eikonal_time_1d(x, t):
    """Exact solution min(1 - |x|, 1 - t) of -u_t + |u_x| - 1 = 0, u(1, x) = 0, u(t, +-1) = 0.

    Parameters
    ----------
    x : array_like, positions in [-1, 1]
    t : array_like, times in [0, 1]; broadcast against x

    Returns
    -------
    ndarray of the broadcast shape, float64 (float32 when both inputs are float32).
    """
    x, t = np.asarray(x), np.asarray(t)
    dtype = np.float32 if x.dtype == np.float32 and t.dtype == np.float32 else np.float64
    return np.minimum(1.0 - np.abs(x.astype(dtype)), 1.0 - t.astype(dtype))


def grid_coordinates(shape, dx=1.0, origin=0.0):
    """Node coordinates of a uniform grid, one array per axis (indexing "ij").

    Parameters
    ----------
    shape : tuple of int (length d)
    dx : float or sequence of d floats
        Spacing per axis.
    origin : float or sequence of d floats
        Coordinate of node (0, ..., 0).

    Returns
    -------
    list of d ndarrays of shape `shape`, float64: x_k[i] = origin_k + i_k dx_k.
    """
    d = len(shape)
    dx = np.broadcast_to(np.asarray(dx, dtype=np.float64), (d,))
    origin = np.broadcast_to(np.asarray(origin, dtype=np.float64), (d,))
    axes = [o + h * np.arange(n) for n, h, o in zip(shape, dx, origin)]
    return np.meshgrid(*axes, indexing="ij")


def distance_to_points(coords, points):
    """Euclidean distance from every grid node to the nearest of a set of points.

    Parameters
    ----------
    coords : list of d ndarrays of one shape (from `grid_coordinates`)
    points : array_like, shape (m, d) or (d,)
        Source positions, in the units of coords.

    Returns
    -------
    ndarray of the coords' shape, float64.
    """
    pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
    if pts.shape[1] != len(coords):
        raise ValueError(f"points have {pts.shape[1]} coordinates but the grid has {len(coords)} axes")
    out = np.full(coords[0].shape, np.inf)
    for p in pts:
        out = np.minimum(out, np.sqrt(sum((c - pk) ** 2 for c, pk in zip(coords, p))))
    return out


def distance_to_box(coords, lower, upper, signed=False):
    """Euclidean distance from every grid node to an axis-aligned box [lower, upper].

    Parameters
    ----------
    coords : list of d ndarrays of one shape
    lower, upper : sequence of d floats, lower < upper
    signed : bool
        False: 0 inside the box (distance to the solid box). True: the signed distance to its
        surface, negative inside.

    Returns
    -------
    ndarray of the coords' shape, float64.
    """
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    if lo.shape != (len(coords),) or hi.shape != lo.shape or np.any(hi <= lo):
        raise ValueError(f"box corners must be {len(coords)} values each with lower < upper; "
                         f"got {lower!r}, {upper!r}")
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    q = [np.abs(c - m) - r for c, m, r in zip(coords, centre, half)]
    outside = np.sqrt(sum(np.maximum(qk, 0.0) ** 2 for qk in q))
    if not signed:
        return outside
    inside = np.minimum(np.maximum.reduce(q), 0.0)
    return outside + inside
