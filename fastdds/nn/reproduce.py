"""The California Housing study of Felipe-Sosa et al. (DynPMNN, NODE, CfC, MLP; published split
and training protocol) plus fastdds' FHN networks and scikit-learn's
HistGradientBoostingRegressor as a reference, and the runs that reproduce it.

`reproduce` writes OUT/results.json and OUT/results.md (atomically), one JSON per finished run in
OUT/runs/ and a checkpoint per run in OUT/checkpoints/ (``resume`` skips finished runs and
continues interrupted ones). Run k of a model uses seed k for its weights and its shuffling.
The published protocol: Adam, lr 5e-4, batch 32, weight decay 5e-3, at most 100 epochs, early
stopping with patience 10 and min_delta 0.05 on the validation MSE.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import io
from ..layers import Chain
from .cfc import CfC
from .dynpmnn import DynPMNN, FHNNet, MLPBaseline
from .node import NODE
from .train import fit, metrics

PUBLISHED = {"DynPMNN": 0.664, "NODE": 0.554, "CfC": 0.582, "MLP": 0.556}
PROTOCOL = {"lr": 5e-4, "batch": 32, "epochs": 100, "weight_decay": 5e-3, "patience": 10, "min_delta": 0.05}
QUICK_EPOCHS = 2
STABILITY_ROWS = 2048


@dataclass(frozen=True)
class Spec:
    """One model of the study.

    Parameters
    ----------
    label : str
        Its row in the table (the text before the first "," or " (" names the published model).
    build : callable(seed) -> Block, or None for the non-network reference
    note : str
    overrides : dict
        Changes to `PROTOCOL` for this model.
    """

    label: str
    build: object
    note: str
    overrides: dict = field(default_factory=dict)


def models(quick=False):
    """The study's models, in table order: key -> Spec (``quick``: smaller NODE, CfC and MLP)."""
    small = " (quick: smaller)" if quick else ""
    fhn_kw = {"width": 16, "dt": 0.5, "steps": 10, "train": ("a", "b", "g")}
    tuned = {"lr": 1e-3, "min_delta": 1e-3}
    return {
        "dynpmnn": Spec("DynPMNN, published (dt 20, 25 steps)", lambda s: DynPMNN(seed=s),
                        "published block and settings"),
        "dynpmnn_stable": Spec("DynPMNN, published block, dt 1 (500 steps)",
                               lambda s: DynPMNN(dt=1.0, steps=500, seed=s),
                               "same block and t_end 500, 20 times smaller steps"),
        "fhnnet": Spec("fastdds FHN net (tanh encoder 16, 64 drive neurons, trained a,b,g, dt 0.5 x 10)",
                       lambda s: FHNNet(hidden=(64,), seed=s, **fhn_kw), "fastdds network; lr 1e-3, min_delta 1e-3",
                       tuned),
        "fhnnet_deep": Spec("fastdds FHN net, 2 layers (tanh encoder 16, 32 + 32 drive neurons, trained a,b,g)",
                            lambda s: FHNNet(hidden=(32, 32), seed=s, **fhn_kw),
                            "fastdds network; lr 1e-3, min_delta 1e-3", tuned),
        "fhnnet_published": Spec("fastdds FHN net, published protocol",
                                 lambda s: FHNNet(hidden=(64,), seed=s, **fhn_kw),
                                 "same network; lr 5e-4, min_delta 0.05 as published"),
        "cfc": Spec("CfC" + small, lambda s: CfC(units=16 if quick else 64, backbone=32 if quick else 128, seed=s),
                    "16 units, backbone 32" if quick else "64 units, backbone 128, ts 1"),
        "mlp": Spec("MLP" + small,
                    lambda s: MLPBaseline([8, 64, 32, 16, 1] if quick else [8, 512, 256, 128, 1], seed=s),
                    "64-32-16" if quick else "512-256-128 ReLU, PyTorch default init"),
        "hgb": Spec("HistGradientBoostingRegressor (sklearn defaults)", None, "reference, not a network"),
        "node": Spec("NODE" + small, lambda s: NODE(hidden=32 if quick else 128, steps=1 if quick else 4, seed=s),
                     "hidden 32, 1 RK4 step" if quick else "hidden 128, RK4 with 4 steps (published: dopri5)"),
    }


def stability(model, X):
    """What the model's first FHN layer's Euler steps do over their horizon on the first
    `STABILITY_ROWS` rows of X (`fastdds.nn.fhn.FHN.stability`, tolerance 1 %).

    Returns
    -------
    fastdds.analysis.euler_horizon.HorizonReport (``.message``: the one-sentence verdict; printing
    it gives the verdict and its data lines), or None for a model without an FHN layer.
    """
    if not hasattr(model, "fhn"):
        return None
    k = model.blocks.index(model.fhn)
    x = X[:STABILITY_ROWS]
    return model.fhn.stability(Chain(model.blocks[:k])(x) if k else x, warn=False)


def run_hgb(data, seed):
    """The HistGradientBoostingRegressor reference on the split (scikit-learn defaults): the run's record."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    Xtr, ytr = data["train"]
    Xte, yte = data["test"]
    t0 = time.perf_counter()
    reg = HistGradientBoostingRegressor(random_state=seed).fit(Xtr, ytr.ravel())
    dt = time.perf_counter() - t0
    mse = float(np.mean((reg.predict(Xte) - yte.ravel()) ** 2))
    return {"rmse": float(np.sqrt(mse)), "r2": float(1 - mse / np.var(yte)), "train_time": dt, "epochs": reg.n_iter_,
            "time_per_epoch": dt / max(reg.n_iter_, 1), "stopped": "sklearn default", "params": None}


def run_net(key, spec, data, seed, out, quick=False, epochs=None, resume=False, progress=True):
    """Train one network with the published protocol (with the spec's overrides) and test it.

    Parameters
    ----------
    key : str
    spec : Spec
    data : dict with "train", "val", "test" -> (X, Y) (`fastdds.datasets.split_published`)
    seed : int
    out : Path
        The run's record goes to out/runs/{key}_seed{seed}.json, its checkpoint to out/checkpoints/.
    quick : bool
        `QUICK_EPOCHS` epochs unless `epochs` is given.
    epochs : int, optional
    resume : bool
        Continue from the run's checkpoint when there is one.
    progress : bool
    map_runs : callable(run, tasks) -> list of records or None, optional
        Makes the (model, seed) runs instead of a plain loop: under ``mpiexec`` the command
        passes `fastdds.parallel.ensemble.run_seeds`, which spreads them over the ranks, one
        thread each, and returns the records on rank 0 only; None back means this returns None.

    Returns
    -------
    dict: test rmse / r2 / mse, params, timings, epochs, stop reason, validation curve, settings,
    the Euler verdicts before and after training ("stability", absent without an FHN layer) and
    their numbers ("stability_data": {"initial": ..., "trained": ...}, `HorizonReport.to_dict`).
    """
    model = spec.build(seed)
    kw = dict(PROTOCOL, epochs=epochs or (QUICK_EPOCHS if quick else PROTOCOL["epochs"]), **spec.overrides)
    ckpt = out / "checkpoints" / f"{key}_seed{seed}.npz"
    before = stability(model, data["train"][0])
    hist = fit(model, data["train"], data["val"], seed=seed, checkpoint=ckpt, resume=resume and ckpt.is_file(),
               progress=progress, desc=f"{key} seed {seed}", **kw)
    res = metrics(model, *data["test"])
    res.update({"params": int(sum(p.size for p in model.params)), "train_time": float(np.sum(hist.epoch_time)),
                "epochs": len(hist.val_mse), "time_per_epoch": float(np.median(hist.epoch_time)),
                "best_epoch": hist.best_epoch, "stopped": hist.stopped, "val_mse": hist.val_mse, "settings": kw})
    after = stability(model, data["train"][0]) if all(np.isfinite(p).all() for p in model.params) else None
    reports = {k: r for k, r in (("initial", before), ("trained", after)) if r is not None}
    if reports:
        res["stability"] = " ".join(f"{k.capitalize()} weights: {r.message}" for k, r in reports.items())
        res["stability_data"] = {k: r.to_dict() for k, r in reports.items()}
    io.write_json(out / "runs" / f"{key}_seed{seed}.json", res, backup=False)
    return res


def summary(key, spec, runs):
    """One table row: mean and std of the test RMSE (and mean R2) over the finite runs, diverged count, means."""
    rmse = np.array([np.nan if r["rmse"] is None else r["rmse"] for r in runs], dtype=float)  # JSON null: NaN
    r2 = np.array([np.nan if r["r2"] is None else r["r2"] for r in runs], dtype=float)
    finite = np.isfinite(rmse)
    row = {"key": key, "model": spec.label, "params": runs[0]["params"], "seeds": len(runs),
           "diverged": int((~finite).sum()),
           "rmse_mean": float(rmse[finite].mean()) if finite.any() else float("nan"),
           "rmse_std": float(rmse[finite].std(ddof=1)) if finite.sum() > 1 else 0.0,
           "r2_mean": float(r2[finite].mean()) if finite.any() else float("nan"),
           "train_time": float(np.mean([r["train_time"] for r in runs])),
           "time_per_epoch": float(np.mean([r["time_per_epoch"] for r in runs])),
           "epochs": float(np.mean([r["epochs"] for r in runs])), "note": spec.note,
           "published_rmse": PUBLISHED.get(spec.label.split(",")[0].split(" (")[0])}
    if runs[0].get("stability"):
        row["stability"] = runs[0]["stability"]
    return row


def markdown(result):
    """The study's table (and the FHN layers' stability notes) as Markdown."""
    head = ("| model | params | test RMSE (mean +- std) | test R2 | diverged | train time [s] | s/epoch (median) | "
            "epochs | published RMSE | note |\n|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in result["rows"]:
        rm = "diverged (NaN)" if r["rmse_mean"] != r["rmse_mean"] else f"{r['rmse_mean']:.3f} +- {r['rmse_std']:.3f}"
        r2 = "-" if r["r2_mean"] != r["r2_mean"] else f"{r['r2_mean']:.3f}"
        lines.append(f"| {r['model']} | {r['params'] if r['params'] is not None else '-'} | {rm} | {r2} | "
                     f"{r['diverged']}/{r['seeds']} | {r['train_time']:.1f} | {r['time_per_epoch']:.3f} | "
                     f"{r['epochs']:.1f} | {r['published_rmse'] if r['published_rmse'] else '-'} | {r['note']} |")
    stab = [f"- {r['model']}: {r['stability']}" for r in result["rows"] if r.get("stability")]
    text = ("# California Housing: DynPMNN and baselines\n\n"
            + ("**quick run (CI smoke test)**\n\n" if result["quick"] else "") + head + "\n".join(lines) + "\n")
    if stab:
        text += (f"\nExplicit Euler against the flow of the same ODE (first FHN layer on {STABILITY_ROWS:,} training "
                 f"inputs, initial and trained weights; error of the layer's output per neuron on the scale of the "
                 f"flow's states):\n\n" + "\n".join(stab) + "\n")
    return text


def plan(keys=None, seeds=5, quick=False):
    """[(key, number of seeds)] from keys such as "dynpmnn" or "node:2" (default: every model).

    ``quick`` runs one seed of each model unless a key gives its own count.
    """
    known = list(models())
    seeds = 1 if quick else int(seeds)
    out = [(k.split(":")[0], int(k.split(":")[1]) if ":" in k else seeds) for k in (keys or known)]
    unknown = [k for k, _ in out if k not in known]
    if unknown:
        raise ValueError(f"unknown models {unknown}; choose from {known}")
    return out


def reproduce(out="runs/dynpmnn", data=None, seeds=5, quick=False, keys=None, epochs=None, resume=False,
              progress=True, map_runs=None):
    """Run the study and write its results.

    Parameters
    ----------
    out : str or Path
    data : str or Path, optional
        StatLib cal_housing file or folder (`fastdds.datasets.california_housing`).
    seeds : int
        Runs per model (1 with ``quick``, unless a key says otherwise).
    quick : bool
        CI smoke run: `QUICK_EPOCHS` epochs, smaller NODE / CfC / MLP (flagged in the table).
    keys : sequence of str, optional
        Models to run (`plan`), in that order; default all of `models()`.
    epochs : int, optional
        Overrides the epoch limit.
    resume : bool
        Reuse finished runs' records, continue interrupted runs from their checkpoints.
    progress : bool

    Returns
    -------
    dict: "quick", "seeds", "rows" (as written to results.json), "markdown" (results.md),
    "skipped" (models that could not run, with the reason) and "written" (the two paths).
    """
    from ..datasets import california_housing, split_published

    out = Path(out)
    split = split_published(*california_housing(data))
    specs = models(quick)
    jobs = plan(keys, seeds, quick)

    def run(task):
        key, s = task
        done = out / "runs" / f"{key}_seed{s}.json"
        if resume and done.is_file():
            return json.loads(done.read_text())
        return run_net(key, specs[key], split, s, out, quick, epochs, resume, progress and map_runs is None)

    tasks = [(key, s) for key, n_seeds in jobs if specs[key].build is not None for s in range(n_seeds)]
    gathered = list(map(run, tasks)) if map_runs is None else map_runs(run, tasks)
    if gathered is None:  # another MPI rank writes the tables
        return None
    records = dict(zip(tasks, gathered))
    rows, skipped = [], []
    for key, n_seeds in jobs:
        spec = specs[key]
        if spec.build is not None:
            rows.append(summary(key, spec, [records[(key, s)] for s in range(n_seeds)]))
            continue
        try:
            import sklearn  # noqa: F401
        except ImportError:
            skipped.append(f"{key}: scikit-learn is not installed")
            continue
        rows.append(summary(key, spec, [run_hgb(split, s) for s in range(n_seeds)]))
    result = {"quick": quick, "seeds": 1 if quick else int(seeds), "rows": rows}
    text = markdown(result)
    io.write_json(out / "results.json", result)
    io.write_text(out / "results.md", text)
    return dict(result, markdown=text, skipped=skipped, written=[str(out / "results.json"), str(out / "results.md")])
