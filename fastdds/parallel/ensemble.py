"""Ensembles of independent runs over MPI ranks, and merging the run folders of separate jobs.

`run_seeds` gives rank r of P the seeds r, r + P, r + 2P, ... of the list (round-robin, so a
rank's share of a sorted seed list mixes early and late seeds), runs them with Numba and BLAS
held to one thread (a rank is one core's worth of work; launch P = the cores you have), and
gathers every record on the root in the order of the seed list: the root then writes the
summary, each rank having written its own per-run files. Seeds a run raises on are reported by
the root, not left to hang the others.

`summarize` merges result files from folders written by separate jobs (a SLURM job array,
each task running ``--first-seed $SLURM_ARRAY_TASK_ID --runs 1``): files of one name must
describe the same configuration, their runs are merged by seed (a seed twice is an error
unless both records agree) and the summary is recomputed.
"""

import json
from contextlib import contextmanager
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from .. import io
from . import comm as _comm


def my_seeds(seeds, comm=None):
    """This rank's seeds: seeds[rank::size] (round-robin)."""
    comm = _comm.resolve(comm)
    return list(seeds)[comm.Get_rank()::comm.Get_size()]


@contextmanager
def threads(n=1):
    """Numba's thread count and every BLAS/OpenMP pool held to `n` inside the block (restored after)."""
    saved = numba.get_num_threads()
    numba.set_num_threads(min(int(n), numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=int(n)):
            yield
    finally:
        numba.set_num_threads(saved)


def run_seeds(run, seeds, comm=None, root=0, nthreads=1):
    """Run `run(seed)` for every seed, spread over the ranks; the records gathered on `root`.

    Parameters
    ----------
    run : callable(seed) -> record
        One run (it writes its own per-run files); the record must pickle (a dict of numbers).
    seeds : sequence of int
        The same list on every rank.
    comm : communicator, optional
    root : int
    nthreads : int
        Threads per rank (Numba and BLAS) while the runs execute.

    Returns
    -------
    list of records in the order of `seeds` on `root`; None on the other ranks.

    Raises
    ------
    RuntimeError
        On `root`, naming every seed whose run raised on any rank (after all ranks finished).
    """
    comm = _comm.resolve(comm)
    mine = []
    with threads(nthreads):
        for seed in my_seeds(seeds, comm):
            try:
                mine.append((seed, run(seed), None))
            except Exception as err:  # reported by the root once every rank is done
                mine.append((seed, None, f"{type(err).__name__}: {err}"))
    gathered = comm.gather(mine, root=root)
    if comm.Get_rank() != root:
        return None
    done = {seed: (record, error) for part in gathered for seed, record, error in part}
    errors = [f"seed {s}: {done[s][1]}" for s in seeds if done[s][1] is not None]
    if errors:
        raise RuntimeError("runs failed: " + "; ".join(errors))
    return [done[s][0] for s in seeds]


def numeric_summary(records, skip=("seed",)):
    """Mean, std, min, max over runs of every top-level number that all records have.

    Parameters
    ----------
    records : list of dict
    skip : keys left out

    Returns
    -------
    dict key -> {"mean", "std", "min", "max"} (floats).
    """
    keys = [k for k in records[0] if k not in skip and all(_is_number(r.get(k)) for r in records)]
    out = {}
    for k in keys:
        v = np.array([r[k] for r in records], dtype=np.float64)
        out[k] = {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max())}
    return out


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def summarize(folders, out=None, summarise=numeric_summary, pattern="*.json"):
    """Merge the result files of several run folders.

    A result file is a JSON object with a "runs" list of records carrying a "seed" (what
    ``fastdds reproduce`` writes); other JSON files are ignored. Files of the same name are
    merged: all their keys but "runs" and "summary" must agree, the runs are merged by seed and
    sorted, and "summary" is recomputed with `summarise`.

    Parameters
    ----------
    folders : sequence of str or Path
    out : str or Path, optional
        Folder to write each merged file into (same name); nothing is written when None.
    summarise : callable(records) -> dict
        E.g. `fastdds.pinn.reproduce.summarise`; default `numeric_summary`.
    pattern : str
        Glob of the result files inside each folder.

    Returns
    -------
    dict file name -> merged result.

    Raises
    ------
    ValueError
        A missing folder, no result file at all, configurations that differ, or one seed with
        two different records.
    """
    merged, origin = {}, {}
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise ValueError(f"no run folder at {folder}")
        for path in sorted(folder.glob(pattern)):
            data = json.loads(path.read_text())
            if not (isinstance(data, dict) and isinstance(data.get("runs"), list)
                    and all(isinstance(r, dict) and "seed" in r for r in data["runs"])):
                continue
            head = {k: v for k, v in data.items() if k not in ("runs", "summary")}
            if path.name not in merged:
                merged[path.name] = {**head, "runs": {}}
            elif head != {k: v for k, v in merged[path.name].items() if k != "runs"}:
                raise ValueError(f"{path} describes another configuration than {origin[path.name]}: "
                                 f"merge only folders of the same command and options")
            origin.setdefault(path.name, path)
            runs = merged[path.name]["runs"]
            for r in data["runs"]:
                seed = r["seed"]
                if seed in runs and runs[seed][0] != r:
                    raise ValueError(f"seed {seed} has different records in {runs[seed][1]} and {path}")
                runs.setdefault(seed, (r, path))
    if not merged:
        raise ValueError(f"no result file ({pattern} with a 'runs' list) in {', '.join(map(str, folders))}")
    for name, data in merged.items():
        data["runs"] = [record for _, (record, _) in sorted(data["runs"].items())]
        data["summary"] = summarise(data["runs"])
        if out is not None:
            io.write_json(Path(out) / name, data)
    return merged
