"""The weight-gradient product of a narrow layer, in pieces that BLAS runs at full speed.

OpenBLAS (as NumPy ships it, on x86-64) takes a faster small-matrix kernel when M N K <= 1e6.
A width-20 layer's weight gradient dW = A G^T, (20, K) by (K, 20) with K = 5,000 points x
streams and over, is far above that and ran at 41 GF/s (float32, one thread, AMD EPYC Zen 4),
where the same work in pieces of K = 2,500 ran at 105 GF/s (float64: 27 against 53). In a
Burgers PINN step this took 14.7 ms to 12.4 ms (float32, 2 threads).

Only this product is cut. Cutting the forward and input-gradient products (M K N with N the
long side) the same way was 1.3x faster in isolation but 3-6 % slower inside the step, in both
dtypes, so they run whole. From width 50 the pieces would be thinner than MIN_PIECE and bring
nothing measurable; the product runs whole there too. The pieces are a fixed function of the
shapes, so results depend on nothing else.

The pieces go through np.dot, not np.matmul: np.matmul keeps the GIL for the whole product
when its output is small (20 x 20 here), so the weight gradients of two threads ran one after
the other (0.95x the throughput of one thread); np.dot releases it (1.9x, float32).
"""

import numpy as np

SMALL_GEMM = 1_000_000  # OpenBLAS's small-matrix kernels: M N K at most this
MIN_PIECE = 512  # shared-dimension length below which a piece loses more per call than it gains


def _piece(m, n, k):
    """Length of the pieces of the shared dimension k of an (m, k) @ (k, n) product: k itself
    when no cut pays."""
    step = SMALL_GEMM // max(1, m * n)
    return k if step < MIN_PIECE else min(k, step)


def add_matmul_t(A, B, out, tmp):
    """out += A @ B.T, the shared dimension (the columns of A and B) taken in pieces of at most
    SMALL_GEMM / (M N).

    Parameters
    ----------
    A : ndarray, shape (M, K); rows may be strided, columns contiguous
    B : ndarray, shape (N, K), as A
    out : ndarray, shape (M, N), A's dtype, updated in place
    tmp : ndarray, shape (M, N), A's dtype, C-contiguous scratch

    Returns
    -------
    out
    """
    k = A.shape[1]
    step = _piece(A.shape[0], B.shape[0], k)
    for lo in range(0, k, step):
        out += np.dot(A[:, lo:lo + step], B[:, lo:lo + step].T, out=tmp)
    return out
