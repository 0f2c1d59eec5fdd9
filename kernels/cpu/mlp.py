"""Element-wise Taylor-stream kernels of an MLP layer (Numba).

A layer z = a W + b, a' = sigma(z) carries S stacked streams: the value (stream 0), first
input derivatives (streams 1..n1) and second input derivatives (streams 1+n1..S-1, one per
pair of first streams ``pairs[m] = (p, q)``). The matrix products of all streams are one
GEMM done by the caller on arrays shaped (S, N, width); these kernels do the element-wise
part in one pass per layer:

    forward                                   reverse (g = dL/da', overwritten by dL/dz)
    a'   = sigma(z + b)                       g_z  = g s1 + sum_k g_k s2 z_k
                                                     + sum_m g_m (s3 z_p z_q + s2 z_m)
    a'_k = s1 z_k                             g_zk = g_k s1 + sum_{m=(k,q)} g_m s2 z_q
                                                            + sum_{m=(p,k)} g_m s2 z_p
    a'_m = s2 z_p z_q + s1 z_m                g_zm = g_m s1

with s_d = sigma^(d)(z + b). Both kernels walk the N points in blocks of about BLOCK values:
every stream's block stays in cache while the inner loops, over contiguous slices and
branch-free, vectorise. tanh is special-cased: the caller fills a'[0] with tanh(z + b) by a
SIMD ufunc (a scalar libm tanh costs 15-20 ns, 30x the ufunc) and both kernels take
s1, s2, s3 from it block by block, so nothing beyond a' and z is kept for the reverse pass.
"""

import numba as nb

from .. import ACTIVATION_CODES
from .activations import act_derivs

BLOCK = 1024
TANH = ACTIVATION_CODES["tanh"]


@nb.njit(inline="always", cache=True)
def _tanh_derivs(t):
    """(tanh', tanh'', tanh''') in terms of t = tanh(z)."""
    s1 = 1.0 - t * t
    return s1, -2.0 * t * s1, s1 * (4.0 * t * t - 2.0 * s1)


@nb.njit(cache=True)
def taylor_forward(code, alpha, z, b, pairs, a, s):
    """Activation of a hidden layer and its Taylor streams.

    Parameters
    ----------
    code : int
        Activation code (``fastdds.kernels.ACTIVATION_CODES``).
    alpha : float
        The activation's parameter (leaky_relu slope).
    z : ndarray, shape (S, N, H), C-contiguous
        a W of every stream (no bias yet; the bias enters stream 0 only).
    b : ndarray, shape (H,)
    pairs : int64 ndarray, shape (n2, 2)
        First-stream indices (0-based among the n1 = S - 1 - n2 first streams) of each
        second stream.
    a : ndarray, shape (S, N, H), C-contiguous, written
        The layer's output streams. For tanh (code TANH) a[0] must already hold
        tanh(z[0] + b) on entry.
    s : ndarray, shape (3, N, H) or (3, R, H) with R < N, written
        sigma', sigma'', sigma''' at z + b: kept for the reverse pass when R == N,
        otherwise R >= min(N, BLOCK // H) scratch rows (always the case for tanh).
    """
    S, N, H = z.shape
    n2 = pairs.shape[0]
    n1 = S - 1 - n2
    keep = s.shape[1] == N
    rows = max(1, BLOCK // H)
    zf = z.reshape(S, N * H)
    af = a.reshape(S, N * H)
    sf = s.reshape(3, s.shape[1] * H)
    for r0 in range(0, N, rows):
        r1 = min(N, r0 + rows)
        lo, hi = r0 * H, r1 * H
        so = lo if keep else 0
        s1 = sf[0, so:so + hi - lo]
        s2 = sf[1, so:so + hi - lo]
        s3 = sf[2, so:so + hi - lo]
        a0 = af[0, lo:hi]
        if code == TANH:
            for i in range(hi - lo):
                s1[i], s2[i], s3[i] = _tanh_derivs(a0[i])
        else:
            for r in range(r1 - r0):
                z0 = zf[0, lo + r * H:lo + (r + 1) * H]
                for h in range(H):
                    f0, f1, f2, f3 = act_derivs(code, alpha, z0[h] + b[h])
                    a0[r * H + h] = f0
                    s1[r * H + h] = f1
                    s2[r * H + h] = f2
                    s3[r * H + h] = f3
        for k in range(n1):
            zk = zf[1 + k, lo:hi]
            ak = af[1 + k, lo:hi]
            for i in range(hi - lo):
                ak[i] = s1[i] * zk[i]
        for m in range(n2):
            zp = zf[1 + pairs[m, 0], lo:hi]
            zq = zf[1 + pairs[m, 1], lo:hi]
            zm = zf[1 + n1 + m, lo:hi]
            am = af[1 + n1 + m, lo:hi]
            for i in range(hi - lo):
                am[i] = s2[i] * zp[i] * zq[i] + s1[i] * zm[i]


@nb.njit(cache=True)
def taylor_backward(code, pairs, z, a0, s, g):
    """Reverse of `taylor_forward`: turn dL/da' into dL/dz in place.

    Parameters
    ----------
    code : int
        Activation code, as in the forward.
    pairs : int64 ndarray, shape (n2, 2)
        As in `taylor_forward`.
    z : ndarray, shape (S, N, H), C-contiguous
        The forward's z streams (stream 0 is not read).
    a0 : ndarray, shape (N, H), C-contiguous
        The forward's output value stream a'[0] (read for tanh only).
    s : ndarray, shape (3, N, H), C-contiguous
        The forward's kept sigma', sigma'', sigma'''; for tanh a scratch of shape
        (3, R, H), R >= min(N, BLOCK // H), filled here from a0.
    g : ndarray, shape (S, N, H), C-contiguous, overwritten
        In: gradients with respect to the output streams a'. Out: with respect to z
        (stream 0 is also the bias gradient per point).
    """
    S, N, H = g.shape
    n2 = pairs.shape[0]
    n1 = S - 1 - n2
    rows = max(1, BLOCK // H)
    zf = z.reshape(S, N * H)
    sf = s.reshape(3, s.shape[1] * H)
    gf = g.reshape(S, N * H)
    tf = a0.reshape(N * H)
    for r0 in range(0, N, rows):
        lo, hi = r0 * H, min(N, r0 + rows) * H
        so = 0 if code == TANH else lo
        s1 = sf[0, so:so + hi - lo]
        s2 = sf[1, so:so + hi - lo]
        s3 = sf[2, so:so + hi - lo]
        if code == TANH:
            t = tf[lo:hi]
            for i in range(hi - lo):
                s1[i], s2[i], s3[i] = _tanh_derivs(t[i])
        g0 = gf[0, lo:hi]
        for i in range(hi - lo):
            g0[i] *= s1[i]
        for k in range(n1):
            gk = gf[1 + k, lo:hi]
            zk = zf[1 + k, lo:hi]
            for i in range(hi - lo):
                g0[i] += gk[i] * s2[i] * zk[i]
        for m in range(n2):
            gm = gf[1 + n1 + m, lo:hi]
            zp = zf[1 + pairs[m, 0], lo:hi]
            zq = zf[1 + pairs[m, 1], lo:hi]
            zm = zf[1 + n1 + m, lo:hi]
            for i in range(hi - lo):
                g0[i] += gm[i] * (s3[i] * zp[i] * zq[i] + s2[i] * zm[i])
        for k in range(n1):
            gk = gf[1 + k, lo:hi]
            for i in range(hi - lo):
                gk[i] *= s1[i]
        for m in range(n2):
            p = pairs[m, 0]
            q = pairs[m, 1]
            gm = gf[1 + n1 + m, lo:hi]
            gp = gf[1 + p, lo:hi]
            gq = gf[1 + q, lo:hi]
            zp = zf[1 + p, lo:hi]
            zq = zf[1 + q, lo:hi]
            for i in range(hi - lo):
                t = gm[i] * s2[i]
                gp[i] += t * zq[i]
                gq[i] += t * zp[i]
        for m in range(n2):
            gm = gf[1 + n1 + m, lo:hi]
            for i in range(hi - lo):
                gm[i] *= s1[i]
