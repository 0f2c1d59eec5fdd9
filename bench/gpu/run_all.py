"""Every GPU benchmark of fastdds in one run, written to one JSON table.

    python bench/gpu/run_all.py [--out gpu_bench.json] [--quick]

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
CASE_SECONDS of them (`_gpu_seconds` times one call first and cuts the repeats); the PINN at
1M points runs in float32 only (PyTorch's double-backward graph at width 100 holds tens of GB
in float64). A case that fails (out of memory, a path not yet on the GPU) records its error
and the run goes on. --quick runs every case at small sizes (a smoke test, not a measurement).
Nothing here imports CuPy, Numba's CUDA target or PyTorch until `main` runs, so the module
imports (and its table code is tested) on machines without a GPU.
"""

import argparse
import json
import math
import platform
import sys
import time

FULL, QUICK = "full", "quick"

# name, kernel group, cells (full, quick), dtype, copy traffic, goal (fraction of copy)
KERNEL_CASES = [
    ("banded.apply 3-point periodic", "banded", (10**8, 10**5), "float64", 1.0, 0.8),
    ("banded.apply 3-point periodic", "banded", (10**8, 10**5), "float32", 1.0, 0.8),
    ("banded.apply_transpose 3-point periodic", "banded", (10**8, 10**5), "float64", 1.0, None),
    ("burgers.advance LF first order, Euler (per step)", "burgers", (10**8, 10**5), "float64", 1.0, 0.8),
    ("burgers.advance LF first order, Euler (per step)", "burgers", (10**8, 10**5), "float32", 1.0, 0.8),
    ("burgers.advance Rusanov van Leer, SSP-RK3 (per step)", "burgers", (10**8, 10**5), "float64", 3.0, None),
    ("activations.evaluate tanh, 4 derivatives", "activations", (10**8, 10**5), "float32", 2.5, None),
    ("layer.banded_branch_forward tanh", "layer", (10**7, 10**4), "float64", 2.0, None),
    ("optim.adam_update", "optim", (10**8, 10**5), "float32", 3.5, None),
    ("fhn.forward K = 10", "fhn", (10**7, 10**4), "float32", 2.5, None),
    ("cfc.cell_backward", "cfc", (10**7, 10**4), "float32", 4.0, None),
]
SWEEP_CASES = [("eikonal.sweep2d order 1, point source", (500, 64)), ("eikonal.sweep2d order 2, point source", (500, 64))]
PINN_WIDTHS = (20, 100)
PINN_POINTS = {FULL: (10_000, 1_000_000), QUICK: (1_000,)}
PINN_DTYPES = {10_000: ("float32", "float64"), 1_000_000: ("float32",), 1_000: ("float32", "float64")}
CASE_SECONDS = 10.0
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
    if mode not in (FULL, QUICK):
        raise ValueError(f"mode must be {FULL!r} or {QUICK!r}; got {mode!r}")
    k = 0 if mode == FULL else 1
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


# ---- on the device (everything below imports CuPy) -----------------------------------------------------

def _gpu_seconds(fn, repeat):
    """Median GPU seconds of fn by CUDA events (cupyx.profiler.benchmark), after one untimed
    call (which also compiles the kernels) that sets how many repeats fit in CASE_SECONDS."""
    import cupy as cp
    import numpy as np
    from cupyx.profiler import benchmark

    t0 = time.perf_counter()
    fn()
    cp.cuda.Device().synchronize()
    n = repeats_within(time.perf_counter() - t0, repeat)
    result = benchmark(fn, n_repeat=n, n_warmup=1)
    return float(np.median(result.gpu_times[0]))


def _kernel_case(row, repeat):
    import cupy as cp
    import numpy as np

    from fastdds import backend

    n, dt = row["size"], np.dtype(row["dtype"])
    rng = cp.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float64).astype(dt)
    y = cp.empty_like(x)
    t_copy = _gpu_seconds(lambda: cp.copyto(y, x), repeat)
    k = backend.kernels(row["group"], like=x)
    name = row["name"]
    if row["group"] == "banded":
        offs = cp.asarray(np.array([-1, 0, 1], np.int64))
        diags = cp.asarray(np.array([[1.0], [-2.0], [1.0]], dt))
        fn = k.apply if ".apply " in name else k.apply_transpose
        x2, y2 = x.reshape(1, n), y.reshape(1, n)
        t = _gpu_seconds(lambda: fn(x2, offs, diags, 0, y2), repeat)
    elif row["group"] == "burgers":
        fcode, lcode, (ra, rb) = (0, 0, ((0.0,), (1.0,))) if "LF" in name else (1, 2, ((0, .75, 1 / 3), (1, .25, 2 / 3)))
        rk_a, rk_b = cp.asarray(np.array(ra, dt)), cp.asarray(np.array(rb, dt))
        coefs = cp.asarray(np.array([0.4, 0.0, 4.0, 0.5, 0.0, 0.0, 0.0, 2.0], dt))
        work = cp.empty((3, n + 4), dt)
        steps = 10
        t = _gpu_seconds(lambda: k.advance(x, y, steps, fcode, lcode, rk_a, rk_b, 0, coefs, steps, work),
                         repeat) / steps
    elif row["group"] == "activations":
        out = cp.empty((4, n), dt)
        t = _gpu_seconds(lambda: k.evaluate(1, 0.0, x, out), repeat)
    elif row["group"] == "layer":
        width = 1000
        xb = x.reshape(-1, width)
        offs = cp.asarray(np.array([-1, 0, 1], np.int64))
        diags = cp.asarray(np.array([[0.5], [1.0], [0.5]], dt))
        b = cp.zeros(width, dt)
        a, s1, yb = cp.empty_like(xb), cp.empty_like(xb), cp.zeros_like(xb)
        t = _gpu_seconds(lambda: k.banded_branch_forward(xb, offs, diags, 0, b, 1, 0.0, offs, diags, 0, a, s1, yb),
                         repeat)
    elif row["group"] == "optim":
        g, m, v = cp.ones_like(x), cp.zeros_like(x), cp.zeros_like(x)
        t = _gpu_seconds(lambda: k.adam_update((x,), (g,), (m,), (v,), 1e-3, 0.9, 0.999, 1e-8, 0.0, 1), repeat)
    elif row["group"] == "fhn":
        width = 1000
        v0 = x.reshape(-1, width)
        w0, I = cp.zeros_like(v0), cp.full_like(v0, 0.5)
        a, bb, gg, h = (cp.full(width, c, dt) for c in (0.7, 0.08, 0.8, 0.1))
        vK, wK = cp.empty_like(v0), cp.empty_like(v0)
        t = _gpu_seconds(lambda: k.forward(v0, w0, I, a, bb, gg, h, 10, vK, wK), repeat)
    else:  # cfc
        width = 1000
        dh = x.reshape(-1, width)
        f1, f2, gate = cp.tanh(dh), cp.tanh(2 * dh), cp.full_like(dh, 0.3)
        dz = cp.empty((dh.shape[0], 4 * width), dt)
        t = _gpu_seconds(lambda: k.cell_backward(dh, 0.7, f1, f2, gate, dz), repeat)
    frac = fraction_of_copy(t, t_copy, row["traffic"])
    return dict(time_ms=t * 1e3, copy_ms=t_copy * 1e3, fraction_of_copy=frac,
                meets_goal=None if row["goal"] is None else frac >= row["goal"])


def _sweep_case(row, repeat):
    import cupy as cp
    import numpy as np

    from fastdds import backend

    n = row["size"]
    k = backend.kernels("eikonal", like=cp.empty(0))
    u0 = np.full((n + 4, n + 4), np.inf)
    state0 = np.full(u0.shape, 2, np.uint8)
    state0[2:-2, 2:-2] = 1
    u0[n // 2 + 2, n // 2 + 2], state0[n // 2 + 2, n // 2 + 2] = 0.0, 2
    side, f = cp.ones(u0.shape, np.int8), cp.ones(u0.shape)
    empty = cp.empty(0, np.int64)
    order = 2 if "order 2" in row["name"] else 1
    w = float((n - 1) ** 2)
    u0, state0 = cp.asarray(u0), cp.asarray(state0)
    u, state = cp.empty_like(u0), cp.empty_like(state0)
    sweeps = []

    def solve():
        cp.copyto(u, u0)
        cp.copyto(state, state0)
        sweeps.append(k.sweep2d(u, state, side, f, w, w, order, 0.0 if order == 1 else 1e-9, np.inf, 200,
                                empty, empty, empty)[0])

    t = _gpu_seconds(solve, repeat)
    return dict(time_ms=t * 1e3, sweeps=int(sweeps[-1]), cells_per_second=n * n * sweeps[-1] / t)


def _pinn_case(row, repeat):
    """One PINN step (viscous Burgers residual, loss and parameter gradients, Adam update) of
    fastdds on CuPy arrays against PyTorch CUDA autograd on the same weights."""
    import cupy as cp
    import numpy as np

    from fastdds.nn.mlp import MLP
    from fastdds.optim import Adam

    dt = np.dtype(row["dtype"])
    net = MLP([2] + [row["width"]] * 8 + [1], "tanh", seed=1, dtype=dt)
    X = np.random.default_rng(0).uniform(0.0, 1.0, (row["size"], 2)).astype(dt)
    out = {}
    try:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("PyTorch has no CUDA device")
        td = torch.float32 if dt == np.float32 else torch.float64
        layers = []
        for W, b in net.weights:
            lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=td, device="cuda")
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
                lin.bias.copy_(torch.from_numpy(np.ascontiguousarray(b)))
            layers += [lin, torch.nn.Tanh()]
        model = torch.nn.Sequential(*layers[:-1])
        Xt = torch.from_numpy(X).cuda().requires_grad_(True)
        topt = torch.optim.Adam(model.parameters(), lr=5e-4)

        def theirs():
            u = model(Xt)
            du = torch.autograd.grad(u.sum(), Xt, create_graph=True)[0]
            ux, ut = du[:, :1], du[:, 1:]
            uxx = torch.autograd.grad(ux.sum(), Xt, create_graph=True)[0][:, :1]
            loss = ((ut + u * ux - NU * uxx) ** 2).mean()
            topt.zero_grad()
            loss.backward()
            topt.step()

        out["torch_ms"] = _gpu_seconds(theirs, repeat) * 1e3
    except Exception as exc:  # report the peer's failure in the row, keep the run going
        out["torch_error"] = f"{type(exc).__name__}: {exc}"
    try:
        net.params = [cp.asarray(p) for p in net.params]
        Xd = cp.asarray(X)
        opt = Adam(net.params, lr=5e-4)

        def ours():
            grads = None
            for batch in net.batches(Xd.shape[0], PINN_DERIVS):
                s, cache = net.streams(Xd[batch], PINN_DERIVS)
                u, ux, ut, uxx = s[()], s[(0,)], s[(1,)], s[(0, 0)]
                c = (ut + u * ux - NU * uxx) * (2.0 / Xd.shape[0])
                g = net.stream_backward(cache, {(): c * ux, (0,): c * u, (1,): c, (0, 0): -NU * c})
                grads = g if grads is None else [a + b for a, b in zip(grads, g)]
            opt.step(grads)

        out["ours_ms"] = _gpu_seconds(ours, repeat) * 1e3
    except Exception as exc:  # the MLP's GPU path may not run yet: say why in the row
        out["ours_error"] = f"{type(exc).__name__}: {exc}"
    if "ours_ms" in out and "torch_ms" in out:
        out["speedup_vs_torch"] = out["torch_ms"] / out["ours_ms"]
        out["meets_goal"] = out["speedup_vs_torch"] >= row["goal"]
    return out


def main(argv=None):
    """Run the plan on the current device and write the table; returns the rows."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="gpu_bench.json")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke test, not a measurement")
    args = ap.parse_args(argv)
    from fastdds import backend

    ok, why = backend.gpu_available()
    if not ok:
        raise SystemExit(f"no usable GPU: {why}")
    import cupy as cp
    mode = QUICK if args.quick else FULL
    repeat = 5 if args.quick else 20
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    meta = dict(mode=mode, device=props["name"].decode(), cupy=cp.__version__, python=platform.python_version(),
                started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), timing="cupyx.profiler.benchmark "
                "GPU time (CUDA events), median of the repeats")
    rows = []
    run = {"kernel": _kernel_case, "sweep": _sweep_case, "pinn": _pinn_case}
    for row in plan(mode):
        t0 = time.perf_counter()
        try:
            row.update(run[row["kind"]](row, repeat))
        except Exception as exc:  # one failing case must not lose the others' numbers
            row["error"] = f"{type(exc).__name__}: {exc}"
        row["wall_s"] = time.perf_counter() - t0
        rows.append(row)
        print(json.dumps(strict(row)), flush=True)
        cp.get_default_memory_pool().free_all_blocks()
    meta["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write_table(args.out, meta, rows)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
