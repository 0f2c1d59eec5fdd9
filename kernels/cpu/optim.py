"""Optimiser update kernels (Numba)."""

import math

import numba as nb


@nb.njit(cache=True)
def adam_update(p, g, m, v, lr, beta1, beta2, eps, weight_decay, step):
    """One Adam step in place, PyTorch's formula, L2 weight decay added to the gradient.

    Parameters
    ----------
    p, g, m, v : ndarray, 1-D views of one parameter, its gradient and the two moments (same dtype)
    lr, beta1, beta2, eps, weight_decay : float
    step : int
        The step number after this update (1 on the first call), for the bias corrections.
    """
    bc1 = 1.0 - beta1**step
    rbc2 = 1.0 / math.sqrt(1.0 - beta2**step)
    scale = lr / bc1
    for i in range(p.size):
        gi = g[i] + weight_decay * p[i]
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= scale * mi / (math.sqrt(vi) * rbc2 + eps)
