"""fastdds.kernels.cpu.blas: the compiled-code matrix product against NumPy in float64, on
strided operands, in both dtypes; and MLP gradients, built from such products chunk by chunk,
that add up over batches of points chunked differently."""

import os
import subprocess
import sys

import numpy as np
import pytest

from fastdds.kernels.cpu import blas, register_tile
from fastdds.nn.mlp import MLP

TOL = {np.float64: 1e-13, np.float32: 2e-6}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m, n, k", [(7, 5, 300), (1, 20, 33), (20, 1, 64), (3, 4, 0)])
def test_gemm_on_strided_operands(m, n, k, trans_a, trans_b, dtype):
    rng = np.random.default_rng(0)

    def operand(rows, cols):  # every other row of a wider array: rows strided, columns contiguous
        return rng.normal(size=(2 * rows, cols + 3)).astype(dtype)[::2, 1:cols + 1]

    A = operand(k, m) if trans_a else operand(m, k)
    B = operand(n, k) if trans_b else operand(k, n)
    C = operand(m, n)
    exact = 0.5 * C.astype(np.float64) + 2.0 * ((A.T if trans_a else A).astype(np.float64)
                                                 @ (B.T if trans_b else B).astype(np.float64))
    blas.gemm(trans_a, trans_b, 2.0, A, B, 0.5, C)
    assert np.abs(C - exact).max() <= TOL[dtype] * max(1.0, np.abs(exact).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("m, tiles, extra, k", [(1, 1, 0, 20), (2, 1, 5, 1), (3, 2, 5, 2), (4, 4, 0, 20), (9, 6, 4, 33),
                                              (20, 125, 0, 20), (5, 1, 0, 0)])
def test_register_tiles_against_float64(m, tiles, extra, k, trans_a, dtype):
    """The products with beta = 0 and at least a tile of columns (`register_tile.product`, n =
    `tiles` tiles and `extra` columns): every count of left-over rows (m mod MR), a last tile
    overlapping the one before (extra > 0), k = 0, A strided or transposed; C (NaN beforehand)
    is not read."""
    n = tiles * register_tile.TILE_BYTES // np.dtype(dtype).itemsize + extra
    rng = np.random.default_rng(1)
    A = rng.normal(size=(2 * k, m + 1)).astype(dtype)[::2, 1:] if trans_a else rng.normal(size=(m, k + 2)).astype(dtype)[:, 1:-1]
    B = rng.normal(size=(k, n + 2)).astype(dtype)[:, 2:]
    C = np.full((m, n), np.nan, dtype)
    exact = -1.5 * ((A.T if trans_a else A).astype(np.float64) @ B.astype(np.float64))
    blas.gemm(trans_a, False, -1.5, A, B, 0.0, C)
    assert np.abs(C - exact).max() <= TOL[dtype] * max(1.0, np.abs(exact).max())



@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m, n", [(1, 1), (5, 6), (20, 20), (13, 9)])
def test_dot_tiles_against_float64(m, n, dtype):
    """A B^T (`register_tile.dot_product`) at every length around the vector and span sizes:
    shorter than a vector (plain loops), a vector and one element either side (the left-over
    lanes masked), a span and a vector either side (a short last piece merged into the one
    before), several spans; row and column counts off the tile; beta != 0 on a strided C."""
    lanes = register_tile.DOT_BYTES // np.dtype(dtype).itemsize
    span = register_tile.DOT_SPAN // np.dtype(dtype).itemsize
    rng = np.random.default_rng(2)
    for k in sorted({1, lanes - 1, lanes, lanes + 1, span - 1, span + 1, span + lanes - 1, span + lanes, 3 * span + 5}):
        A = rng.normal(size=(m, k + 1)).astype(dtype)[:, 1:]
        B = rng.normal(size=(n, k)).astype(dtype)
        C = rng.normal(size=(n, m)).astype(dtype).T
        exact = 0.5 * C.astype(np.float64) - 2.0 * (A.astype(np.float64) @ B.T.astype(np.float64))
        register_tile.dot_product(-2.0, A, B, 0.5, C)
        scale = np.abs(A).max() * np.abs(B).max() * k
        assert np.abs(C - exact).max() <= TOL[dtype] * scale, k


_AS_PYTHON = """
import numpy as np
from fastdds.kernels.cpu import blas
rng = np.random.default_rng(0)
worst = 0.0
for ta in (False, True):
    for tb in (False, True):
        A = rng.normal(size=(6, 5) if ta else (5, 6))[:, ::1]
        B = rng.normal(size=(4, 6) if tb else (6, 4))
        for beta in (0.0, 0.5):
            C = np.full((5, 4), np.nan) if beta == 0 else rng.normal(size=(5, 4))
            exact = 2.0 * ((A.T if ta else A) @ (B.T if tb else B)) + (beta * C if beta else 0.0)
            blas.gemm(ta, tb, 2.0, A, B, beta, C)
            worst = max(worst, np.abs(C - exact).max())
print(worst)
"""


def test_gemm_runs_as_python():
    """Under NUMBA_DISABLE_JIT=1 (Numba's debugging switch, where the BLAS call is out of reach)
    `gemm` still computes the product, and with beta = 0 does not read C (NaN there)."""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", _AS_PYTHON], env=env, capture_output=True, text=True, check=True)
    assert float(out.stdout) <= 1e-14


def test_gradients_add_up_over_batches():
    """The gradient of a sum over 8,000 points equals the sum of the gradients over three
    batches (16 chunks of 500 points against 8 chunks of 334 per batch)."""
    X = np.random.default_rng(2).uniform(-1.0, 1.0, (8_000, 2))
    derivs = ((0,), (1,), (0, 0))
    net = MLP([2, 20, 20, 20, 1], "tanh", seed=3)
    rng = np.random.default_rng(4)
    dout = {key: rng.normal(size=(8_000, 1)) for key in [()] + list(derivs)}
    cache = net.streams(X, derivs)[1]
    whole = net.grads_to_flat(net.stream_backward(cache, dout))
    parts = 0.0
    for rows in np.array_split(np.arange(8_000), 3):
        cache = net.streams(X[rows], derivs)[1]
        parts = parts + net.grads_to_flat(net.stream_backward(cache, {key: v[rows] for key, v in dout.items()}))
    np.testing.assert_allclose(whole, parts, rtol=1e-11, atol=1e-11 * np.abs(whole).max())
