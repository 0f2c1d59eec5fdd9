"""Taylor-stream kernels of an MLP layer, GPU twins of ``fastdds.kernels.cpu.mlp`` (same
layout and arguments: feature-major (H, S, N) streams, W of shape (fan_out, fan_in)).

The element-wise kernels run one thread per (feature, point) and walk that point's streams in
registers; the leaves' gradients (sums over the chains) are recomputed where used instead of
kept in a block buffer, and the bias gradient is a row sum of the array module. With a scratch
``s`` of shape (1, 3, R) nothing is written to it: each thread keeps its sigma derivatives in
registers. `forward_pass` and `backward_pass` run the same loop over chunks and layers as the
CPU driver, with the matrix products through the array module's matmul (cuBLAS for CuPy
arrays) into the same buffers.
"""

import numpy as np
from numba import cuda

from .. import ACTIVATION_CODES, DERIVS, INPUTS, PRODUCTS, layer_part
from .activations import act_derivs
from .launch import array_module, launch

TANH = ACTIVATION_CODES["tanh"]


@cuda.jit(device=True)
def _tanh_derivs(t):
    """(tanh', tanh'', tanh''') in terms of t = tanh(z), in t's precision."""
    one = t - t + 1
    two = one + one
    s1 = one - t * t
    return s1, -two * t * s1, s1 * (two * two * t * t - two * s1)


@cuda.jit
def _forward(code, alpha, z, b, pairs, a, s):
    H, S, N = z.shape
    t = cuda.grid(1)
    if t < H * N:
        h, i = t // N, t % N
        n2 = pairs.shape[0]
        n1 = S - 1 - n2
        f0, s1, s2, s3 = act_derivs(code, alpha, z[h, 0, i] + b[h])
        a[h, 0, i] = f0
        if code == TANH:  # from the stored t, in the stream dtype, as the CPU kernel does
            s1, s2, s3 = _tanh_derivs(a[h, 0, i])
        if s.shape[0] == H and s.shape[2] == N:
            s[h, 0, i] = s1
            s[h, 1, i] = s2
            s[h, 2, i] = s3
        for k in range(n1):
            a[h, 1 + k, i] = s1 * z[h, 1 + k, i]
        for m in range(n2):
            a[h, 1 + n1 + m, i] = s2 * z[h, 1 + pairs[m, 0], i] * z[h, 1 + pairs[m, 1], i] + s1 * z[h, 1 + n1 + m, i]


@cuda.jit(device=True)
def _leaf(c, g, h, j, i, first_chain):
    """dL/da' of leaf j at point i: sum_o c[j, o, i] g[h, first_chain + o, i]."""
    acc = c[j, 0, i] * g[h, first_chain, i]
    for o in range(1, c.shape[1]):
        acc += c[j, o, i] * g[h, first_chain + o, i]
    return acc


@cuda.jit
def _backward(code, pairs, z, a, s, c, g):
    H, R, N = g.shape
    t = cuda.grid(1)
    if t < H * N:
        h, i = t // N, t % N
        S = z.shape[1]
        n_leaf, n_ch, n2 = c.shape[0], c.shape[1], pairs.shape[0]
        n_nl = R - 1 - n_ch
        n_lf = n_leaf - n2
        ch = 1 + n_nl
        if code == TANH:
            s1, s2, s3 = _tanh_derivs(a[h, 0, i])
        else:
            s1, s2, s3 = s[h, 0, i], s[h, 1, i], s[h, 2, i]
        g0 = g[h, 0, i] * s1
        for k in range(n_nl):
            g0 += g[h, 1 + k, i] * s2 * z[h, 1 + k, i]
        for j in range(n_lf):
            g0 += _leaf(c, g, h, j, i, ch) * s2 * z[h, 1 + n_nl + j, i]
        for m in range(n2):
            g0 += _leaf(c, g, h, n_lf + m, i, ch) * (s3 * z[h, 1 + pairs[m, 0], i] * z[h, 1 + pairs[m, 1], i]
                                                     + s2 * z[h, S - n2 + m, i])
        g[h, 0, i] = g0
        for k in range(n_nl):
            g[h, 1 + k, i] *= s1
        for m in range(n2):
            p, q = pairs[m, 0], pairs[m, 1]
            gm = _leaf(c, g, h, n_lf + m, i, ch) * s2
            g[h, 1 + p, i] += gm * z[h, 1 + q, i]
            g[h, 1 + q, i] += gm * z[h, 1 + p, i]
        for o in range(n_ch):
            g[h, ch + o, i] *= s1


@cuda.jit
def _combine(a, c, out):
    H, S, N = a.shape
    n_leaf, n_ch = c.shape[0], c.shape[1]
    t = cuda.grid(1)
    if t < H * n_ch * N:
        h, o, i = t // (n_ch * N), (t // N) % n_ch, t % N
        acc = a[h, 0, i] - a[h, 0, i]
        for j in range(n_leaf):
            acc += c[j, o, i] * a[h, S - n_leaf + j, i]
        out[h, o, i] = acc


def taylor_forward(code, alpha, z, b, pairs, a, s):
    """Activation of a hidden layer and its Taylor streams (``fastdds.kernels.cpu.mlp``).

    Parameters
    ----------
    code : int
        Activation code (``fastdds.kernels.ACTIVATION_CODES``).
    alpha : float
        The activation's parameter (leaky_relu slope).
    z : device array, shape (H, S, N), C-contiguous
        W a of every stream (no bias yet; the bias enters stream 0 only).
    b : device array, shape (H,)
    pairs : int64 device array, shape (n2, 2)
        First-stream indices of each second stream.
    a : device array, shape (H, S, N), C-contiguous, written
    s : device array, shape (H, 3, N), written with the first three derivatives of sigma at
        z + b; or (1, 3, R), a scratch the CPU kernel needs and this one leaves alone
    """
    launch(_forward, z.shape[0] * z.shape[2], code, alpha, z, b, pairs, a, s)


def taylor_backward(code, pairs, z, a, s, c, g, db):
    """Reverse of `taylor_forward`: dL/da' into dL/dz in place, and the bias gradient.

    Parameters
    ----------
    code, pairs : as in `taylor_forward`
    z, a : device arrays, shape (H, S, N): the forward's z and output streams
    s : device array, shape (H, 3, N): the forward's kept derivatives (not read for tanh)
    c : device array, shape (n_leaf, n_ch, N): each leaf's coefficients on the chains
    g : device array, shape (H, R, N), C-contiguous, overwritten
    db : device array, shape (H,), updated: += the sum over the points of dL/dz[:, 0]
    """
    launch(_backward, g.shape[0] * g.shape[2], code, pairs, z, a, s, c, g)
    db += g[:, 0].sum(axis=1, dtype=np.float64).astype(db.dtype)


def combine_leaves(a, c, out):
    """out[:, o] = sum_j c[j, o] a[:, S - n_leaf + j] (arguments as the CPU kernel's)."""
    launch(_combine, out.size, a, c, out)


def _weight(params, offsets, sizes, l):
    """W_l of the packed parameters (as ``fastdds.kernels.cpu.mlp``)."""
    o = int(offsets[2 * l])
    return params[o:o + int(sizes[l + 1] * sizes[l])].reshape(int(sizes[l + 1]), int(sizes[l]))


def forward_pass(code, alpha, params, offsets, sizes, pairs, buf, layout, chunks, w):
    """The forward pass of the chunks `chunks` (worker w's): every layer of one chunk, then the
    next; arguments as ``fastdds.kernels.cpu.mlp.forward_pass`` (device arrays; offsets, sizes,
    layout and chunks host arrays)."""
    xp = array_module(buf)
    L = sizes.size - 1
    C = int(layout[INPUTS, 0, 1])  # a_0 holds every chunk
    for c in chunks:
        for l in range(L):
            a, z = layer_part(buf, layout, INPUTS, l), layer_part(buf, layout, PRODUCTS, l)
            ai = a[c if a.shape[0] == C else w]
            zi = z[c if z.shape[0] == C else w]
            fan_in, S, P = ai.shape
            xp.matmul(_weight(params, offsets, sizes, l), ai.reshape(fan_in, S * P), out=zi.reshape(zi.shape[0], S * P))
            if l < L - 1:
                nxt, s = layer_part(buf, layout, INPUTS, l + 1), layer_part(buf, layout, DERIVS, l)
                o = int(offsets[2 * l + 1])
                b = params[o:o + int(sizes[l + 1])]
                taylor_forward(code, alpha, zi, b, pairs, nxt[c if nxt.shape[0] == C else w],
                               s[c if s.shape[0] == C else w])


def backward_pass(code, params, offsets, sizes, pairs, buf, layout, dout, coef, n_nl, chunks, w, lanes, grads, g,
                  leaves, dx):
    """The reverse pass of the chunks `chunks` (worker w's), each chunk's parameter gradients
    added to its lane c % lanes; arguments as ``fastdds.kernels.cpu.mlp.backward_pass``
    (device arrays; offsets, sizes, layout and chunks host arrays)."""
    xp = array_module(dout)
    L = sizes.size - 1
    C = int(layout[INPUTS, 0, 1])  # a_0 holds every chunk
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
            ai = layer_part(buf, layout, INPUTS, l)[c]
            P = ai.shape[2]
            a2 = ai.reshape(fan_in, ai.shape[1] * P)
            g2 = gc.reshape(fan_out, R * P)
            o = int(offsets[2 * l])
            dWt = lane[o:o + fan_in * fan_out].reshape(fan_in, fan_out)  # the CPU kernel's dW^T layout
            dWt += xp.matmul(a2[:, :nr * P], g2[:, :nr * P].T)
            if n_ch:
                lv = leaves[w, :fan_in]
                combine_leaves(ai, cc, lv)
                dWt += xp.matmul(lv.reshape(fan_in, n_ch * P), g2[:, nr * P:].T)
            if l > 0:
                gp = g[w, (L - l) % 2, :fan_in]
                xp.matmul(W.T, g2, out=gp.reshape(fan_in, R * P))
                o = int(offsets[2 * l - 1])
                z, s = layer_part(buf, layout, PRODUCTS, l - 1), layer_part(buf, layout, DERIVS, l - 1)
                taylor_backward(code, pairs, z[c], ai, s[c if s.shape[0] == C else w], cc, gp, lane[o:o + fan_in])
                gc = gp
            elif dx.shape[0]:
                xp.matmul(W.T, g2[:, :P], out=dx[c])
