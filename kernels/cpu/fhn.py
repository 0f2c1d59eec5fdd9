"""FitzHugh-Nagumo neurons integrated by explicit Euler, and the discrete adjoint (Numba).

Per neuron j, with per-sample drive I[s, j] and per-neuron a, b, g, dt:

    v <- v + dt (I - v (v - a)(v - 1) - w)
    w <- w + dt b (v - g w)

K times. The reverse pass recomputes the K + 1 states of one sample into a (K + 1, n) scratch
buffer and runs the adjoint of the steps backwards, so memory stays O(batch x neurons) whatever
K is. Loops run neurons innermost (contiguous) so they vectorise over neurons.
"""

import numba as nb
import numpy as np


@nb.njit(inline="always", cache=True)
def _rates(v, w, I, a, b, g):
    """(dv/dt, dw/dt) of FHN at (v, w)."""
    return I - v * (v - a) * (v - 1.0) - w, b * (v - g * w)


@nb.njit(inline="always", cache=True)
def euler_step(v, w, I, a, b, g, h):
    """One explicit Euler step of size h: the state after it."""
    fv, fw = _rates(v, w, I, a, b, g)
    return v + h * fv, w + h * fw


@nb.njit(inline="always", cache=True)
def adjoint_step(v, w, I, a, b, g, h, lv, lw):
    """Reverse of one Euler step from state (v, w) with step h.

    Given the adjoints (lv, lw) of the state after the step, returns the adjoints of the state
    before it and the step's contributions to the gradients of I, a, b, g and h:
    (lv', lw', dI, da, db, dg, dh).
    """
    fv, fw = _rates(v, w, I, a, b, g)
    dfv_dv = -(3.0 * v * v - 2.0 * (1.0 + a) * v + a)
    return (lv * (1.0 + h * dfv_dv) + lw * h * b, lw * (1.0 - h * b * g) - h * lv,
            h * lv, h * lv * v * (v - 1.0), h * lw * (v - g * w), -h * lw * b * w, lv * fv + lw * fw)


@nb.njit(cache=True)
def trajectory(v0, w0, I, a, b, g, dt, tv, tw):
    """All Euler states: tv[k], tw[k] = state after k steps, k = 0..K.

    Parameters
    ----------
    v0, w0, I : ndarray, shape (N, n)
    a, b, g, dt : ndarray, shape (n,)
    tv, tw : ndarray, shape (K + 1, N, n), outputs (same dtype as v0)
    """
    K = tv.shape[0] - 1
    N, n = v0.shape
    for s in range(N):
        tv[0, s] = v0[s]
        tw[0, s] = w0[s]
        for k in range(K):
            for j in range(n):
                tv[k + 1, s, j], tw[k + 1, s, j] = euler_step(tv[k, s, j], tw[k, s, j], I[s, j], a[j], b[j], g[j],
                                                              dt[j])


@nb.njit(cache=True)
def forward(v0, w0, I, a, b, g, dt, K, vK, wK):
    """K Euler steps from (v0, w0); final state only.

    Parameters
    ----------
    v0, w0, I : ndarray, shape (N, n)
    a, b, g, dt : ndarray, shape (n,)
    K : int
    vK, wK : ndarray, shape (N, n), outputs
    """
    N, n = v0.shape
    for s in range(N):
        vK[s] = v0[s]
        wK[s] = w0[s]
        for k in range(K):
            for j in range(n):
                vK[s, j], wK[s, j] = euler_step(vK[s, j], wK[s, j], I[s, j], a[j], b[j], g[j], dt[j])


@nb.njit(cache=True)
def backward(v0, w0, I, a, b, g, dt, K, dvK, dwK, dv0, dw0, dI, da, db, dg, ddt):
    """Discrete adjoint of `forward`.

    Parameters
    ----------
    v0, w0, I, a, b, g, dt, K : as in `forward`
    dvK, dwK : ndarray, shape (N, n)
        Gradient of the loss with respect to the final state.
    dv0, dw0, dI : ndarray, shape (N, n), outputs
        Gradients with respect to the initial state and the per-sample drive.
    da, db, dg, ddt : ndarray, shape (n,), outputs (overwritten, summed over the batch)
    """
    N, n = v0.shape
    tv = np.empty((K + 1, n), dtype=v0.dtype)
    tw = np.empty((K + 1, n), dtype=v0.dtype)
    da[:] = 0.0
    db[:] = 0.0
    dg[:] = 0.0
    ddt[:] = 0.0
    for s in range(N):
        tv[0] = v0[s]
        tw[0] = w0[s]
        for k in range(K):
            for j in range(n):
                tv[k + 1, j], tw[k + 1, j] = euler_step(tv[k, j], tw[k, j], I[s, j], a[j], b[j], g[j], dt[j])
        dv0[s] = dvK[s]
        dw0[s] = dwK[s]
        dI[s] = 0.0
        for k in range(K - 1, -1, -1):
            for j in range(n):
                lv, lw, gI, ga, gb, gg, gdt = adjoint_step(tv[k, j], tw[k, j], I[s, j], a[j], b[j], g[j], dt[j],
                                                           dv0[s, j], dw0[s, j])
                dv0[s, j] = lv
                dw0[s, j] = lw
                dI[s, j] += gI
                da[j] += ga
                db[j] += gb
                dg[j] += gg
                ddt[j] += gdt
