"""The registry of FD schemes that have a layer form: name -> builder of one time step as Blocks.

Every scheme offered as a chain of layers (``fastdds.pde``) is registered here once, with the
problem `fastdds compare` runs it on, so that the command and the analysis take any of them by
name. It lives beside `fastdds.models` rather than in one PDE module because it spans all of them
(Burgers, heat, the time-dependent 1-D Eikonal / Hamilton-Jacobi equation).

A builder takes the options of `build` and returns a `SchemeStep`: the Blocks of one time step
(a Chain of `nsteps` copies advances the run), the initial state they act on (doubled for the
Runge-Kutta and Godunov forms), the number of steps to `t_end` and the setup for a report.

Registered (see `SCHEMES`):

- ``burgers-{lf,eo,central}`` (forward Euler) and ``burgers-{lf,eo,central}-{ssp-rk2,ssp-rk3}``:
  `fastdds.pde.burgers.step_layers` on u0 = sin(2 pi x), x in [0, 1]; dt = t_end / ceil(t_end /
  (cfl max_stable_dt)) with the scheme's bound for |u| <= `dissipation_speed(u0)`, which is also
  the Lax-Friedrichs alpha.
- ``ftcs-heat``, ``rk4-heat``: `fastdds.pde.heat.ftcs_layer` / `rk4_layer`, r = nu dt/dx^2 given,
  on u0 = sin(2 pi x), ceil(t_end / dt) steps.
- ``hj1d-lf``, ``hj1d-godunov``: `fastdds.pde.eikonal.hj1d_chain` for -u_t + |u_x| - 1 = 0 on
  [-1, 1] from u = 0 (ends held at 0, whatever `boundary` says), dt = t_end / ceil(t_end /
  (cfl h)).
"""

import math
from dataclasses import dataclass
from functools import partial

import numpy as np


@dataclass
class SchemeStep:
    """One time step of a registered scheme, and the run it belongs to.

    Attributes
    ----------
    blocks : list of Block
        The layers of one step, in order.
    u0 : ndarray, shape (blocks[0].n_in,)
        Initial state of the chain (the doubled state where the layers need one).
    nsteps : int
        Steps to reach t_end.
    info : dict
        scheme, nx, dx, dt, nsteps, nu, boundary (and alpha for Lax-Friedrichs Burgers).
    """

    blocks: list
    u0: np.ndarray
    nsteps: int
    info: dict


@dataclass(frozen=True)
class SchemeEntry:
    """A registered scheme: its builder and a one-line description."""

    build: callable
    description: str


SCHEMES = {}
"""Scheme name -> SchemeEntry."""


def register(name, description, build):
    """Add a scheme to `SCHEMES` (its builder takes the keyword arguments of `build`)."""
    if name in SCHEMES:
        raise ValueError(f"scheme {name!r} is registered twice")
    SCHEMES[name] = SchemeEntry(build, description)


def build(name, nx=101, nu=0.01 / math.pi, boundary=None, cfl=0.5, r=0.25, t_end=0.3, dtype=np.float64):
    """One time step of a registered scheme as Blocks, with its initial state and step count.

    Parameters
    ----------
    name : str
        A key of `SCHEMES`.
    nx : int >= 3
        Grid nodes (ends included).
    nu : float
        Viscosity (Burgers) or diffusivity (heat); unused by hj1d.
    boundary : str, optional
        A name of ``fastdds.boundaries``: Burgers "dirichlet" (default), "periodic" or "outflow";
        heat "zero" (default) or "periodic"; hj1d holds u = 0 at both ends and ignores it.
    cfl : float in (0, 1]
        Burgers and hj1d: dt as a fraction of the largest stable step.
    r : float
        Heat: the diffusion number nu dt / dx^2.
    t_end : float > 0
    dtype : float32 or float64

    Returns
    -------
    SchemeStep

    Raises
    ------
    ValueError
        Unknown name (the message lists the registry) or bad options.
    """
    if name not in SCHEMES:
        raise ValueError(f"unknown scheme {name!r}; registered: {', '.join(sorted(SCHEMES))}")
    if int(nx) < 3:
        raise ValueError(f"nx = {nx} is too small; an FD stencil needs at least 3 nodes")
    if not t_end > 0:
        raise ValueError(f"t_end = {t_end} must be positive")
    if not 0 < cfl <= 1:
        raise ValueError(f"cfl = {cfl} must be in (0, 1]")
    return SCHEMES[name].build(name=name, nx=int(nx), nu=float(nu), boundary=boundary, cfl=float(cfl), r=float(r),
                               t_end=float(t_end), dtype=np.dtype(dtype))


def _unit_sine(nx, dtype):
    return np.sin(2 * np.pi * np.linspace(0.0, 1.0, nx)).astype(dtype)


def _burgers(flux, rk, *, name, nx, nu, boundary, cfl, r, t_end, dtype):
    from .pde import burgers as B

    scheme = B.Scheme(flux, rk=rk)
    dx = 1.0 / (nx - 1)
    u0 = _unit_sine(nx, dtype)
    speed = B.dissipation_speed(u0)
    dt_max = B.max_stable_dt(scheme, dx, nu, speed)
    if dt_max == 0.0:
        raise ValueError(f"{name} has no numerical dissipation and needs nu > 0")
    nsteps = math.ceil(t_end / (cfl * dt_max))
    dt = t_end / nsteps
    alpha = speed if flux == "lf" else None
    boundary = "dirichlet" if boundary is None else boundary
    blocks = B.step_layers(scheme, nx, dx, dt, nu, boundary, alpha=alpha, dtype=dtype)
    info = dict(scheme=name, nx=nx, dx=dx, dt=dt, nsteps=nsteps, nu=nu, boundary=boundary)
    if alpha is not None:
        info["alpha"] = alpha
    return SchemeStep(blocks, u0 if rk == "euler" else B.lift(u0), nsteps, info)


def _heat(method, *, name, nx, nu, boundary, cfl, r, t_end, dtype):
    from .pde import heat

    if nu <= 0:
        raise ValueError(f"nu = {nu} must be positive for the heat equation")
    dx = 1.0 / (nx - 1)
    dt = r * dx * dx / nu
    nsteps = max(1, math.ceil(t_end / dt))
    boundary = "zero" if boundary is None else boundary
    layer = (heat.ftcs_layer if method == "ftcs" else heat.rk4_layer)(nx, r, boundary=boundary, dtype=dtype)
    return SchemeStep([layer], _unit_sine(nx, dtype), nsteps,
                      dict(scheme=name, nx=nx, dx=dx, dt=dt, nsteps=nsteps, nu=nu, boundary=boundary))


def _hj1d(scheme, *, name, nx, nu, boundary, cfl, r, t_end, dtype):
    from .pde import eikonal

    nsteps = math.ceil(t_end / (cfl * eikonal.hj1d_max_step(nx)))
    dt = t_end / nsteps
    step = eikonal.hj1d_chain(scheme, nx, dt, 1, dtype=dtype)
    return SchemeStep(list(step.blocks), np.zeros(step.n_in, dtype=dtype), nsteps,
                      dict(scheme=name, nx=nx, dx=2.0 / (nx - 1), dt=dt, nsteps=nsteps, nu=0.0,
                           boundary="dirichlet (u = 0 at x = -1, 1)"))


def _register_all():
    stages = {"euler": "forward Euler", "ssp-rk2": "SSP-RK2 stages", "ssp-rk3": "SSP-RK3 stages"}
    fluxes = {"lf": "Lax-Friedrichs", "eo": "Engquist-Osher", "central": "central"}
    for flux, flux_text in fluxes.items():
        for rk, rk_text in stages.items():
            name = f"burgers-{flux}" + ("" if rk == "euler" else f"-{rk}")
            register(name, f"viscous Burgers, {flux_text} flux, {rk_text}", partial(_burgers, flux, rk))
    register("ftcs-heat", "heat equation, FTCS step", partial(_heat, "ftcs"))
    register("rk4-heat", "heat equation, RK4 step of the central semi-discretisation", partial(_heat, "rk4"))
    register("hj1d-lf", "-u_t + |u_x| - 1 = 0, Lax-Friedrichs (alpha = 1)", partial(_hj1d, "lax_friedrichs"))
    register("hj1d-godunov", "-u_t + |u_x| - 1 = 0, Godunov (two layers a step)", partial(_hj1d, "godunov"))


_register_all()
