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

with s_d = sigma^(d)(z + b). Both kernels walk the N points one row at a time: every stream's
row (width values) stays in L1 while its inner loops, contiguous and branch-free, vectorise.
"""

import numba as nb

from .activations import act_derivs


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
        The layer's output streams.
    s : ndarray, shape (3, N, H) or (3, 1, H), written
        sigma', sigma'', sigma''' at z + b: kept for the reverse pass when s.shape[1] == N,
        otherwise one scratch row.
    """
    S, N, H = z.shape
    n2 = pairs.shape[0]
    n1 = S - 1 - n2
    keep = s.shape[1] == N
    for n in range(N):
        r = n if keep else 0
        s1 = s[0, r]
        s2 = s[1, r]
        s3 = s[2, r]
        z0 = z[0, n]
        a0 = a[0, n]
        for h in range(H):
            f0, f1, f2, f3 = act_derivs(code, alpha, z0[h] + b[h])
            a0[h] = f0
            s1[h] = f1
            s2[h] = f2
            s3[h] = f3
        for k in range(n1):
            zk = z[1 + k, n]
            ak = a[1 + k, n]
            for h in range(H):
                ak[h] = s1[h] * zk[h]
        for m in range(n2):
            zp = z[1 + pairs[m, 0], n]
            zq = z[1 + pairs[m, 1], n]
            zm = z[1 + n1 + m, n]
            am = a[1 + n1 + m, n]
            for h in range(H):
                am[h] = s2[h] * zp[h] * zq[h] + s1[h] * zm[h]


@nb.njit(cache=True)
def taylor_backward(pairs, z, s, g):
    """Reverse of `taylor_forward`: turn dL/da' into dL/dz in place.

    Parameters
    ----------
    pairs : int64 ndarray, shape (n2, 2)
        As in `taylor_forward`.
    z : ndarray, shape (S, N, H)
        The forward's z streams (stream 0 is not read).
    s : ndarray, shape (3, N, H)
        The forward's kept sigma', sigma'', sigma'''.
    g : ndarray, shape (S, N, H), C-contiguous, overwritten
        In: gradients with respect to the output streams a'. Out: with respect to z
        (stream 0 is also the bias gradient per point).
    """
    S, N, H = g.shape
    n2 = pairs.shape[0]
    n1 = S - 1 - n2
    for n in range(N):
        s1 = s[0, n]
        s2 = s[1, n]
        s3 = s[2, n]
        g0 = g[0, n]
        for h in range(H):
            g0[h] *= s1[h]
        for k in range(n1):
            gk = g[1 + k, n]
            zk = z[1 + k, n]
            for h in range(H):
                g0[h] += gk[h] * s2[h] * zk[h]
        for m in range(n2):
            gm = g[1 + n1 + m, n]
            zp = z[1 + pairs[m, 0], n]
            zq = z[1 + pairs[m, 1], n]
            zm = z[1 + n1 + m, n]
            for h in range(H):
                g0[h] += gm[h] * (s3[h] * zp[h] * zq[h] + s2[h] * zm[h])
        for k in range(n1):
            gk = g[1 + k, n]
            for h in range(H):
                gk[h] *= s1[h]
        for m in range(n2):
            p = pairs[m, 0]
            q = pairs[m, 1]
            gm = g[1 + n1 + m, n]
            gp = g[1 + p, n]
            gq = g[1 + q, n]
            zp = z[1 + p, n]
            zq = z[1 + q, n]
            for h in range(H):
                t = gm[h] * s2[h]
                gp[h] += t * zq[h]
                gq[h] += t * zp[h]
        for m in range(n2):
            gm = g[1 + n1 + m, n]
            for h in range(H):
                gm[h] *= s1[h]
