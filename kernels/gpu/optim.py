"""Optimiser update kernels, GPU twins of ``fastdds.kernels.cpu.optim``."""

import math

from numba import cuda

from .launch import launch


@cuda.jit
def _adam(p, g, m, v, beta1, beta2, eps, weight_decay, scale, rbc2):
    i = cuda.grid(1)
    if i < p.size:
        gi = g[i] + weight_decay * p[i]
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= scale * mi / (math.sqrt(vi) * rbc2 + eps)


def adam_update(params, grads, ms, vs, lr, beta1, beta2, eps, weight_decay, step):
    """One Adam step of every parameter in place: PyTorch's formula, L2 weight decay added to
    the gradient; one launch per parameter array.

    Parameters
    ----------
    params, grads, ms, vs : tuples of 1-D device arrays (flat views of each parameter, its
        gradient and its two moments; one dtype throughout)
    lr, beta1, beta2, eps, weight_decay : float
    step : int
        The step number after this update (1 on the first call), for the bias corrections.
    """
    scale = lr / (1.0 - beta1**step)
    rbc2 = 1.0 / math.sqrt(1.0 - beta2**step)
    for p, g, m, v in zip(params, grads, ms, vs):
        launch(_adam, p.size, p, g, m, v, beta1, beta2, eps, weight_decay, scale, rbc2)
