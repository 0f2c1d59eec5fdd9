"""Pointwise activations and their first three derivatives, GPU twins of
``fastdds.kernels.cpu.activations``.

``act_derivs`` is the CPU device function's formulas with CUDA's own tanh (libdevice; the CPU
module's arithmetic tanh is written for CPU vector units and uses integer bit casts Numba's
CUDA target does not lower). Same codes (``fastdds.kernels.ACTIVATION_CODES``).
"""

import math

from numba import cuda

from .launch import launch


@cuda.jit(device=True)
def _sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@cuda.jit(device=True)
def act_derivs(code, alpha, z):
    """(sigma, sigma', sigma'', sigma''') of activation `code` at scalar z (alpha: its parameter)."""
    if code == 0:  # identity
        return z, 1.0, 0.0, 0.0
    if code == 1:  # tanh
        t = math.tanh(z)
        s1 = 1.0 - t * t
        return t, s1, -2.0 * t * s1, s1 * (4.0 * t * t - 2.0 * s1)
    if code == 2:  # sin
        s, c = math.sin(z), math.cos(z)
        return s, c, -s, -c
    if code == 3:  # leaky_relu
        return (z, 1.0, 0.0, 0.0) if z > 0.0 else (alpha * z, alpha, 0.0, 0.0)
    if code == 4:  # softplus
        p = _sigmoid(z)
        q = p * (1.0 - p)
        return max(z, 0.0) + math.log1p(math.exp(-abs(z))), p, q, q * (1.0 - 2.0 * p)
    if code == 5:  # silu
        p = _sigmoid(z)
        q = p * (1.0 - p)
        r = 1.0 - 2.0 * p
        return z * p, p + z * q, q * (2.0 + z * r), q * (r * (3.0 + z * r) - 2.0 * z * q)
    if code == 6:  # square_half
        return 0.5 * z * z, z, 1.0, 0.0
    if code == 7:  # relu_square_half
        return (0.5 * z * z, z, 1.0, 0.0) if z > 0.0 else (0.0, 0.0, 0.0, 0.0)
    if code == 8:  # neg_square_half
        return (0.5 * z * z, z, 1.0, 0.0) if z < 0.0 else (0.0, 0.0, 0.0, 0.0)
    if code == 9:  # abs
        return abs(z), (1.0 if z > 0.0 else (-1.0 if z < 0.0 else 0.0)), 0.0, 0.0
    if code == 10:  # relu
        return (z, 1.0, 0.0, 0.0) if z > 0.0 else (0.0, 0.0, 0.0, 0.0)
    if code == 11:  # sigmoid
        p = _sigmoid(z)
        q = p * (1.0 - p)
        r = 1.0 - 2.0 * p
        return p, q, q * r, q * (r * r - 2.0 * q)
    if code == 13:  # cube
        return z * z * z, 3.0 * z * z, 6.0 * z, 6.0
    # 12: lecun_tanh = 1.7159 tanh(0.666 z)
    a, b = 1.7159, 0.666
    t = math.tanh(b * z)
    s1 = 1.0 - t * t
    return a * t, a * b * s1, -2.0 * a * b * b * t * s1, a * b * b * b * s1 * (4.0 * t * t - 2.0 * s1)


@cuda.jit
def _evaluate(code, alpha, z, out):
    i = cuda.grid(1)
    if i < z.size:
        nd = out.shape[0]
        f0, f1, f2, f3 = act_derivs(code, alpha, z[i])
        out[0, i] = f0
        if nd > 1:
            out[1, i] = f1
        if nd > 2:
            out[2, i] = f2
        if nd > 3:
            out[3, i] = f3


def evaluate(code, alpha, z, out):
    """Fill out[d] with the d-th derivative of the activation at z, d = 0..out.shape[0]-1.

    Parameters
    ----------
    code : int
        Activation code (``fastdds.kernels.ACTIVATION_CODES``).
    alpha : float
        The activation's parameter (leaky_relu slope), ignored by the others.
    z : device array, 1-D (a flat view of any contiguous array)
    out : device array, shape (nderiv, z.size), nderiv in 1..4, same dtype as z
    """
    launch(_evaluate, z.size, code, alpha, z, out)
