"""Strong scaling of the MPI paths (fastdds.parallel) and the cluster model behind the README table.

    python bench/mpi_scaling.py --ranks 1 2                   # the README table (1e7 cells, 100k points)
    python bench/mpi_scaling.py --ranks 1 2 --cells 1e4 --points 1000 --steps 4 --repeats 3   # a quick check

For each rank count the driver launches ``mpiexec -n N python -m mpi4py bench/mpi_scaling.py
--worker ...`` (NUMBA_NUM_THREADS = OMP_NUM_THREADS = 1: one core a rank) and collects one JSON
record from rank 0; it then prints a markdown table (times are the slowest rank's, after a
barrier) and the model below, and writes every record to --out.

Measured:
  burgers   `fastdds.parallel.halo.burgers_solve`, periodic Lax-Friedrichs, `--steps` steps of a
            `--cells` grid, k steps between exchanges for each k of --k; plus the single-process
            `fastdds.pde.burgers.solve` (1 rank) as the reference without decomposition.
  exchange  one `Decomposition.exchange` (two Isend/Irecv pairs a rank, halos filled in place) for each
            halo width of --widths (on one rank: the periodic self-copy, no message).
  pinn      one `fastdds.parallel.data.DataParallelLoss` call (loss and gradient, one Allreduce) on
            the Raissi Burgers network (2-8x20-1 tanh) with `--points` collocation points, ordered
            (rank-slotted buffer) and plain.

Model (per rank, per time step; P ranks, m = n / P cells each, stencil reach w, k steps an exchange):
  t_step(k) = t_cell (m + 2 k w) + (2 alpha + c_call) / k
  messages 2 / k a step, 8 k w bytes each; the best k is sqrt((2 alpha + c_call) / (2 w t_cell)),
  with t_cell the cost of one cell update, alpha the latency of a message and c_call the fixed cost
  of an exchange-and-call (measured: the width-1 exchange plus the per-call overhead, including the
  copies of the local array into and out of [halo | own | halo]).
  PINN: one Allreduce a step of 8 (nparams + ngroups) bytes (x P when ordered) against the compute
  of N / P points.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _slowest(comm, seconds):
    from fastdds.parallel import comm as pcomm

    return comm.allreduce(float(seconds), op=pcomm.MAX)


def _timed(comm, fn, repeats):
    """Median over `repeats` of the slowest rank's seconds for fn()."""
    times = []
    for _ in range(repeats):
        comm.Barrier()
        t0 = time.perf_counter()
        fn()
        times.append(_slowest(comm, time.perf_counter() - t0))
    return float(np.median(times))


def worker(args):
    from fastdds.nn.mlp import MLP
    from fastdds.parallel import comm as pcomm
    from fastdds.parallel.data import DataParallelLoss
    from fastdds.parallel.halo import Decomposition, burgers_solve
    from fastdds.pde import burgers
    from fastdds.pinn.problems import burgers_raissi

    comm = pcomm.world()
    rank, size = comm.Get_rank(), comm.Get_size()
    n = int(float(args.cells))
    x = np.linspace(0.0, 1.0, n, endpoint=False)
    u0 = np.sin(2 * np.pi * x)
    dx, nu = 1.0 / n, 0.01 / np.pi
    dt = 0.9 * burgers.max_stable_dt("lf", dx, nu, 1.0)
    dec = Decomposition(n, True, comm)
    u = dec.local(u0)
    del x, u0
    record = {"ranks": size, "cells": n, "steps": args.steps, "points": int(float(args.points)), "burgers": {},
              "exchange": {}, "pinn": {}}
    burgers_solve(u, dec, dx, dt, 1, nu, "lf", steps_per_exchange=1)  # compile
    for k in args.k:
        record["burgers"][f"k={k}"] = _timed(comm, lambda: burgers_solve(u, dec, dx, dt, args.steps, nu, "lf",
                                                                        steps_per_exchange=k), args.repeats)
    if size == 1:
        record["burgers"]["solve"] = _timed(comm, lambda: burgers.solve(u, dx, nu=nu, scheme="lf", nsteps=args.steps,
                                                                        dt=dt, alpha=1.0), args.repeats)
    for w in args.widths:
        if w <= int(dec.counts.min()):
            reps, ext = max(1, args.exchanges), dec.extend(u, w)
            record["exchange"][f"w={w}"] = _timed(comm, lambda: [dec.exchange(ext, w) for _ in range(reps)],
                                                  args.repeats) / reps
    record["exchange"]["own_cells"] = int(dec.count)
    del u
    problem = burgers_raissi(1, n_f=int(float(args.points)))
    for ordered in (True, False):
        net = MLP(sizes=[2] + [20] * 8 + [1], seed=1)
        loss = DataParallelLoss(net, problem, comm, ordered=ordered)
        loss()
        record["pinn"]["ordered" if ordered else "plain"] = _timed(comm, loss, args.repeats)
    record["pinn"]["nparams"] = int(sum(p.size for p in net.params))
    record["pinn"]["groups"] = len(problem.groups)
    if rank == 0:
        print("RECORD " + json.dumps(record), flush=True)


def _model(records):
    """Lines of the cluster model from the measured records."""
    one = next((r for r in records if r["ranks"] == 1), None)
    many = max(records, key=lambda r: r["ranks"])
    lines = []
    if one is None or "solve" not in one["burgers"]:
        return ["(the model needs the 1-rank record)"]
    t_cell = one["burgers"]["solve"] / (one["cells"] * one["steps"])
    ks = sorted(int(k[2:]) for k in many["burgers"] if k.startswith("k="))
    m = many["cells"] / many["ranks"]
    # fixed cost c of an exchange-and-call, from t_step(k) = t_cell (m + 2 k) + c / k at the smallest k
    k0 = ks[0]
    c_fixed = max(k0 * (many["burgers"][f"k={k0}"] / many["steps"] - t_cell * (m + 2 * k0)), 0.0)
    alpha = many["exchange"].get("w=1", float("nan")) / 2
    k_best = np.sqrt(c_fixed / (2 * t_cell)) if c_fixed > 0 else float("nan")
    lines += [f"t_cell = {t_cell * 1e9:.2f} ns (1-rank solve, Lax-Friedrichs, reach w = 1)",
              f"width-1 exchange on {many['ranks']} ranks: {2 * alpha * 1e6:.1f} us (2 messages a rank, "
              f"alpha ~ {alpha * 1e6:.1f} us each)",
              f"fixed cost of one exchange-and-call (k = {k0}): {c_fixed * 1e3:.3f} ms for m = {m:.3g} own cells "
              f"(~{c_fixed / m * 1e9:.2f} ns an own cell: the copies into and out of [halo | own | halo], the call's "
              f"validation, the messages)",
              f"best steps between exchanges k* = sqrt(c / (2 w t_cell)) = {k_best:.0f}; halo width k* w, "
              f"messages of {8 * k_best:.0f} bytes, 2 / k* a step",
              "c holds this machine's shared-memory exchange; on a cluster add 2 (alpha_net - alpha) with alpha_net "
              "1-5 us (InfiniBand) or 20-100 us (Ethernet); the copy part of c grows like m, so k* grows like sqrt(m)"]
    p = many["pinn"]
    n = p["nparams"] + p["groups"]
    lines.append(f"PINN step: one Allreduce of {8 * n} bytes (plain) or {8 * n * many['ranks']} bytes (ordered, "
                 f"{many['ranks']} ranks); ordered grows like P and passes plain when P * 8 n / bandwidth nears "
                 f"the step time")
    return lines


def _table(records):
    records = sorted(records, key=lambda r: r["ranks"])
    ranks = [r["ranks"] for r in records]
    base = records[0]
    head = "| measurement | " + " | ".join(f"{p} rank{'s' if p > 1 else ''}" for p in ranks) + " | speed-up |"
    lines = [head, "|---" * (len(ranks) + 2) + "|"]

    def row(label, section, key, unit=1e3, fmt="{:.1f} ms"):
        vals = [r[section].get(key) for r in records]
        cells = [fmt.format(v * unit) if v is not None else "-" for v in vals]
        speed = f"{vals[0] / vals[-1]:.2f}x" if None not in (vals[0], vals[-1]) and len(vals) > 1 else "-"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {speed} |")

    row(f"Burgers {base['cells']:.0e} cells, {base['steps']} steps, single-process solve", "burgers", "solve")
    for key in sorted((k for k in base["burgers"] if k.startswith("k=")), key=lambda k: int(k[2:])):
        row(f"Burgers decomposed, {key} steps an exchange", "burgers", key)
    for key in sorted((k for k in base["exchange"] if k.startswith("w=")), key=lambda k: int(k[2:])):
        row(f"halo exchange, width {key[2:]} ({8 * int(key[2:])} bytes a message; 1 rank: self-copy)", "exchange",
            key, 1e6, "{:.1f} us")
    row(f"PINN loss + gradient, {base['points']} points, ordered Allreduce", "pinn", "ordered")
    row(f"PINN loss + gradient, {base['points']} points, plain Allreduce", "pinn", "plain")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cells", default="1e7")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--k", type=int, nargs="+", default=[1, 8, 40])
    ap.add_argument("--widths", type=int, nargs="+", default=[1, 16, 256, 4096])
    ap.add_argument("--exchanges", type=int, default=100, help="exchanges per timed repeat")
    ap.add_argument("--points", default="1e5")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="bench/mpi_scaling.json")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    records = []
    for n in args.ranks:
        cmd = ["mpiexec", "-n", str(n), sys.executable, "-m", "mpi4py", __file__, "--worker",
               "--cells", args.cells, "--steps", str(args.steps), "--points", args.points,
               "--repeats", str(args.repeats), "--exchanges", str(args.exchanges),
               "--k", *map(str, args.k), "--widths", *map(str, args.widths)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
        records.append(json.loads(next(line[7:] for line in proc.stdout.splitlines() if line.startswith("RECORD "))))
    print("\n".join(_table(records)))
    print()
    print("\n".join(_model(records)))
    Path(args.out).write_text(json.dumps(records, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
