"""Every GPU benchmark of fastdds in one run, written to one JSON table.

    python bench/gpu/run_all.py [--out gpu_bench.json] [--quick | --simulate] [--only kernel|sweep|pinn ...]

Needs CuPy, numba-cuda and a CUDA device; the PINN peer needs PyTorch with CUDA (its rows say
so when it is missing). Times are GPU times from CUDA events (``cupyx.profiler.benchmark``,
median over the repeats, after warm-up). Each kernel is reported as a fraction of a
device-to-device copy timed in the same run: fraction = traffic * t_copy / t_kernel, where
t_copy copies the case's reference array once (reads and writes its bytes) and ``traffic`` is
the least memory traffic of the kernel in such copies (banded apply reads x and writes A x:
1). Goals (issue 20): >= 0.8 for banded apply and first-order Burgers at 1e8 cells; the PINN
step >= 2x PyTorch CUDA at widths 20 and 100, 10k and 1M points.

Sized for under 5 minutes on one H100/H200: a kernel case holds at most 8 arrays of 1e8
doubles (6.4 GB); every case is timed with at most `repeat` calls and at most about
CASE_SECONDS of them (`Device.seconds` times one call first and cuts the repeats), and a case
not started within RUN_SECONDS (--budget) is listed as not run; the PINN at
1M points runs in float32 only (PyTorch's double-backward graph at width 100 holds tens of GB
in float64). A case that fails (out of memory, a path not yet on the GPU) records its error
and the run goes on. --quick runs every case at small sizes (a smoke test, not a measurement).
--simulate runs every case at tiny sizes with no GPU: NumPy arrays, the GPU twins in Numba's
CUDA simulator (NUMBA_ENABLE_CUDASIM=1, set by --simulate), the PINN step on the CPU kernels and
PyTorch on the CPU, wall-clock times; it checks the script's calls and table, and its times mean
nothing (tests/test_gpu_twins.py runs it). Nothing here imports CuPy, Numba's CUDA target or
PyTorch until `main` runs, so the module imports (and its table code is tested) on machines
without a GPU.
"""

import argparse
import importlib
import json
import math
import os
import platform
import sys
import time

FULL, QUICK, SIMULATE = "full", "quick", "simulate"
MODES = (FULL, QUICK, SIMULATE)

# name, kernel group, cells (full, quick, simulate), dtype, copy traffic, goal (fraction of copy)
KERNEL_CASES = [
    ("banded.apply 3-point periodic", "banded", (10**8, 10**5, 64), "float64", 1.0, 0.8),
    ("banded.apply 3-point periodic", "banded", (10**8, 10**5, 64), "float32", 1.0, 0.8),
    ("banded.apply_transpose 3-point periodic", "banded", (10**8, 10**5, 64), "float64", 1.0, None),
    ("burgers.advance LF first order, Euler (per step)", "burgers", (10**8, 10**5, 64), "float64", 1.0, 0.8),
    ("burgers.advance LF first order, Euler (per step)", "burgers", (10**8, 10**5, 64), "float32", 1.0, 0.8),
    ("burgers.advance Rusanov van Leer, SSP-RK3 (per step)", "burgers", (10**8, 10**5, 64), "float64", 3.0, None),
    ("activations.evaluate tanh, 4 derivatives", "activations", (10**8, 10**5, 64), "float32", 2.5, None),
    ("layer.banded_branch_forward tanh", "layer", (10**7, 10**4, 64), "float64", 2.0, None),
    ("optim.adam_update", "optim", (10**8, 10**5, 64), "float32", 3.5, None),
    ("fhn.forward K = 10", "fhn", (10**7, 10**4, 64), "float32", 2.5, None),
    ("cfc.cell_backward", "cfc", (10**7, 10**4, 64), "float32", 4.0, None),
]
SWEEP_CASES = [("eikonal.sweep2d order 1, point source", (500, 64, 6)),
               ("eikonal.sweep2d order 2, point source", (500, 64, 6))]
ROW_WIDTH = 1000  # the (rows, ROW_WIDTH) layout of the layer, FHN and CfC cases (fewer cells: one row)
PINN_WIDTHS = (20, 100)
PINN_POINTS = {FULL: (10_000, 1_000_000), QUICK: (1_000,), SIMULATE: (64,)}
PINN_DTYPES = {10_000: ("float32", "float64"), 1_000_000: ("float32",), 1_000: ("float32", "float64"),
               64: ("float64",)}
CASE_SECONDS = 10.0
RUN_SECONDS = 270.0  # cases not started within this many seconds are listed as not run
NU = 0.01 / math.pi
PINN_DERIVS = ((0,), (1,), (0, 0))


def fraction_of_copy(t_kernel, t_copy, traffic=1.0):
    """traffic * t_copy / t_kernel: 1 means the kernel moves its least traffic at copy speed.

    Parameters
    ----------
    t_kernel, t_copy : float
        Seconds (GPU time) of the kernel and of one copy of the reference array.
    traffic : float
        The kernel's least memory traffic, in copies of the reference array.
    """
    if not (t_kernel > 0 and t_copy > 0 and traffic > 0):
        raise ValueError(f"times and traffic must be positive; got {t_kernel}, {t_copy}, {traffic}")
    return traffic * t_copy / t_kernel


def plan(mode):
    """The cases a run makes, as dicts (name, group, size, dtype, traffic, goal, kind)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    k = MODES.index(mode)
    rows = [dict(kind="kernel", name=n, group=g, size=s[k], dtype=d, traffic=t, goal=goal)
            for n, g, s, d, t, goal in KERNEL_CASES]
    rows += [dict(kind="sweep", name=n, group="eikonal", size=s[k], dtype="float64", traffic=None, goal=None)
             for n, s in SWEEP_CASES]
    rows += [dict(kind="pinn", name=f"PINN step, width {w}", group="mlp", size=p, dtype=d, traffic=None, goal=2.0,
                  width=w) for w in PINN_WIDTHS for p in PINN_POINTS[mode] for d in PINN_DTYPES[p]]
    return rows


def bytes_held(row):
    """Device bytes a kernel or sweep case allocates at most (PINN cases: see the docstring)."""
    item = 8 if row["dtype"] == "float64" else 4
    if row["kind"] == "kernel":
        return 8 * row["size"] * item  # at most 8 arrays of the case's size (Burgers: u, out, 3 work rows)
    if row["kind"] == "sweep":
        return 4 * (row["size"] + 4) ** 2 * 8
    raise ValueError("bytes_held covers kernel and sweep cases")


def repeats_within(seconds_per_call, repeat, budget=CASE_SECONDS):
    """How many timed calls fit in `budget` seconds: at most `repeat`, at least 3."""
    if not seconds_per_call > 0:
        return repeat
    return max(3, min(repeat, int(budget / seconds_per_call)))


def strict(value):
    """value with NaN and inf turned into None, so that the table is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def write_table(path, meta, rows):
    """Write {"meta": meta, "rows": rows} as strict JSON (NaN, inf -> null)."""
    with open(path, "w") as fh:
        json.dump(strict({"meta": meta, "rows": rows}), fh, indent=1, allow_nan=False)
        fh.write("\n")


# ---- on the device (everything below imports CuPy, or runs the simulator) ---------------------------

class Device:
    """Where the cases run: CuPy arrays on the CUDA device, kernels by ``fastdds.backend.kernels``,
    GPU times by CUDA events; or (`simulate`) NumPy arrays, the GPU twins in Numba's CUDA
    simulator, wall-clock times (which mean nothing)."""

    def __init__(self, simulate=False):
        self.simulate = simulate
        self.xp = importlib.import_module("numpy" if simulate else "cupy")

    def kernels(self, group, like):
        """The GPU twins of `group` (in the simulator: imported directly, as the arrays are NumPy's)."""
        if self.simulate:
            return importlib.import_module(f"fastdds.kernels.gpu.{group}")
        from fastdds import backend

        return backend.kernels(group, like=like)

    def synchronize(self):
        if not self.simulate:
            self.xp.cuda.Device().synchronize()

    def seconds(self, fn, repeat):
        """Median seconds of fn after one untimed call that compiles its kernels; a second call,
        timed by the wall clock, sets how many repeats fit in CASE_SECONDS. On the device the
        repeats are timed by CUDA events (cupyx.profiler.benchmark, GPU time); simulated, the
        second call's time is returned."""
        import numpy as np

        fn()
        self.synchronize()
        t0 = time.perf_counter()
        fn()
        self.synchronize()
        once = time.perf_counter() - t0
        if self.simulate:
            return once
        from cupyx.profiler import benchmark

        result = benchmark(fn, n_repeat=repeats_within(once, repeat), n_warmup=1)
        return float(np.median(result.gpu_times[0]))

    def free(self):
        if not self.simulate:
            self.xp.get_default_memory_pool().free_all_blocks()


def _kernel_case(dev, row, repeat):
    import numpy as np

    xp = dev.xp
    n, dt = row["size"], np.dtype(row["dtype"])
    x = xp.random.default_rng(0).standard_normal(n, dtype=np.float64).astype(dt)
    y = xp.empty_like(x)
    t_copy = dev.seconds(lambda: xp.copyto(y, x), repeat)
    k = dev.kernels(row["group"], like=x)
    name = row["name"]
    width = min(ROW_WIDTH, n)
    offs = xp.asarray(np.array([-1, 0, 1], np.int64))
    if row["group"] == "banded":
        diags = xp.asarray(np.array([[1.0], [-2.0], [1.0]], dt))
        fn = k.apply if ".apply " in name else k.apply_transpose
        x2, y2 = x.reshape(1, n), y.reshape(1, n)
        t = dev.seconds(lambda: fn(x2, offs, diags, 0, y2), repeat)
    elif row["group"] == "burgers":
        lf = "LF" in name
        fcode, lcode, (ra, rb) = (0, 0, ((0.0,), (1.0,))) if lf else (1, 2, ((0, .75, 1 / 3), (1, .25, 2 / 3)))
        rk_a, rk_b = xp.asarray(np.array(ra, dt)), xp.asarray(np.array(rb, dt))
        u = (0.2 * x).astype(dt)  # |u| < 1.3 w.h.p.: alpha = 1.5 and dt/dx = 0.4 keep the steps monotone
        coefs = xp.asarray(np.array([0.4, 0.0, 1.5, 0.5, 0.0, 0.0, 0.0, 2.0], dt))
        work = xp.empty((3, n + 4), dt)
        steps = 10
        t = dev.seconds(lambda: k.advance(u, y, steps, fcode, lcode, rk_a, rk_b, 0, coefs, steps, work), repeat) / steps
    elif row["group"] == "activations":
        out = xp.empty((4, n), dt)
        t = dev.seconds(lambda: k.evaluate(1, 0.0, x, out), repeat)
    elif row["group"] == "layer":
        xb = x.reshape(-1, width)
        diags = xp.asarray(np.array([[0.5], [1.0], [0.5]], dt))
        b = xp.zeros(width, dt)
        a, s1, yb = xp.empty_like(xb), xp.empty_like(xb), xp.zeros_like(xb)
        t = dev.seconds(lambda: k.banded_branch_forward(xb, offs, diags, 0, b, 1, 0.0, offs, diags, 0, a, s1, yb),
                        repeat)
    elif row["group"] == "optim":
        g, m, v = xp.ones_like(x), xp.zeros_like(x), xp.zeros_like(x)
        t = dev.seconds(lambda: k.adam_update((x,), (g,), (m,), (v,), 1e-3, 0.9, 0.999, 1e-8, 0.0, 1), repeat)
    elif row["group"] == "fhn":
        v0 = x.reshape(-1, width)
        w0, I = xp.zeros_like(v0), xp.full_like(v0, 0.5)
        a, bb, gg, h = (xp.full(width, c, dt) for c in (0.7, 0.08, 0.8, 0.1))
        vK, wK = xp.empty_like(v0), xp.empty_like(v0)
        t = dev.seconds(lambda: k.forward(v0, w0, I, a, bb, gg, h, 10, vK, wK), repeat)
    elif row["group"] == "cfc":
        dh = x.reshape(-1, width)
        f1, f2, gate = xp.tanh(dh), xp.tanh(2 * dh), xp.full_like(dh, 0.3)
        dz = xp.empty((dh.shape[0], 4 * width), dt)
        t = dev.seconds(lambda: k.cell_backward(dh, 0.7, f1, f2, gate, dz), repeat)
    else:
        raise ValueError(f"no kernel case for group {row['group']!r}")
    frac = fraction_of_copy(t, t_copy, row["traffic"])
    return dict(time_ms=t * 1e3, copy_ms=t_copy * 1e3, fraction_of_copy=frac,
                meets_goal=None if row["goal"] is None else frac >= row["goal"])


def _sweep_case(dev, row, repeat):
    """Fast sweeping from a point source in the middle of an n x n grid (2 ghost layers)."""
    import numpy as np

    xp = dev.xp
    n = row["size"]
    k = dev.kernels("eikonal", like=xp.empty(0))
    u0 = np.full((n + 4, n + 4), np.inf)
    state0 = np.full(u0.shape, 2, np.uint8)  # FIXED (the ghost layers), 1 = FAR (to solve)
    state0[2:-2, 2:-2] = 1
    u0[n // 2 + 2, n // 2 + 2], state0[n // 2 + 2, n // 2 + 2] = 0.0, 2
    side, f = xp.ones(u0.shape, np.int8), xp.ones(u0.shape)
    empty = xp.empty(0, np.int64)
    order = 2 if "order 2" in row["name"] else 1
    w = float((n - 1) ** 2)
    u0, state0 = xp.asarray(u0), xp.asarray(state0)
    u, state = xp.empty_like(u0), xp.empty_like(state0)
    sweeps = []

    def solve():
        xp.copyto(u, u0)
        xp.copyto(state, state0)
        sweeps.append(k.sweep2d(u, state, side, f, w, w, order, 0.0 if order == 1 else 1e-9, np.inf, 200,
                                empty, empty, empty)[0])

    t = dev.seconds(solve, repeat)
    return dict(time_ms=t * 1e3, sweeps=int(sweeps[-1]), cells_per_second=n * n * sweeps[-1] / t)


def _pinn_case(dev, row, repeat):
    """One PINN step (viscous Burgers residual, loss and parameter gradients, Adam update) of
    fastdds on CuPy arrays against PyTorch CUDA autograd on the same weights; the two first
    steps' gradients are compared (``grad_rel_diff``, max |ours - theirs| / max |theirs|)."""
    import numpy as np

    from fastdds.nn.mlp import MLP
    from fastdds.optim import Adam

    dt = np.dtype(row["dtype"])
    net = MLP([2] + [row["width"]] * 8 + [1], "tanh", seed=1, dtype=dt)
    X = np.random.default_rng(0).uniform(0.0, 1.0, (row["size"], 2)).astype(dt)
    out, first = {}, {}
    try:
        import torch

        where = "cpu" if dev.simulate else "cuda"
        if where == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("PyTorch has no CUDA device")
        td = torch.float32 if dt == np.float32 else torch.float64
        layers = []
        for W, b in net.weights:
            lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=td, device=where)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
                lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))
            layers += [lin, torch.nn.Tanh()]
        model = torch.nn.Sequential(*layers[:-1])
        Xt = torch.from_numpy(X).to(where).requires_grad_(True)
        topt = torch.optim.Adam(model.parameters(), lr=5e-4)

        def theirs():
            u = model(Xt)
            du = torch.autograd.grad(u.sum(), Xt, create_graph=True)[0]
            ux, ut = du[:, :1], du[:, 1:]
            uxx = torch.autograd.grad(ux.sum(), Xt, create_graph=True)[0][:, :1]
            loss = ((ut + u * ux - NU * uxx) ** 2).mean()
            topt.zero_grad()
            loss.backward()
            if "theirs" not in first:
                first["theirs"] = np.concatenate([p.grad.detach().cpu().numpy().ravel() for p in model.parameters()])
            topt.step()

        out["torch_ms"] = dev.seconds(theirs, repeat) * 1e3
    except Exception as exc:  # report the peer's failure in the row, keep the run going
        out["torch_error"] = f"{type(exc).__name__}: {exc}"
    try:
        net.params = [dev.xp.asarray(p) for p in net.params]
        Xd = dev.xp.asarray(X)
        opt = Adam(net.params, lr=5e-4)

        def ours():
            grads = None
            for batch in net.batches(Xd.shape[0], PINN_DERIVS):
                s, cache = net.streams(Xd[batch], PINN_DERIVS)
                u, ux, ut, uxx = s[()], s[(0,)], s[(1,)], s[(0, 0)]
                c = (ut + u * ux - NU * uxx) * (2.0 / Xd.shape[0])
                g = net.stream_backward(cache, {(): c * ux, (0,): c * u, (1,): c, (0, 0): -NU * c})
                grads = g if grads is None else [a + b for a, b in zip(grads, g)]
            if "ours" not in first:
                first["ours"] = np.concatenate([np.asarray(dev.xp.asnumpy(g) if not dev.simulate else g).ravel()
                                                for g in grads])
            opt.step(grads)

        out["ours_ms"] = dev.seconds(ours, repeat) * 1e3
    except Exception as exc:  # the MLP's GPU path may fail on a device: say why in the row
        out["ours_error"] = f"{type(exc).__name__}: {exc}"
    if "ours" in first and "theirs" in first:  # PyTorch's Linear weights are (out, in): the Dense layout
        out["grad_rel_diff"] = float(np.abs(first["ours"] - first["theirs"]).max() / np.abs(first["theirs"]).max())
    if "ours_ms" in out and "torch_ms" in out:
        out["speedup_vs_torch"] = out["torch_ms"] / out["ours_ms"]
        out["meets_goal"] = out["speedup_vs_torch"] >= row["goal"]
    return out


def main(argv=None):
    """Run the plan on the current device (or the simulator) and write the table; returns the rows."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="gpu_bench.json")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not a measurement")
    mode.add_argument("--simulate", action="store_true",
                      help="tiny sizes, no GPU: the twins in Numba's CUDA simulator "
                           "(a logic check; times mean nothing)")
    ap.add_argument("--only", action="append", choices=("kernel", "sweep", "pinn"),
                    help="run only the cases of this kind (repeat for several); default: all")
    ap.add_argument("--budget", type=float, default=RUN_SECONDS,
                    help=f"seconds of the whole run; cases not started by then are listed as not run "
                         f"(default {RUN_SECONDS:g})")
    args = ap.parse_args(argv)
    from fastdds import backend

    if args.simulate:
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # read when numba is first imported
        from numba import config

        if not config.ENABLE_CUDASIM:
            raise SystemExit("--simulate needs Numba's CUDA simulator: numba was imported before it was set; "
                             "run with NUMBA_ENABLE_CUDASIM=1 in the environment")
        dev, mode, repeat = Device(simulate=True), SIMULATE, 1
        meta = dict(mode=mode, device="none: Numba's CUDA simulator on NumPy arrays", timing="wall clock, "
                    "simulated: meaningless", python=platform.python_version())
    else:
        ok, why = backend.gpu_available()
        if not ok:
            raise SystemExit(f"no usable GPU: {why}")
        dev = Device()
        cp = dev.xp
        mode = QUICK if args.quick else FULL
        repeat = 5 if args.quick else 20
        props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
        meta = dict(mode=mode, device=props["name"].decode(), cupy=cp.__version__, python=platform.python_version(),
                    timing="cupyx.profiler.benchmark GPU time (CUDA events), median of the repeats")
    meta["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rows = []
    run = {"kernel": _kernel_case, "sweep": _sweep_case, "pinn": _pinn_case}
    start = time.perf_counter()
    for row in plan(mode):
        if args.only and row["kind"] not in args.only:
            continue
        t0 = time.perf_counter()
        if t0 - start > args.budget:
            row["error"] = f"not run: the run's budget of {args.budget:g} s was spent"
            rows.append(row)
            print(json.dumps(strict(row)), flush=True)
            continue
        try:
            row.update(run[row["kind"]](dev, row, repeat))
        except Exception as exc:  # one failing case must not lose the others' numbers
            row["error"] = f"{type(exc).__name__}: {exc}"
        if args.simulate and "meets_goal" in row:
            row["meets_goal"] = None  # simulated times say nothing about a goal
        row["wall_s"] = time.perf_counter() - t0
        rows.append(row)
        print(json.dumps(strict(row)), flush=True)
        dev.free()
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_table(args.out, meta, rows)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
