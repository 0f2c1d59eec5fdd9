"""A matrix product callable from compiled code, so that a whole forward or reverse pass of a
network runs in one nogil call (Numba).

`gemm` reaches the BLAS that Numba's own ``np.dot`` uses (SciPy's, through Numba's helper
``numba_xxgemm``), but takes strided row-major operands, accumulates with beta, and allocates
nothing but its two scalars. The products of layers up to NARROW = 128 wide, op(A) @ B with
beta = 0 and B wide, and A B^T, go to `register_tile` instead, which reads the operands in place
where OpenBLAS packs them first (one thread, widths 20 and 100: 1.05-2.1x OpenBLAS's Haswell
kernel with AVX2 code, 0.94-1.27x its SkylakeX kernel with AVX-512 code).
"""

import numba as nb
import numpy as np
from numba.core import types
from numba.np.linalg import ensure_blas

from .llvm_vectors import PURE_PYTHON
from .register_tile import TILE_BYTES, dot_product, product

ensure_blas()  # loads SciPy's BLAS now: a thread limit set later (threadpoolctl) must see it

_XXGEMM = types.ExternalFunction("numba_xxgemm", types.intc(
    types.char, types.char, types.char, types.intp, types.intp, types.intp, types.voidptr,
    types.voidptr, types.intp, types.voidptr, types.intp, types.voidptr, types.voidptr, types.intp))
_N, _T = 78, 84  # 'N', 'T'
NARROW = 128  # layers up to this wide run on the register tiles: op(A) B with k <= NARROW (B's
# k x TILE_BYTES block stays in L1), A B^T with both sides <= NARROW (C's tiles stream A from L2)


@nb.njit(cache=True, nogil=True)
def gemm(trans_a, trans_b, alpha, A, B, beta, C):
    """C = alpha op(A) op(B) + beta C, op(X) = X.T if trans_x else X.

    Parameters
    ----------
    trans_a, trans_b : bool
    alpha, beta : float
    A, B : 2-D float32 or float64 arrays of C's dtype, unit stride along the last axis (rows
        may be strided, e.g. the first s streams of a (H, S N) stream matrix)
    C : 2-D array (m, n), as A; overwritten (read first when beta != 0); must not overlap A
        or B. op(A) is (m, k) and op(B) is (k, n); the caller checks the shapes.
    """
    m, n = C.shape
    k = A.shape[0] if trans_a else A.shape[1]
    if m == 0 or n == 0:
        return
    if PURE_PYTHON:  # neither the tiles' intrinsics nor the BLAS call run without compiling
        _gemm_numpy(trans_a, trans_b, alpha, A, B, beta, C)
        return
    if not trans_b and beta == 0.0 and n * C.itemsize >= TILE_BYTES and k <= NARROW:
        product(alpha, A.T if trans_a else A, B, C)
        return
    if not trans_a and trans_b and max(m, n) <= NARROW:
        dot_product(alpha, A, B, beta, C)
        return
    scal = np.empty(2, C.dtype)
    scal[0] = alpha
    scal[1] = beta
    # Row-major C is column-major C^T = op(B)^T op(A)^T: the BLAS call takes B first.
    _XXGEMM(115 if C.itemsize == 4 else 100, _T if trans_b else _N, _T if trans_a else _N, n, m, k,
            scal[0:].ctypes, B.ctypes, _ld(B), A.ctypes, _ld(A), scal[1:].ctypes, C.ctypes, _ld(C))


def _gemm_numpy(trans_a, trans_b, alpha, A, B, beta, C):
    """`gemm` by NumPy, for NUMBA_DISABLE_JIT=1 (C is not read when beta == 0, as in BLAS)."""
    product = alpha * ((A.T if trans_a else A) @ (B.T if trans_b else B))
    C[...] = product if beta == 0 else product + beta * C


@nb.njit(cache=True, inline="always")
def _ld(X):
    """Leading dimension of a row-major matrix with unit-stride rows, as BLAS wants it (a single
    row may come with any stride, even 0)."""
    return X.strides[0] // X.itemsize if X.shape[0] > 1 else max(1, X.shape[1])
