"""Banded (stencil) operator kernels, GPU twins of ``fastdds.kernels.cpu.banded``.

Same layout and boundary codes as the CPU kernels: ``diags`` (m, n) or (m, 1), ``offsets``
(m,) int64, ``(A x)_i = sum_k diags[k, i] x[col(i + offsets[k])]``. One thread per output
element, in gather form for both A x and A^T x (no atomics, so results do not depend on thread
order): thread j of A^T y sums the terms of every row i that reaches column j, directly
(i = j - o_k) or through the boundary map (periodic: i = j -+ n - o_k; neumann: the mirrored
rows i = -j - o_k and i = 2 (n - 1) - j - o_k). Sums run in a different order from the CPU
kernels, so results agree to round-off, not bit for bit. The boundary map is the CPU module's `_col`
(Numba compiles the CPU scalar helpers for the device too).
"""

from numba import cuda

from .. import BOUNDARY_CODES
from ..cpu.banded import _col as _cpu_col
from .launch import array_module, device, launch

_col = device(_cpu_col)

PERIODIC, ZERO = BOUNDARY_CODES["periodic"], BOUNDARY_CODES["zero"]


@cuda.jit(device=True)
def row_apply(x, b, i, offsets, diags, bc):
    """(A x[b])_i for row b of the 2-D array x."""
    n = x.shape[1]
    cs = 0 if diags.shape[1] == 1 else i
    acc = x[b, 0] - x[b, 0]
    for k in range(offsets.size):
        j = _col(i + offsets[k], n, bc)
        if j >= 0:
            acc += diags[k, cs] * x[b, j]
    return acc


@cuda.jit(device=True)
def row_apply_transpose(y, b, j, offsets, diags, bc):
    """(A^T y[b])_j for row b of the 2-D array y, gathered over the rows that reach column j."""
    n = y.shape[1]
    const = diags.shape[1] == 1
    acc = y[b, 0] - y[b, 0]
    for k in range(offsets.size):
        o = offsets[k]
        i = j - o
        if 0 <= i < n:
            acc += diags[k, 0 if const else i] * y[b, i]
        if bc != ZERO:
            if bc == PERIODIC:
                i1, i2, ok1, ok2 = j - n - o, j + n - o, True, True
            else:
                i1, i2, ok1, ok2 = -j - o, 2 * (n - 1) - j - o, j > 0, j < n - 1
            if ok1 and 0 <= i1 < n:
                acc += diags[k, 0 if const else i1] * y[b, i1]
            if ok2 and 0 <= i2 < n:
                acc += diags[k, 0 if const else i2] * y[b, i2]
    return acc


@cuda.jit
def _apply(x, offsets, diags, bc, out, acc):
    t = cuda.grid(1)
    n = x.shape[1]
    if t < x.shape[0] * n:
        b, i = t // n, t % n
        v = row_apply(x, b, i, offsets, diags, bc)
        out[b, i] = out[b, i] + v if acc else v


@cuda.jit
def _apply_transpose(y, offsets, diags, bc, out, acc):
    t = cuda.grid(1)
    n = y.shape[1]
    if t < y.shape[0] * n:
        b, j = t // n, t % n
        v = row_apply_transpose(y, b, j, offsets, diags, bc)
        out[b, j] = out[b, j] + v if acc else v


@cuda.jit
def _diag_products(x, dy, offsets, bc, out):
    """out[k, i] += sum_b dy[b, i] x[b, col(i + o_k)], one thread per (k, i)."""
    batch, n = x.shape
    t = cuda.grid(1)
    if t < offsets.size * n:
        k, i = t // n, t % n
        j = _col(i + offsets[k], n, bc)
        if j >= 0:
            acc = out[k, i]
            for b in range(batch):
                acc += dy[b, i] * x[b, j]
            out[k, i] = acc


def apply_into(x, offsets, diags, bc, out, acc):
    """out = A x (acc False) or out += A x (acc True); arguments as `apply`."""
    launch(_apply, x.size, x, offsets, diags, bc, out, acc)


def apply_transpose_into(y, offsets, diags, bc, out, acc):
    """out = A^T y (acc False) or out += A^T y (acc True); arguments as `apply`."""
    launch(_apply_transpose, y.size, y, offsets, diags, bc, out, acc)


def apply(x, offsets, diags, bc, out):
    """out = A x for each row of x.

    Parameters
    ----------
    x : device array, shape (batch, n), float32 or float64, C-contiguous
    offsets : device array of int64, shape (m,)
    diags : device array, shape (m, n) or (m, 1), dtype of x
    bc : int
        Boundary code of ``fastdds.kernels.BOUNDARY_CODES``: periodic, zero or neumann.
    out : device array, shape (batch, n), dtype of x; overwritten
    """
    apply_into(x, offsets, diags, bc, out, False)


def apply_transpose(y, offsets, diags, bc, out):
    """out = A^T y for each row of y; same arguments as `apply`."""
    apply_transpose_into(y, offsets, diags, bc, out, False)


def product(transpose, diags):
    """`apply_transpose` (transpose True) or `apply`: on the device one kernel serves every form
    of diagonals."""
    return apply_transpose if transpose else apply


def diag_grad(x, dy, offsets, bc, out):
    """Accumulate the gradient of sum(dy * (A x)) with respect to the diagonals into out.

    Parameters
    ----------
    x, dy : device array, shape (batch, n)
    offsets : device array of int64, shape (m,)
    bc : int
    out : device array, shape (m, n) or (m, 1); accumulated into (summed over rows when
        (m, 1): per-column products first, then one reduction of the array module)
    """
    m, n = offsets.size, x.shape[1]
    if out.shape[1] == n:
        launch(_diag_products, m * n, x, dy, offsets, bc, out)
        return
    per_column = array_module(out).zeros((m, n), dtype=out.dtype)
    launch(_diag_products, m * n, x, dy, offsets, bc, per_column)
    out[:, 0] += per_column.sum(axis=1)
