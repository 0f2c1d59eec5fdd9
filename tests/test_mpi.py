"""MPI paths (fastdds.parallel) under ``mpiexec -n 2`` and ``-n 3`` (3 ranks: uneven splits).

Each case launches a script of tests/mpi/ with ``python -m mpi4py`` (an uncaught error on any
rank aborts the whole job instead of leaving the others waiting) and a timeout; the script
compares the decomposed / data-parallel / ensemble result with the single-process one and exits
non-zero on a difference. Skipped, with the reason, when the ``mpi`` extra (mpi4py and an
``mpiexec``) is absent. The one-process stand-in (no mpiexec) is tested here directly.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastdds.parallel import comm as pcomm
from fastdds.parallel.data import split_problem
from fastdds.parallel.ensemble import my_seeds, numeric_summary, run_seeds, summarize
from fastdds.parallel.halo import Decomposition, burgers_solve, run_chain
from fastdds.pde import burgers

SCRIPTS = Path(__file__).parent / "mpi"
_BESIDE = Path(sys.executable).parent / "mpiexec"  # the mpich wheel's, also in a venv not activated
MPIEXEC = str(_BESIDE) if _BESIDE.is_file() else shutil.which("mpiexec")
needs_mpi = pytest.mark.skipif(not (pcomm.AVAILABLE and MPIEXEC),
                               reason=pcomm.REASON or "no mpiexec; install the extra: pip install -e \".[mpi]\"")


def _mpiexec(n, script, *args, timeout=240):
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [MPIEXEC, "-n", str(n), sys.executable, "-m", "mpi4py", str(SCRIPTS / script), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_halo_equals_one_process(n):
    out = _mpiexec(n, "check_halo.py")
    assert f"0 failures on {n} ranks" in out
    assert out.count("max|diff|") == 49  # every case ran and was compared


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_data_parallel_pinn_equals_one_process(n):
    out = _mpiexec(n, "check_pinn.py")
    assert f"0 failures on {n} ranks" in out
    assert "float64 weights after 8 Adam + 6 L-BFGS" in out


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_ensemble_over_ranks(n, tmp_path):
    out = _mpiexec(n, "check_ensemble.py", tmp_path)
    assert f"on {n} ranks: 0 failures" in out
    merged = json.loads((tmp_path / "merged" / "ensemble.json").read_text())
    assert [r["seed"] for r in merged["runs"]] == [1, 2, 3, 4, 5]
    assert all(r["threads"] == 1 for r in merged["runs"])


@needs_mpi
def test_scaling_script_runs(tmp_path):
    """bench/mpi_scaling.py at a tiny size (its numbers mean nothing here): table, model, JSON."""
    script = Path(__file__).parents[1] / "bench" / "mpi_scaling.py"
    cmd = [sys.executable, str(script), "--ranks", "1", "2", "--cells", "2e3", "--points", "200", "--steps", "2",
           "--repeats", "1", "--exchanges", "2", "--k", "1", "2", "--widths", "1", "8",
           "--out", str(tmp_path / "s.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "| halo exchange, width 8" in proc.stdout and "k* = sqrt" in proc.stdout
    records = json.loads((tmp_path / "s.json").read_text())
    assert [r["ranks"] for r in records] == [1, 2] and records[1]["exchange"]["own_cells"] == 1000


def test_without_mpi4py_the_stand_in_answers():
    """With mpi4py unimportable, world() is the one-process stand-in and require() names the extra."""
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "from fastdds.parallel import comm\n"
            "assert not comm.AVAILABLE and type(comm.world()).__name__ == 'SingleProcess'\n"
            "try:\n    comm.require()\nexcept RuntimeError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert 'pip install -e ".[mpi]"' in proc.stdout


def test_stand_in_is_one_rank():
    c = pcomm.SingleProcess()
    assert (c.Get_rank(), c.Get_size()) == (0, 1)
    buf = np.arange(3.0)
    got = np.empty(3)
    c.Allreduce(buf, got, op=pcomm.SUM)
    assert np.array_equal(got, buf) and c.gather(5) == [5] and c.allreduce(2.5, op=pcomm.MAX) == 2.5


def test_one_rank_periodic_halo_is_a_copy():
    """A one-rank periodic grid is its own neighbour: the halos are the far ends, no message."""
    dec = Decomposition(10, True, pcomm.SingleProcess())
    ext = dec.extend(np.arange(10.0), 3)
    assert np.array_equal(ext, np.r_[7.0, 8, 9, np.arange(10.0), 0, 1, 2])
    u0 = np.sin(2 * np.pi * np.arange(40) / 40)
    ref = burgers.solve(u0, 1 / 40, nsteps=9, dt=0.005, nu=0.01, scheme="muscl-rk3").u
    got = burgers_solve(u0, Decomposition(40, True, pcomm.SingleProcess()), 1 / 40, 0.005, 9, 0.01, "muscl-rk3",
                        steps_per_exchange=2)
    assert np.array_equal(got, ref)


def test_decomposition_bad_input():
    with pytest.raises(ValueError, match="cannot be split over"):
        Decomposition(0, False, pcomm.SingleProcess())
    dec = Decomposition(8, True, pcomm.SingleProcess())
    with pytest.raises(ValueError, match="halo width 9 exceeds"):
        dec.extend(np.zeros(8), 9)
    step = burgers.step_layers("lf", 8, 0.1, 0.01, 0.0, "dirichlet", alpha=1.0)[0]
    with pytest.raises(ValueError, match="boundary 'zero' on a periodic decomposition"):
        run_chain(step, np.zeros(8), dec)
    with pytest.raises(ValueError, match="on a periodic decomposition"):
        burgers_solve(np.zeros(8), dec, 0.1, 0.01, 1, boundary="outflow")
    with pytest.raises(ValueError, match="is unstable"):
        burgers_solve(np.ones(8), dec, 0.1, 1.0, 1)


def test_point_shares_cover_every_point_once():
    for N, P in ((10, 3), (2, 3), (7, 7), (100, 4)):
        blocks = [pcomm.share(N, r, P) for r in range(P)]
        assert blocks[0][0] == 0 and blocks[-1][1] == N
        assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
        assert max(b - a for a, b in blocks) - min(b - a for a, b in blocks) <= 1


def test_split_problem_weights_add_up():
    from fastdds.pinn.problems import heat_sine

    problem = heat_sine(1, n_collocation=50, n_ic=8, n_bc=5)

    class Rank:  # a communicator that only answers who it is
        def __init__(self, r, size):
            self.r, self.size = r, size

        def Get_rank(self):
            return self.r

        def Get_size(self):
            return self.size

    for size in (2, 3):
        parts = [split_problem(problem, Rank(r, size)) for r in range(size)]
        for g in problem.groups:
            mine = [next(h for h in p.groups if h.name == g.name) for p in parts]
            assert np.array_equal(np.vstack([h.X for h in mine]), g.X)
            assert sum(h.weight for h in mine) == pytest.approx(g.weight, rel=1e-15)
            for h in mine:
                assert h.weight / h.X.shape[0] == pytest.approx(g.weight / g.X.shape[0], rel=1e-15)


def test_ensemble_one_process(tmp_path):
    seeds = [4, 1, 3]
    assert my_seeds(seeds, pcomm.SingleProcess()) == seeds
    assert run_seeds(lambda s: {"seed": s, "sq": s * s}, seeds) == [{"seed": s, "sq": s * s} for s in seeds]
    with pytest.raises(RuntimeError, match="seed 3: ValueError: bad seed"):
        run_seeds(lambda s: {"seed": s} if s != 3 else (_ for _ in ()).throw(ValueError("bad seed")), seeds)


def test_summarize_merges_and_refuses(tmp_path):
    def write(folder, runs, dtype="float64"):
        folder.mkdir()
        (folder / "x.json").write_text(json.dumps({"target": "t", "dtype": dtype, "runs": runs, "summary": {}}))

    write(tmp_path / "a", [{"seed": 2, "L2": 3.0}, {"seed": 1, "L2": 1.0}])
    write(tmp_path / "b", [{"seed": 3, "L2": 5.0}, {"seed": 1, "L2": 1.0}])
    got = summarize([tmp_path / "a", tmp_path / "b"], out=tmp_path / "m")["x.json"]
    assert [r["seed"] for r in got["runs"]] == [1, 2, 3]
    assert got["summary"]["L2"] == {"mean": 3.0, "std": pytest.approx(np.std([1.0, 3.0, 5.0])), "min": 1.0,
                                    "max": 5.0}
    assert json.loads((tmp_path / "m" / "x.json").read_text())["summary"] == got["summary"]
    assert numeric_summary([{"seed": 1, "ok": True, "v": 2}])== {"v": {"mean": 2.0, "std": 0.0, "min": 2.0,
                                                                         "max": 2.0}}
    write(tmp_path / "c", [{"seed": 1, "L2": 9.0}])
    with pytest.raises(ValueError, match="seed 1 has different records"):
        summarize([tmp_path / "a", tmp_path / "c"])
    write(tmp_path / "d", [{"seed": 7, "L2": 9.0}], dtype="float32")
    with pytest.raises(ValueError, match="another configuration"):
        summarize([tmp_path / "a", tmp_path / "d"])
    (tmp_path / "e").mkdir()
    with pytest.raises(ValueError, match="no result file"):
        summarize([tmp_path / "e"])


def test_a_halo_narrower_than_the_reach_is_wrong():
    """The comparisons can fail: steps run with an understated reach (no halo) differ at the ends."""
    from fastdds.parallel.halo import advance
    from fastdds.pde import heat

    n, dx, dt, D = 40, 1 / 40, 1e-4, 1.0
    u0 = np.exp(-30 * (np.arange(n) * dx - 0.05) ** 2)
    ref = heat.ftcs(u0, dx, dt, 4, D, boundary="periodic")
    dec = Decomposition(n, True, pcomm.SingleProcess())

    def run(ext, i, j, w):
        return heat.ftcs(ext, dx, dt, j - i, D, boundary="zero")

    assert np.array_equal(advance(dec, u0, [1] * 4, 4, run), ref)
    assert np.abs(advance(dec, u0, [0] * 4, 1, run) - ref).max() > 0.1


def _one_process_and_ranks(tmp_path, ranks, command):
    """Run the fastdds `command` in one process into tmp_path/one, then under `mpiexec -n ranks`
    into tmp_path/mpi (one thread each); return the MPI run's stdout. The command runs through
    `short_cli.py` (the quick Eikonal schedule cut to 200 Adam steps: 6 runs of 2,000 took 34 s)."""
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    args = [str(Path(__file__).parent / "short_cli.py"), *command, "--out"]
    subprocess.run([sys.executable, *args, str(tmp_path / "one")], check=True, timeout=240, env=env,
                   capture_output=True)
    proc = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, *args, str(tmp_path / "mpi")], timeout=240,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


@needs_mpi
def test_reproduce_command_spreads_seeds_over_ranks(tmp_path):
    """`mpiexec -n 3 fastdds reproduce eikonal --runs 3`: each rank one seed, rank 0 the JSON, the
    records equal those of one process running the seeds in turn."""
    out = _one_process_and_ranks(tmp_path, 3, ["reproduce", "eikonal", "--quick", "--runs", "3", "--no-progress"])
    assert out.count("wrote ") == 1  # only rank 0 reports
    one, mpi = (json.loads((tmp_path / d / "eikonal_quick.json").read_text()) for d in ("one", "mpi"))
    assert [r["seed"] for r in mpi["runs"]] == [1, 2, 3]
    for a, b in zip(one["runs"], mpi["runs"]):
        assert (a["L2"], a["rel_L2"], a["loss"]) == (b["L2"], b["rel_L2"], b["loss"])
    assert sorted(p.name for p in (tmp_path / "mpi").iterdir()) == [
        "eikonal_quick.json", "eikonal_quick_run1.npz", "eikonal_quick_run2.npz", "eikonal_quick_run3.npz"]


@needs_mpi
def test_reproduce_dynpmnn_spreads_runs_over_ranks(tmp_path, shared_data):
    """`mpiexec -n 2 fastdds reproduce dynpmnn`: the (model, seed) runs spread over 2 ranks give
    the table of one process."""
    out = _one_process_and_ranks(tmp_path, 2, ["reproduce", "dynpmnn", "--quick", "--models", "dynpmnn,fhnnet:2,mlp",
                                               "--epochs", "1", "--data", str(shared_data / "cal_housing.csv.gz"),
                                               "--no-progress"])
    assert out.count("written ") == 1  # only rank 0 reports
    one, mpi = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("one", "mpi"))
    assert [r["key"] for r in mpi["rows"]] == ["dynpmnn", "fhnnet", "mlp"]
    for a, b in zip(one["rows"], mpi["rows"]):
        assert (a["key"], a["seeds"], a["diverged"], a["rmse_mean"], a["rmse_std"], a["r2_mean"]) == \
            (b["key"], b["seeds"], b["diverged"], b["rmse_mean"], b["rmse_std"], b["r2_mean"])
    assert len(list((tmp_path / "mpi" / "runs").glob("*.json"))) == 4
