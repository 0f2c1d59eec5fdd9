"""Linearisation of a step, the same for an FD scheme and a network: J(x) = d step / dx.

For a Layer y = P x + c + sum_k Q_k sigma_k(R_k x + b_k),

    J(x) = P + sum_k Q_k diag(sigma_k'(R_k x + b_k)) R_k,

for a Chain the product of its blocks' Jacobians along the trajectory, and for any other Block
the rows dy_i^T J obtained from its `backward` (exact, reverse mode). The Euler radius of the
step at x is the spectral radius of J(x): a von Neumann amplification factor for a linear FD
step (FTCS heat: max_k |1 - 4 r sin^2(k dx / 2)|), the local growth rate of a residual block.
"""

import numpy as np

from . import backend
from .layers import Chain, Layer
from .validation import as_state


def _dense(op, n):
    return np.eye(n) if op is None else backend.to_numpy(op.to_dense()).astype(np.float64)


def jacobian(block, x):
    """J(x), the derivative of `block` at one state x.

    Parameters
    ----------
    block : Block (Layer, Chain or any Block with a backward)
    x : ndarray, shape (n_in,), the block's dtype

    Returns
    -------
    ndarray, shape (n_out, n_in), float64 (host)
    """
    x2, _ = as_state("x", x, block.n_in, block.dtype)
    if x2.shape[0] != 1:
        raise ValueError(f"linearise at one state of shape ({block.n_in},); got {x2.shape[0]} states")
    if isinstance(block, Layer):
        J = _dense(block.P, block.n_in) if block.P is not None else np.zeros((block.n_out, block.n_in))
        for br in block.branches:
            R = _dense(br.R, block.n_in)
            z = br.R._apply(x2) if br.R is not None else x2
            if br.b is not None:
                z = z + br.b
            s1 = backend.to_numpy(br.act.derivatives(z, 1)[1][0]).astype(np.float64)
            J = J + _dense(br.Q, s1.size) @ (s1[:, None] * R)
        return J
    if isinstance(block, Chain):
        J = np.eye(block.n_in)
        for blk, state in zip(block.blocks, block.trajectory(x2)):
            J = jacobian(blk, state[0]) @ J
        return J
    y, cache = block.forward(x2)
    eye = np.eye(block.n_out, dtype=block.dtype)
    return np.stack([backend.to_numpy(block.backward(cache, eye[i:i + 1])[0][0]) for i in range(block.n_out)]
                    ).astype(np.float64)


def spectral_radius(block, x):
    """The Euler radius max |eig J(x)| of a square step (n_in = n_out) linearised at x.

    Parameters
    ----------
    block : Block with n_in == n_out
    x : ndarray, shape (n_in,)

    Returns
    -------
    float: < 1 contracts every direction, > 1 amplifies one (unstable if it persists).
    """
    if block.n_in != block.n_out:
        raise ValueError(f"a spectral radius needs a square step; this one maps {block.n_in} -> {block.n_out}")
    return float(np.abs(np.linalg.eigvals(jacobian(block, x))).max())
