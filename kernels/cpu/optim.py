"""Optimiser update kernels (Numba)."""

import math

import numba as nb


@nb.njit(cache=True, error_model="numpy")
def adam_update(params, grads, ms, vs, lr, beta1, beta2, eps, weight_decay, step):
    """One Adam step of every parameter in place, in one call: PyTorch's formula, L2 weight
    decay added to the gradient.

    Parameters
    ----------
    params, grads, ms, vs : tuples of 1-D ndarrays (flat views of each parameter, its gradient
        and its two moments; one dtype throughout)
    lr, beta1, beta2, eps, weight_decay : float
    step : int
        The step number after this update (1 on the first call), for the bias corrections.
    """
    bc1 = 1.0 - beta1**step
    rbc2 = 1.0 / math.sqrt(1.0 - beta2**step)
    scale = lr / bc1
    for k in range(len(params)):
        p, g, m, v = params[k], grads[k], ms[k], vs[k]
        for i in range(p.size):
            gi = g[i] + weight_decay * p[i]
            mi = beta1 * m[i] + (1.0 - beta1) * gi
            vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
            m[i] = mi
            v[i] = vi
            p[i] -= scale * mi / (math.sqrt(vi) * rbc2 + eps)
