"""Run under mpiexec (any number of ranks): a tiny ensemble spread over the ranks.

Usage: ``mpiexec -n N python -m mpi4py tests/mpi/check_ensemble.py OUT``. Each seed is one
viscous Burgers run (amplitude and phase drawn from the seed); its rank writes
OUT/all/run{seed}.json and rank 0 writes OUT/all/ensemble.json with the summary: the layout of
``fastdds reproduce``. The same seeds are then run as two "jobs" of a job array (seeds 1-3 into
OUT/job1, 4-5 into OUT/job4) and merged with `summarize`. Rank 0 checks the records against
the same runs made serially, that every run saw one Numba thread, and that the merged summary
equals the one-folder summary; exit status 1 (MPI_Abort) otherwise.
"""

import sys
from pathlib import Path

import numba
import numpy as np

from fastdds import io
from fastdds.parallel import comm as pcomm
from fastdds.parallel.ensemble import numeric_summary, run_seeds, summarize
from fastdds.pde import burgers

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


if rank == 0:
    for sub in ("all", "job1", "job4", "merged"):
        (out / sub).mkdir(parents=True, exist_ok=True)
world.Barrier()
seeds = list(range(1, 6))
ensemble(seeds, out / "all")
ensemble(seeds[:3], out / "job1")
ensemble(seeds[3:], out / "job4")
failures = []
if rank == 0:
    import json

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
    print(f"ensemble of {len(seeds)} seeds on {world.Get_size()} ranks: {len(failures)} failures {failures}",
          flush=True)
world.Barrier()
sys.exit(1 if failures else 0)
