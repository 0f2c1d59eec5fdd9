"""One PINN training step (viscous Burgers residual) of fastdds.nn.mlp against PyTorch autograd.

Step = forward with u, u_x, u_t, u_xx at N points, loss mean((u_t + u u_x - nu u_xx)^2), parameter
gradients, Adam update. fastdds: `MLP.streams(X, ((0,), (1,), (0, 0)))`, `MLP.stream_backward`,
`fastdds.optim.Adam.step`. PyTorch: nested torch.autograd.grad with create_graph=True,
loss.backward(), torch.optim.Adam.step(), same weights (loss and gradients are checked to agree
before timing). PyTorch runs on 2
threads (1 under --benchmark-disable); NumPy's BLAS on what the environment gives it
(OPENBLAS_NUM_THREADS; both thread counts are reported). On a machine shared with other jobs
2-thread OpenBLAS thrashes (threads wait for descheduled partners): run with
OPENBLAS_NUM_THREADS=1 there.
Networks 2 -> 8 x width -> 1, tanh, N = 10,000 (N = 500 under --benchmark-disable).
Targets: >= 3x PyTorch at width 20, >= 2x at width 100 (not asserted).

Work measured: the matrix-product GFLOP of one step on each side (ours counted from the GEMM shapes
it runs, PyTorch's by torch.utils.flop_counter.FlopCounterMode). PyTorch runs forward, dW and dA
products over 4 streams; ours runs the forward over 4 and dW, dA over 3, since u_t and u_xx feed
no other stream and share one reverse chain (``fastdds.kernels.cpu.mlp.taylor_backward``).

Batches: ours runs the points in the batches `MLP.batches` asks for (5 of 2,000 at width 20
float32, 9 of 1,111 at width 20 float64, one of 10,000 at width 100), so that a batch's kept
streams stay in cache between its forward and reverse pass; PyTorch runs all points at once.

Distance from the product floor: the floor is the step's matrix-product GFLOP at the rate the
machine's BLAS reaches on one large product (NumPy's matmul of two 1024 x 1024 matrices in the
step's dtype, on as many BLAS threads as the step has workers, best of 5), i.e. the time the
products alone would take at large-matrix speed; `ours_x_floor` = step time / floor (1 is the
floor; the element-wise work, the Adam update and the small products' lower rate make up the
rest), `torch_x_floor` the same for PyTorch with its own GFLOP. At width 20 the products have
K = 20 and run well below the large-matrix rate, so the floor is optimistic there.

Code paths (in `extra_info`): the OpenBLAS core, Numba's target CPU, the register tiles' vector width
and PyTorch's capability.
An AVX2-only CPU (Zen 3) can be emulated on an AVX-512 one with NUMBA_CPU_NAME=znver3
NUMBA_CPU_FEATURES= (and an empty NUMBA_CACHE_DIR), ATEN_CPU_CAPABILITY=avx2,
MKL_ENABLE_INSTRUCTIONS=AVX2, ONEDNN_MAX_CPU_ISA=AVX2, OPENBLAS_CORETYPE=Zen: the instruction
set only, not that core's caches or clocks.

Memory measured: bytes kept for the reverse pass - fastdds: the arrays of its workspace that
`backward` reads (layer inputs, z streams, sigma', sigma'', sigma''' per hidden layer), of the
largest batch;
PyTorch: the distinct tensors autograd saved for backward (saved_tensors_hooks, counted once
per storage), i.e. the same quantity on both sides, not allocator peaks.
"""

import time

import numpy as np
import pytest

from fastdds.nn.mlp import LANES, MLP
from fastdds.optim import Adam
from fastdds.threads import num_workers

torch = pytest.importorskip("torch")

NU = 0.01 / np.pi
DERIVS = ((0,), (1,), (0, 0))


def ours_step(net, X):
    """Loss, parameter gradients, and the most bytes a batch kept for its reverse pass, by the
    hand-written streams and reverse pass over the batches the network asks for (as
    ``fastdds.pinn.loss.loss_and_grads`` runs them)."""
    loss, grads, kept = 0.0, None, 0
    for batch in net.batches(X.shape[0], DERIVS):
        out, cache = net.streams(X[batch], DERIVS)
        u, ux, ut, uxx = out[()], out[(0,)], out[(1,)], out[(0, 0)]
        r = ut + u * ux - NU * uxx
        c = r * (2.0 / X.shape[0])
        kept = max(kept, cache.nbytes)
        g = net.stream_backward(cache, {(): c * ux, (0,): c * u, (1,): c, (0, 0): -NU * c})
        grads = g if grads is None else [a + b for a, b in zip(grads, g)]
        loss += float(np.sum(r * r, dtype=np.float64)) / X.shape[0]
    return loss, grads, kept


def torch_model(net):
    td = torch.float32 if net.dtype == np.float32 else torch.float64
    layers = []
    for W, b in net.weights:  # (fan_out, fan_in), as torch.nn.Linear stores its weight
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=td)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        layers += [lin, torch.nn.Tanh()]
    return torch.nn.Sequential(*layers[:-1])


def torch_step(model, X):
    """The same loss and gradients by PyTorch autograd (double backward for u_xx); X is used as is
    when it already requires grad."""
    x = X if X.requires_grad else X.clone().requires_grad_(True)
    u = model(x)
    du = torch.autograd.grad(u.sum(), x, create_graph=True)[0]
    ux, ut = du[:, :1], du[:, 1:]
    uxx = torch.autograd.grad(ux.sum(), x, create_graph=True)[0][:, :1]
    loss = ((ut + u * ux - NU * uxx) ** 2).mean()
    model.zero_grad()
    loss.backward()
    return loss


def torch_saved_bytes(model, X):
    seen = {}

    def pack(t):
        seen[(t.untyped_storage().data_ptr(), t.dtype)] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        torch_step(model, X)
    return sum(seen.values())


def ours_gflop(sizes, n, streams=4, reverse=3):
    """Matrix-product GFLOP of `ours_step`: per layer the forward product over streams * n
    columns, the dW product and (all but the first layer) the dA product over reverse * n (u,
    u_x, and one chain for the leaves u_t and u_xx)."""
    layers = enumerate(zip(sizes[:-1], sizes[1:]))
    return sum(2 * n * a * b * (streams + reverse * (2 if l else 1)) for l, (a, b) in layers) / 1e9


def torch_gflop(model, X):
    """GFLOP PyTorch's step runs, by FlopCounterMode (which needs a non-leaf input to grad)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        torch_step(model, X.clone().requires_grad_(True) * 1.0)
    return counter.get_total_flops() / 1e9


def blas_gflops(dtype, threads):
    """GFLOP/s of NumPy's BLAS on a 1024^3 product in `dtype` on `threads` BLAS threads, best of 5."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    A, B = (rng.standard_normal((1024, 1024)).astype(dtype) for _ in range(2))
    out = np.empty_like(A)
    with threadpool_limits(threads, user_api="blas"):
        np.matmul(A, B, out=out)
        best = np.inf
        for _ in range(5):
            t0 = time.perf_counter()
            np.matmul(A, B, out=out)
            best = min(best, time.perf_counter() - t0)
    return 2 * 1024**3 / best / 1e9


def blas_threads():
    """Threads of NumPy's BLAS (None when threadpoolctl is not installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("width", [20, 100])
def test_pinn_step_vs_torch(benchmark, benchmarking, peer_times, code_paths, width, dtype):
    torch.set_num_threads(2 if benchmarking else 1)  # 1: a quick run on a loaded machine stays quick
    n = 10_000 if benchmarking else 500
    net = MLP([2] + [width] * 8 + [1], "tanh", seed=1, dtype=dtype)
    X = np.random.default_rng(0).uniform([0.0, 0.0], [1.0, 1.0], (n, 2)).astype(dtype)
    model = torch_model(net)
    Xt = torch.from_numpy(X)

    loss, grads, kept = ours_step(net, X)
    tloss = torch_step(model, Xt)
    tgrads = [g for lin in model[::2] for g in (lin.weight.grad, lin.bias.grad)]
    tol = 2e-3 if dtype == np.float32 else 1e-9
    assert abs(loss - tloss.item()) <= tol * abs(loss)
    flat = np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grads])  # (fan_out, fan_in) as torch
    tflat = np.concatenate([g.detach().numpy().ravel() for g in tgrads])
    assert np.linalg.norm(flat - tflat) <= tol * np.linalg.norm(tflat)

    opt, topt = Adam(net.params, lr=5e-4), torch.optim.Adam(model.parameters(), lr=5e-4)

    def ours():
        opt.step(ours_step(net, X)[1])

    def theirs():
        torch_step(model, Xt)
        topt.step()

    benchmark(ours)
    repeat = 3 if benchmarking else 1
    t_ours, t_torch = peer_times((ours, repeat, 1), (theirs, repeat, 1))
    gflop, tgflop = ours_gflop(net.sizes, n), torch_gflop(model, Xt)
    rate = blas_gflops(dtype, num_workers(LANES))  # the threads the step runs on
    benchmark.extra_info.update({
        "points": n,
        "ours_ms": 1e3 * t_ours,
        "torch_ms": 1e3 * t_torch,
        "speedup_vs_torch": t_torch / t_ours,
        "ours_gflop": gflop,
        "torch_gflop": tgflop,
        "blas_gflops": rate,
        "floor_ms": 1e3 * gflop / rate,
        "ours_x_floor": t_ours * rate / gflop,
        "torch_x_floor": t_torch * rate / tgflop,
        "ours_saved_MB": kept / 2**20,
        "torch_saved_MB": torch_saved_bytes(model, Xt) / 2**20,
        "torch_threads": torch.get_num_threads(),
        "blas_threads": blas_threads(),
        **code_paths, "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
    })
