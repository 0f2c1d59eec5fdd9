"""PINN against FD in time to accuracy: the wall time and FLOPs each needs to reach an L2 error.

For each problem of the studies (REFERENCE.md section A: viscous Burgers in the Ganguly et al.
and the Raissi et al. setups, inviscid Burgers with the Riemann shock, the time-dependent
Eikonal equation) the error is L2 = RMS(u - u_exact) at t = 0.3, absolute and discrete
(`fastdds.norms.error_norms`): an FD solution over all its grid nodes, a PINN over `PINN_NX`
equispaced x. Both approximate the same continuous norm ||e||_2 / sqrt(|x range|).

- FD (`fd_refinement`): one run per grid of a refinement, nx = 99 2^k + 1 (the 100 points of
  the published metric are nodes of every grid), each timed apart from compiling (the kernel is
  warmed first; `fastdds.pde.burgers.solve`'s kernel time, `fastdds.pde.eikonal.hj1d_solve`
  timed around the call), the fastest of a few repeats for runs under `REPEAT_BELOW` s. The
  time to a threshold is that of the coarsest grid that reaches it.
- PINN (`pinn_runs`): one training run per problem (`fastdds.pinn.reproduce.reproduce` with its
  progress, checkpoints and resume), the error recorded at checkpoints along the training
  (`fastdds.pinn.train.train`'s `evaluate` hook, whose own time is off the clock); the time to a
  threshold is the training wall time of the first checkpoint that reaches it.

FLOPs are counted analytically. FD: `FD_FLOPS` operations per interior node and Runge-Kutta
stage (+ - * /, abs, min, max of the kernel's update, read off ``kernels/cpu/burgers.py`` and
``kernels/cpu/eikonal.py``) times nodes, stages and steps. PINN (`pinn_flops`): the matrix
products of one loss-and-gradient evaluation, 2 N S sum(fan_in fan_out) forward over the S
Taylor streams of each point group and 2 N R (dW) + 2 N R (dA, hidden layers only) in reverse
over its R reverse streams (``fastdds.nn.mlp``), times the evaluations so far (Adam steps plus
L-BFGS function evaluations); element-wise work is left out, so the PINN count is a lower bound.
"""

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .. import io
from ..norms import error_norms, relative_l2

THRESHOLDS = (1e-2, 1e-3, 1e-4)
T_EVAL = 0.3
PINN_NX = 1001
REPEAT_BELOW = 0.05
NORM = "L2 = RMS(u - u_exact) at t = 0.3, absolute, discrete (FD: all grid nodes; PINN: 1001 equispaced x)"

FD_FLOPS = {("lf", "none"): 7, ("central", "none"): 7, ("eo", "none"): 14, ("upwind", "none"): 17,
            ("rusanov", "none"): 17, ("rusanov", "minmod"): 38, ("hj1d", "none"): 18}
"""Operations per interior node and stage of an FD update, by (flux, limiter); a stage that
combines with u^n (the later SSP-RK stages) adds 3."""


@dataclass(frozen=True)
class CostProblem:
    """A problem both methods solve, with its FD setup.

    Attributes
    ----------
    name : str
        Also the `fastdds.pinn.reproduce.TARGETS` key of its PINN.
    lower, upper : float
        x range.
    u0 : callable(x) -> ndarray
        Initial state (Burgers); None for the Eikonal problem.
    nu : float
    left, right : float
        Dirichlet end values.
    exact : callable(x, t) -> ndarray
    schemes : tuple of str
        FD schemes: `fastdds.pde.burgers.PRESETS` names, or "godunov" / "lax_friedrichs" (Eikonal).
    """

    name: str
    lower: float
    upper: float
    u0: object
    nu: float
    left: float
    right: float
    exact: object
    schemes: tuple


def _problems():
    from ..exact import burgers as ex
    from ..exact import eikonal as ee

    nu = 0.01 / np.pi
    return {
        "burgers-viscous": CostProblem("burgers-viscous", 0.0, 1.0, lambda x: np.sin(2 * np.pi * x), nu, 0.0, 0.0,
                                       lambda x, t: ex.burgers_sin2pi(x, t, nu), ("eo", "muscl-rk3")),
        "raissi-burgers": CostProblem("raissi-burgers", -1.0, 1.0, lambda x: -np.sin(np.pi * x), nu, 0.0, 0.0,
                                      lambda x, t: ex.burgers_raissi(x, t, nu), ("eo", "muscl-rk3")),
        "burgers-inviscid": CostProblem("burgers-inviscid", 0.0, 1.0, lambda x: np.where(x < 0.5, 1.0, 0.0), 0.0,
                                        1.0, 0.0, lambda x, t: ex.riemann(x, t, 1.0, 0.0, 0.5), ("eo", "muscl-rk3")),
        "eikonal": CostProblem("eikonal", -1.0, 1.0, None, 0.0, 0.0, 0.0, ee.eikonal_time_1d, ("godunov",)),
    }


PROBLEMS = _problems()
"""Problem name -> CostProblem (the four of the studies)."""


def get_problem(name):
    """The CostProblem called `name`; ValueError listing the names otherwise."""
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose from {', '.join(PROBLEMS)}")
    return PROBLEMS[name]


def fd_flops(scheme, nx, nsteps):
    """Analytic FLOPs of an FD run: `FD_FLOPS` per interior node and stage, times nodes and steps.

    Parameters
    ----------
    scheme : str
        A `fastdds.pde.burgers.PRESETS` name, or "godunov" / "lax_friedrichs" (hj1d).
    nx, nsteps : int

    Returns
    -------
    int
    """
    if scheme in ("godunov", "lax_friedrichs"):
        return FD_FLOPS[("hj1d", "none")] * (nx - 2) * nsteps
    from ..pde import burgers as B

    s = B.get_scheme(scheme)
    stages = len(B.RK[s.rk].a)
    per_node = stages * FD_FLOPS[(s.flux, s.limiter)] + 3 * (stages - 1)
    return per_node * (nx - 2) * nsteps


def _timed(run):
    """(result, seconds): the fastest of repeats while the total stays under REPEAT_BELOW s."""
    result, best = run()
    total, n = best, 1
    while total < REPEAT_BELOW and n < 20:
        result, wall = run()
        best, total, n = min(best, wall), total + wall, n + 1
    return result, best


def fd_run(problem, scheme, nx, t_eval=T_EVAL, dtype=np.float64):
    """One FD run of `problem` on nx nodes to t_eval, with its error, time and FLOPs.

    Parameters
    ----------
    problem : CostProblem
    scheme : str
        One of ``problem.schemes`` (any `fastdds.pde.burgers.PRESETS` name for Burgers).
    nx : int >= 3
        Grid nodes, ends included.
    t_eval : float in (0, 1)
    dtype : float64 or float32

    Returns
    -------
    dict : nx, nsteps, wall_s (kernel seconds, compile excluded), compile_s, flops, L1, L2, Linf, rel_L2
    """
    from ..pde import burgers as B
    from ..pde import eikonal as E

    x = np.linspace(problem.lower, problem.upper, int(nx))
    if problem.u0 is None:
        if scheme not in E.HJ1D_SCHEMES:
            raise ValueError(f"scheme {scheme!r} does not solve {problem.name}; use godunov or lax_friedrichs")

        def run():
            t0 = time.perf_counter()
            out = E.hj1d_solve(int(nx), scheme, 0.9, 1.0 - t_eval, dtype=dtype)
            return out, time.perf_counter() - t0

        E.hj1d_solve(5, scheme, 0.9, 0.1, dtype=dtype)  # warm the kernel
        compile_s = 0.0
        (_, u, nsteps), wall = _timed(run)
    else:
        u0 = problem.u0(x).astype(dtype)
        compile_s = B.compile_kernel(scheme, dtype)

        def run():
            r = B.solve(u0, x[1] - x[0], t_eval, problem.nu, scheme, cfl=0.9, boundary="dirichlet",
                        left=problem.left, right=problem.right, dtype=dtype)
            return r, r.wall

        r, wall = _timed(run)
        u, nsteps = r.u, r.nsteps
    ref = problem.exact(x, np.full_like(x, t_eval))
    return {"nx": int(nx), "nsteps": int(nsteps), "wall_s": wall, "compile_s": compile_s,
            "flops": fd_flops(scheme, int(nx), int(nsteps)), **error_norms(u, ref), "rel_L2": relative_l2(u, ref)}


def fd_refinement(problem, scheme, levels=10, t_eval=T_EVAL, stop_at=min(THRESHOLDS), max_seconds=30.0,
                  dtype=np.float64, base=99):
    """FD runs on nx = base 2^k + 1, k = 0, 1, ..., until the error reaches `stop_at`, `levels`
    grids ran, or the next run would take longer than `max_seconds` (4x the last for an
    advection-limited step, 8x once diffusion limits it).

    Parameters
    ----------
    problem : CostProblem
    scheme : str
    levels : int >= 1
    t_eval : float
    stop_at : float
        L2 error at which to stop refining.
    max_seconds : float > 0
    dtype : float64 or float32
    base : int >= 2

    Returns
    -------
    list of dict (`fd_run`), coarsest first
    """
    if int(levels) < 1 or not max_seconds > 0 or int(base) < 2:
        raise ValueError(f"levels = {levels}, base = {base} and max_seconds = {max_seconds} must be >= 1, >= 2, > 0")
    rows = []
    for k in range(int(levels)):
        row = fd_run(problem, scheme, int(base) * 2**k + 1, t_eval, dtype)
        rows.append(row)
        growth = rows[-1]["nsteps"] / rows[-2]["nsteps"] if len(rows) > 1 else 2.0
        if row["L2"] <= stop_at or 2 * growth * row["wall_s"] > max_seconds:
            break
    return rows


def convergence_order(rows, key="L2"):
    """Least-squares slope of -log(error) against log(nx - 1) over `rows` (at least two)."""
    if len(rows) < 2:
        raise ValueError("a convergence order needs at least two grids")
    h = np.log([r["nx"] - 1 for r in rows])
    e = np.log([r[key] for r in rows])
    return float(-np.polyfit(h, e, 1)[0])


def first_reached(points, thresholds=THRESHOLDS, key="L2"):
    """For each threshold, the first of `points` (in order of cost) whose `key` is at most it.

    Parameters
    ----------
    points : list of dict
    thresholds : sequence of float

    Returns
    -------
    list of dict or None, one per threshold
    """
    return [next((p for p in points if p[key] <= thr), None) for thr in thresholds]


# ---- PINN ---------------------------------------------------------------------------------

COST_SCHEDULES = {
    # the first steps of the published schedules (the published Adam 30,000 + L-BFGS 1,000 for Burgers would
    # take about 2 h each on two cores, a step 0.2 s); Eikonal runs its published 10,000 steps
    "full": {"burgers-viscous": {"adam_steps": 1000, "lbfgs_maxiter": 0, "every": 50},
             "raissi-burgers": {"lbfgs_maxiter": 5000, "lbfgs_options": {"maxfun": 6250}, "every": 50},
             "burgers-inviscid": {"adam_steps": 1000, "lbfgs_maxiter": 0, "every": 50},
             "eikonal": {"every": 100}},
    # the reduced point sets of the quick reproductions, fewer steps
    "quick": {"burgers-viscous": {"adam_steps": 40, "lbfgs_maxiter": 10, "every": 10},
              "raissi-burgers": {"lbfgs_maxiter": 150, "lbfgs_options": {"maxfun": 200}, "every": 25},
              "burgers-inviscid": {"adam_steps": 40, "lbfgs_maxiter": 10, "every": 10},
              "eikonal": {"adam_steps": 600, "lr": ("piecewise", (200, 400), (1e-1, 1e-2, 1e-3)), "every": 50}},
}
"""Per problem: the PINN schedule of the cost runs (overrides of the Target) and the checkpoint interval."""


def cost_target(name, quick=False):
    """The PINN Target of a cost run and its evaluation interval: the published network and point
    sets (the quick reproduction's sets with `quick`) on the schedule of `COST_SCHEDULES`."""
    from ..pinn.reproduce import get_target

    settings = dict(COST_SCHEDULES["quick" if quick else "full"][name])
    every = settings.pop("every")
    return replace(get_target(name, quick), **settings), every


def pinn_flops(target, problem):
    """Analytic FLOPs of one loss-and-gradient evaluation of `target`'s network on `problem`.

    Parameters
    ----------
    target : fastdds.pinn.reproduce.Target
    problem : fastdds.pinn.problems.Problem

    Returns
    -------
    int : sum over point groups of N (2 S M + 2 R M + 2 R M_hidden), with M = sum fan_in fan_out
    over the layers, M_hidden the same without the first layer, S the Taylor streams the group
    runs forward and R the streams of its reverse pass (``fastdds.nn.mlp``).
    """
    from ..nn.mlp import _Streams

    sizes = list(target.layers)
    M = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    M_hidden = M - sizes[0] * sizes[1]
    total = 0
    for g in problem.groups:
        derivs = tuple(k for k in problem.residual.streams if k) if g.target is None else ()
        spec = _Streams(derivs, sizes[0], sizes[-1])
        total += g.X.shape[0] * (2 * spec.S * M + 2 * spec.R * (M + M_hidden))
    return int(total)


def pinn_runs(names, quick=False, out="runs/cost", resume=False, dtype=np.float64, progress=True, log=print,
              seed=1):
    """Train one PINN per problem (seed `seed`), recording the error at checkpoints.

    Parameters
    ----------
    names : sequence of str
        Keys of `PROBLEMS`.
    quick : bool
    out : str or Path
        Runs go to ``out/pinn/<name>`` (`fastdds.pinn.reproduce.reproduce`'s JSON, weights, checkpoints).
    resume : bool
        Skip finished runs; continue an interrupted one from its checkpoint.
    dtype, progress, log, seed
        As in `fastdds.pinn.reproduce.reproduce`.

    Returns
    -------
    dict name -> {"config", "flops_per_eval", "every", "evaluations", "adam_steps", "lbfgs_iters",
    "grad_evals", "wall_time", "L2_published"}
    """
    from ..pinn.reproduce import reproduce

    result = {}
    for name in names:
        target, every = cost_target(name, quick)
        rec = reproduce(name, runs=1, quick=quick, out=Path(out) / "pinn" / name, resume=resume, dtype=dtype,
                        progress=progress, log=log, first_seed=seed, target=target,
                        evaluate={"t_eval": T_EVAL, "nx": PINN_NX, "every": every})["runs"][0]
        flops = pinn_flops(target, target.build(seed, **target.sizes))
        evals = [dict(e, flops=e["grad_evals"] * flops) for e in rec["evaluations"]]
        result[name] = {"config": target.describe(), "flops_per_eval": flops, "every": every, "evaluations": evals,
                        "adam_steps": rec["adam_steps"], "lbfgs_iters": rec["lbfgs_iters"],
                        "grad_evals": rec["grad_evals"], "wall_time": rec["wall_time"],
                        "L2_published": rec["L2"]}
    return result


# ---- the table ----------------------------------------------------------------------------

def table_rows(fd, pinn, thresholds=THRESHOLDS):
    """One row per (problem, method, threshold): time s, FLOPs, grid / steps, L2 (None: not reached).

    Parameters
    ----------
    fd : dict problem -> scheme -> {"rows": [...]}
    pinn : dict problem -> `pinn_runs` entry
    thresholds : sequence of float

    Returns
    -------
    list of dict : problem, method, threshold, reached, time_s, flops, grid_or_steps, L2
    """
    out = []
    for name in PROBLEMS:
        for scheme, res in fd.get(name, {}).items():
            rows = res["rows"]
            for thr, hit in zip(thresholds, first_reached(rows, thresholds)):
                last = rows[-1]
                out.append({"problem": name, "method": f"FD {scheme}", "threshold": thr, "reached": hit is not None,
                            "time_s": hit["wall_s"] if hit else None, "flops": hit["flops"] if hit else None,
                            "grid_or_steps": f"nx={hit['nx']} steps={hit['nsteps']}" if hit else
                            f"not reached up to nx={last['nx']} (L2 {min(r['L2'] for r in rows):.2e})",
                            "L2": hit["L2"] if hit else None})
        if name in pinn:
            p = pinn[name]
            for thr, hit in zip(thresholds, first_reached(p["evaluations"], thresholds)):
                best = min(e["L2"] for e in p["evaluations"])
                out.append({"problem": name, "method": "PINN", "threshold": thr, "reached": hit is not None,
                            "time_s": hit["wall_time"] if hit else None, "flops": hit["flops"] if hit else None,
                            "grid_or_steps": f"adam={hit['adam_steps']} lbfgs={hit['lbfgs_iters']}" if hit else
                            f"not reached in {p['adam_steps']} adam + {p['lbfgs_iters']} lbfgs (best L2 {best:.2e})",
                            "L2": hit["L2"] if hit else None})
    return out


def table(rows, quick=False):
    """The time-to-accuracy rows as a fixed-width text table."""
    lines = [f"time to accuracy{' (quick)' if quick else ''}; {NORM}",
             f"{'problem':<17} {'method':<15} {'L2 <=':>6} {'time s':>10} {'FLOPs':>9}  grid / steps"]
    for r in rows:
        t = f"{r['time_s']:10.3g}" if r["reached"] else f"{'-':>10}"
        f = f"{r['flops']:9.2e}" if r["reached"] else f"{'-':>9}"
        lines.append(f"{r['problem']:<17} {r['method']:<15} {r['threshold']:6.0e} {t} {f}  {r['grid_or_steps']}")
    return "\n".join(lines)


def write_plot(path, fd, pinn):
    """Error against wall time, one panel per problem (FD grids as points, PINN training as a line).

    Needs matplotlib (the ``plot`` extra; RuntimeError naming it otherwise).
    """
    from .report import pyplot

    plt = pyplot()
    names = [n for n in PROBLEMS if n in fd or n in pinn]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        for scheme, res in fd.get(name, {}).items():
            ax.loglog([r["wall_s"] for r in res["rows"]], [r["L2"] for r in res["rows"]], "o-", label=f"FD {scheme}")
        if name in pinn:
            ev = [e for e in pinn[name]["evaluations"] if e["wall_time"] > 0]
            ax.loglog([e["wall_time"] for e in ev], [e["L2"] for e in ev], "-", label="PINN")
        for thr in THRESHOLDS:
            ax.axhline(thr, color="0.8", lw=0.8)
        ax.set(title=name, xlabel="wall time (s)", ylabel="L2 at t = 0.3")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def reproduce_cost(quick=False, out="runs/cost", resume=False, dtype=np.float64, progress=True, log=print,
                   plots=False, problems=None, fd_seconds=None):
    """Measure FD and PINN time to accuracy on the problems; print the table, write JSON (and a figure).

    Parameters
    ----------
    quick : bool
        Small FD budget and short PINN runs (about a minute on two cores).
    out : str or Path
        Writes ``cost.json`` (``cost_quick.json``), with `plots` ``cost.png`` (``cost_quick.png``),
        and the PINN runs under ``pinn/``.
    resume : bool
        Reuse finished PINN runs, continue an interrupted one (FD is rerun: it is bounded by `fd_seconds`).
    dtype : float64 or float32
    progress : bool
        Progress lines of the PINN training.
    log : callable(str)
    plots : bool
    problems : sequence of str, optional
        Default: all of `PROBLEMS`.
    fd_seconds : float, optional
        Longest FD run allowed in a refinement (default 0.2 s quick, 10 s full).

    Returns
    -------
    dict : the JSON content
    """
    names = list(PROBLEMS) if problems is None else list(problems)
    for name in names:
        get_problem(name)
    if plots:
        from .report import pyplot

        pyplot()  # fail before any work when matplotlib is missing
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fd_seconds = (0.2 if quick else 10.0) if fd_seconds is None else float(fd_seconds)
    t0 = time.perf_counter()
    fd = {}
    for name in names:
        prob = PROBLEMS[name]
        fd[name] = {}
        for scheme in prob.schemes:
            rows = fd_refinement(prob, scheme, levels=5 if quick else 11, max_seconds=fd_seconds, dtype=dtype)
            fd[name][scheme] = {"rows": rows, "order": convergence_order(rows) if len(rows) > 1 else None}
    t_fd = time.perf_counter() - t0
    pinn = pinn_runs(names, quick, out, resume, dtype, progress, log)
    rows = table_rows(fd, pinn)
    stem = "cost_quick" if quick else "cost"
    result = {"quick": quick, "dtype": np.dtype(dtype).name, "norm": NORM, "t_eval": T_EVAL,
              "thresholds": list(THRESHOLDS), "fd": fd, "pinn": pinn, "table": rows,
              "fd_flops_per_node_stage": {f"{k[0]}/{k[1]}": v for k, v in FD_FLOPS.items()},
              "seconds": {"fd": t_fd, "total": time.perf_counter() - t0}}
    path = out / f"{stem}.json"
    io.write_json(path, result)
    log(table(rows, quick))
    log("FD orders (slope of L2 over the grids): " + ", ".join(
        f"{n} {s} {v['order']:.2f}" for n, d in fd.items() for s, v in d.items() if v["order"] is not None))
    if plots:
        write_plot(out / f"{stem}.png", fd, pinn)
        log(f"wrote {out / (stem + '.png')}")
    log(f"wrote {path} ({result['seconds']['total']:.1f} s)")
    return result
