"""One fused training epoch of the DynPMNN block (Numba): no Python per mini-batch.

The block: z = W1 x + b1 (2n features), LayerNorm(2n) with weight/bias, SiLU, FHN with
v0 = h[:n], w0 = h[n:] (fixed a, b, g, I, dt; K Euler steps), y = W2 [v_K; w_K] + b2, weights
in the Dense layout (n_out, n_in).
For each mini-batch the kernel runs forward and backward per sample (MSE loss, mean over
the batch) and applies one Adam step (``fastdds.kernels.cpu.optim.adam_update``) to the six
parameter arrays.
"""

import math

import numba as nb
import numpy as np

from .. import ACTIVATION_CODES
from .activations import act_derivs
from .fhn import adjoint_step, euler_step
from .optim import adam_update

_SILU = ACTIVATION_CODES["silu"]


@nb.njit(cache=True)
def epoch(X, Y, order, batch, params, ms, vs, fhn, K, ln_eps, lrs, beta1, beta2, eps, weight_decay, step0):
    """Train one epoch in place.

    Parameters
    ----------
    X : ndarray (rows, n_in); Y : ndarray (rows, 1)
    order : int64 ndarray (rows,)
        Sample order (the epoch's permutation); batches are consecutive runs of `batch`.
    batch : int
    params, ms, vs : tuples of 6 arrays (W1 (2n, n_in), b1 (2n,), ln_w (2n,), ln_b (2n,), W2 (1, 2n), b2 (1,))
        Parameters and their Adam moments, updated in place.
    fhn : ndarray (5, n)
        Rows a, b, g, I, dt.
    K : int
    ln_eps : float
    lrs : ndarray (batches,)
        Learning rate of each step.
    beta1, beta2, eps, weight_decay : float
        Adam settings (L2 weight decay added to the gradient).
    step0 : int
        Adam steps done before this epoch.

    Returns
    -------
    float: sum of squared errors over the epoch (each computed before its batch's update).
    """
    W1, b1, lw, lb, W2, b2 = params
    m, n_in = W1.shape
    n = m // 2
    dt = X.dtype
    gW1, gb1, glw, glb = np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(lw), np.zeros_like(lb)
    gW2, gb2 = np.zeros_like(W2), np.zeros_like(b2)
    xh = np.empty(m, dtype=dt)
    s1 = np.empty(m, dtype=dt)
    dz = np.empty(m, dtype=dt)
    tv = np.empty((K + 1, n), dtype=dt)
    tw = np.empty((K + 1, n), dtype=dt)
    rows = order.size
    nbatch = (rows + batch - 1) // batch
    sse = 0.0
    for bi in range(nbatch):
        gW1[:] = 0.0
        gb1[:] = 0.0
        glw[:] = 0.0
        glb[:] = 0.0
        gW2[:] = 0.0
        gb2[:] = 0.0
        lo, hi = bi * batch, min(rows, (bi + 1) * batch)
        scale = 2.0 / (hi - lo)
        for r in range(lo, hi):
            s = order[r]
            # forward: linear, layer norm, SiLU
            for i in range(m):
                acc = b1[i]
                for k in range(n_in):
                    acc += X[s, k] * W1[i, k]
                xh[i] = acc
            mu = 0.0
            for i in range(m):
                mu += xh[i]
            mu /= m
            var = 0.0
            for i in range(m):
                xh[i] -= mu
                var += xh[i] * xh[i]
            rstd = 1.0 / math.sqrt(var / m + ln_eps)
            for i in range(m):
                xh[i] *= rstd
                h, d1, _, _ = act_derivs(_SILU, 0.0, xh[i] * lw[i] + lb[i])
                s1[i] = d1
                if i < n:
                    tv[0, i] = h
                else:
                    tw[0, i - n] = h
            # FHN, K Euler steps
            for k in range(K):
                for j in range(n):
                    tv[k + 1, j], tw[k + 1, j] = euler_step(tv[k, j], tw[k, j], fhn[3, j], fhn[0, j], fhn[1, j],
                                                            fhn[2, j], fhn[4, j])
            y = b2[0]
            for j in range(n):
                y += tv[K, j] * W2[0, j] + tw[K, j] * W2[0, n + j]
            err = y - Y[s, 0]
            sse += err * err
            # backward
            dy = scale * err
            gb2[0] += dy
            for j in range(n):
                gW2[0, j] += dy * tv[K, j]
                gW2[0, n + j] += dy * tw[K, j]
                lv, lwj = dy * W2[0, j], dy * W2[0, n + j]
                for k in range(K - 1, -1, -1):
                    lv, lwj, _, _, _, _, _ = adjoint_step(tv[k, j], tw[k, j], fhn[3, j], fhn[0, j], fhn[1, j],
                                                          fhn[2, j], fhn[4, j], lv, lwj)
                dz[j] = lv
                dz[n + j] = lwj
            mg = 0.0
            mgx = 0.0
            for i in range(m):
                du = dz[i] * s1[i]
                glw[i] += du * xh[i]
                glb[i] += du
                dz[i] = du * lw[i]
                mg += dz[i]
                mgx += dz[i] * xh[i]
            mg /= m
            mgx /= m
            for i in range(m):
                dz[i] = rstd * (dz[i] - mg - xh[i] * mgx)
                gb1[i] += dz[i]
            for i in range(m):
                for k in range(n_in):
                    gW1[i, k] += dz[i] * X[s, k]
        step = step0 + bi + 1
        lr = lrs[bi]
        adam_update((W1.reshape(W1.size), b1, lw, lb, W2.reshape(W2.size), b2),
                    (gW1.reshape(W1.size), gb1, glw, glb, gW2.reshape(W2.size), gb2),
                    (ms[0].reshape(W1.size), ms[1], ms[2], ms[3], ms[4].reshape(W2.size), ms[5]),
                    (vs[0].reshape(W1.size), vs[1], vs[2], vs[3], vs[4].reshape(W2.size), vs[5]),
                    lr, beta1, beta2, eps, weight_decay, step)
    return sse
