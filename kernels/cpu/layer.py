"""Fused layer kernels for banded operators (Numba).

One branch y += Q sigma(R x + b) of a layer, forward and backward, in one kernel each, one
state (row) at a time so the row's intermediate vectors stay in cache. The P x term and the
parameter gradients reuse the banded kernels.
"""

import numba as nb

from .activations import act_derivs
from .banded import ACCUMULATE, OVERWRITE, apply_row, apply_transpose_row, diag_grad


@nb.njit(cache=True)
def banded_branch_forward(x, r_off, r_diag, r_bc, b, code, alpha, q_off, q_diag, q_bc, a, s1, y):
    """y += Q sigma(R x + b) for every row of x.

    Parameters
    ----------
    x : ndarray, shape (batch, n)
    r_off, r_diag, r_bc : R as banded offsets (m_R,), diagonals (m_R, n or 1), boundary code
    b : ndarray, shape (n,)
        Bias (zeros for none).
    code, alpha : activation code and parameter (``fastdds.kernels.ACTIVATION_CODES``)
    q_off, q_diag, q_bc : Q likewise
    a, s1 : ndarray, shape (batch, n); receive sigma(z) and sigma'(z) for the backward
    y : ndarray, shape (batch, n); accumulated into
    """
    n = x.shape[1]
    for row in range(x.shape[0]):
        ar, sr = a[row], s1[row]
        apply_row(x[row], r_off, r_diag, r_bc, ar, OVERWRITE)
        for i in range(n):
            f0, f1, _, _ = act_derivs(code, alpha, ar[i] + b[i])
            ar[i] = f0
            sr[i] = f1
        apply_row(ar, q_off, q_diag, q_bc, y[row], ACCUMULATE)


@nb.njit(cache=True)
def banded_branch_backward(x, dy, a, s1, r_off, r_diag, r_bc, q_off, q_diag, q_bc, dz, dx, g_r, g_q, g_b):
    """Reverse pass of `banded_branch_forward`.

    Parameters
    ----------
    x, dy, a, s1 : ndarray, shape (batch, n): input, output gradient, saved sigma and sigma'
    r_*, q_* : as in the forward
    dz : ndarray, shape (batch, n); receives dL/dz = (Q^T dy) sigma'(z)
    dx : ndarray, shape (batch, n); accumulated into (+= R^T dz)
    g_r, g_q : ndarrays shaped like r_diag, q_diag; gradients accumulated into
    g_b : ndarray, shape (n,); bias gradient accumulated into
    """
    for row in range(x.shape[0]):
        dzr, sr = dz[row], s1[row]
        apply_transpose_row(dy[row], q_off, q_diag, q_bc, dzr, OVERWRITE)
        for i in range(dzr.size):
            dzr[i] *= sr[i]
            g_b[i] += dzr[i]
        apply_transpose_row(dzr, r_off, r_diag, r_bc, dx[row], ACCUMULATE)
    diag_grad(a, dy, q_off, q_bc, g_q)
    diag_grad(x, dz, r_off, r_bc, g_r)
