"""Banded (stencil) operator kernels (Numba).

A banded operator stores ``diags`` of shape (m, n) or (m, 1) (constant coefficients) and
integer ``offsets`` of shape (m,), so that

    (A x)_i = sum_k diags[k, i] * x[col(i + offsets[k])]

with ``col`` the boundary map: periodic wraps, dirichlet drops the term, neumann mirrors
(-1 -> 1, n -> n - 2). Inputs are C-contiguous 2-D (batch, n); offsets satisfy |o| < n.
Rows are processed in blocks of 512, two diagonals at a time, so the inner loop is a
contiguous, vectorisable axpy and the output block never leaves L1 (a plain loop over
rows with a runtime-length inner loop over diagonals measured 5x slower than copy).
"""

import numba as nb
import numpy as np

BLOCK = 512


@nb.njit(inline="always", cache=True)
def _col(j, n, bc):
    """Column that index j refers to under boundary code bc; -1 when the term is dropped."""
    if 0 <= j < n:
        return j
    if bc == 0:
        return j % n
    if bc == 1:
        return -1
    return -j if j < 0 else 2 * (n - 1) - j


@nb.njit(inline="always", cache=True)
def _axpy2_const(out, c0, x0, c1, x1, first):
    """out (=|+=) c0 x0 + c1 x1 with scalar c0, c1 over contiguous slices (vectorises)."""
    if first:
        for i in range(out.size):
            out[i] = c0 * x0[i] + c1 * x1[i]
    else:
        for i in range(out.size):
            out[i] += c0 * x0[i] + c1 * x1[i]


@nb.njit(inline="always", cache=True)
def _axpy2_diag(out, d0, x0, d1, x1, w, first):
    """out (=|+=) w (d0 * x0 + d1 * x1), elementwise; w = 0.5 with (d1, x1) = (d0, x0) gives
    d0 * x0 exactly (doubling and halving are exact)."""
    if first:
        for i in range(out.size):
            out[i] = w * (d0[i] * x0[i] + d1[i] * x1[i])
    else:
        for i in range(out.size):
            out[i] += w * (d0[i] * x0[i] + d1[i] * x1[i])


@nb.njit(inline="always", cache=True)
def _sweep(out, lo, hi, x, offsets, diags, sign, acc):
    """Blocked sweep over rows [lo, hi) that need no boundary map.

    sign = 1: out[i] = sum_k diags[k, i] x[i + o_k]  (A x).
    sign = -1: out[j] = sum_k diags[k, j - o_k] x[j - o_k]  (gather form of A^T x).
    acc: add to out instead of overwriting it.
    Diagonals go two at a time (a lone last one pairs with itself at zero/half weight), halving the passes
    over the output block; slices keep every index non-negative, so Numba emits no
    wraparound checks and the loops vectorise.
    """
    m = offsets.size
    const = diags.shape[1] == 1
    one = np.ones(1, diags.dtype)[0]  # weights in the operator's dtype: a float64 literal would promote float32
    half = one / (one + one)
    for b0 in range(lo, hi, BLOCK):
        b1 = min(b0 + BLOCK, hi)
        ob = out[b0:b1]
        for k in range(0, m, 2):
            k1 = min(k + 1, m - 1)
            o0, o1 = sign * offsets[k], sign * offsets[k1]
            x0, x1 = x[b0 + o0:b1 + o0], x[b0 + o1:b1 + o1]
            if const:
                _axpy2_const(ob, diags[k, 0], x0, diags[k1, 0] * (one if k1 > k else one - one), x1, k == 0 and not acc)
            else:
                e0 = b0 if sign == 1 else b0 + o0
                e1 = b0 if sign == 1 else b0 + o1
                _axpy2_diag(ob, diags[k, e0:e0 + b1 - b0], x0, diags[k1, e1:e1 + b1 - b0], x1,
                            one if k1 > k else half, k == 0 and not acc)


@nb.njit(inline="always", cache=True)
def _interior(n, offsets):
    """Rows [lo, hi) whose every term i + o_k lies inside [0, n)."""
    lo = min(n, max(0, -offsets.min()))
    hi = max(lo, min(n, n - offsets.max()))
    return lo, hi


@nb.njit(inline="always", cache=True)
def _edge_row(i, n, x, offsets, diags, bc):
    cs = 0 if diags.shape[1] == 1 else i
    acc = 0.0 * x[0]
    for k in range(offsets.size):
        j = _col(i + offsets[k], n, bc)
        if j >= 0:
            acc += diags[k, cs] * x[j]
    return acc


@nb.njit(inline="always", cache=True)
def _transpose_edge(j, n, y, offsets, diags):
    """(A^T y)_j from the rows i = j - o_k that reach column j without the boundary map."""
    const = diags.shape[1] == 1
    acc = 0.0 * y[0]
    for k in range(offsets.size):
        i = j - offsets[k]
        if 0 <= i < n:
            acc += diags[k, 0 if const else i] * y[i]
    return acc


@nb.njit(inline="always", cache=True)
def _scatter_mapped(i, n, y, offsets, diags, bc, out):
    """Add row i's terms that reach their column through the boundary map to A^T y."""
    const = diags.shape[1] == 1
    for k in range(offsets.size):
        jj = i + offsets[k]
        if jj < 0 or jj >= n:
            j = _col(jj, n, bc)
            if j >= 0:
                out[j] += diags[k, 0 if const else i] * y[i]


@nb.njit(inline="always", cache=True)
def apply_row(x, offsets, diags, bc, out, acc):
    """out = A x (acc False) or out += A x (acc True) for one state x of shape (n,)."""
    n = x.size
    lo, hi = _interior(n, offsets)
    _sweep(out, lo, hi, x, offsets, diags, 1, acc)
    for e in range(lo + n - hi):
        i = e if e < lo else hi + e - lo
        v = _edge_row(i, n, x, offsets, diags, bc)
        out[i] = out[i] + v if acc else v


@nb.njit(inline="always", cache=True)
def apply_transpose_row(y, offsets, diags, bc, out, acc):
    """out = A^T y (acc False) or out += A^T y (acc True) for one y of shape (n,)."""
    n = y.size
    lo, hi = _interior(n, offsets)
    tlo = min(n, max(0, offsets.max()))
    thi = max(tlo, min(n, n + offsets.min()))
    _sweep(out, tlo, thi, y, offsets, diags, -1, acc)
    for e in range(tlo + n - thi):
        j = e if e < tlo else thi + e - tlo
        v = _transpose_edge(j, n, y, offsets, diags)
        out[j] = out[j] + v if acc else v
    for e in range(lo + n - hi):
        i = e if e < lo else hi + e - lo
        _scatter_mapped(i, n, y, offsets, diags, bc, out)


@nb.njit(cache=True)
def apply(x, offsets, diags, bc, out):
    """out = A x for each row of x.

    Parameters
    ----------
    x : ndarray, shape (batch, n), float32 or float64
    offsets : ndarray of int64, shape (m,)
    diags : ndarray, shape (m, n) or (m, 1), dtype of x
    bc : int
        Boundary code (0 periodic, 1 dirichlet, 2 neumann).
    out : ndarray, shape (batch, n), dtype of x; overwritten
    """
    for b in range(x.shape[0]):
        apply_row(x[b], offsets, diags, bc, out[b], False)


@nb.njit(cache=True)
def apply_transpose(y, offsets, diags, bc, out):
    """out = A^T y for each row of y; same arguments as `apply`."""
    for b in range(y.shape[0]):
        apply_transpose_row(y[b], offsets, diags, bc, out[b], False)


@nb.njit(cache=True)
def diag_grad(x, dy, offsets, bc, out):
    """Accumulate the gradient of sum(dy * (A x)) with respect to the diagonals into out.

    Parameters
    ----------
    x, dy : ndarray, shape (batch, n)
    offsets : ndarray of int64, shape (m,)
    bc : int
    out : ndarray, shape (m, n) or (m, 1); accumulated into (summed over rows when (m, 1))
    """
    batch, n = x.shape
    const = out.shape[1] == 1
    for b in range(batch):
        xb, gb = x[b], dy[b]
        for k in range(offsets.size):
            o = offsets[k]
            for i in range(n):
                j = _col(i + o, n, bc)
                if j >= 0:
                    out[k, 0 if const else i] += gb[i] * xb[j]
