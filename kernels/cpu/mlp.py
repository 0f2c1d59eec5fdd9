"""Element-wise Taylor-stream kernels of an MLP layer (Numba).

A layer z = W a + b, a' = sigma(z) (W of shape (fan_out, fan_in), the Dense layout of
``fastdds.operators.Dense``) carries S stacked streams: the value (stream 0), first
input derivatives (streams 1..n1) and second input derivatives (streams 1+n1..S-1, one per
pair of first streams ``pairs[m] = (p, q)``). Arrays are feature-major, shaped (H, S, N):
feature h holds its S streams over the N points, so the matrix products of all streams are
one GEMM (H_out, H_in) @ (H_in, S N) done by the caller, and these kernels do the
element-wise part, feature by feature:

    forward                                   reverse (g = dL/da', overwritten by dL/dz;
                                              for the leaves, from the chains: see
                                              `taylor_backward`)
    a'   = sigma(z + b)                       g_z  = g s1 + sum_k g_k s2 z_k
                                                     + sum_m g_m (s3 z_p z_q + s2 z_m)
    a'_k = s1 z_k                             g_zk = g_k s1 + sum_{m=(k,q)} g_m s2 z_q
                                                            + sum_{m=(p,k)} g_m s2 z_p
    a'_m = s2 z_p z_q + s1 z_m                g_zm = g_m s1

with s_d = sigma^(d)(z + b). Each feature's points are walked in blocks of BLOCK: the block of
every stream stays in L1 while the inner loops, over contiguous slices and branch-free,
vectorise. For tanh both kernels take s1, s2, s3 from t = a'[:, 0] block by block, so nothing
beyond a' and z is kept for the reverse pass.

`forward_pass` and `backward_pass` run every layer of a worker's chunks of points, matrix
products included (``blas.gemm``), in one call that holds no GIL: the Python driver calls each
once per worker, and the workers run in parallel.
"""

import numba as nb
import numpy as np

from .. import ACTIVATION_CODES, DERIVS, INPUTS, PRODUCTS, layer_part
from .activations import act_derivs, tanh
from .blas import gemm

BLOCK = 512  # points of a block; a chunk of at most 512 points (fastdds.nn.mlp) is one block
TANH = ACTIVATION_CODES["tanh"]


@nb.njit(inline="always", cache=True)
def _tanh_derivs(t, one):
    """(tanh', tanh'', tanh''') in terms of t = tanh(z), in the precision of `one` (1 in t's
    dtype). Float64 literals would turn float32 arithmetic into float64, which vectorises half
    as wide: on a 512-point chunk of a 20-wide float32 layer the forward kernel took 12.5 us so,
    against 9.8, and the reverse kernel 21 against 18 (float64 results are unchanged)."""
    two = one + one
    s1 = one - t * t
    return s1, -two * t * s1, s1 * (two * two * t * t - two * s1)


@nb.njit(cache=True)
def taylor_forward(code, alpha, z, b, pairs, a, s):
    """Activation of a hidden layer and its Taylor streams.

    Parameters
    ----------
    code : int
        Activation code (``fastdds.kernels.ACTIVATION_CODES``).
    alpha : float
        The activation's parameter (leaky_relu slope).
    z : ndarray, shape (H, S, N), C-contiguous
        W a of every stream (no bias yet; the bias enters stream 0 only).
    b : ndarray, shape (H,)
    pairs : int64 ndarray, shape (n2, 2)
        First-stream indices (0-based among the n1 = S - 1 - n2 first streams) of each
        second stream.
    a : ndarray, shape (H, S, N), C-contiguous, written
        The layer's output streams.
    s : ndarray, shape (H, 3, N) or (1, 3, R), written
        sigma', sigma'', sigma''' at z + b: kept for the reverse pass as (H, 3, N), otherwise
        a scratch of R >= min(N, BLOCK) points (always the case for tanh).
    """
    H = z.shape[0]
    for h in range(H):
        _forward_feature(code, alpha, z[h], b[h], pairs, a[h], s[h if s.shape[0] == H else 0])


@nb.njit(cache=True, error_model="numpy")
def _forward_feature(code, alpha, z, bh, pairs, a, s):
    """`taylor_forward` of one feature: z, a of shape (S, N), s of shape (3, R)."""
    S, N = z.shape
    n2 = pairs.shape[0]
    n1 = S - 1 - n2
    keep = s.shape[1] == N
    one = a.dtype.type(1.0)
    for lo in range(0, N, BLOCK):
        hi = min(N, lo + BLOCK)
        so = lo if keep else 0
        s1 = s[0, so:so + hi - lo]
        s2 = s[1, so:so + hi - lo]
        s3 = s[2, so:so + hi - lo]
        a0 = a[0, lo:hi]
        z0 = z[0, lo:hi]
        if code == TANH:
            for i in range(hi - lo):  # s3 is left out: the reverse pass rebuilds all three from a'
                t = tanh(z0[i] + bh)
                a0[i] = t
                s1[i], s2[i], _ = _tanh_derivs(t, one)
        else:
            for i in range(hi - lo):
                a0[i], s1[i], s2[i], s3[i] = act_derivs(code, alpha, z0[i] + bh)
        for k in range(n1):
            zk = z[1 + k, lo:hi]
            ak = a[1 + k, lo:hi]
            for i in range(hi - lo):
                ak[i] = s1[i] * zk[i]
        for m in range(n2):
            zp = z[1 + pairs[m, 0], lo:hi]
            zq = z[1 + pairs[m, 1], lo:hi]
            zm = z[1 + n1 + m, lo:hi]
            am = a[1 + n1 + m, lo:hi]
            for i in range(hi - lo):
                am[i] = s2[i] * zp[i] * zq[i] + s1[i] * zm[i]


@nb.njit(cache=True)
def taylor_backward(code, pairs, z, a, s, c, g, db):
    """Reverse of `taylor_forward` on the reverse streams: turn dL/da' into dL/dz in place, and
    the bias gradient.

    The reverse pass carries R = 1 + n_nl + n_ch streams, not S: the value, the n_nl first
    streams that feed a second one (they come first among the firsts, so every index in
    `pairs` is below n_nl) and n_ch chains v_o. The other n_leaf = S - 1 - n_nl streams
    (first streams that feed nothing, then the second streams) are leaves: nothing but the
    linear chain W diag(s1) carries their gradients, so dL/da'_j = sum_o c[j, o] v_o and
    dL/dz_j = sum_o c[j, o] s1 v_o; each chain turns into s1 v_o and the leaves need no
    product of their own.

    Parameters
    ----------
    code : int
        Activation code, as in the forward.
    pairs : int64 ndarray, shape (n2, 2)
        As in `taylor_forward`.
    z : ndarray, shape (H, S, N), C-contiguous
        The forward's z streams (stream 0 is not read).
    a : ndarray, shape (H, S, N), C-contiguous
        The forward's output streams a' (only the value stream a'[:, 0] is read, for tanh).
    s : ndarray, shape (H, 3, N), C-contiguous
        The forward's kept sigma', sigma'', sigma'''; for tanh a scratch as in the forward,
        filled here from a'[:, 0].
    c : ndarray, shape (n_leaf, n_ch, N)
        Each leaf's coefficients on the chains.
    g : ndarray, shape (H, R, N), C-contiguous, overwritten
        In: gradients with respect to the reverse streams of a'. Out: with respect to z.
    db : ndarray, shape (H,), updated
        += dL/db, the sum over the points of dL/dz[:, 0].
    """
    H, R, N = g.shape
    leaf = np.empty((c.shape[0], min(N, BLOCK)), dtype=g.dtype)
    for h in range(H):
        db[h] += _backward_feature(code, pairs, z[h], a[h, 0], s[h if s.shape[0] == H else 0], c, g[h], leaf)


@nb.njit(cache=True, fastmath={"reassoc"})
def _sum64(x):
    """Sum of a 1-D array accumulated in float64, reassociated so that it vectorises."""
    total = 0.0
    for i in range(x.size):
        total += np.float64(x[i])
    return total


@nb.njit(cache=True)
def _backward_feature(code, pairs, z, t, s, c, g, leaf):
    """`taylor_backward` of one feature (z of shape (S, N), g of shape (R, N), t = a'[h, 0],
    s of shape (3, R'), `leaf` a (n_leaf, BLOCK) scratch); returns the sum over the points of
    the new g[0]."""
    S, N = z.shape
    n_leaf, n_ch, n2 = c.shape[0], c.shape[1], pairs.shape[0]
    n_nl = g.shape[0] - 1 - n_ch
    n_lf = n_leaf - n2  # leaf first streams
    one = g.dtype.type(1.0)
    total = 0.0
    for lo in range(0, N, BLOCK):
        hi = min(N, lo + BLOCK)
        so = 0 if code == TANH else lo
        s1 = s[0, so:so + hi - lo]
        s2 = s[1, so:so + hi - lo]
        s3 = s[2, so:so + hi - lo]
        if code == TANH:
            tb = t[lo:hi]
            for i in range(hi - lo):
                s1[i], s2[i], s3[i] = _tanh_derivs(tb[i], one)
        for j in range(n_leaf):  # dL/da' of the leaves, from the chains
            gj = leaf[j, :hi - lo]
            cj = c[j, 0, lo:hi]
            v = g[1 + n_nl, lo:hi]
            for i in range(hi - lo):
                gj[i] = cj[i] * v[i]
            for o in range(1, n_ch):
                cj = c[j, o, lo:hi]
                v = g[1 + n_nl + o, lo:hi]
                for i in range(hi - lo):
                    gj[i] += cj[i] * v[i]
        g0 = g[0, lo:hi]
        for i in range(hi - lo):
            g0[i] *= s1[i]
        for k in range(n_nl):
            gk = g[1 + k, lo:hi]
            zk = z[1 + k, lo:hi]
            for i in range(hi - lo):
                g0[i] += gk[i] * s2[i] * zk[i]
        for j in range(n_lf):
            gj = leaf[j, :hi - lo]
            zj = z[1 + n_nl + j, lo:hi]
            for i in range(hi - lo):
                g0[i] += gj[i] * s2[i] * zj[i]
        for m in range(n2):
            gm = leaf[n_lf + m, :hi - lo]
            zp = z[1 + pairs[m, 0], lo:hi]
            zq = z[1 + pairs[m, 1], lo:hi]
            zm = z[S - n2 + m, lo:hi]
            for i in range(hi - lo):
                g0[i] += gm[i] * (s3[i] * zp[i] * zq[i] + s2[i] * zm[i])
        total += _sum64(g0)
        for k in range(n_nl):
            gk = g[1 + k, lo:hi]
            for i in range(hi - lo):
                gk[i] *= s1[i]
        for m in range(n2):  # two loops, not one: for p == q one would alias, and not vectorise
            p = pairs[m, 0]
            q = pairs[m, 1]
            gm = leaf[n_lf + m, :hi - lo]
            gp = g[1 + p, lo:hi]
            gq = g[1 + q, lo:hi]
            zp = z[1 + p, lo:hi]
            zq = z[1 + q, lo:hi]
            for i in range(hi - lo):
                gp[i] += gm[i] * s2[i] * zq[i]
            for i in range(hi - lo):
                gq[i] += gm[i] * s2[i] * zp[i]
        for o in range(n_ch):
            v = g[1 + n_nl + o, lo:hi]
            for i in range(hi - lo):
                v[i] *= s1[i]
    return total


@nb.njit(cache=True)
def combine_leaves(a, c, out):
    """A layer's input leaf streams folded onto the chains, for the weight gradient:
    out[:, o] = sum_j c[j, o] a[:, S - n_leaf + j].

    Parameters
    ----------
    a : ndarray, shape (H, S, N), C-contiguous
        A layer's input streams (the leaves are the last n_leaf).
    c : ndarray, shape (n_leaf, n_ch, N)
        As in `taylor_backward`.
    out : ndarray, shape (H, n_ch, N), C-contiguous, written
    """
    H, S, N = a.shape
    n_leaf, n_ch = c.shape[0], c.shape[1]
    for h in range(H):
        for o in range(n_ch):
            acc = out[h, o]
            acc[:] = 0.0
            for j in range(n_leaf):
                aj = a[h, S - n_leaf + j]
                cj = c[j, o]
                for i in range(N):
                    acc[i] += cj[i] * aj[i]


_part = nb.njit(cache=True)(layer_part)


@nb.njit(cache=True)
def _weight(params, offsets, sizes, l):
    """W_l, shape (sizes[l + 1], sizes[l]), a view of the packed parameters."""
    o = offsets[2 * l]
    return params[o:o + sizes[l + 1] * sizes[l]].reshape((sizes[l + 1], sizes[l]))


@nb.njit(cache=True, nogil=True)
def forward_pass(code, alpha, params, offsets, sizes, pairs, buf, layout, chunks, w):
    """The forward pass of the chunks of points `chunks`, run by worker w: every layer of one
    chunk, then the next chunk.

    Every array of any depth arrives packed in a 1-D buffer with a table of where each part
    lies, so one compiled form serves networks of every depth: a tuple of L arrays is a type of
    its own, and each depth compiled anew (0.8-5.6 s a pass and dtype in the cold test suite).

    Parameters
    ----------
    code, alpha, pairs : as in `taylor_forward`
    params : ndarray, shape (nparams,), C-contiguous
        [W_0, b_0, W_1, b_1, ...] one after another, W_l of shape (fan_out, fan_in) C-ordered
        (the Dense layout), b_l of shape (fan_out,).
    offsets : int64 ndarray, shape (2 L,)
        Where each parameter starts in `params`.
    sizes : int64 ndarray, shape (L + 1,)
        The layer widths.
    buf : ndarray, 1-D, C-contiguous
        The packed workspace: layer l's input streams a_l (group INPUTS; shape (C or workers,
        fan_in, S, P)), its products W_l a_l without bias z_l (group PRODUCTS; (C or workers,
        fan_out, S, P), written) and each hidden layer's s_l as in `taylor_forward` per chunk
        (group DERIVS; (C, H, 3, P) or (workers, 1, 3, R); the output layer's is empty). a_0 holds
        every chunk (filled), the hidden ones either every chunk (kept for `backward_pass`) or
        one per worker, z_(L-1) every chunk. Chunk c of x is x[c] when x holds every chunk, else
        worker w's x[w].
    layout : int64 ndarray, shape (3, L, 5)
        Where each part lies (``fastdds.kernels.layer_part``).
    chunks : int64 ndarray
    w : int
    """
    L = sizes.size - 1
    C = layout[INPUTS, 0, 1]  # a_0 holds every chunk
    for c in chunks:
        for l in range(L):
            a, z = _part(buf, layout, INPUTS, l), _part(buf, layout, PRODUCTS, l)
            ai = a[c if a.shape[0] == C else w]
            zi = z[c if z.shape[0] == C else w]
            fan_in, S, P = ai.shape
            gemm(False, False, 1.0, _weight(params, offsets, sizes, l), ai.reshape(fan_in, S * P), 0.0,
                 zi.reshape(zi.shape[0], S * P))
            if l < L - 1:
                nxt, s = _part(buf, layout, INPUTS, l + 1), _part(buf, layout, DERIVS, l)
                b = params[offsets[2 * l + 1]:offsets[2 * l + 1] + sizes[l + 1]]
                taylor_forward(code, alpha, zi, b, pairs, nxt[c if nxt.shape[0] == C else w],
                               s[c if s.shape[0] == C else w])


@nb.njit(cache=True, nogil=True)
def backward_pass(code, params, offsets, sizes, pairs, buf, layout, dout, coef, n_nl, chunks, w, lanes, grads, g,
                  leaves, dx):
    """The reverse pass of the chunks `chunks` (run by worker w): each chunk's gradient
    streams go down every layer while they are in cache; each chunk's parameter gradients add
    to those of its lane c % lanes.

    Parameters
    ----------
    code, pairs : as in `taylor_backward`
    params, offsets, sizes, buf, layout, chunks, w : as in `forward_pass` (the parts of buf
        holding every chunk)
    dout : ndarray, shape (C, d_out, R, P)
        dL/d(output streams) of each chunk: the value and n_nl first streams, then the
        chains' starts.
    coef : ndarray, shape (C, n_leaf, n_ch, P)
        Each chunk's leaf coefficients (see `taylor_backward`).
    n_nl : int
    lanes : int
    grads : ndarray, shape (lanes, nparams), updated
        Each lane's gradients, at the parameters' `offsets`, the weights' as dW_l^T = a g^T of
        shape (fan_in, fan_out) (the caller transposes them).
    g : ndarray, shape (workers, 2, max width, R, P)
        Scratch for the gradient streams of the hidden layers.
    leaves : ndarray, shape (workers, max fan_in, n_ch, P)
        Scratch for the folded leaves.
    dx : ndarray, shape (C, d_in, P) or (0, 0, 0), written
        When not empty, each chunk's dL/d(input points) = W_0^T dL/dz_0 (value stream).
    """
    L = sizes.size - 1
    C = layout[INPUTS, 0, 1]  # a_0 holds every chunk
    R = dout.shape[2]
    nr = 1 + n_nl
    n_ch = R - nr
    for c in chunks:
        lane = grads[c % lanes]
        gc = dout[c]
        cc = coef[c]
        for l in range(L - 1, -1, -1):
            W = _weight(params, offsets, sizes, l)
            fan_out, fan_in = W.shape
            ai = _part(buf, layout, INPUTS, l)[c]
            P = ai.shape[2]
            a2 = ai.reshape(fan_in, ai.shape[1] * P)
            g2 = gc.reshape(fan_out, R * P)
            dWt = lane[offsets[2 * l]:offsets[2 * l] + fan_in * fan_out].reshape(fan_in, fan_out)
            gemm(False, True, 1.0, a2[:, :nr * P], g2[:, :nr * P], 1.0, dWt)
            if n_ch:
                lv = leaves[w, :fan_in]
                combine_leaves(ai, cc, lv)
                gemm(False, True, 1.0, lv.reshape(fan_in, n_ch * P), g2[:, nr * P:], 1.0, dWt)
            if l > 0:
                gp = g[w, (L - l) % 2, :fan_in]
                gp2 = gp.reshape(fan_in, R * P)
                if fan_out == 1:  # an outer product
                    for i in range(fan_in):
                        wi = W[0, i]
                        for j in range(R * P):
                            gp2[i, j] = wi * g2[0, j]
                else:
                    gemm(True, False, 1.0, W, g2, 0.0, gp2)
                db = lane[offsets[2 * l - 1]:offsets[2 * l - 1] + fan_in]
                z, s = _part(buf, layout, PRODUCTS, l - 1), _part(buf, layout, DERIVS, l - 1)
                taylor_backward(code, pairs, z[c], ai, s[c if s.shape[0] == C else w], cc, gp, db)
                gc = gp
            elif dx.shape[0]:
                gemm(True, False, 1.0, W, g2[:, :P], 0.0, dx[c])
