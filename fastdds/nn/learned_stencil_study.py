"""The learned-stencil study behind ``fastdds reproduce learned-stencil``: banded-layer Chains
(`fastdds.nn.learned_stencil`) fitted to fastdds' own advection-diffusion (RK4) and viscous
Burgers (central flux, SSP-RK3) trajectories, and the nu and speed their row moments give.

`reproduce` writes OUT/results.json (every row: data, noise, stencil width, stride, constraint,
fit, dtype, weights, recovered and true coefficients, relative errors, fit time) and
OUT/results.md (the table), atomically, and keeps the finished rows in OUT/checkpoint.json so
that an interrupted run can resume. Every row is seeded; the times are wall times of the
fit alone on whatever machine runs it.
"""

import time
from dataclasses import dataclass

import numpy as np

from .. import io
from ..progress import Progress
from .learned_stencil import (CONSTRAINTS, LearnedStencil, Trajectories, add_noise, advection_diffusion_data,
                              burgers_data, fit)

PINN_PARAMS = 71_101
"""Weights of the Ganguly et al. viscous-Burgers PINN (2-8x100-1), for the comparison line."""


@dataclass(frozen=True)
class Row:
    """One fit of the study."""

    case: str
    width: int = 3
    stride: int = 1
    constrained: bool = True
    method: str = "lstsq"
    dtype: str = "float64"
    noise: float = 0.0
    data: str = "base"
    steps: int = 500
    per_row: bool = False


def data_sets(quick=False):
    """The trajectories of the study by (case, name): "base"; "fine" (snapshots 5x closer);
    "long" (more snapshots, for the noise rows); "sparse" (as long, a snapshot every 4 solver
    steps: more change between snapshots against the noise)."""
    T, B = (21, 2) if quick else (51, 4)
    TL, BL = (51, 4) if quick else (201, 8)
    return {
        ("advection-diffusion", "base"): lambda: advection_diffusion_data(snapshots=T, batch=B),
        ("advection-diffusion", "fine"): lambda: advection_diffusion_data(snapshots=T, batch=B, cfl=0.1),
        ("advection-diffusion", "long"): lambda: advection_diffusion_data(snapshots=TL, batch=BL),
        ("burgers", "base"): lambda: burgers_data(snapshots=T, batch=B),
        ("burgers", "fine"): lambda: burgers_data(snapshots=T, batch=B, cfl=0.1),
        ("burgers", "long"): lambda: burgers_data(snapshots=TL, batch=BL),
        ("advection-diffusion", "sparse"): lambda: advection_diffusion_data(snapshots=TL, batch=BL, substeps=4),
        ("burgers", "sparse"): lambda: burgers_data(snapshots=TL, batch=BL, substeps=4),
    }


def rows(quick=False):
    """The fits of the study, in table order (``quick``: a subset on smaller data)."""
    out = []
    for case in ("advection-diffusion", "burgers"):
        out += [Row(case, constrained=False), Row(case), Row(case, method="lbfgs"),
                Row(case, width=5), Row(case, stride=4, method="lbfgs"),
                Row(case, stride=4, method="lbfgs", dtype="float32"), Row(case, data="fine"),
                Row(case, width=5, per_row=True)]
        if not quick:
            out += [Row(case, method="adam", steps=3000), Row(case, width=5, stride=4, method="lbfgs"),
                    Row(case, stride=4, method="lbfgs", per_row=True, steps=1000)]
        out += [Row(case, stride=4, method="lbfgs", noise=noise, data="long")
                for noise in ((1e-3,) if quick else (1e-4, 1e-3, 1e-2))]
        if not quick:
            out.append(Row(case, stride=16, method="lbfgs", noise=1e-2, data="sparse"))
    return out


def run_row(row, data):
    """Fit one row's model to its data (noise added with seed 1); returns its result dict."""
    d = add_noise(data, row.noise, seed=1)
    d = Trajectories(d.u.astype(row.dtype), d.dx, d.dt, d.case, d.nu, d.speed, d.meta)
    model = LearnedStencil(d.u.shape[2], row.width, nonlinear=row.case == "burgers", stride=row.stride,
                           constraints=CONSTRAINTS[row.case] if row.constrained else None, dtype=row.dtype,
                           per_row=row.per_row)
    res = fit(model, d, row.method, steps=row.steps, lr=1e-2 if row.method == "adam" else 1e-3)
    T, B, n = d.u.shape
    return {
        "case": row.case, "nx": n, "snapshots": T, "trajectories": B, "dt": d.dt, "solver": d.meta["solver"],
        "solver_dt": d.meta["solver_dt"], "noise": row.noise, "width": row.width, "per_row": row.per_row, "stride": row.stride,
        "constraint": (CONSTRAINTS[row.case] if row.constrained else None), "method": row.method,
        "dtype": row.dtype, "weights": model.nweights, "trained": model.nfree,
        "nu": res["nu"], "nu_true": d.nu, "nu_error": abs(res["nu"] / d.nu - 1),
        "speed": res["speed"], "speed_true": d.speed, "speed_error": abs(res["speed"] / d.speed - 1),
        "nu_spread": res["nu_spread"], "speed_spread": res["speed_spread"], "nu_raw": res["nu_raw"], "rate": res["rate"], "moments": res["moments"], "loss": res["loss"],
        "iterations": res["iterations"], "seconds": res["seconds"],
    }


def _constraint_text(c):
    if not c:
        return "none"
    return ", ".join(f"M{k}({op})={v:g}" for op, fixed in c.items() for k, v in fixed.items())


def _spread(r):
    return f"{r['nu_spread']:.1e}, {r['speed_spread']:.1e}" if r.get("per_row") else "-"


def markdown(results, quick=False):
    """The study's table (one line per row) and the weights comparison line."""
    head = ("| case | data (nx, snapshots x trajectories, dt) | noise | width | stride | constraint | fit | dtype "
            "| weights (trained) | nu | nu true | rel err | speed | speed true | rel err | row spread (nu, speed) | time (s) |")
    lines = [head, "|" + "---|" * (head.count(" | ") + 1)]
    for r in results:
        lines.append(
            f"| {r['case']} | {r['nx']}, {r['snapshots']} x {r['trajectories']}, {r['dt']:.3g} | {r['noise']:g} "
            f"| {r['width']}{' per row' if r.get('per_row') else ''} | {r['stride']} | {_constraint_text(r['constraint'])} | {r['method']} | {r['dtype']} "
            f"| {r['weights']} ({r['trained']}) | {r['nu']:.6g} | {r['nu_true']:g} | {r['nu_error']:.2e} "
            f"| {r['speed']:.6g} | {r['speed_true']:g} | {r['speed_error']:.2e} "
            f"| {_spread(r)} | {r['seconds']:.3f} |")
    most = max(r["weights"] for r in results)
    lines.append("")
    lines.append(f"At most {most} stencil weights per model (a shared stencil: 3 to 10; one stencil per row: "
                 f"hundreds) against the PINN's {PINN_PARAMS:,} (Ganguly et al., viscous Burgers); nu and speed "
                 f"of a per-row model are row means, the spread the largest relative deviation of a row.{' Quick run: smaller data, fewer rows.' if quick else ''}")
    return "\n".join(lines)


def reproduce(out, quick=False, progress=True, resume=False):
    """Run the study; write OUT/results.json and OUT/results.md.

    After each row the finished rows go to OUT/checkpoint.json (atomically); with `resume` the
    rows found there (same row settings, same quick flag) are kept and only the others run.

    Parameters
    ----------
    out : str or Path
        Output folder (made if missing).
    quick : bool
        Smaller data and a subset of the rows (seconds).
    progress : bool
    resume : bool

    Returns
    -------
    dict: results (list of row dicts), markdown, written (paths), seconds, resumed (rows reused).
    """
    import json
    from dataclasses import asdict
    from pathlib import Path

    t0 = time.perf_counter()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / "checkpoint.json"
    todo = rows(quick)
    keys = [dict(asdict(row), quick=bool(quick)) for row in todo]
    done = {}
    if resume and checkpoint.exists():
        saved = json.loads(checkpoint.read_text())
        done = {json.dumps(k, sort_keys=True): r for k, r in zip(saved["keys"], saved["rows"])}
    makers = data_sets(quick)
    cache = {}
    bar = Progress(len(todo), "learned-stencil", enabled=progress)
    results, resumed = [], 0
    for k, (row, key) in enumerate(zip(todo, keys)):
        old = done.get(json.dumps(key, sort_keys=True))
        if old is not None:
            results.append(old)
            resumed += 1
        else:
            data_key = (row.case, row.data)
            if data_key not in cache:
                cache[data_key] = makers[data_key]()
            results.append(run_row(row, cache[data_key]))
            io.write_json(checkpoint, {"keys": keys[:k + 1], "rows": results}, backup=False)
        bar.update(k + 1, case=row.case, err=max(results[-1]["nu_error"], results[-1]["speed_error"]))
    bar.close()
    table = markdown(results, quick)
    seconds = time.perf_counter() - t0
    io.write_json(folder / "results.json", {"quick": bool(quick), "rows": results, "seconds": seconds,
                                            "pinn_params": PINN_PARAMS})
    io.write_text(folder / "results.md", table + "\n")
    return {"results": results, "markdown": table, "seconds": seconds, "resumed": resumed,
            "written": [str(folder / "results.json"), str(folder / "results.md")]}
