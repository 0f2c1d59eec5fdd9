"""PINN problems: a residual, a box domain, and the point sets the loss sums over.

A `Problem` holds groups of points. A residual group (``target is None``) contributes
``w mean(r^2)`` with r the PDE residual; a data group (initial, boundary or terminal
condition) contributes ``w mean((u - target)^2)``. Point sets are drawn from a seed: uniform
random, Latin hypercube (`latin_hypercube`, written here so the stratification is explicit)
or a grid, so every run is reproducible.

Builders return the published configurations (REFERENCE.md section A); their sizes are
arguments so a reduced ("quick") setup is the same builder with smaller numbers.
"""

from dataclasses import dataclass, field

import numpy as np

from . import residuals as res
from ..validation import check_finite


@dataclass
class Group:
    """One term of the loss.

    Parameters
    ----------
    name : str
    X : ndarray (N, d)
        Points, in the problem's physical coordinates.
    target : ndarray (N, 1) or None
        Values u must take there; None makes this a residual group.
    weight : float
    """

    name: str
    X: np.ndarray
    target: np.ndarray = None
    weight: float = 1.0

    def __post_init__(self):
        if self.X.ndim != 2 or self.X.shape[0] == 0:
            raise ValueError(f"group {self.name!r}: points have shape {self.X.shape}; expected (N, d) with N > 0")
        check_finite(f"group {self.name!r} points", self.X)
        if self.target is not None:
            if self.target.shape != (self.X.shape[0], 1):
                raise ValueError(f"group {self.name!r}: target has shape {self.target.shape}; "
                                 f"expected ({self.X.shape[0]}, 1), one value per point")
            check_finite(f"group {self.name!r} target", self.target)


@dataclass
class Problem:
    """A PINN problem on the box lower <= X <= upper.

    Parameters
    ----------
    name : str
    residual : fastdds.pinn.residuals.Residual
    lower, upper : ndarray (d,)
        Domain box; inputs are (x, t) in that order for time-dependent problems.
    groups : list of Group
    exact : callable(x, t) -> ndarray, optional
        Reference solution used by the metrics.
    """

    name: str
    residual: res.Residual
    lower: np.ndarray
    upper: np.ndarray
    groups: list = field(default_factory=list)
    exact: object = None

    def astype(self, dtype):
        """The same problem with every point set and target cast to `dtype`."""
        groups = [Group(g.name, g.X.astype(dtype), None if g.target is None else g.target.astype(dtype), g.weight)
                  for g in self.groups]
        return Problem(self.name, self.residual, self.lower, self.upper, groups, self.exact)

    def npoints(self):
        """Points per group, as a dict name -> N."""
        return {g.name: g.X.shape[0] for g in self.groups}


def _box(lower, upper):
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    if lo.shape != hi.shape or lo.ndim != 1 or not np.all(hi > lo):
        raise ValueError(f"domain box lower={lower}, upper={upper} must be 1-D, same length, upper > lower")
    return lo, hi


def uniform(n, lower, upper, rng):
    """n points uniformly distributed in a box.

    Parameters
    ----------
    n : int
    lower, upper : sequence of float, length d
    rng : numpy.random.Generator

    Returns
    -------
    ndarray (n, d), float64
    """
    lo, hi = _box(lower, upper)
    return lo + (hi - lo) * rng.random((int(n), lo.size))


def latin_hypercube(n, lower, upper, rng):
    """n Latin-hypercube points in a box: each axis cut into n equal strata, one point per stratum.

    Parameters
    ----------
    n : int
    lower, upper : sequence of float, length d
    rng : numpy.random.Generator

    Returns
    -------
    ndarray (n, d), float64
    """
    lo, hi = _box(lower, upper)
    n = int(n)
    strata = np.stack([rng.permutation(n) for _ in range(lo.size)], axis=1)
    unit = (strata + rng.random((n, lo.size))) / n
    return lo + (hi - lo) * unit


def grid(n, lo, hi):
    """n equispaced values from lo to hi inclusive, as a column (n, 1) float64."""
    return np.linspace(lo, hi, int(n)).reshape(-1, 1)


def _pairs(a, b):
    """Stack two columns (broadcast) into (N, 2)."""
    a, b = np.broadcast_arrays(a, b)
    return np.hstack([a, b])


def burgers_sin2pi(seed, n_collocation=10_000, n_ic=201, n_bc=211, nu=0.01 / np.pi):
    """Viscous Burgers of the study: u(x, 0) = sin(2 pi x), u(0, t) = u(1, t) = 0 on [0, 1]^2.

    Collocation points uniform random (seeded); initial condition on an x grid; boundary
    points on a t grid on each side.

    Parameters
    ----------
    seed : int
    n_collocation, n_ic, n_bc : int
        10,000 / 201 / 211 (per side) in the published setup.
    nu : float

    Returns
    -------
    Problem
    """
    from ..exact import burgers as ex

    rng = np.random.default_rng(seed)
    x, t = grid(n_ic, 0.0, 1.0), grid(n_bc, 0.0, 1.0)
    bc = np.vstack([_pairs(0.0, t), _pairs(1.0, t)])
    return Problem(
        "burgers-viscous", res.Burgers(nu), np.array([0.0, 0.0]), np.array([1.0, 1.0]),
        [Group("ic", _pairs(x, 0.0), np.sin(2 * np.pi * x)),
         Group("pde", uniform(n_collocation, [0.0, 0.0], [1.0, 1.0], rng)),
         Group("bc", bc, np.zeros((bc.shape[0], 1)))],
        exact=lambda x, t: ex.burgers_sin2pi(x, t, nu))


def burgers_riemann(seed, n_collocation=10_000, n_ic=201, n_bc=211, u_left=1.0, u_right=0.0, x0=0.5):
    """Inviscid Burgers with Riemann data on [0, 1]^2: u(x, 0) = u_left for x < x0 else u_right.

    Boundaries u(0, t) = u_left, u(1, t) = u_right; same point sets as `burgers_sin2pi`.

    Returns
    -------
    Problem
    """
    from ..exact import burgers as ex

    rng = np.random.default_rng(seed)
    x, t = grid(n_ic, 0.0, 1.0), grid(n_bc, 0.0, 1.0)
    bc = np.vstack([_pairs(0.0, t), _pairs(1.0, t)])
    bc_u = np.vstack([np.full_like(t, u_left), np.full_like(t, u_right)])
    return Problem(
        "burgers-inviscid", res.Burgers(0.0), np.array([0.0, 0.0]), np.array([1.0, 1.0]),
        [Group("ic", _pairs(x, 0.0), np.where(x < x0, u_left, u_right)),
         Group("pde", uniform(n_collocation, [0.0, 0.0], [1.0, 1.0], rng)),
         Group("bc", bc, bc_u)],
        exact=lambda x, t: ex.riemann(x, t, u_left, u_right, x0))


def eikonal_time(seed, n_collocation=10_000, n_terminal=200, n_side=200):
    """Time-dependent Eikonal -u_t + |u_x| - 1 = 0 on [-1, 1] x [0, 1], u(x, 1) = 0, u(+-1, t) = 0.

    All point sets uniform random (seeded); exact u = min(1 - |x|, 1 - t).

    Returns
    -------
    Problem
    """
    from ..exact import eikonal as ex

    rng = np.random.default_rng(seed)
    pde = uniform(n_collocation, [-1.0, 0.0], [1.0, 1.0], rng)
    xT = rng.uniform(-1.0, 1.0, (n_terminal, 1))
    tl, tr = rng.random((n_side, 1)), rng.random((n_side, 1))
    bc = np.vstack([_pairs(-1.0, tl), _pairs(1.0, tr)])
    return Problem(
        "eikonal", res.EikonalTime(1e-8), np.array([-1.0, 0.0]), np.array([1.0, 1.0]),
        [Group("terminal", _pairs(xT, 1.0), np.zeros((n_terminal, 1))),
         Group("pde", pde),
         Group("bc", bc, np.zeros((bc.shape[0], 1)))],
        exact=ex.eikonal_time_1d)


def burgers_raissi(seed, n_u=100, n_f=10_000, nu=0.01 / np.pi, nx=256, nt=100):
    """Raissi et al. (2019) Burgers: u(x, 0) = -sin(pi x), u(+-1, t) = 0 on [-1, 1] x [0, 1].

    As in the published code: the initial line (nx grid points at t = 0) and the two boundary
    lines (nt grid times in [0, 0.99]) are pooled and n_u points drawn from them without
    replacement; the n_f Latin-hypercube collocation points get those n_u points appended.

    Returns
    -------
    Problem
    """
    from ..exact import burgers as ex

    rng = np.random.default_rng(seed)
    x, t = grid(nx, -1.0, 1.0), grid(nt, 0.0, 0.99)
    pool = np.vstack([_pairs(x, 0.0), _pairs(-1.0, t), _pairs(1.0, t)])
    pool_u = np.vstack([-np.sin(np.pi * x), np.zeros((2 * nt, 1))])
    pick = rng.choice(pool.shape[0], int(n_u), replace=False)
    X_u = pool[pick]
    X_f = np.vstack([latin_hypercube(n_f, [-1.0, 0.0], [1.0, 1.0], rng), X_u])
    return Problem(
        "raissi-burgers", res.Burgers(nu), np.array([-1.0, 0.0]), np.array([1.0, 1.0]),
        [Group("data", X_u, pool_u[pick]), Group("pde", X_f)],
        exact=lambda x, t: ex.burgers_raissi(x, t, nu))


def heat_sine(seed, n_collocation=500, n_ic=64, n_bc=32, D=0.1):
    """Heat equation u_t = D u_xx on [0, 1]^2, u(x, 0) = sin(pi x), u(0, t) = u(1, t) = 0.

    Exact u = exp(-D pi^2 t) sin(pi x); a small smooth problem for tests and examples.

    Returns
    -------
    Problem
    """
    rng = np.random.default_rng(seed)
    x, t = grid(n_ic, 0.0, 1.0), grid(n_bc, 0.0, 1.0)
    bc = np.vstack([_pairs(0.0, t), _pairs(1.0, t)])
    return Problem(
        "heat", res.Heat(D), np.array([0.0, 0.0]), np.array([1.0, 1.0]),
        [Group("ic", _pairs(x, 0.0), np.sin(np.pi * x)),
         Group("pde", latin_hypercube(n_collocation, [0.0, 0.0], [1.0, 1.0], rng)),
         Group("bc", bc, np.zeros((bc.shape[0], 1)))],
        exact=lambda x, t: np.exp(-D * np.pi ** 2 * np.asarray(t)) * np.sin(np.pi * np.asarray(x)))
