"""Fused layer kernels for banded operators, GPU twins of ``fastdds.kernels.cpu.layer``.

One branch y += Q sigma(R x + b) in two launches each way: the element-wise part with the
gather of R x (or Q^T dy) in the same thread, then the second banded product, which needs the
neighbours' results. The bias gradient is a column sum of the array module.
"""

from numba import cuda

from .activations import act_derivs
from .banded import apply_into, apply_transpose_into, diag_grad, row_apply, row_apply_transpose
from .launch import launch


@cuda.jit
def _activate(x, r_off, r_diag, r_bc, b, code, alpha, a, s1):
    """a = sigma(R x + b), s1 = sigma'(R x + b), one thread per element."""
    t = cuda.grid(1)
    n = x.shape[1]
    if t < x.shape[0] * n:
        row, i = t // n, t % n
        f0, f1, _, _ = act_derivs(code, alpha, row_apply(x, row, i, r_off, r_diag, r_bc) + b[i])
        a[row, i] = f0
        s1[row, i] = f1


@cuda.jit
def _gate(dy, q_off, q_diag, q_bc, s1, dz):
    """dz = (Q^T dy) sigma'(z), one thread per element."""
    t = cuda.grid(1)
    n = dy.shape[1]
    if t < dy.shape[0] * n:
        row, i = t // n, t % n
        dz[row, i] = row_apply_transpose(dy, row, i, q_off, q_diag, q_bc) * s1[row, i]


def banded_branch_forward(x, r_off, r_diag, r_bc, b, code, alpha, q_off, q_diag, q_bc, a, s1, y):
    """y += Q sigma(R x + b) for every row of x.

    Parameters
    ----------
    x : device array, shape (batch, n)
    r_off, r_diag, r_bc : R as banded offsets (m_R,), diagonals (m_R, n or 1), boundary code
    b : device array, shape (n,)
        Bias (zeros for none).
    code, alpha : activation code and parameter (``fastdds.kernels.ACTIVATION_CODES``)
    q_off, q_diag, q_bc : Q likewise
    a, s1 : device arrays, shape (batch, n); receive sigma(z) and sigma'(z) for the backward
    y : device array, shape (batch, n); accumulated into
    """
    launch(_activate, x.size, x, r_off, r_diag, r_bc, b, code, alpha, a, s1)
    apply_into(a, q_off, q_diag, q_bc, y, True)


def banded_branch_backward(x, dy, a, s1, r_off, r_diag, r_bc, q_off, q_diag, q_bc, dz, dx, g_r, g_q, g_b):
    """Reverse pass of `banded_branch_forward`.

    Parameters
    ----------
    x, dy, a, s1 : device arrays, shape (batch, n): input, output gradient, saved sigma and sigma'
    r_*, q_* : as in the forward
    dz : device array, shape (batch, n); receives dL/dz = (Q^T dy) sigma'(z)
    dx : device array, shape (batch, n); accumulated into (+= R^T dz)
    g_r, g_q : device arrays shaped like r_diag, q_diag; gradients accumulated into
    g_b : device array, shape (n,); bias gradient accumulated into
    """
    launch(_gate, dy.size, dy, q_off, q_diag, q_bc, s1, dz)
    g_b += dz.sum(axis=0)
    apply_transpose_into(dz, r_off, r_diag, r_bc, dx, True)
    diag_grad(a, dy, q_off, q_bc, g_q)
    diag_grad(x, dz, r_off, r_bc, g_r)
