"""Pointwise activations and their first three derivatives (Numba).

``act_derivs(code, alpha, z)`` returns (sigma, sigma', sigma'', sigma''') for one scalar;
the fused kernels call it (an ordinary compiled call, which LLVM inlines where it pays: copying
its fourteen branches into each caller at Numba's IR level had cost 2 s of the banded layer's
13 s cold compile, for the same run times), and `evaluate` maps it over an array.

`tanh` is written out in arithmetic, so that a loop calling it vectorises: libm's scalar tanh,
which ``math.tanh`` calls, took 4.6 (float32) to 13 (float64) ns a point, NumPy's SIMD ufunc 0.40
and 1.7, this one 0.31 and 1.15 (AMD EPYC Zen 4, one thread). float64: Cephes' rational for
|x| < 0.625, else 1 - 2 / (exp(2|x|) + 1) with Cephes' exp; at most 2 ulp from np.tanh.
float32: the rational of Eigen's fast tanh, at most 5 ulp from the exact tanh (NumPy's: 1.4).
NaN stays NaN, +-inf gives +-1.
"""

import math

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload


def tanh(x):
    """tanh of a float32 or float64 scalar, in compiled code (see the module docstring)."""
    return np.tanh(x)


def _tanh64(x):
    ax = abs(x)
    ax = 22.0 if ax > 22.0 else ax  # tanh(22) == 1 in float64
    z = ax * ax
    small = ax + ax * z * (((-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                            - 1.61468768441708447952e3)
                           / (((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
                              + 4.84406305325125486048e3))
    y = 2.0 * ax  # exp(y) = 2^n exp(r), |r| <= ln(2) / 2
    n = np.floor(1.4426950408889634 * y + 0.5)
    r = y - n * 6.93145751953125e-1 - n * 1.42860682030941723212e-6
    rr = r * r
    px = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr + 9.99999999999999999910e-1)
    qx = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr + 2.27265548208155028766e-1) * rr + 2.0
    e = (1.0 + 2.0 * px / (qx - px)) * np.int64((np.int64(n) + 1023) << 52).view(np.float64)
    t = small if ax < 0.625 else 1.0 - 2.0 / (e + 1.0)
    return t if x >= 0.0 else -t


def _tanh32(x):
    c = np.float32(7.90531110763549805)  # the rational reaches 1 - 2^-22 there
    x = c if x > c else (-c if x < -c else x)
    x2 = x * x
    p = np.float32(-2.76076847742355e-16)
    p = p * x2 + np.float32(2.00018790482477e-13)
    p = p * x2 + np.float32(-8.60467152213735e-11)
    p = p * x2 + np.float32(5.12229709037114e-08)
    p = p * x2 + np.float32(1.48572235717979e-05)
    p = p * x2 + np.float32(6.37261928875436e-04)
    p = p * x2 + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06)
    q = q * x2 + np.float32(1.18534705686654e-04)
    q = q * x2 + np.float32(2.26843463243900e-03)
    q = q * x2 + np.float32(4.89352518554385e-03)
    return x if abs(x) < np.float32(0.0004) else x * p / q


# error_model "numpy": no ZeroDivisionError branch, which would keep a loop from vectorising
@overload(tanh, jit_options={"error_model": "numpy", "fastmath": {"contract"}})
def _tanh_impl(x):
    return _tanh32 if x == types.float32 else _tanh64


@nb.njit(fastmath=False, cache=True)
def _sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@nb.njit(cache=True)
def act_derivs(code, alpha, z):
    """(sigma, sigma', sigma'', sigma''') of activation `code` at scalar z (alpha: its parameter)."""
    if code == 0:  # identity
        return z, 1.0, 0.0, 0.0
    if code == 1:  # tanh
        t = tanh(z)
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
    t = tanh(b * z)
    s1 = 1.0 - t * t
    return a * t, a * b * s1, -2.0 * a * b * b * t * s1, a * b * b * b * s1 * (4.0 * t * t - 2.0 * s1)


@nb.njit(cache=True)
def evaluate(code, alpha, z, out):
    """Fill out[d] with the d-th derivative of the activation at z, d = 0..out.shape[0]-1.

    Parameters
    ----------
    code : int
        Activation code (``fastdds.kernels.ACTIVATION_CODES``).
    alpha : float
        The activation's parameter (leaky_relu slope), ignored by the others.
    z : ndarray, 1-D (a flat view of any contiguous array)
    out : ndarray, shape (nderiv, z.size), nderiv in 1..4, same dtype as z
    """
    nd = out.shape[0]
    for i in range(z.size):
        f0, f1, f2, f3 = act_derivs(code, alpha, z[i])
        out[0, i] = f0
        if nd > 1:
            out[1, i] = f1
        if nd > 2:
            out[2, i] = f2
        if nd > 3:
            out[3, i] = f3
