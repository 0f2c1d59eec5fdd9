"""The MLP's matrix products (``fastdds.kernels.cpu.blas.gemm``, register tiles where they pay)
against OpenBLAS on the same shapes (Numba's ``np.dot``, i.e. SciPy's OpenBLAS), same run, one
thread each (OpenBLAS held to one thread).

Shapes are a layer's: op(A) B is the forward (fan_out, fan_in) @ (fan_in, S P) with S P = 2,000
columns (4 streams of a 500-point chunk); A B^T is the weight gradient (fan_in, R P) @
(R P, fan_out), R P = 1,500. GFLOP/s of both sides and the code paths (OpenBLAS's core, Numba's
target CPU, the tiles' vector width) are in `extra_info`; the products run from cache (each
shape is timed over repeated calls), as in the passes, where a chunk's streams stay in L2. No target: the PINN step bench (`test_bench_mlp.py`) carries the targets.
"""

import numba as nb
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastdds.kernels.cpu.blas import gemm


@nb.njit  # not cached: a cached caller outside kernels/ would keep the tiles it was compiled with
def _ours(trans_b, A, B, C, reps):
    for _ in range(reps):
        gemm(False, trans_b, 1.0, A, B, 0.0, C)


@nb.njit
def _openblas(A, op_B, C, reps):
    for _ in range(reps):
        np.dot(A, op_B, C)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("width", [20, 100])
@pytest.mark.parametrize("product", ["AB", "ABt"])
def test_layer_product_vs_openblas(benchmark, benchmarking, peer_times, code_paths, product, width, dtype):
    rng = np.random.default_rng(0)
    trans_b = product == "ABt"
    cols = 1500 if trans_b else 2000
    if not benchmarking:
        cols //= 10
    A = rng.standard_normal((width, cols if trans_b else width)).astype(dtype)
    B = rng.standard_normal((width, cols)).astype(dtype)
    op_B = B.T if trans_b else B  # passed as such: one layout a call, so Numba's np.dot needs no copy
    C, expected = (np.empty((width, width if trans_b else cols), dtype) for _ in range(2))
    flop = 2.0 * A.shape[0] * A.shape[1] * (width if trans_b else cols)
    reps = max(1, int(2e7 / flop)) if benchmarking else 1
    with threadpool_limits(1, user_api="blas"):
        _ours(trans_b, A, B, C, 1)
        _openblas(A, op_B, expected, 1)
        tol = 1e-5 if dtype == np.float32 else 1e-13
        assert np.abs(C - expected).max() <= tol * np.abs(expected).max()
        benchmark(_ours, trans_b, A, B, C, reps)
        t_ours, t_blas = peer_times(lambda: _ours(trans_b, A, B, C, reps), lambda: _openblas(A, op_B, expected, reps))
    benchmark.extra_info.update({
        "shape": [A.shape[0], A.shape[1], width if trans_b else cols],
        "ours_gflops": flop * reps / t_ours / 1e9,
        "openblas_gflops": flop * reps / t_blas / 1e9,
        "speedup_vs_openblas": t_blas / t_ours,
        **code_paths,
    })
