"""Finite-difference / finite-volume solvers of viscous and inviscid Burgers' equation.

    u_t + (u^2 / 2)_x = nu u_xx

A scheme is data: a numerical flux, a reconstruction (first order or MUSCL with a limiter) and an
explicit Runge-Kutta method in Shu-Osher form (torchdiffeq fixed-grid style: the tableau and the
order are fields, not code). `solve` validates the input, picks the time step from a CFL number
and advances every step inside one fused kernel (``fastdds.kernels.cpu.burgers.advance``).

The schemes with the Lax-Friedrichs ("lf"), central and Engquist-Osher ("eo") fluxes and no
limiter are also available as chains of layers (`step_layers`, `chain`) built from the same
coefficients; a forward-Euler step is one layer,

    lf       P = I + (nu dt/h^2 + alpha dt/(2h)) D2,  Q = -(dt/(2h)) D1,  sigma = u^2/2
    central  P = I + nu dt/h^2 D2,                     Q = -(dt/(2h)) D1,  sigma = u^2/2
    eo       P = I + nu dt/h^2 D2,  Q = -(dt/h) D-, -(dt/h) D+,  sigma = max(u,0)^2/2, min(u,0)^2/2

and an SSP Runge-Kutta step is one layer per stage on the doubled state [u^n; u^(k)] (`step_layers`).
The Lax-Friedrichs speed alpha is one choice everywhere: `dissipation_speed`, max|u0| over the
run's initial state, fixed for the run.
The other schemes are not chains of the registry's layers: the Rusanov and Godunov (upwind)
fluxes depend on max(|u_i|, |u_{i+1}|) or on a pair of neighbours jointly, which no pointwise
activation of a linear map expresses, and the MUSCL limiters (minmod, van Leer) are likewise
nonlinear functions of two neighbouring differences.
"""

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import backend, boundaries
from ..layers import Chain, Layer
from ..operators import Banded
from ..tableaus import SHU_OSHER
from ..validation import check_finite, check_time_step

FLUXES = {"lf": 0, "rusanov": 1, "eo": 2, "central": 3, "upwind": 4}
LIMITERS = {"none": 0, "minmod": 1, "vanleer": 2}
BOUNDARIES = ("periodic", "dirichlet", "outflow")
"""Boundaries of the Burgers solvers and layer forms (meanings in ``fastdds.boundaries``)."""


RK = SHU_OSHER
"""Explicit Runge-Kutta methods in Shu-Osher form, u^(k+1) = a_k u^n + b_k (u^(k) + dt L(u^(k))),
by name: `fastdds.tableaus.SHU_OSHER` (each with its Butcher tableau, name and order)."""


@dataclass(frozen=True)
class Scheme:
    """A conservative Burgers scheme: flux, reconstruction and time stepping.

    Attributes
    ----------
    flux : str
        Key of `FLUXES`.
    limiter : str
        "none" (first order) or a MUSCL limiter ("minmod", "vanleer").
    rk : str
        Key of `RK`.
    """

    flux: str
    limiter: str = "none"
    rk: str = "euler"

    @property
    def order(self):
        """Formal order of accuracy on smooth solutions."""
        return min(1 if self.limiter == "none" else 2, RK[self.rk].order)

    @property
    def is_chain(self):
        """Whether `step_layers` can build this scheme as layers."""
        return self.limiter == "none" and self.flux in ("lf", "eo", "central")

    def cfl_limit(self):
        """Largest CFL number (dt over `max_stable_dt`'s convective-diffusive bound) that keeps the
        scheme stable: 1, or 1/2 with MUSCL (TVD bound for limiters with phi <= 2)."""
        return 1.0 if self.limiter == "none" else 0.5


PRESETS = {
    "lf": Scheme("lf"),
    "rusanov": Scheme("rusanov"),
    "eo": Scheme("eo"),
    "central": Scheme("central"),
    "upwind": Scheme("upwind"),
    "muscl-rk2": Scheme("rusanov", "minmod", "ssp-rk2"),
    "muscl-rk3": Scheme("rusanov", "minmod", "ssp-rk3"),
}


def get_scheme(scheme, flux=None, limiter=None, rk=None):
    """A `Scheme` from a preset name (see `PRESETS`) or a Scheme, with optional overrides.

    Parameters
    ----------
    scheme : str or Scheme
        "lf", "rusanov", "eo", "central", "upwind" (first order, forward Euler), "muscl-rk2",
        "muscl-rk3" (Rusanov flux, minmod limiter, SSP Runge-Kutta).
    flux, limiter, rk : str, optional
        Replace the preset's flux (`FLUXES`), limiter (`LIMITERS`) or time stepper (`RK`).
    """
    if isinstance(scheme, Scheme):
        base = scheme
    elif scheme in PRESETS:
        base = PRESETS[scheme]
    else:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {sorted(PRESETS)}")
    s = Scheme(flux or base.flux, limiter or base.limiter, rk or base.rk)
    for name, value, table in (("flux", s.flux, FLUXES), ("limiter", s.limiter, LIMITERS), ("rk", s.rk, RK)):
        if value not in table:
            raise ValueError(f"unknown {name} {value!r}; choose one of {sorted(table)}")
    return s


def max_stable_dt(scheme, dx, nu, umax):
    """Largest stable time step of a scheme.

    First-order upwind-type fluxes (lf with alpha >= max|u|, rusanov, eo, upwind) under forward Euler
    are monotone for dt <= dx / (umax + 2 nu / dx); MUSCL halves that. SSP Runge-Kutta methods keep
    the forward-Euler bound. The central flux has no numerical dissipation: its L2 bound is
    dt <= min(dx^2 / (2 nu), 2 nu / umax^2), so it needs nu > 0.

    Parameters
    ----------
    scheme : str or Scheme
    dx : float
        Grid spacing (units of x).
    nu : float
        Viscosity (>= 0).
    umax : float
        Bound on |u| (the max over the initial data and boundary values; alpha for lf).

    Returns
    -------
    float (units of t); inf when nothing limits the step.
    """
    s = get_scheme(scheme)
    if s.flux == "central":
        if nu <= 0:
            return 0.0
        return min(dx * dx / (2.0 * nu), 2.0 * nu / umax**2 if umax > 0 else np.inf)
    rate = umax / dx + 2.0 * nu / dx**2
    return s.cfl_limit() / rate if rate > 0 else np.inf


@dataclass
class Result:
    """Output of `solve`.

    Attributes
    ----------
    u : ndarray, shape (n,), the dtype of the input
    t : float
        Final time reached (nsteps * dt).
    dt : float
    nsteps : int
    wall : float
        Seconds spent in the kernel (running, not compiling).
    compile : float
        Seconds spent compiling the scheme's kernel, or loading it from Numba's on-disk cache
        (about 0 once it ran in this process).
    """

    u: np.ndarray
    t: float
    dt: float
    nsteps: int
    wall: float
    compile: float = 0.0


def _check_state(u0, dtype):
    u = np.asarray(u0) if not hasattr(u0, "dtype") else u0
    dtype = backend.resolve_dtype(dtype, like=u)
    if u.ndim != 1 or u.size < 3:
        raise ValueError(f"u0 has shape {u.shape}; expected a 1-D grid of at least 3 nodes")
    u = backend.array_module(u).ascontiguousarray(u, dtype=dtype)
    check_finite("u0", u)
    return u


def solve(u0, dx, t_end=None, nu=0.0, scheme="lf", *, nsteps=None, dt=None, cfl=0.9, flux=None, limiter=None,
          rk=None, boundary="periodic", left=0.0, right=0.0, alpha=None, unsafe=False, check_every=64,
          dtype=None, chunks=1, callback=None, start=None):
    """Advance Burgers' equation u_t + (u^2/2)_x = nu u_xx with a conservative explicit scheme.

    Parameters
    ----------
    u0 : ndarray, shape (n,), float32 or float64
        NumPy or CuPy (the run, its buffers and the result are on u0's device).
        Nodal values on a uniform grid x_i = x_0 + i dx. Periodic: x_n = x_0 is not stored;
        Dirichlet: the end nodes are the boundary nodes (overwritten by `left`, `right`).
    dx : float
        Grid spacing.
    t_end : float, optional
        Final time; the step is the largest dt <= cfl * max_stable_dt that divides t_end.
    nu : float
        Viscosity, >= 0.
    scheme : str or Scheme
        Preset name (`PRESETS`) or Scheme; `flux`, `limiter`, `rk` override its parts.
    nsteps : int, optional
        Number of steps (with `dt`, or with `t_end`).
    dt : float, optional
        Time step; default from `cfl`.
    cfl : float
        Fraction of the largest stable step, in (0, 1].
    boundary : {"periodic", "dirichlet", "outflow"}
        Meanings in ``fastdds.boundaries``: dirichlet holds the end nodes at `left`, `right`.
    left, right : float
        Dirichlet values.
    alpha : float, optional
        Lax-Friedrichs dissipation speed (flux "lf" only), >= max|u0|; default
        `dissipation_speed` of the initial state (Dirichlet ends written in), fixed for the run.
    unsafe : bool
        Warn instead of raising when dt exceeds the stability limit.
    check_every : int
        NaN/inf test interval (steps) inside the kernel.
    dtype : float32 or float64, optional
        Default: the dtype of u0 when it is a float array, else float64.
    chunks : int
        Kernel calls the steps are split into (at most nsteps), for progress and interruption;
        the result is bit-identical whatever the split.
    callback : callable(step, nsteps, u), optional
        Called after each chunk with the steps done so far, the total and the current state
        (the solver's buffer: copy it to keep it). Exceptions it raises (KeyboardInterrupt)
        stop the run.
    start : (int, ndarray (n,)), optional
        Continue this run (same u0 and options) from the state it had after `step` steps,
        e.g. one a callback saved; the remaining steps give the uninterrupted run's answer.

    Returns
    -------
    Result

    Raises
    ------
    ValueError
        Bad shapes, NaN input, nu < 0, an unstable dt (naming the largest stable one), or a state
        that turned NaN/inf (naming the step).
    """
    s = get_scheme(scheme, flux, limiter, rk)
    u = _check_state(u0, dtype)
    bc = boundaries.code(boundary, BOUNDARIES, "burgers.solve")
    for name, v in (("dx", dx), ("nu", nu), ("left", left), ("right", right)):
        if not np.isfinite(v):
            raise ValueError(f"{name} = {v} must be finite")
    if dx <= 0:
        raise ValueError(f"grid spacing dx = {dx} must be > 0")
    if nu < 0:
        raise ValueError(f"viscosity nu = {nu} is negative; Burgers needs nu >= 0")
    if boundary == "dirichlet":
        u = u.copy()  # never write into the caller's array
        u[0], u[-1] = left, right
    umax = dissipation_speed(u)
    if alpha is not None and s.flux != "lf":
        raise ValueError(f"alpha applies to the 'lf' flux only, not {s.flux!r}")
    alpha = umax if alpha is None else float(alpha)
    if s.flux == "lf" and alpha < umax:
        raise ValueError(f"Lax-Friedrichs alpha = {alpha} is below max|u0| = {umax}; use alpha >= {umax}")
    dt_max = max_stable_dt(s, dx, nu, alpha if s.flux == "lf" else umax)
    if dt_max == 0.0:
        raise ValueError("the central flux has no numerical dissipation and needs nu > 0; "
                         "use an upwind-type flux (lf, rusanov, eo, upwind) for inviscid Burgers")
    dt, nsteps = _time_step(dt, nsteps, t_end, cfl, dt_max, unsafe)
    kern, xp = backend.kernels("burgers", like=u), backend.array_module(u)
    coefs = xp.asarray(np.array([dt / dx, nu * dt / dx**2, alpha, 0.5, 0.0, left, right, 2.0], dtype=u.dtype))
    rk_a, rk_b = (xp.asarray(np.array(c, dtype=u.dtype)) for c in (RK[s.rk].a, RK[s.rk].b))
    work = xp.empty((3, u.size + 4), dtype=u.dtype)
    if int(check_every) < 1:
        raise ValueError(f"check_every = {check_every} must be >= 1")
    if int(chunks) < 1:
        raise ValueError(f"chunks = {chunks} must be >= 1")
    done, out = _start(start, u, nsteps)
    compile_s = compile_kernel(s, u.dtype, like=u)
    wall = 0.0
    calls = min(int(chunks), nsteps)
    k = done * calls // nsteps  # call k ends at step k nsteps // calls (no list: chunks may be huge)
    while done < nsteps:
        k += 1
        b = k * nsteps // calls
        if b <= done:
            continue
        t0 = time.perf_counter()
        bad = kern.advance(out, out, b - done, FLUXES[s.flux], LIMITERS[s.limiter], rk_a, rk_b,
                           bc, coefs, int(check_every), work)
        wall += time.perf_counter() - t0
        if bad >= 0:
            bad += done
            raise ValueError(f"the state became NaN or inf by step {bad} (t = {bad * dt:g}; checked every "
                             f"{check_every} steps); lower the time step (cfl) or check the data")
        done = int(b)
        if callback is not None:
            callback(done, nsteps, out)
    return Result(out, nsteps * dt, dt, nsteps, wall, compile_s)


def compile_kernel(scheme, dtype=np.float64, like=None):
    """Compile the time loop of one scheme's (flux, limiter) pair for `dtype`, or load it from
    Numba's on-disk cache, so that the compile can be timed apart from the run.

    Parameters
    ----------
    scheme : str or Scheme
    dtype : float64 or float32
    like : ndarray, optional
        Compile for this array's device (the kernels `solve` runs on it); default: the active
        backend's (``fastdds.backend.kernels``).

    Returns
    -------
    float : seconds spent (about 0 when it is compiled already in this process)
    """
    s = get_scheme(scheme)
    kern = backend.kernels("burgers", like=like)
    return kern.prepare(FLUXES[s.flux], LIMITERS[s.limiter], backend.resolve_dtype(dtype))


def dissipation_speed(u0):
    """The Lax-Friedrichs dissipation speed of a run: alpha = max|u0| over its initial state.

    This is the one choice of alpha in fastdds (`solve` by default, `step_layers` and the
    `fastdds compare` scheme registry through it), fixed for the whole run. The viscous and the
    entropy solutions of Burgers' equation obey the maximum principle |u(t, x)| <= max|u0|
    (Dirichlet end values included), so this alpha bounds every |u| the run meets and keeps the
    Lax-Friedrichs step monotone under `max_stable_dt`, with the least dissipation among such
    constants known before the run. Recomputing it from the current state (e.g. per chunk of a
    run) would make the answer depend on how the run is split.

    Parameters
    ----------
    u0 : ndarray, shape (n,), the run's initial state (Dirichlet ends written in)

    Returns
    -------
    float
    """
    return float(backend.array_module(u0).abs(u0).max())


def _start(start, u0, nsteps):
    """(steps done, state buffer) to continue from: (0, a copy of u0), or the checked `start`."""
    if start is None:
        return 0, u0.copy()
    step, u = start
    if not 0 <= int(step) <= nsteps:
        raise ValueError(f"start step {step} is outside this run's 0..{nsteps} steps; resume with the same options")
    u = backend.array_module(u0).asarray(u)
    if u.shape != u0.shape or u.dtype != u0.dtype:
        raise ValueError(f"start state is {u.dtype} {u.shape} but this run is {u0.dtype} {u0.shape}; "
                         f"resume with the same options")
    check_finite("start state", u)
    return int(step), u.copy()


def _time_step(dt, nsteps, t_end, cfl, dt_max, unsafe):
    """(dt, nsteps) from the arguments of `solve`, checked against the stability limit."""
    if not 0 < cfl:
        raise ValueError(f"cfl = {cfl} must be > 0")
    if t_end is not None and not t_end > 0:
        raise ValueError(f"t_end = {t_end} must be > 0")
    if dt is None:
        if t_end is None:
            raise ValueError("give t_end (the step then follows from cfl), or dt with nsteps")
        if cfl > 1 and not unsafe:
            raise ValueError(f"cfl = {cfl} is above the stability limit 1 (largest stable dt = {dt_max:.6g}); "
                             f"use cfl <= 1, or unsafe=True to run anyway")
        if nsteps is None:
            nsteps = max(1, int(np.ceil(t_end / (cfl * dt_max) - 1e-9))) if np.isfinite(dt_max) else 1
        dt = t_end / nsteps
    elif nsteps is None:
        if t_end is None:
            raise ValueError("with dt, give nsteps or t_end")
        nsteps = max(1, int(round(t_end / dt)))
        dt = t_end / nsteps
    elif t_end is not None and abs(nsteps * dt - t_end) > 1e-12 * t_end:
        raise ValueError(f"nsteps * dt = {nsteps * dt:g} does not reach t_end = {t_end:g}; give two of the three")
    if not (np.isfinite(dt) and dt > 0) or int(nsteps) < 1:
        raise ValueError(f"time step dt = {dt} and nsteps = {nsteps} must be positive")
    check_time_step(dt, dt_max, "the Burgers scheme", unsafe, stacklevel=4)
    return float(dt), int(nsteps)


def _stencil(offsets, coeffs, nx, boundary, dtype):
    """Banded stencil with node-Dirichlet rows (first and last rows zero) or outflow ghosts
    (a term that falls outside the grid is added onto the end node's own coefficient)."""
    offsets = np.asarray(offsets)
    if boundary == "periodic":
        return Banded(offsets, coeffs, "periodic", n=nx, dtype=dtype)
    diags = np.repeat(np.asarray(coeffs, dtype=np.float64)[:, None], nx, axis=1)
    if boundary == "dirichlet":
        diags[:, 0] = diags[:, -1] = 0.0
    else:
        centre = int(np.flatnonzero(offsets == 0)[0])
        for k, o in enumerate(offsets):
            rows = np.arange(nx)[(np.arange(nx) + o < 0) | (np.arange(nx) + o >= nx)]
            diags[centre, rows] += diags[k, rows]
            diags[k, rows] = 0.0
    return Banded(offsets, diags, "zero", dtype=dtype)


def step_layers(scheme, nx, dx, dt, nu, boundary="periodic", alpha=None, dtype=None):
    """One Burgers time step as layers, from the coefficients the fused kernel uses.

    Forward Euler ("lf", "eo", "central"): one layer on the state u (n values), as in the
    module docstring. An s-stage SSP Runge-Kutta method with one of those fluxes (e.g.
    ``Scheme("lf", rk="ssp-rk3")``): s layers on the doubled state X = [u^n; u^(k)] (2n values;
    start from ``np.concatenate([u0, u0])``). Stage k maps X to [u^n; a_k u^n + b_k E(u^(k))],
    E the forward-Euler layer, and the last stage writes u^{n+1} into both halves, so the next
    step starts from [u^{n+1}; u^{n+1}]. Its operators are the 2 x 2 block matrices
    [[I, 0], [a_k I, b_k P]] and [[0, 0], [0, b_k Q_j]] (last stage: both block rows equal the
    second), stored as banded operators with offsets 0, +-1, +-n, ...

    Parameters
    ----------
    scheme : str or Scheme
        A scheme with `Scheme.is_chain`: flux "lf", "eo" or "central", no limiter, any `RK`.
    nx : int
        Number of nodes.
    dx, dt : float
        Grid spacing and time step.
    nu : float
        Viscosity, >= 0.
    boundary : {"periodic", "dirichlet", "outflow"}
        As in `solve`; Dirichlet end nodes keep their values (identity rows).
    alpha : float
        Lax-Friedrichs dissipation speed, flux "lf" only and required there:
        ``dissipation_speed(u0)`` of the run's initial state, the value `solve` uses.
    dtype : float32 or float64, optional

    Returns
    -------
    list of Layer: one per Runge-Kutta stage. A Chain of `nsteps` copies advances nsteps steps.
    """
    s = get_scheme(scheme)
    if not s.is_chain:
        raise ValueError(f"scheme {scheme!r} is not a chain of layers (see the fastdds.pde.burgers docstring); "
                         f"chains exist for the fluxes 'lf', 'eo', 'central' without a limiter")
    boundaries.code(boundary, BOUNDARIES, "burgers.step_layers")
    if nu < 0:
        raise ValueError(f"viscosity nu = {nu} is negative; Burgers needs nu >= 0")
    if alpha is not None and s.flux != "lf":
        raise ValueError(f"alpha applies to the 'lf' flux only, not {s.flux!r}")
    if alpha is None and s.flux == "lf":
        raise ValueError("the Lax-Friedrichs layer needs its dissipation speed: pass "
                         "alpha=dissipation_speed(u0) of the run's initial state (what solve uses)")
    dtype = backend.resolve_dtype(dtype)
    c, d = dt / dx, nu * dt / dx**2
    diff = d + (0.5 * c * float(alpha) if s.flux == "lf" else 0.0)
    P = _plus_identity(_stencil((-1, 0, 1), np.array([diff, -2.0 * diff, diff]), nx, boundary, dtype))
    branches = _branches(s.flux, c, nx, boundary, dtype)
    rk = RK[s.rk]
    if rk.name == "euler":
        return [Layer(P, branches)]
    return [_stage_layer(P, branches, a, b, k == len(rk.a) - 1, dtype) for k, (a, b) in enumerate(zip(rk.a, rk.b))]


def _stage_layer(P, branches, a, b, last, dtype):
    """Shu-Osher stage u^(k+1) = a u^n + b E(u^(k)) as a layer on X = [u^n; u^(k)]."""
    n = P.shape[0]
    eye, zero = sp.identity(n, format="csr"), sp.csr_matrix((n, n))

    def block(keep, left, right):
        """[[keep I, 0], [left, b right]], or both block rows [left, b right] at the last stage."""
        lower = [left, b * right]
        upper = lower if last else [eye if keep else zero, zero]
        return Banded.from_sparse(sp.bmat([upper, lower]), dtype=dtype)

    return Layer(block(True, a * eye, P.to_sparse()),
                 [(block(False, zero, Q.to_sparse()), act, R, bias) for Q, act, R, bias in branches])


def _plus_identity(P):
    """I + P for a Banded P (offset 0 present)."""
    d = P.diagonals.copy()
    d[int(np.flatnonzero(P.offsets == 0)[0])] += 1.0
    return Banded(P.offsets, d[:, 0] if P.constant else d, P.boundary, n=P.shape[0], dtype=P.dtype)


def _branches(flux, c, nx, boundary, dtype):
    if flux == "eo":
        return [(_stencil((-1, 0), np.array([c, -c]), nx, boundary, dtype), "relu_square_half", None, None),
                (_stencil((0, 1), np.array([c, -c]), nx, boundary, dtype), "neg_square_half", None, None)]
    return [(_stencil((-1, 0, 1), np.array([0.5 * c, 0.0, -0.5 * c]), nx, boundary, dtype), "square_half",
             None, None)]


def chain(scheme, nx, dx, dt, nu, nsteps, boundary="periodic", alpha=None, dtype=None):
    """A Chain of `nsteps` time steps, each the layers of `step_layers` (shared between steps).

    Parameters are those of `step_layers`, plus nsteps : int >= 1. Runge-Kutta chains act on the
    doubled state `lift(u0)`.

    Returns
    -------
    Chain
    """
    return Chain(step_layers(scheme, nx, dx, dt, nu, boundary, alpha, dtype) * int(nsteps))


def lift(u0):
    """The doubled state [u0; u0] that the layers of a Runge-Kutta chain act on (see `step_layers`)."""
    return np.concatenate([u0, u0], axis=-1)
