"""Run under mpiexec (any number of ranks): decomposed stencil chains against one process.

Every rank computes the single-process answer too (the grids are small); rank 0 compares it
with the gathered decomposed result and prints one line per case, "max|diff| <value>". Exit
status 1 (through MPI_Abort, ``python -m mpi4py``) if any case differs by more than round-off.
"""

import sys

import numpy as np

from fastdds.layers import Chain, Layer
from fastdds.operators import Banded
from fastdds.parallel import comm as pcomm
from fastdds.parallel.halo import Decomposition, burgers_solve, heat_solve, run_chain
from fastdds.pde import burgers, heat

TOL = 1e-13
world = pcomm.world()
rank = world.Get_rank()
failures = []


def report(name, dec, local, reference):
    full = dec.gather(local)
    if rank == 0:
        err = float(np.abs(full - reference).max() / max(1.0, np.abs(reference).max()))
        print(f"{name}: max|diff| {err:.3e}", flush=True)
        if not err <= TOL:
            failures.append(name)


def banded_chains(n=61):
    rng = np.random.default_rng(3)
    x = np.linspace(0.0, 1.0, n, endpoint=False)
    u0 = np.sin(2 * np.pi * x) + 0.3
    dt, dx, nu = 2e-3, 1.0 / n, 0.01
    for boundary in ("periodic", "dirichlet", "outflow"):
        alpha = burgers.dissipation_speed(u0)
        step = burgers.step_layers("lf", n, dx, dt, nu, boundary, alpha=alpha)[0]
        chain = Chain([step] * 6)
        ref = chain(u0)
        dec = Decomposition(n, boundary == "periodic", world)
        for width in (1, 3):
            report(f"lf layer chain {boundary} width {width}", dec, run_chain(chain, dec.local(u0), dec, width), ref)
    for boundary in ("periodic", "zero", "neumann"):  # variable 5-point diagonals, a tanh branch, a batch
        P = Banded((-2, -1, 0, 1, 2), 0.2 * rng.standard_normal((5, n)), boundary)
        Q = Banded((-1, 0, 1), 0.3 * rng.standard_normal((3, n)), boundary)
        R = Banded((0, 1), 0.5 * rng.standard_normal((2, n)), boundary)
        lay = Layer(P, [(Q, "tanh", R, 0.1 * rng.standard_normal(n))], c=0.01 * rng.standard_normal(n))
        chain = Chain([lay] * 5)
        X = rng.standard_normal((2, n))
        ref = chain(X)
        dec = Decomposition(n, boundary == "periodic", world)
        for width in (3, 9):
            report(f"random banded chain {boundary} width {width}", dec, run_chain(chain, dec.local(X), dec, width),
                   ref)


def heat_2d_slabs(nx=9, ny=12, nsteps=6):
    """2-D FTCS heat on an ny x nx grid flattened row by row: a Banded step with offsets
    (-nx, -1, 0, 1, nx), decomposed into slabs of rows by the same code (reach nx)."""
    r = 0.2
    n = nx * ny
    col = np.arange(n) % nx
    d = np.array([np.full(n, r), np.where(col > 0, r, 0.0), np.full(n, 1 - 4 * r), np.where(col < nx - 1, r, 0.0),
                  np.full(n, r)])
    y, x = np.mgrid[0:ny, 0:nx]
    u0 = np.exp(-((x - 3.0) ** 2 + (y - 2.0) ** 2) / 4.0).ravel()
    for boundary in ("zero", "periodic"):  # zero beyond every edge / periodic in y, zero beyond x
        step = Layer(Banded((-nx, -1, 0, 1, nx), d, boundary))
        chain = Chain([step] * nsteps)
        dec = Decomposition(n, boundary == "periodic", world)
        for k in (1, 3):
            report(f"2-D heat slabs {boundary} {k} steps an exchange", dec,
                   run_chain(chain, dec.local(u0), dec, k * nx), chain(u0))


def burgers_runs(n=61, nsteps=12):
    x = np.linspace(-1.0, 1.0, n)
    u0 = -np.sin(np.pi * x) + 0.2
    dx, nu = 2.0 / (n - 1), 0.02
    for scheme in ("lf", "eo", "rusanov", "muscl-rk3"):
        for boundary in ("periodic", "dirichlet", "outflow"):
            dt = 0.5 * burgers.max_stable_dt(scheme, dx, nu, burgers.dissipation_speed(u0))
            ref = burgers.solve(u0, dx, nu=nu, scheme=scheme, nsteps=nsteps, dt=dt, boundary=boundary,
                                left=0.2, right=0.2).u
            dec = Decomposition(n, boundary == "periodic", world)
            for k in (1, 3):
                got = burgers_solve(dec.local(u0), dec, dx, dt, nsteps, nu, scheme, boundary=boundary, left=0.2,
                                    right=0.2, steps_per_exchange=k)
                report(f"burgers {scheme} {boundary} k={k}", dec, got, ref)
    u32 = u0.astype(np.float32)  # float32 keeps working: same kernels, same bits
    dt = 0.5 * burgers.max_stable_dt("lf", dx, nu, 1.2)
    ref = burgers.solve(u32, dx, nu=nu, scheme="lf", nsteps=nsteps, dt=dt, boundary="outflow").u
    dec = Decomposition(n, False, world)
    got = burgers_solve(dec.local(u32), dec, dx, dt, nsteps, nu, "lf", boundary="outflow", steps_per_exchange=2)
    assert got.dtype == np.float32
    report("burgers lf outflow float32 k=2", dec, got, ref)


def heat_runs(n=61, nsteps=15):
    x = np.linspace(0.0, 1.0, n, endpoint=False)
    u0 = np.exp(-40 * (x - 0.3) ** 2)
    dx, D, U = 1.0 / n, 0.1, 0.5
    for method, stepper in (("ftcs", heat.ftcs), ("rk4", heat.rk4)):
        dt = 0.5 * heat.max_stable_dt(method, dx, D, U)
        for boundary in ("periodic", "zero"):
            ref = stepper(u0, dx, dt, nsteps, D, U, boundary=boundary)
            dec = Decomposition(n, boundary == "periodic", world)
            for k in (1, 3):
                got = heat_solve(dec.local(u0), dec, dx, dt, nsteps, D, U, method, steps_per_exchange=k)
                report(f"heat {method} {boundary} k={k}", dec, got, ref)


banded_chains()
heat_2d_slabs()
burgers_runs()
heat_runs()
if rank == 0:
    print(f"{len(failures)} failures on {world.Get_size()} ranks: {failures}", flush=True)
world.Barrier()
sys.exit(1 if failures and rank == 0 else 0)
