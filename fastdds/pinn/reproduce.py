"""The published PINN configurations (REFERENCE.md section A) and the runs that reproduce them.

Each target fixes the problem (point sets and sizes), the network (sizes, activation, Glorot
uniform init, whether inputs are rescaled to [-1, 1]) and the optimiser schedule. Run k uses
seed k for both the points and the initial weights. A ``quick`` variant keeps the equations,
the network and the kind of schedule but shrinks the point sets and the number of steps, so it
finishes in well under two minutes on two cores; its results are flagged ``quick``.

Metrics (`metrics`): at t = 0.3 on 100 equispaced x, L1 = mean|e|, L2 = RMS(e), Linf = max|e|;
and the relative L2 error ||u - u_exact|| / ||u_exact|| over a grid of the whole domain.
"""

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import io, optim
from ..norms import error_norms, relative_l2
from . import problems
from .train import train


@dataclass(frozen=True)
class Target:
    """A published setup.

    Parameters
    ----------
    name : str
    build : callable(seed, **sizes) -> Problem
    sizes : dict
        Point-set sizes passed to `build`.
    layers : tuple of int
        Network widths, input to output.
    activation : str
    scaled_inputs : bool
        Feed the network 2 (X - lower) / (upper - lower) - 1 instead of X (the network's own
        input scaling, ``MLP(..., lower=, upper=)``, over the problem's box).
    adam_steps : int
    lr : tuple
        ("constant", lr) or ("piecewise", boundaries, values).
    lbfgs_maxiter : int
    lbfgs_options : dict
    eval_grid : tuple (nx, nt, t_max)
        Grid of the whole-domain relative L2 error.
    """

    name: str
    build: object
    sizes: dict
    layers: tuple
    activation: str
    scaled_inputs: bool
    adam_steps: int
    lr: tuple
    lbfgs_maxiter: int
    lbfgs_options: dict = field(default_factory=dict)
    eval_grid: tuple = (256, 101, 1.0)

    def schedule(self):
        """The Adam learning-rate schedule (callable step -> lr)."""
        if self.lr[0] == "piecewise":
            return optim.piecewise_constant(self.lr[1], self.lr[2])
        return optim.constant(self.lr[1])

    def describe(self):
        """JSON-friendly description of the configuration."""
        return {"problem": self.name, "sizes": self.sizes, "layers": list(self.layers),
                "activation": self.activation, "init": "glorot_uniform", "scaled_inputs": self.scaled_inputs,
                "adam_steps": self.adam_steps, "lr": list(self.lr), "lbfgs_maxiter": self.lbfgs_maxiter,
                "lbfgs_options": self.lbfgs_options}


_BURGERS_NET = (2,) + (100,) * 8 + (1,)

TARGETS = {
    "burgers-viscous": Target("burgers-viscous", problems.burgers_sin2pi,
                              {"n_collocation": 10_000, "n_ic": 201, "n_bc": 211}, _BURGERS_NET, "tanh", False,
                              30_000, ("constant", 5e-4), 1000),
    "burgers-inviscid": Target("burgers-inviscid", problems.burgers_riemann,
                               {"n_collocation": 10_000, "n_ic": 201, "n_bc": 211}, _BURGERS_NET, "tanh", False,
                               30_000, ("constant", 5e-4), 1000),
    "eikonal": Target("eikonal", problems.eikonal_time,
                      {"n_collocation": 10_000, "n_terminal": 200, "n_side": 200}, (2, 20, 20, 1), "leaky_relu",
                      False, 10_000, ("piecewise", (3000, 7000), (1e-1, 1e-2, 1e-3)), 0),
    # Raissi et al. (2019): L-BFGS only, the SciPy options of the published code (maxiter = maxfun = 50,000,
    # maxcor = maxls = 50, ftol = machine epsilon) but gtol = 0 (optim.lbfgs's default), not the SciPy default
    # 1e-5 that code kept: with 1e-5, seed 1 stopped at 5,145 iterations at relative L2 1.7e-3, above the
    # published 6.7e-4 (float64; the published run was float32 TensorFlow).
    "raissi-burgers": Target("raissi-burgers", problems.burgers_raissi, {"n_u": 100, "n_f": 10_000},
                             (2,) + (20,) * 8 + (1,), "tanh", True, 0, ("constant", 0.0), 50_000,
                             {"maxfun": 50_000}, eval_grid=(256, 100, 0.99)),
}

QUICK = {
    "burgers-viscous": {"sizes": {"n_collocation": 500, "n_ic": 51, "n_bc": 26}, "adam_steps": 400,
                        "lr": ("constant", 5e-4), "lbfgs_maxiter": 200},
    "burgers-inviscid": {"sizes": {"n_collocation": 500, "n_ic": 51, "n_bc": 26}, "adam_steps": 400,
                         "lr": ("constant", 5e-4), "lbfgs_maxiter": 200},
    "eikonal": {"sizes": {"n_collocation": 2000, "n_terminal": 100, "n_side": 100}, "adam_steps": 2000,
                "lr": ("piecewise", (600, 1400), (1e-1, 1e-2, 1e-3))},
    "raissi-burgers": {"sizes": {"n_u": 100, "n_f": 2000}, "lbfgs_maxiter": 1000,
                       "lbfgs_options": {"maxfun": 1250}},
}


def get_target(name, quick=False):
    """The Target called `name` (its quick variant when `quick`)."""
    if name not in TARGETS:
        raise ValueError(f"unknown PINN target {name!r}; choose one of {sorted(TARGETS)}")
    return replace(TARGETS[name], **QUICK[name]) if quick else TARGETS[name]


def build_model(target, problem, seed, dtype=np.float64):
    """The MLP of `target` initialised from `seed`, with the input scaling over `problem`'s box
    when `target` rescales its inputs."""
    from ..nn.mlp import MLP

    return MLP(sizes=list(target.layers), activation=target.activation, init="glorot_uniform", seed=seed,
               dtype=dtype, **_box(target, problem))


def _box(target, problem):
    """The input-scaling arguments of `target`'s network on `problem`."""
    return {"lower": problem.lower, "upper": problem.upper} if target.scaled_inputs else {}


def metrics(model, problem, eval_grid=(256, 101, 1.0), t_eval=0.3, nx=100):
    """Errors of `model` against ``problem.exact``.

    Parameters
    ----------
    model : callable(X (N, 2)) -> ndarray (N, 1)
    problem : Problem
        Its lower/upper box and exact solution are used.
    eval_grid : (nx, nt, t_max)
        Grid for the whole-domain relative L2 error (t from lower[1] to t_max).
    t_eval : float
    nx : int

    Returns
    -------
    dict with L1, L2, Linf (at t_eval) and rel_L2 (whole grid), floats.
    """
    dtype = model.params[0].dtype
    lo, hi = problem.lower, problem.upper
    x = np.linspace(lo[0], hi[0], nx)
    u, ref = _predict(model, x, np.full_like(x, t_eval), dtype), problem.exact(x, np.full_like(x, t_eval))
    xg, tg = np.meshgrid(np.linspace(lo[0], hi[0], eval_grid[0]), np.linspace(lo[1], eval_grid[2], eval_grid[1]),
                         indexing="ij")
    ue = problem.exact(xg.ravel(), tg.ravel())
    return dict(error_norms(u, ref), rel_L2=relative_l2(_predict(model, xg.ravel(), tg.ravel(), dtype), ue))


def error_at_time(problem, t_eval=0.3, nx=1001):
    """A training hook: the errors of a network against ``problem.exact`` on one time line.

    Parameters
    ----------
    problem : Problem
        Its x range (lower[0] .. upper[0]) and exact solution are used.
    t_eval : float
    nx : int >= 2
        Equispaced x, ends included.

    Returns
    -------
    callable(model) -> dict
        L1, L2 (= RMS), Linf of u - u_exact over the nx points (`fastdds.norms.error_norms`) and
        rel_L2 (`fastdds.norms.relative_l2`), floats; for `fastdds.pinn.train.train`'s `evaluate`.
    """
    if int(nx) < 2:
        raise ValueError(f"nx = {nx}: the error needs at least 2 points")
    x = np.linspace(problem.lower[0], problem.upper[0], int(nx))
    t = np.full_like(x, t_eval)
    ref = problem.exact(x, t)

    def errors(model):
        u = _predict(model, x, t, model.params[0].dtype)
        return dict(error_norms(u, ref), rel_L2=relative_l2(u, ref))

    return errors


def _predict(model, x, t, dtype):
    return model(np.stack([x, t], axis=1).astype(dtype))[:, 0].astype(np.float64)


def _loss_summary(hist):
    adam, lb = hist["loss_adam"], hist["loss_lbfgs"]
    every = np.concatenate([adam, lb])
    return {"initial": hist["initial_loss"],
            "after_adam": float(adam[-1]) if adam.size else None,
            "final": float(hist["final_loss"]), "min": float(every.min()) if every.size else None,
            "parts": hist["parts"], "adam_every_1000": adam[::1000].tolist(), "lbfgs_every_100": lb[::100].tolist()}


def run_one(target, seed, out, stem, dtype=np.float64, resume=False, progress=True, checkpoint_every=500,
            evaluate=None):
    """Train one run of `target` with `seed`; write its weights; return its metrics record.

    Parameters
    ----------
    target : Target
    seed : int
    out : Path
        Folder for ``{stem}_run{seed}.npz`` (weights) and the checkpoint ``{stem}_run{seed}.ckpt.npz``.
    stem : str
    dtype : numpy dtype
    resume : bool
    progress : bool
    checkpoint_every : int
    evaluate : dict, optional
        Record the error during training: keyword arguments of `error_at_time` (t_eval, nx)
        and ``every`` (Adam steps / L-BFGS iterations between evaluations, default 100).

    Returns
    -------
    dict : seed, L1, L2, Linf, rel_L2, params, adam_steps, lbfgs_iters, wall_time, grad_evals, loss,
    weights, checkpoint (file names in `out`, so a run folder can move and a resume from any working
    directory finds them; the checkpoint is deleted by `reproduce` once the record is saved), and with `evaluate`
    ``evaluations`` (see `fastdds.pinn.train.train`) and ``evaluate`` (its settings).
    """
    problem = target.build(seed, **target.sizes)
    net = build_model(target, problem, seed, dtype)
    ckpt = out / f"{stem}_run{seed}.ckpt.npz"
    hook = {}
    if evaluate is not None:
        settings = dict(evaluate)
        hook = {"evaluate_every": int(settings.pop("every", 100)), "evaluate": error_at_time(problem, **settings)}
    hist = train(net, problem.astype(dtype), target.adam_steps, target.schedule(), target.lbfgs_maxiter,
                 target.lbfgs_options, checkpoint=ckpt, checkpoint_every=checkpoint_every, resume=resume,
                 progress=progress, desc=f"{target.name} run {seed}", **hook)
    weights = out / f"{stem}_run{seed}.npz"
    net.save(weights)
    record = {"seed": seed, **metrics(net, problem, target.eval_grid), "params": int(net.nparams),
              "adam_steps": hist["adam_steps"], "lbfgs_iters": hist["lbfgs_iters"],
              "lbfgs_message": hist["lbfgs_message"], "wall_time": hist["wall_time"], "grad_evals": hist["grad_evals"],
              "loss": _loss_summary(hist), "weights": weights.name, "checkpoint": ckpt.name}
    if evaluate is not None:
        record.update(evaluations=hist["evaluations"], evaluate=dict(evaluate))
    return record


def evaluate(path, name):
    """Metrics of saved weights (.npz, W0..WL / b0..bL, inputs (x, t) unscaled unless the target rescales).

    Parameters
    ----------
    path : str or Path
        Weight file, e.g. a published ``burgers_viscous_run1.npz`` or one written by `reproduce`.
    name : str
        Target whose problem (domain, exact solution, activation) the weights solve.

    Returns
    -------
    dict : weights, problem, dtype, params, layers, L1, L2, Linf, rel_L2.
    """
    from ..nn.mlp import MLP, load_weights

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weights file at {path}; give the path of an .npz with arrays W0..WL, b0..bL")
    target = get_target(name)
    weights = load_weights(path)
    sizes = [weights[0][0].shape[1]] + [W.shape[0] for W, _ in weights]
    if sizes[0] != 2 or sizes[-1] != 1:
        raise ValueError(f"{path} holds a {sizes} network; a {name} PINN maps (x, t) to u: 2 inputs, 1 output")
    problem = target.build(1, **target.sizes)
    net = MLP.from_weights(weights, target.activation, **_box(target, problem))
    return {"weights": str(path), "problem": name, "dtype": net.dtype.name, "params": int(net.nparams),
            "layers": net.sizes, **metrics(net, problem, target.eval_grid)}


def summarise(records):
    """Mean, std, min, max of each error metric over runs."""
    out = {}
    for key in ("L1", "L2", "Linf", "rel_L2", "wall_time"):
        v = np.array([r[key] for r in records])
        out[key] = {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max())}
    return out


def reproduce(name, runs=10, quick=False, out=None, resume=False, dtype=np.float64, progress=True, log=print,
              first_seed=1, map_runs=None, target=None, evaluate=None):
    """Run seeds first_seed..first_seed + runs - 1 of target `name`, writing JSON results and weights into `out`.

    The JSON (``{stem}.json``, or ``{stem}_quick.json``) is rewritten atomically after each run,
    so an interrupted reproduction keeps its finished runs; with `resume` those are skipped
    and the interrupted run continues from its checkpoint.

    Parameters
    ----------
    name : str
        One of `TARGETS`.
    runs : int
    quick : bool
    out : str or Path, optional
        Default ``runs/<name>``.
    resume : bool
    dtype : numpy dtype
    progress : bool
    log : callable(str)
    first_seed : int
        Seed of the first run; disjoint seed ranges in separate `out` folders split a
        reproduction over processes or cluster jobs.
    map_runs : callable(run, seeds) -> list of records or None, optional
    target : Target, optional
        Run this configuration instead of the published one (e.g. a shortened schedule); the
        JSON names `name` and describes `target`.
    evaluate : dict, optional
        Record the error during training (`run_one`'s `evaluate`).

    With `map_runs` the runs not yet done are made by ``map_runs(run, seeds)`` first (under
    ``mpiexec`` the command passes `fastdds.parallel.ensemble.run_seeds`, which spreads them
    over the ranks, one thread each, and returns the records on rank 0 only); every rank writes
    its runs' weights, and where `map_runs` returns None this returns None and writes nothing.

    Returns
    -------
    dict : the JSON content (None on ranks other than 0).
    """
    if runs < 1:
        raise ValueError(f"--runs {runs}: need at least one run")
    if first_seed < 1:
        raise ValueError(f"--first-seed {first_seed}: seeds start at 1")
    target = get_target(name, quick) if target is None else target
    out = Path(out if out is not None else Path("runs") / name)
    stem = name.replace("-", "_") + ("_quick" if quick else "")
    path = out / f"{stem}.json"
    done = {}
    if resume and path.is_file():
        import json

        done = {r["seed"]: r for r in json.loads(path.read_text())["runs"] if (out / Path(r["weights"]).name).is_file()}
    result = {"target": name, "quick": quick, "dtype": np.dtype(dtype).name, "config": target.describe(),
              "reference": _REFERENCE[name], "runs": []}
    t0 = time.perf_counter()
    seeds = list(range(first_seed, first_seed + runs))
    if map_runs is not None:  # e.g. spread over MPI ranks; None back: another rank writes
        todo = [s for s in seeds if s not in done]
        records = map_runs(lambda s: run_one(target, s, out, stem, dtype, resume, False, evaluate=evaluate), todo)
        if records is None:
            return None
        done.update(zip(todo, records))
    for seed in seeds:
        record = done.get(seed) or run_one(target, seed, out, stem, dtype, resume, progress, evaluate=evaluate)
        result["runs"].append(record)
        result["summary"] = summarise(result["runs"])
        io.write_json(path, result, backup=seed == seeds[0])  # an earlier invocation's file is kept once
        (out / Path(record["checkpoint"]).name).unlink(missing_ok=True)  # the run is recorded; its checkpoint is spent
    log(table(result))
    log(f"wrote {path} ({time.perf_counter() - t0:.1f} s)")
    return result


_REFERENCE = {
    "burgers-viscous": "Cole-Hopf (fastdds.exact.burgers.burgers_sin2pi); published L2 at t=0.3 about 4e-3",
    "burgers-inviscid": "Riemann shock x = 0.5 + 0.5 t (fastdds.exact.burgers.riemann); published L2 about 0.19-0.20",
    "eikonal": "u = min(1 - |x|, 1 - t) (fastdds.exact.eikonal.eikonal_time_1d)",
    "raissi-burgers": "Cole-Hopf (fastdds.exact.burgers.burgers_raissi); published relative L2 6.7e-4",
}


def table(result):
    """The per-run results as a fixed-width text table."""
    head = f"{'run':>4} {'L1':>10} {'L2':>10} {'Linf':>10} {'rel L2':>10} {'loss':>10} {'adam':>6} {'lbfgs':>6} {'time s':>8}"
    lines = [f"{result['target']}{' (quick)' if result['quick'] else ''}, {result['dtype']}", head]
    for r in result["runs"]:
        lines.append(f"{r['seed']:>4} {r['L1']:10.3e} {r['L2']:10.3e} {r['Linf']:10.3e} {r['rel_L2']:10.3e} "
                     f"{r['loss']['final']:10.3e} {r['adam_steps']:>6} {r['lbfgs_iters']:>6} {r['wall_time']:8.1f}")
    s = result["summary"]
    lines.append(f"{'mean':>4} {s['L1']['mean']:10.3e} {s['L2']['mean']:10.3e} {s['Linf']['mean']:10.3e} "
                 f"{s['rel_L2']['mean']:10.3e}")
    return "\n".join(lines)
