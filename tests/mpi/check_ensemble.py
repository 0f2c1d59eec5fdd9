"""Run under mpiexec (any number of ranks): a tiny ensemble spread over the ranks.

Usage: ``mpiexec -n N python -m mpi4py tests/mpi/check_ensemble.py OUT``. Each seed is one
viscous Burgers run (amplitude and phase drawn from the seed); its rank writes
OUT/all/run{seed}.json and rank 0 writes OUT/all/ensemble.json with the summary: the layout of
``fastdds reproduce``. The same seeds are then run as two "jobs" of a job array (seeds 1-3 into
OUT/job1, 4-5 into OUT/job4) and merged with `summarize`. Rank 0 checks the records against
the same runs made serially, that every run saw one Numba thread, and that the merged summary
equals the one-folder summary. Last, three tiny PINN runs of the library's own
`fastdds.pinn.reproduce.run_one` (the Eikonal target shrunk to 30 Adam steps) are spread the
same way: each rank writes its runs' weight files into OUT/pinn, as one process would, and
rank 0 checks the records against the same runs made serially on one thread. Exit status 1
(MPI_Abort) on any difference.
"""

import json
import sys
from dataclasses import replace
from pathlib import Path

import numba
import numpy as np

from fastdds import io
from fastdds.parallel import comm as pcomm
from fastdds.parallel.ensemble import numeric_summary, run_seeds, summarize, threads
from fastdds.pde import burgers
from fastdds.pinn.reproduce import get_target, run_one

world = pcomm.world()
rank = world.Get_rank()
out = Path(sys.argv[1])


def one_run(seed, folder=None):
    rng = np.random.default_rng(seed)
    a, phase = rng.uniform(0.5, 1.0), rng.uniform(0, 2 * np.pi)
    x = np.linspace(0.0, 1.0, 128, endpoint=False)
    res = burgers.solve(a * np.sin(2 * np.pi * x + phase), 1.0 / 128, t_end=0.2, nu=0.01, scheme="muscl-rk2")
    record = {"seed": seed, "amplitude": a, "mean_u": float(res.u.mean()), "max_u": float(res.u.max()),
              "nsteps": res.nsteps, "threads": numba.get_num_threads()}
    if folder is not None:
        io.write_json(folder / f"run{seed}.json", record)
    return record


def ensemble(seeds, folder):
    records = run_seeds(lambda s: one_run(s, folder), seeds, world)
    if rank == 0:
        io.write_json(folder / "ensemble.json", {"target": "burgers-demo", "runs": records,
                                                 "summary": numeric_summary(records)})
    world.Barrier()


def pinn_ensemble():
    """The library's PINN runs spread over the ranks; on rank 0, the differences from serial runs."""
    target = replace(get_target("eikonal", quick=True), adam_steps=30,
                     sizes={"n_collocation": 200, "n_terminal": 20, "n_side": 20})
    pinn, seeds = out / "pinn", [1, 2, 3]
    records = run_seeds(lambda s: run_one(target, s, pinn, "eikonal_tiny", progress=False), seeds, world)
    if rank != 0:
        return []
    with threads(1):
        serial = [run_one(target, s, out / "serial", "eikonal_tiny", progress=False) for s in seeds]
    keys = ("seed", "L1", "L2", "Linf", "rel_L2", "adam_steps", "loss")
    bad = [f"PINN seed {r['seed']} differs from the serial run" for r, ref in zip(records, serial)
           if any(r[k] != ref[k] for k in keys)]
    if sorted(p.name for p in pinn.glob("eikonal_tiny_run?.npz")) != [f"eikonal_tiny_run{s}.npz" for s in seeds]:
        bad.append("PINN weight files missing")
    return bad


if rank == 0:
    for sub in ("all", "job1", "job4", "merged", "pinn", "serial"):
        (out / sub).mkdir(parents=True, exist_ok=True)
world.Barrier()
seeds = list(range(1, 6))
ensemble(seeds, out / "all")
ensemble(seeds[:3], out / "job1")
ensemble(seeds[3:], out / "job4")
failures = []
if rank == 0:
    result = json.loads((out / "all" / "ensemble.json").read_text())
    serial = [one_run(s) for s in seeds]
    for rec, ref in zip(result["runs"], serial):
        if rec["threads"] != 1:
            failures.append(f"seed {rec['seed']} ran on {rec['threads']} threads")
        if {k: v for k, v in rec.items() if k != "threads"} != {k: v for k, v in ref.items() if k != "threads"}:
            failures.append(f"seed {rec['seed']}: {rec} != serial {ref}")
    if sorted(p.name for p in (out / "all").glob("run*.json")) != [f"run{s}.json" for s in seeds]:
        failures.append("per-run files missing")
    merged = summarize([out / "job1", out / "job4"], out=out / "merged")["ensemble.json"]
    if merged["summary"] != result["summary"] or merged["runs"] != result["runs"]:
        failures.append("merged job folders differ from the one-folder ensemble")

failures += pinn_ensemble()
if rank == 0:
    print(f"ensemble of {len(seeds)} seeds and 3 PINN runs on {world.Get_size()} ranks: {len(failures)} failures {failures}",
          flush=True)
world.Barrier()
sys.exit(1 if failures else 0)
