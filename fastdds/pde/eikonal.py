"""Eikonal solvers: fast sweeping for |grad u| = 1 / speed in 2-D and 3-D, and the explicit
time-dependent 1-D Hamilton-Jacobi form -u_t + |u_x| - 1 = 0.

The fast-sweeping API follows scikit-fmm: ``distance(phi, dx)`` returns the signed distance to
the zero contour of phi, ``travel_time(phi, speed, dx)`` the travel time from it; a numpy masked
array marks obstacles (masked cells are never entered and come back masked). ``arrival_time``
starts from a mask of source cells instead of a level set. The compiled cores live in
``fastdds.kernels.cpu.eikonal``.

Fast sweeping (Zhao 2005) is Gauss-Seidel: each cell update reads neighbours already updated in
the same sweep, in an order that alternates over the 2^d grid orderings. It is therefore NOT a
chain of layers y = P x + sum Q sigma(R x + b) (a layer maps the whole previous state at once).
The explicit 1-D schemes are: ``hj1d_chain`` builds them as chains, ``hj1d_solve`` runs the
fused kernel, both from the coefficients of ``hj1d_coefficients``.
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..layers import Chain, Layer
from ..operators import Banded, Identity

_PAD = 2


@dataclass
class SweepInfo:
    """What a fast-sweeping solve did.

    Attributes
    ----------
    sweeps : int
        Sweeps done (one sweep = one grid ordering).
    converged : bool
    band : int
        Cells fixed at the start (sources or interface band).
    """

    sweeps: int
    converged: bool
    band: int


def _float_array(name, a):
    """A float32/float64 ndarray (other numbers become float64) of a numpy (masked) array."""
    a = np.ma.getdata(a) if np.ma.isMaskedArray(a) else np.asarray(a)
    if a.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise ValueError(f"{name} must be a numeric array; got dtype {a.dtype}")
        a = a.astype(np.float64)
    return a


def _check_grid(phi, dx):
    """Validate phi's shape and dx; return dx as a tuple of floats, one per axis."""
    if phi.ndim not in (2, 3):
        raise ValueError(f"phi must be a 2-D or 3-D array; got shape {phi.shape}")
    if min(phi.shape) < 2:
        raise ValueError(f"every axis needs at least 2 cells; phi has shape {phi.shape}")
    dxs = np.atleast_1d(np.asarray(dx, dtype=np.float64))
    if dxs.ndim != 1 or dxs.size not in (1, phi.ndim):
        raise ValueError(f"dx must be a scalar or one spacing per axis ({phi.ndim}); got {dx!r}")
    if not (np.all(np.isfinite(dxs)) and np.all(dxs > 0)):
        raise ValueError(f"dx must be positive and finite; got {dx!r}")
    return tuple(float(h) for h in np.broadcast_to(dxs, (phi.ndim,)))


def _check_settings(order, narrow, tol, max_sweeps):
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2; got {order!r}")
    if not (np.isfinite(narrow) and narrow >= 0):
        raise ValueError(f"narrow must be >= 0 (0: no narrow band); got {narrow!r}")
    if tol is not None and not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be >= 0; got {tol!r}")
    if int(max_sweeps) < 1:
        raise ValueError(f"max_sweeps must be >= 1; got {max_sweeps!r}")


def _obstacles(*arrays):
    """Union of the masks of the masked arrays among `arrays` (None when none is masked)."""
    masks = [np.ma.getmaskarray(a) for a in arrays if np.ma.isMaskedArray(a) and np.ma.is_masked(a)]
    return np.logical_or.reduce(masks) if masks else None


def _padded(a, fill):
    out = np.full(tuple(s + 2 * _PAD for s in a.shape), fill, dtype=a.dtype)
    out[tuple(slice(_PAD, -_PAD) for _ in a.shape)] = a
    return out


def _slowness(speed, shape, dtype, obstacles):
    """Padded slowness 1 / speed after checking speed (scalar or phi's shape, > 0, finite)."""
    if np.ndim(speed) == 0:
        s = float(np.ma.getdata(speed))
        if not (np.isfinite(s) and s > 0):
            raise ValueError(f"speed must be positive and finite; got {s}")
        return np.broadcast_to(np.asarray(1.0 / s, dtype=dtype), tuple(n + 2 * _PAD for n in shape))
    sp = _float_array("speed", speed)
    if sp.shape != shape:
        raise ValueError(f"speed has shape {sp.shape} but phi has shape {shape}; give one speed per cell")
    free = sp if obstacles is None else sp[~obstacles]
    bad = ~(np.isfinite(free) & (free > 0))
    if bad.any():
        raise ValueError(f"speed must be positive and finite outside masked cells; {int(bad.sum())} cells "
                         f"are not (e.g. {free[bad][0]}); mask them (numpy masked array) to make them obstacles")
    f = np.ones(shape, dtype=dtype)
    np.divide(1.0, sp, out=f, where=obstacles is None or ~obstacles, casting="unsafe")
    return _padded(f, 1.0)


def _level_set_start(phi, dx, gradient):
    """Checked phi, spacing, obstacles and the padded start (u, state, side, band) of a level set."""
    kern = backend.kernels("eikonal", like=np.empty(0))
    p = _float_array("phi", phi)
    dxs = _check_grid(p, dx)
    obstacles = _obstacles(phi)
    valid = np.ones(p.shape, np.uint8) if obstacles is None else (~obstacles).astype(np.uint8)
    bad = ~np.isfinite(p) & (valid == 1)
    if bad.any():
        raise ValueError(f"phi contains NaN or inf at {int(bad.sum())} unmasked cells (first at "
                         f"{tuple(int(i) for i in np.argwhere(bad)[0])}); mask them or fix phi")
    shape = tuple(n + 2 * _PAD for n in p.shape)
    u = np.full(shape, np.inf, dtype=p.dtype)
    state = np.full(shape, kern.FIXED, dtype=np.uint8)
    side = np.zeros(shape, dtype=np.int8)
    h3 = dxs if p.ndim == 3 else (1.0,) + dxs
    pad = (_PAD,) * 3 if p.ndim == 3 else (0, _PAD, _PAD)
    view = (lambda a: a) if p.ndim == 3 else (lambda a: a[None])
    band = kern.interface_band(view(np.ascontiguousarray(p)), view(valid), *h3, gradient, view(u), view(state),
                               view(side), pad)
    if band == 0:
        raise ValueError("phi has no zero contour (it never changes sign and is nowhere 0 outside masked "
                         "cells); give a level set that is negative inside the source and positive outside")
    return dxs, obstacles, (u, state, side, int(band))


def _sweep(start, f, dxs, order, narrow, tol, max_sweeps):
    """Run the sweeps of the given order on the padded start.

    Returns
    -------
    u : ndarray, unpadded, dtype of the start (inf where unreached)
    side : ndarray of int8, unpadded
    info : SweepInfo
    """
    kern = backend.kernels("eikonal", like=np.empty(0))
    _check_settings(order, narrow, tol, max_sweeps)
    u, state, side, band = start
    w = [1.0 / h**2 for h in dxs]
    cap = float(narrow) if narrow > 0 else np.inf
    if tol is not None:
        tol = float(tol)
    elif order == 1:
        tol = 0.0
    else:
        tol = (1e-10 if u.dtype == np.float64 else 1e-5) * min(dxs)
    run = kern.sweep2d if len(dxs) == 2 else kern.sweep3d
    sweeps, converged = run(u, state, side, f, *w, int(order), tol, cap, int(max_sweeps))
    if not converged:
        warnings.warn(f"fast sweeping stopped after max_sweeps = {max_sweeps} sweeps without converging; "
                      f"raise max_sweeps (mazes of obstacles need more)", RuntimeWarning, stacklevel=3)
    inner = tuple(slice(_PAD, -_PAD) for _ in dxs)
    return u[inner], side[inner], SweepInfo(sweeps, converged, band)


def _finish(u, sign, obstacles, narrow, signed):
    """Apply the sign; return a masked array where obstacles, narrow or unreached cells exist."""
    out = np.empty(u.shape, dtype=u.dtype)
    view = (lambda a: a) if u.ndim == 3 else (lambda a: a[None])
    unreached = backend.kernels("eikonal", like=out).finish(view(u), view(sign), signed, view(out))
    if obstacles is None and narrow == 0 and unreached == 0:
        return out
    hidden = ~np.isfinite(u) if obstacles is None else ~np.isfinite(u) | obstacles
    out[hidden] = 0.0
    return np.ma.MaskedArray(out, mask=hidden)


def distance(phi, dx=1.0, order=1, narrow=0.0, tol=None, max_sweeps=500, return_info=False):
    """Signed distance from the zero contour of phi, by fast sweeping.

    Parameters
    ----------
    phi : ndarray or numpy masked array, shape (n0, n1) or (n0, n1, n2), float32 or float64
        Level set; its zero contour is the interface and the result takes its sign. Masked cells
        are obstacles: paths go around them and they come back masked.
    dx : float or sequence of float
        Grid spacing, one value or one per axis (units of length).
    order : {1, 2}
        1: first-order Godunov upwind update, interface cells set by linear interpolation along
        each axis (as scikit-fmm). 2: second-order one-sided differences where the upwind cells
        allow, interface cells set to |phi| / |grad phi| (second order for smooth phi). Note
        that scikit-fmm's default is order=2; ours is 1.
    narrow : float
        When > 0, only cells within this distance are computed; the others come back masked.
    tol : float, optional
        A sweep with no change above tol ends the solve (default 0 for order 1; for order 2,
        1e-10 * dx in float64 and 1e-5 * dx in float32).
    max_sweeps : int
        Most sweeps; a RuntimeWarning says when it was reached.
    return_info : bool
        Also return a `SweepInfo`.

    Returns
    -------
    d : ndarray of phi's shape and dtype (a masked array with obstacles, narrow band or
        unreachable cells); units of dx.
    info : SweepInfo, when return_info.

    Raises
    ------
    ValueError
        Bad shape, dx <= 0, NaN in phi, no zero contour, bad order.
    """
    _check_settings(order, narrow, tol, max_sweeps)
    dxs, obstacles, start = _level_set_start(phi, dx, order == 2)
    f = _slowness(1.0, np.shape(phi), start[0].dtype, None)
    u, sign, info = _sweep(start, f, dxs, order, narrow, tol, max_sweeps)
    out = _finish(u, sign, obstacles, narrow, signed=True)
    return (out, info) if return_info else out


def travel_time(phi, speed, dx=1.0, order=1, narrow=0.0, tol=None, max_sweeps=500, return_info=False):
    """Travel time from the zero contour of phi with a speed field: |grad T| = 1 / speed.

    Parameters
    ----------
    phi : ndarray or masked array, shape (n0, n1) or (n0, n1, n2)
        Level set as in `distance`.
    speed : float or ndarray (or masked array) of phi's shape
        Positive, finite speed (units of length per unit time); masked cells are obstacles.
    dx, order, narrow, tol, max_sweeps, return_info :
        As `distance`; narrow is in units of time here.

    Returns
    -------
    T : ndarray of phi's shape and dtype, >= 0 on both sides (as scikit-fmm); masked where
        `distance` masks.
    info : SweepInfo, when return_info.
    """
    _check_settings(order, narrow, tol, max_sweeps)
    obstacles = _obstacles(phi, speed)
    if obstacles is not None:
        phi = np.ma.MaskedArray(np.ma.getdata(phi), mask=obstacles)
    dxs, obstacles, start = _level_set_start(phi, dx, order == 2)
    f = _slowness(speed, obstacles.shape if obstacles is not None else np.shape(phi), start[0].dtype, obstacles)
    start[0][...] *= f  # band distances to band times (inf stays inf)
    u, sign, info = _sweep(start, f, dxs, order, narrow, tol, max_sweeps)
    out = _finish(u, sign, obstacles, narrow, signed=False)
    return (out, info) if return_info else out


def arrival_time(sources, speed=1.0, dx=1.0, order=1, values=None, obstacles=None, tol=None, max_sweeps=500,
                 return_info=False):
    """First-arrival time from a set of source cells: |grad u| = 1 / speed, u = values on them.

    Parameters
    ----------
    sources : bool ndarray, shape (n0, n1) or (n0, n1, n2)
        True at the source cells (at least one).
    speed : float or ndarray of sources' shape
        Positive and finite; speed 1 gives the distance to the nearest source.
    dx : float or sequence of float
    order : {1, 2}
    values : ndarray of sources' shape, optional
        u on the source cells (>= 0, finite), default 0. Giving the exact values on a disc of
        fixed radius around a point source removes the O(h log h) error of a one-cell source.
    obstacles : bool ndarray of sources' shape, optional
        Cells that paths may not enter (masked in the result).
    tol, max_sweeps, return_info : as `distance`.

    Returns
    -------
    u : ndarray, float64 (float32 when values or speed is a float32 array); a masked array
        when there are obstacles or unreachable cells.
    info : SweepInfo, when return_info.
    """
    _check_settings(order, 0.0, tol, max_sweeps)
    src = np.asarray(sources)
    if src.dtype != bool:
        raise ValueError(f"sources must be a boolean mask; got dtype {src.dtype}")
    dxs = _check_grid(src, dx)
    if not src.any():
        raise ValueError("sources is empty; mark at least one source cell True")
    f32 = [a for a in (speed, values) if isinstance(a, np.ndarray) and a.dtype == np.float32]
    dtype = np.float32 if f32 else np.float64
    v = np.zeros(src.shape, dtype=dtype)
    if values is not None:
        v[...] = _float_array("values", values)
        if v.shape != src.shape or not np.all(np.isfinite(v[src]) & (v[src] >= 0)):
            raise ValueError(f"values must have the sources' shape {src.shape} and be finite and >= 0 on them")
    blocked = np.zeros(src.shape, dtype=bool)
    if obstacles is not None:
        blocked = np.asarray(obstacles, dtype=bool)
        if blocked.shape != src.shape:
            raise ValueError(f"obstacles has shape {blocked.shape} but sources {src.shape}")
        blocked = blocked & ~src
    kern = backend.kernels("eikonal", like=v)
    u = _padded(np.where(src, v, np.inf).astype(dtype), np.inf)
    state = _padded(np.where(src | blocked, kern.FIXED, 1).astype(np.uint8), kern.FIXED)
    side = _padded(np.ones(src.shape, dtype=np.int8), 0)
    f = _slowness(speed, src.shape, dtype, blocked if obstacles is not None else None)
    u, side, info = _sweep((u, state, side, int(src.sum())), f, dxs, order, 0.0, tol, max_sweeps)
    out = _finish(u, side, blocked if obstacles is not None else None, 0.0, signed=False)
    return (out, info) if return_info else out


# ---------------------------------------------------------------------------------------------
# Time-dependent 1-D form: -u_t + |u_x| - 1 = 0 on [-1, 1] x [0, 1], u(1, x) = 0, u(t, +-1) = 0.
# In tau = 1 - t: u_tau + H(u_x) = 0 with H(p) = |p| - 1, u(tau = 0) = 0, so u_tau = 1 - |u_x|.

HJ1D_SCHEMES = ("lax_friedrichs", "godunov")


def hj1d_max_step(n, alpha=1.0):
    """Largest stable (monotone) step on n nodes over [-1, 1]: dt = h / alpha.

    alpha is the Lax-Friedrichs dissipation speed (>= max|H'| = 1); Godunov uses alpha = 1.
    """
    return 2.0 / (n - 1) / alpha


def hj1d_coefficients(scheme, n, dt, dtype=np.float64, alpha=1.0):
    """Coefficients shared by the fused kernel and the chain of one explicit scheme.

    One step of the interior nodes is

        u_i <- p . (u_{i-1}, u_i, u_{i+1}) - dt relu(|g (u_{i+1} - u_{i-1})| + d . (u_{i-1}, u_i, u_{i+1})) + dt

    Lax-Friedrichs: p = (c, 1 - 2c, c), c = alpha dt / (2h), g = 1 / (2h), d = 0; with the
    minimal alpha = max|H'| = 1 its numerical Hamiltonian |D0 u| + (p- - p+) / 2 = max(p-, -p+)
    differs from Godunov's only at local minima of u. Godunov for H = |p|:
    max(max(p-, 0), -min(p+, 0)) = relu(|D0 u| + (p- - p+) / 2), so p = (0, 1, 0), g = 1 / (2h),
    d = (-1/(2h), 1/h, -1/(2h)).

    Parameters
    ----------
    scheme : {"lax_friedrichs", "godunov"}
    n : int
        Nodes on [-1, 1], ends included (>= 3).
    dt : float
        Step in tau = 1 - t; at most `hj1d_max_step(n)`.
    dtype : float32 or float64
    alpha : float >= 1
        Lax-Friedrichs dissipation speed (ignored by Godunov).

    Returns
    -------
    dict with p, d (ndarray (3,), dtype), g, dt, h (float).

    Raises
    ------
    ValueError
        Unknown scheme, n < 3, or dt above the CFL limit (the message names the largest stable step).
    """
    if scheme not in HJ1D_SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {HJ1D_SCHEMES}")
    if int(n) < 3:
        raise ValueError(f"the grid needs n >= 3 nodes; got {n}")
    dtype = backend.resolve_dtype(dtype)
    if not (np.isfinite(alpha) and alpha >= 1.0):
        raise ValueError(f"alpha must be >= max|H'| = 1 for a monotone Lax-Friedrichs scheme; got {alpha}")
    alpha = float(alpha) if scheme == "lax_friedrichs" else 1.0
    h = 2.0 / (int(n) - 1)
    limit = hj1d_max_step(n, alpha)
    if not (np.isfinite(dt) and 0 < dt <= limit * (1 + 1e-12)):
        raise ValueError(f"time step dt = {dt} breaks the CFL condition alpha dt / h <= 1 (alpha = {alpha:g}) "
                         f"of the {scheme} scheme on {n} nodes; the largest stable step is {limit:.6g}")
    if scheme == "lax_friedrichs":
        c = alpha * dt / (2.0 * h)
        p, d = (c, 1.0 - 2.0 * c, c), (0.0, 0.0, 0.0)
    else:
        p, d = (0.0, 1.0, 0.0), (-1.0 / (2.0 * h), 1.0 / h, -1.0 / (2.0 * h))
    return {"p": np.array(p, dtype=dtype), "d": np.array(d, dtype=dtype), "g": 1.0 / (2.0 * h),
            "dt": float(dt), "h": h}


def hj1d_solve(n, scheme="godunov", cfl=0.9, t_end=1.0, dt=None, dtype=np.float64, alpha=1.0):
    """Step -u_t + |u_x| - 1 = 0 from u(1, x) = 0 back to t = 1 - t_end with the fused kernel.

    Parameters
    ----------
    n : int
        Nodes on [-1, 1] (ends included, held at u = 0).
    scheme : {"lax_friedrichs", "godunov"}
    cfl : float in (0, 1]
        dt = cfl h, rounded down so that whole steps reach t_end (ignored when dt is given).
    t_end : float
        Length of the time interval (1 reaches t = 0).
    dt : float, optional
        Explicit step; must not exceed the CFL limit. t_end is then rounded to whole steps.
    dtype : float32 or float64
    alpha : float >= 1
        Lax-Friedrichs dissipation speed.

    Returns
    -------
    x : ndarray (n,), float64
    u : ndarray (n,), dtype: u(1 - t_end, x)
    nsteps : int
    """
    if not (np.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be positive; got {t_end}")
    if dt is None:
        if not 0 < cfl <= 1:
            raise ValueError(f"cfl must be in (0, 1]; got {cfl}")
        limit = hj1d_max_step(n, alpha if scheme == "lax_friedrichs" else 1.0)
        nsteps = max(1, math.ceil(t_end / (cfl * limit) - 1e-9))
        dt = t_end / nsteps
    else:
        nsteps = max(1, round(t_end / dt))
    c = hj1d_coefficients(scheme, n, dt, dtype, alpha)
    u = np.zeros(int(n), dtype=c["p"].dtype)
    backend.kernels("eikonal", like=u).hj1d_steps(u, nsteps, c["p"], c["g"], c["d"], c["dt"], np.empty_like(u))
    return np.linspace(-1.0, 1.0, int(n)), u, nsteps


def _rows(n, values, rows):
    """Diagonal of length n holding `values` on `rows` (a slice) and 0 elsewhere."""
    out = np.zeros(n)
    out[rows] = values
    return out


def hj1d_chain(scheme, n, dt, nsteps, dtype=np.float64, alpha=1.0):
    """The explicit scheme as a Chain of layers y = P x + sum_k Q_k sigma_k(R_k x + b_k).

    Lax-Friedrichs is one layer per step on the n nodes:
    P = I + c D2 (rows of the end nodes 0), branch Q = -dt I, sigma = abs, R = g (-1, 0, 1),
    and the constant c = dt on the interior nodes.
    Godunov needs two layers per step on the doubled state [u; w] (2n values):
    layer 1 keeps u and writes w = |g (u_{i+1} - u_{i-1})| (abs branch whose R reaches the top
    half through offsets -n -+ 1); layer 2 gives u - dt relu(w + d . u) + dt (relu branch).
    Both use the coefficients of `hj1d_coefficients`, as the fused kernel does.

    Parameters
    ----------
    scheme : {"lax_friedrichs", "godunov"}
    n : int
    dt : float
    nsteps : int
    dtype : float32 or float64
    alpha : float >= 1
        Lax-Friedrichs dissipation speed.

    Returns
    -------
    Chain : its input is u (n values) for Lax-Friedrichs, [u; 0] (2n values) for Godunov; see
        `hj1d_chain_run`.
    """
    c = hj1d_coefficients(scheme, n, dt, dtype, alpha)
    dtype, n = c["p"].dtype, int(n)
    inner = slice(1, n - 1)
    g, dt = c["g"], c["dt"]
    const = np.zeros(n, dtype=dtype)
    const[inner] = dt
    if scheme == "lax_friedrichs":
        P = Banded((-1, 0, 1), np.stack([_rows(n, v, inner) for v in c["p"]]), "dirichlet", dtype=dtype)
        R = Banded((-1, 1), np.stack([_rows(n, -g, inner), _rows(n, g, inner)]), "dirichlet", dtype=dtype)
        step = Layer(P, [(Identity(n, -dt, dtype), "abs", R, None)], c=const)
        return Chain([step] * int(nsteps))
    top, bottom = slice(1, n - 1), slice(n + 1, 2 * n - 1)
    N = 2 * n
    keep = Banded((0,), _rows(N, 1.0, slice(0, n))[None], "dirichlet", dtype=dtype)
    R1 = Banded((-n - 1, -n + 1), np.stack([_rows(N, -g, bottom), _rows(N, g, bottom)]), "dirichlet", dtype=dtype)
    first = Layer(keep, [(None, "abs", R1, None)])
    P2 = Banded((0,), _rows(N, 1.0, top)[None], "dirichlet", dtype=dtype)
    R2 = Banded((-1, 0, 1, n), np.stack([_rows(N, v, top) for v in c["d"]] + [_rows(N, 1.0, top)]),
                "dirichlet", dtype=dtype)
    b2 = np.concatenate([const, np.zeros(n, dtype=dtype)])
    second = Layer(P2, [(Identity(N, -dt, dtype), "relu", R2, None)], c=b2)
    return Chain([first, second] * int(nsteps))


def hj1d_chain_run(chain, u0):
    """Run a chain of `hj1d_chain` from u0 (n values); return the final u (n values)."""
    n = u0.shape[-1]
    x = u0 if chain.n_in == n else np.concatenate([u0, np.zeros_like(u0)])
    return chain(x)[:n]
