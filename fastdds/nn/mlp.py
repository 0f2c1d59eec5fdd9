"""A hand-written multilayer perceptron with Taylor-mode input derivatives and its reverse pass.

The MLP is a `fastdds.layers.Block`: params [W0, b0, W1, b1, ...], W_l of shape (fan_out,
fan_in), the layout of ``fastdds.operators.Dense``, and `layers()` is its layer form, a Chain
of Layer(None, [(None, sigma, Dense(W_l), b_l)]) (the output layer with the identity) built
from the very arrays it trains. Hidden layers are z = W a + b, a' = sigma(z); the output layer
is linear. Beside the value u, `streams` carries the first and second input derivatives a PINN
residual needs, as stacked streams (value, d/dx_i, d^2/dx_i dx_j). The points go through the
network in chunks of at most CHUNK_POINTS, so that a chunk stays in cache from layer to layer;
a layer's streams of one chunk are one feature-major array of shape (width, S, P), so that a
layer is ONE matrix product (fan_out, fan_in) @ (fan_in, S P) followed by one fused
element-wise kernel (``fastdds.kernels.cpu.mlp``):

    forward                                  backward (g = dL/d stream)
    z     = W a + b                          dW = [g_z g_zi g_zij] [a a_i a_ij]^T,  db = sum_N g_z
    z_i   = W a_i,  z_ij = W a_ij            [g_a g_ai g_aij] = W^T [g_z g_zi g_zij]
    a'    = sigma(z)                         g_z   = g s1 + sum_i g_i s2 z_i + sum_ij g_ij (s3 z_i z_j + s2 z_ij)
    a'_i  = s1 z_i                           g_zi  = g_i s1 + sum_j g_ij s2 z_j  (both factors of z_i z_j)
    a'_ij = s2 z_i z_j + s1 z_ij             g_zij = g_ij s1

with s_d = sigma^(d)(z), and at the input a = X^T, a_i = e_i, a_ij = 0. No autodiff framework
is involved. Streams that feed no other (u_t and u_xx of Burgers) are leaves: in the reverse
pass their gradients all ride on one chain per output, v = du/da (``taylor_backward``), so
the dW and dA products run over R = 1 + (firsts a second derivative needs) + d_out streams
instead of S (3 instead of 4 for Burgers). The input gradient, when asked for (the Block's
`backward`), is W_0^T dL/dz_0 of the value stream.

Nothing is kept on the network between a forward and its reverse pass: `streams(X, derivs)`
returns the streams and a cache, `stream_backward(cache, dout)` the parameter gradients. The
buffers are preallocated all the same: the network holds a pool of free workspaces, one per
(number of points, derivative set, keep, workers). A forward takes one out of the pool; one
that keeps nothing puts it back at once, a keeping one hands it to its cache, and
`stream_backward` puts it back (a cache then is spent: reversing it again raises). A cache that
is never reversed is simply garbage collected with its workspace. So the loop forward, reverse,
forward, ... allocates nothing after its first step, and any number of caches may be
outstanding at once (each owns its buffers).

The chunks are shared among Numba's thread count of threads (``fastdds.threads``), each
running single-threaded BLAS; the results do not depend on the thread count. Each worker runs
all its chunks, products and kernels, in ONE compiled call that holds no GIL (``forward_pass``,
``backward_pass``). With a Python loop over chunks and layers instead, the calls cost about
0.35 ms a chunk under the GIL, which the two threads took turns at, and chunks had to be large
(1 MB of streams a layer) to amortise them; chunks of 512 points now fit in L2 (width-20
float32 step on 2 cores: 13.0 to 9.6 ms).
The feature-major layout makes the GEMMs' long dimension (S P) contiguous. Against the
point-major layout, OpenBLAS ran the forward and dA products 6-34 % faster at widths 20 and 100;
the dW product went from 28 % slower (width 20, float32) to 24 % faster (width 100, float64).

An input scaling xi = 2 (X - lower) / (upper - lower) - 1 (Raissi et al.'s PINNs) is part of
the network (`MLP(..., lower=, upper=)`): `streams` feeds xi to the first layer and scales a
stream with key k by prod(a[k]), a = 2 / (upper - lower), so the streams are derivatives in
the physical X; in the layer form it is a first Layer(P = diag(a), c = -a lower - 1).

Weight files (``W0..WL``, ``b0..bL`` in an .npz) store W_l as (fan_in, fan_out), the layout of
the published files; `load_weights` and `save_weights` transpose on read and write, and
nothing else does.
"""

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .. import backend, initializers
from ..activations import get_activation
from ..io import atomic_write
from ..kernels.cpu.blas import NARROW
from ..kernels.cpu.mlp import BLOCK, TANH
from ..layers import Block, Chain, Layer
from ..operators import Banded, Dense
from ..threads import num_workers, run_workers
from ..validation import check_finite

INITS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")
_MAX_WORKSPACES = 8  # free workspaces a network keeps, at most (least recently used go first)
CHUNK_POINTS = 512  # points of a chunk, at most
LANES = 4  # chunk c belongs to lane c % LANES; lanes sum their gradients apart, then in order
MIN_CHUNK_POINTS = 256  # below LANES * 256 points one chunk, on one thread
BATCH_BYTES = 12 * 2**20  # kept streams of one batch of points, at most (see `MLP.batches`)


class _Streams:
    """Which Taylor streams a derivative request needs, and where each requested key lives.

    Stream 0 is u; streams 1..n1 are d/dx_i for i in `firsts`, the n_nl that a second
    derivative needs first; streams 1+n1.. are the second derivatives of `pairs` (indices into
    `firsts`, p <= q). The last n_leaf = S - 1 - n_nl streams are leaves: no other stream is
    made from them, so the reverse pass carries them as n_ch = d_out chains (none when there are
    no leaves; see ``fastdds.kernels.cpu.mlp.taylor_backward``): R = 1 + n_nl + n_ch streams.
    """

    def __init__(self, derivs, d_in, d_out):
        keys = []
        for d in derivs:
            key = tuple(int(i) for i in (d if isinstance(d, (tuple, list)) else (d,)))
            if len(key) > 2:
                raise ValueError(f"derivative {key} has order {len(key)}; only orders 1 and 2 are available")
            if any(not 0 <= i < d_in for i in key):
                raise ValueError(f"derivative {key} refers to an input column outside 0..{d_in - 1}")
            if key:
                keys.append(key)
        self.keys = tuple(dict.fromkeys([()] + keys))
        second = sorted({tuple(sorted(k)) for k in keys if len(k) == 2})
        fed = sorted({i for k in second for i in k})
        self.firsts = fed + sorted({k[0] for k in keys if len(k) == 1} - set(fed))
        col = {i: k for k, i in enumerate(self.firsts)}
        self.pairs = np.array([(col[i], col[j]) for i, j in second], dtype=np.int64).reshape(-1, 2)
        n1 = len(self.firsts)
        self.S = 1 + n1 + len(second)
        self.n_nl = len(fed)
        self.n_leaf = self.S - 1 - self.n_nl
        self.n_ch = d_out if self.n_leaf else 0
        self.R = 1 + self.n_nl + self.n_ch
        self.index = {(): 0}
        for key in keys:
            self.index[key] = 1 + col[key[0]] if len(key) == 1 else 1 + n1 + second.index(tuple(sorted(key)))


def _packed(xp, shapes, dtype, align=1):
    """One zeroed 1-D buffer holding arrays of the given shapes one after another (each start
    rounded up to a multiple of `align` entries), and its views of those shapes.

    Returns
    -------
    buf : 1-D array of xp, dtype `dtype`
    views : list of arrays of xp, views of buf
    starts : list of int
        Where each view starts in buf.
    """
    counts = [int(np.prod(shape)) for shape in shapes]
    starts, end = [], 0
    for n in counts:
        starts.append(end)
        end = -(-(end + n) // align) * align
    buf = xp.zeros(end, dtype=dtype)
    return buf, [buf[o:o + n].reshape(shape) for o, n, shape in zip(starts, counts, shapes)], starts


def _workers_for(xp, lanes):
    """Threads that share `lanes` lanes: Numba's thread count on the host (``fastdds.threads``),
    one for device arrays (a device runs one chunk's products and kernels at a time anyway)."""
    return num_workers(lanes) if xp is np else 1


def _spread_rows(P, counts, itemsize):
    """The least P' >= P, in steps of 64 bytes, such that rows of count * P' elements (a layer's
    stream matrices, (width, count P')) lie at strides whose gcd with 4096 is at most 256.

    A register tile reads 64 bytes of each of fan_in rows at once; rows 4096 bytes apart (or a
    multiple) map to one set of the L1 (64 sets; 8 ways on Zen 3 and 4, 12 on Zen 5) and evict
    each other. At P = 512 (any N a multiple of 2048 points) the 4-stream rows are 8192 bytes
    apart: a width-20 float32 step took 1066-1157 ns a point at 8,192 points against 775-789 at
    8,000 (AVX2 code, AMD EPYC family 26 model 2)."""
    step = max(1, 64 // itemsize)
    while any(k and np.gcd(k * P * itemsize, 4096) > 256 for k in counts):
        P += step
    return P


class _Workspace:
    """Preallocated arrays of one forward / reverse pass shape, in C chunks of P points (C P >= N,
    the padding points get zero gradients; C is 1 or a multiple of LANES): per layer its input
    streams `a` (C, fan_in, S, P), its GEMM output `z` (C, fan_out, S, P) and the activation
    derivatives `s` (C, width, 3, P) when `keep` (for tanh only a (1, 3, BLOCK) scratch per
    worker: its kernels rebuild them from a'; the output layer's `s` is empty), plus for the
    reverse pass dL/d(output) `dout` (C, d_out, R, P), the leaves' chain coefficients `coef`
    (C, n_leaf, n_ch, P), each worker's gradient streams `g` and folded leaves `leaves` of one
    chunk, and each lane's parameter gradients `grads` (lanes, nparams; the weights' as dW^T,
    so a row is in the order of `MLP.get_flat`). Without `keep` the hidden layers hold one
    chunk per worker, reused chunk after chunk. `a`, `z` and `s` are views of one buffer `buf`,
    each starting on a 64-byte boundary of it; `layout` says where (``fastdds.kernels.layer_part``),
    so the compiled passes take the same types at every depth.

    Chunk c belongs to lane c % LANES, and `workers` threads share the lanes. A lane runs its
    chunks in order and sums its own gradients, and the lanes are summed in order, so results
    do not depend on the number of threads. The arrays are of the array module `xp` (that of the
    points), and so is `pairs`, the stream layout's second-derivative pairs the kernels read. On
    a device all points are one chunk (C = 1, one lane, one worker): chunks that stay in a CPU
    cache would there only multiply the launches, one product and one kernel per chunk and layer."""

    def __init__(self, sizes, dtype, N, streams, keep, tanh, xp=np):
        S = streams.S
        C = max(-(-N // CHUNK_POINTS), min(LANES, N // MIN_CHUNK_POINTS)) if xp is np else 1
        C = 1 if C == 1 else -(-C // LANES) * LANES
        P = -(-N // C)
        if xp is np:
            P = _spread_rows(P, (S, streams.R, streams.n_ch), np.dtype(dtype).itemsize)
        self.S, self.N, self.C, self.P = S, N, C, P
        self.lanes = min(LANES, C)
        self.xp = xp
        self.workers = _workers_for(xp, self.lanes)
        held = C if keep else self.workers
        full = keep and not tanh  # tanh rebuilds s1, s2, s3 from the kept a' block by block
        hidden = sizes[1:-1]
        shapes = ([(C, sizes[0], S, P)] + [(held, w, S, P) for w in hidden]  # a, z, s (the groups'
                  + [(held, w, S, P) for w in hidden] + [(C, sizes[-1], S, P)]  # order in the kernels)
                  + [(C, w, 3, P) if full else (self.workers, 1, 3, min(P, BLOCK)) for w in hidden] + [(0, 0, 0, 0)])
        self.buf, views, starts = _packed(xp, shapes, dtype, 64 // np.dtype(dtype).itemsize)
        L = len(sizes) - 1
        self.a, self.z, self.s = views[:L], views[L:2 * L], views[2 * L:]
        self.layout = np.array([[o, *shape] for o, shape in zip(starts, shapes)], dtype=np.int64).reshape(3, L, 5)
        for k, i in enumerate(streams.firsts):
            self.a[0][:, i, 1 + k] = 1.0
        R, n_ch, n_leaf = streams.R, streams.n_ch, streams.n_leaf
        self.g = xp.empty((self.workers, 2, max(sizes[1:]), R, P) if keep else 0, dtype=dtype)
        self.dout = xp.zeros((C, sizes[-1], R, P) if keep else 0, dtype=dtype)
        self.coef = xp.zeros((C, n_leaf, n_ch, P) if keep else 0, dtype=dtype)
        self.leaves = xp.empty((self.workers, max(sizes[:-1]), n_ch, P) if keep else 0, dtype=dtype)
        nparams = sum(i * o + o for i, o in zip(sizes, sizes[1:]))
        self.grads = xp.empty((self.lanes, nparams) if keep else (0, 0), dtype=dtype)
        self.pairs = xp.asarray(streams.pairs)
        self._chunks = [np.array([c for lane in range(w, self.lanes, self.workers)
                                  for c in range(lane, C, self.lanes)], dtype=np.int64)
                        for w in range(self.workers)]

    def chunks(self, w):
        """The chunks worker w runs: those of its lanes w, w + workers, ..., lane by lane."""
        return self._chunks[w]

    def to_chunks(self, v):
        """(N, d) -> (C, d, P): the points of v in chunks, the padding set to zero."""
        out = self.xp.zeros((self.C * self.P, v.shape[1]), dtype=v.dtype)
        out[:self.N] = v
        return out.reshape(self.C, self.P, -1).transpose(0, 2, 1)

    def from_chunks(self, v):
        """(C, d, P) -> (N, d), a fresh array: the inverse of `to_chunks`."""
        return v.transpose(0, 2, 1).reshape(self.C * self.P, -1)[:self.N].copy()

    def kept_nbytes(self):
        """Bytes of the arrays the reverse pass reads: layer inputs, z streams, kept derivatives."""
        return sum(x.nbytes for group in (self.a, self.z, self.s) for x in group)


class StreamCache:
    """What `MLP.stream_backward` needs of one keeping forward: the workspace it owns (until
    reversed), the stream layout and the number of points.

    Attributes
    ----------
    keys : tuple
        The stream keys of that forward.
    nbytes : int
        Bytes kept for the reverse pass (layer inputs, z streams, kept activation derivatives);
        0 once reversed.
    """

    __slots__ = ("ws", "spec", "N", "key")

    def __init__(self, ws, spec, N, key):
        self.ws, self.spec, self.N, self.key = ws, spec, N, key

    @property
    def keys(self):
        return self.spec.keys

    @property
    def nbytes(self):
        return self.ws.kept_nbytes() if self.ws is not None else 0


class MLP(Block):
    """Fully connected network u = W_L sigma(... sigma(W_0 xi + b_0) ...) + b_L, xi = X or its
    scaled form; a `fastdds.layers.Block`.

    Parameters
    ----------
    sizes : sequence of int
        [d_in, width_1, ..., d_out]; at least two entries.
    activation : str, (str, float) or Activation
        Of the hidden layers (any name of ``fastdds.activations``); the output layer is linear.
    init : {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal"}
        Weight initialisation (``fastdds.initializers.weight``; normal ones are plain, not
        truncated); biases start at zero.
    seed : int
        Seed of ``np.random.default_rng``; the same seed gives the same weights in both dtypes
        (drawn in float64, then cast) and in the (fan_in, fan_out) order of earlier versions.
    dtype : float64 (default) or float32
    lower, upper : sequence of float, length d_in, optional
        Both or neither: the network then sees xi = 2 (X - lower) / (upper - lower) - 1 and
        its streams are derivatives in X (see the module docstring).

    Attributes
    ----------
    params : list of ndarray
        [W0, b0, W1, b1, ...], W_l of shape (fan_out, fan_in), C-contiguous; optimisers update
        them in place.
    sizes, n_in, n_out, dtype, activation, nparams
    lower, upper : float64 ndarrays of shape (d_in,), or None
    """

    def __init__(self, sizes, activation="tanh", init="glorot_uniform", seed=0, dtype=np.float64, lower=None,
                 upper=None):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list at least two positive layer widths; got {sizes}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {INITS}")
        self.sizes, self.init, self.seed = sizes, init, int(seed)
        self.n_in, self.n_out = sizes[0], sizes[-1]
        self.dtype = backend.resolve_dtype(dtype)
        self.activation = get_activation(activation)
        rng = np.random.default_rng(seed)
        xp = backend.xp()
        shapes = [shape for fan_in, fan_out in zip(sizes[:-1], sizes[1:]) for shape in ((fan_out, fan_in), (fan_out,))]
        self._packed, self.params, starts = _packed(xp, shapes, self.dtype)
        self._views = tuple(self.params)
        for W, (fan_in, fan_out) in zip(self.params[0::2], zip(sizes[:-1], sizes[1:])):
            W[...] = xp.asarray(initializers.weight(init, fan_in, fan_out, rng, self.dtype))
        self.lower, self.upper = _check_box(lower, upper, sizes[0])
        if self.lower is not None:
            self._a = 2.0 / (self.upper - self.lower)  # d xi / d X, float64
            self._scale = tuple(xp.asarray(v) for v in (self._a.astype(self.dtype).reshape(1, -1),
                                                         (-self._a * self.lower - 1.0).astype(self.dtype)))
        self._offsets = np.array(starts, dtype=np.int64)
        self._sizes = np.array(sizes, dtype=np.int64)
        self._specs = {}
        self._free = OrderedDict()
        self._lock = threading.Lock()

    def __getstate__(self):
        """State for pickle and `copy.deepcopy`: the parameters and settings, without the lock,
        the workspace pool or the packed buffer (rebuilt by `__setstate__`)."""
        drop = ("_lock", "_free", "_specs", "_packed", "_views")
        return {k: v for k, v in self.__dict__.items() if k not in drop}

    @property
    def _blas(self):
        """Whether a pass calls BLAS: only for a layer with a side above NARROW; the products of
        narrower ones run on register tiles (``fastdds.kernels.cpu.blas.gemm``)."""
        return any(max(a, b) > NARROW for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    def __setstate__(self, state):
        self.__dict__.update(state)
        xp = backend.array_module(self.params[0])
        self._packed, views, _ = _packed(xp, [p.shape for p in self.params], self.dtype)
        for view, p in zip(views, self.params):
            view[...] = p
        self.params, self._views = views, tuple(views)
        self._specs, self._free, self._lock = {}, OrderedDict(), threading.Lock()

    def config(self):
        """Constructor arguments (JSON-serialisable) of a network of this architecture:
        ``MLP(**net.config())`` has the same parameter shapes (its weights are drawn afresh)."""
        return {"sizes": list(self.sizes), "activation": [self.activation.name, self.activation.alpha],
                "init": self.init, "seed": self.seed, "dtype": self.dtype.name,
                "lower": None if self.lower is None else self.lower.tolist(),
                "upper": None if self.upper is None else self.upper.tolist()}

    # ---- construction from / to weight files -------------------------------------------
    @classmethod
    def from_weights(cls, weights, activation="tanh", dtype=None, lower=None, upper=None):
        """Network with the given weights (copied).

        Parameters
        ----------
        weights : list of (W, b)
            In the Dense layout of `params`: W_l of shape (fan_out, fan_in), b_l of shape
            (fan_out,); shapes must chain. (`load_weights` returns a file in this layout.)
        activation, lower, upper : as in `MLP`
        dtype : optional
            Default: the dtype of W0 if float32/float64, else float64.
        """
        weights = _check_weights(weights, "weights")
        dtype = backend.resolve_dtype(dtype, like=weights[0][0])
        net = cls([weights[0][0].shape[1]] + [W.shape[0] for W, _ in weights], activation, dtype=dtype,
                  lower=lower, upper=upper)
        xp = backend.array_module(net.params[0])
        for l, (W, b) in enumerate(weights):
            net.params[2 * l][...] = xp.asarray(W)
            net.params[2 * l + 1][...] = xp.asarray(b)
        return net

    @classmethod
    def load(cls, path, activation="tanh", dtype=None, lower=None, upper=None):
        """Load an .npz weight file (W0..WL stored (fan_in, fan_out), b0..bL); see `load_weights`.

        float32 files give a float32 network unless `dtype` says otherwise.
        """
        return cls.from_weights(load_weights(path), activation, dtype, lower, upper)

    def save(self, path):
        """Write the weights as an .npz (W0..WL stored (fan_in, fan_out), b0..bL) atomically;
        see `save_weights`."""
        save_weights(path, self.weights)

    @property
    def weights(self):
        """List of (W_l, b_l): `params` in pairs (the arrays themselves), W_l of shape (fan_out, fan_in)."""
        return [(self.params[2 * l], self.params[2 * l + 1]) for l in range(len(self.sizes) - 1)]

    # ---- parameter vectors ----------------------------------------------------------------
    def get_flat(self):
        """All parameters as one float64 vector (a copy): `params` in order, each weight matrix
        as the weight files store it, W_l^T (fan_in, fan_out) row by row.

        This is the vector L-BFGS works on; its order is that of earlier versions, whose
        weights were (fan_in, fan_out), because L-BFGS's dot products sum in vector order and
        a training run amplifies their round-off (``fastdds.kernels.cpu.mlp.backward_pass``):
        so runs reproduce bit for bit.
        """
        return np.concatenate([backend.to_numpy(p).T.ravel() for p in self.params]).astype(np.float64)

    def set_flat(self, vec):
        """Write a vector from `get_flat` (any float dtype) back into `params`, in place."""
        vec = np.asarray(backend.to_numpy(vec))
        if vec.shape != (self.nparams,):
            raise ValueError(f"flat parameter vector has shape {vec.shape}; expected ({self.nparams},)")
        check_finite("flat parameter vector", vec)
        o = 0
        for p in self.params:
            p.T[...] = backend.array_module(p).asarray(vec[o:o + p.size].reshape(p.T.shape))
            o += p.size

    def grads_to_flat(self, grads):
        """Gradients aligned with `params` as one float64 vector, in the order of `get_flat`."""
        if len(grads) != len(self.params) or any(g.shape != p.shape for g, p in zip(grads, self.params)):
            raise ValueError("grads must be a list aligned with params (same length and shapes)")
        return np.concatenate([backend.to_numpy(g).T.ravel() for g in grads]).astype(np.float64)

    # ---- the layer form ----------------------------------------------------------------------
    def layers(self):
        """The network as a Chain of ``fastdds.layers.Layer`` sharing these weights (no copy).

        Hidden layer l: Layer(None, [(None, activation, Dense(W_l), b_l)]); the output layer
        is the same with the identity activation, W_L a + b_L. With an input scaling the chain
        starts with Layer(P = Banded diag(a), c = -a lower - 1) (constants, not in `params`).
        """
        blocks = [Layer(None, [(None, self.activation, Dense(W), b)]) for W, b in self.weights[:-1]]
        W, b = self.weights[-1]
        blocks.append(Layer(None, [(None, "identity", Dense(W), b)]))
        if self.lower is not None:
            blocks.insert(0, Layer(Banded([0], self._scale[0]), c=self._scale[1]))
        return Chain(blocks)

    # ---- Taylor streams: forward and reverse ------------------------------------------------
    def _spec(self, derivs):
        key = tuple(tuple(d) if isinstance(d, (tuple, list)) else d for d in derivs)
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specs[key] = _Streams(key, self.sizes[0], self.sizes[-1])
        return spec

    def _take(self, N, spec, keep, xp):
        """A free workspace of this shape in the array module xp out of the pool (a new one if
        none is free)."""
        key = (N, spec.keys, keep, _workers_for(xp, LANES), xp.__name__)
        with self._lock:
            ws = self._free.pop(key, None)
        if ws is None:
            ws = _Workspace(self.sizes, self.dtype, N, spec, keep, self.activation.code == TANH, xp)
        return key, ws

    def _give_back(self, key, ws):
        """Return a workspace to the pool, which keeps the _MAX_WORKSPACES most recent."""
        with self._lock:
            self._free.pop(key, None)
            self._free[key] = ws
            while len(self._free) > _MAX_WORKSPACES:
                self._free.popitem(last=False)

    def release(self):
        """Drop the free workspaces (frees their memory; outstanding caches keep theirs)."""
        with self._lock:
            self._free.clear()

    def _packed_params(self):
        """`params` as the kernels take them: the one buffer they are views of, or a packed copy
        when an entry of `params` was replaced by another array."""
        if len(self.params) == len(self._views) and all(p is v for p, v in zip(self.params, self._views)):
            return self._packed
        return backend.array_module(self._packed).concatenate([p.ravel() for p in self.params])

    def _factor(self, key):
        """d^|key| xi / dX^key of the input scaling: prod(a[key]) (1 without scaling)."""
        return float(np.prod(self._a[list(key)])) if key and self.lower is not None else 1.0

    def streams(self, X, derivs=(), keep=True):
        """u and the requested input derivatives at the points X.

        Parameters
        ----------
        X : ndarray, shape (N, d_in), the network's dtype
        derivs : sequence of tuples
            Multi-indices over the input columns: (i,) for du/dx_i, (i, j) for d^2u/dx_i dx_j
            (pure i == j or mixed).
        keep : bool
            Return a cache for `stream_backward` (it owns a workspace until reversed).

        Returns
        -------
        streams : dict
            {(): u, (i,): u_xi, (i, j): u_xixj, ...}, each an ndarray of shape (N, d_out) and
            the network's dtype (fresh arrays), derivatives in X (also with an input scaling).
        cache : StreamCache, or None without `keep`
        """
        return self._streams(self._check_points(X), self._spec(derivs), keep)

    def _streams(self, X, spec, keep):
        """`streams` on validated points (C-contiguous, the network's dtype)."""
        xp = backend.array_module(X)
        if self.lower is not None:
            lower, a = (xp.asarray(v.astype(X.dtype)) for v in (self.lower, self._a))
            X = ((X - lower) * a - 1).astype(X.dtype, copy=False)
        N, S = X.shape[0], spec.S
        key, ws = self._take(N, spec, keep, xp)
        ws.a[0][:, :, 0] = ws.to_chunks(X)
        k = backend.kernels("mlp", like=X)
        code, alpha = self.activation.code, float(self.activation.alpha)
        params = self._packed_params()

        def run(w):
            k.forward_pass(code, alpha, params, self._offsets, self._sizes, ws.pairs, ws.buf, ws.layout, ws.chunks(w),
                           w)

        run_workers(run, ws.workers, self._blas)
        out = ws.z[-1].transpose(2, 0, 3, 1).reshape(S, ws.C * ws.P, -1)[:, :N].copy()
        out[0] += self.params[-1]
        if keep:
            cache = StreamCache(ws, spec, N, key)
        else:
            cache = None
            self._give_back(key, ws)
        result = {}
        for name in spec.keys:
            f = self._factor(name)
            v = out[spec.index[name]]
            result[name] = v * v.dtype.type(f) if f != 1.0 else v
        return result, cache

    def batches(self, N, derivs=()):
        """Slices of N points in which to run `streams` and `stream_backward`, one after another.

        A loss that is a sum over the points has the sum over batches of their gradients as
        its gradient. A batch's kept streams, at most BATCH_BYTES, stay in the last-level cache
        between its forward and its reverse pass; over all N points at once they go out to
        memory and back. The split pays where the element-wise work and that traffic weigh
        against the matrix products: at width 20 a viscous-Burgers step of 10,000 points on 2
        cores went from 9.3-9.5 to 8.2-8.5 ms (float32, 5 batches) and from 17.5-18.3 to
        15.2-16.1 ms (float64, 8 batches of 1,250). At width 100 it did not (110 against 116 ms with 5
        batches), so batches smaller than LANES * MIN_CHUNK_POINTS, which could not fill the
        lanes, are not made: the network then runs all N points at once. A network whose weights
        are device arrays runs all N points at once, too (its workspace is one chunk).

        Parameters
        ----------
        N : int
            Number of points.
        derivs : sequence
            The derivative streams the forward passes will carry (as in `streams`).

        Returns
        -------
        list of slice
            Consecutive, covering range(N); sizes differ by at most one.
        """
        S = self._spec(derivs).S
        if backend.is_gpu_array(self.params[0]):
            return [slice(0, N)]
        sizes = self.sizes
        per_point = S * (sum(sizes[:-1]) + sum(sizes[1:]))
        if self.activation.code != TANH:
            per_point += 3 * sum(sizes[1:-1])
        n = BATCH_BYTES // (per_point * self.dtype.itemsize)
        if n < LANES * MIN_CHUNK_POINTS or n >= N:
            return [slice(0, N)]
        count = -(-N // n)
        bounds = [N * i // count for i in range(count + 1)]
        return [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]

    def stream_backward(self, cache, dout):
        """Parameter gradients of a loss of the streams of one `streams(..., keep=True)`.

        Parameters
        ----------
        cache : StreamCache
            What that call returned; spent afterwards (its workspace goes back to the pool).
        dout : dict
            Keys: a subset of that call's keys; values: dL/d(stream), shape (N, d_out).

        Returns
        -------
        list of ndarray aligned with `params`, summed over the N points, network dtype; the
        weights' (fan_out, fan_in) gradients are transposed views of the kernel's dW^T sums
        (see ``fastdds.kernels.cpu.mlp.backward_pass``), not C-contiguous.
        """
        return self._reverse(cache, dout, False)[0]

    def _reverse(self, cache, dout, input_grad):
        """(grads, dL/dX of shape (N, d_in) when `input_grad`, else None) of `stream_backward`."""
        if not isinstance(cache, StreamCache):
            raise ValueError(f"cache must be the StreamCache of streams(X, derivs, keep=True); "
                             f"got {type(cache).__name__}")
        if cache.ws is None:
            raise RuntimeError("this cache was already reversed (its workspace went back to the pool); "
                               "run streams(X, derivs, keep=True) again")
        spec, N = cache.spec, cache.N
        seeds = []
        for key, v in dout.items():
            key = tuple(key)
            if key not in spec.index:
                raise ValueError(f"dout has key {key} but the forward computed only {list(spec.index)}")
            v = cache.ws.xp.asarray(v, dtype=self.dtype)
            if v.shape != (N, self.sizes[-1]):
                raise ValueError(f"dout[{key}] has shape {v.shape}; expected ({N}, {self.sizes[-1]})")
            check_finite(f"dout[{key}]", v)
            f = self._factor(key)
            seeds.append((spec.index[key], v * v.dtype.type(f) if f != 1.0 else v))
        ws, cache.ws = cache.ws, None
        nr = 1 + spec.n_nl
        ws.dout[...] = 0
        ws.coef[...] = 0
        for o in range(spec.n_ch):
            ws.dout[:, o, nr + o] = 1.0  # chain o starts as d(output o)
        for i, v in seeds:
            if i < nr:
                ws.dout[:, :, i] += ws.to_chunks(v)
            else:
                ws.coef[:, i - nr] += ws.to_chunks(v)
        k = backend.kernels("mlp", like=ws.dout)
        ws.grads[...] = 0
        params = self._packed_params()
        dx = ws.xp.empty((ws.C, self.n_in, ws.P) if input_grad else (0, 0, 0), dtype=self.dtype)

        def run(w):
            k.backward_pass(self.activation.code, params, self._offsets, self._sizes, ws.pairs, ws.buf, ws.layout,
                            ws.dout, ws.coef, spec.n_nl, ws.chunks(w), w, ws.lanes, ws.grads, ws.g, ws.leaves, dx)

        run_workers(run, ws.workers, self._blas)
        flat = ws.grads[0].copy()
        for lane in ws.grads[1:]:
            flat += lane
        grads = [flat[o:o + p.size].reshape(p.T.shape).T for o, p in zip(self._offsets, self.params)]
        grads[-1] += ws.dout[:, :, 0].sum(axis=(0, 2))
        dX = None
        if input_grad:
            dX = ws.from_chunks(dx)
            if self.lower is not None:
                dX *= ws.xp.asarray(self._a.astype(self.dtype))
        self._give_back(cache.key, ws)
        return grads, dX

    # ---- the Block protocol: the value only ---------------------------------------------
    def _forward(self, x, keep):
        out, cache = self._streams(x, self._spec(()), keep)
        return out[()], cache

    def _backward(self, cache, dy):
        grads, dx = self._reverse(cache, {(): dy}, True)
        return dx, grads

    def _check_points(self, X):
        if not hasattr(X, "dtype"):
            X = backend.array_module(self.params[0]).asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"X has shape {X.shape}; expected (N, {self.sizes[0]})")
        if X.dtype != self.dtype:
            raise ValueError(f"X is {X.dtype} but the network is {self.dtype}; cast X with "
                             f"X.astype(net.dtype) or build the network with dtype={X.dtype}")
        check_finite("X", X)
        return backend.array_module(X).ascontiguousarray(X)

    def __repr__(self):
        scaled = "" if self.lower is None else f", lower={self.lower.tolist()}, upper={self.upper.tolist()}"
        return (f"MLP(sizes={self.sizes}, activation={self.activation.name!r}, dtype={self.dtype.name}, "
                f"nparams={self.nparams}{scaled})")


def _check_box(lower, upper, d_in):
    """(lower, upper) as float64 arrays of shape (d_in,) with upper > lower, or (None, None)."""
    if lower is None and upper is None:
        return None, None
    if lower is None or upper is None:
        raise ValueError("give both lower and upper for the input scaling, or neither")
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    if lo.shape != (d_in,) or hi.shape != (d_in,):
        raise ValueError(f"lower and upper have shapes {lo.shape}, {hi.shape}; expected ({d_in},), one per input")
    check_finite("lower", lo)
    check_finite("upper", hi)
    if not np.all(hi > lo):
        raise ValueError(f"input scaling needs upper > lower in every coordinate; got lower {lo.tolist()}, "
                         f"upper {hi.tolist()}")
    return lo, hi


def _check_weights(weights, source):
    """Validate a list of (W, b) in the Dense layout: 2-D W (fan_out, fan_in), b of shape
    (W.shape[0],), chained shapes, finite floats."""
    weights = [(np.asarray(W), np.asarray(b)) for W, b in weights]
    if not weights:
        raise ValueError(f"{source}: no layers")
    for l, (W, b) in enumerate(weights):
        for name, x in ((f"W{l}", W), (f"b{l}", b)):
            if not np.issubdtype(x.dtype, np.floating):
                raise ValueError(f"{source}: {name} has dtype {x.dtype}; expected float32 or float64")
            check_finite(f"{source}: {name}", x)
        if W.ndim != 2 or 0 in W.shape:
            raise ValueError(f"{source}: W{l} has shape {W.shape}; expected a non-empty matrix")
        if b.shape != (W.shape[0],):
            raise ValueError(f"{source}: b{l} has shape {b.shape}; expected ({W.shape[0]},) to match W{l}")
        if l and W.shape[1] != weights[l - 1][0].shape[0]:
            raise ValueError(f"{source}: W{l} takes {W.shape[1]} inputs but W{l - 1} gives "
                             f"{weights[l - 1][0].shape[0]}; the layer shapes do not chain")
    return weights


def load_weights(path):
    """Read an .npz weight file with arrays W0..WL, stored (fan_in, fan_out), and b0..bL.

    Returns
    -------
    list of (W, b) host ndarrays in the file's dtype, W transposed to the Dense layout
    (fan_out, fan_in), C-contiguous.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Missing or extra arrays, shapes that do not chain, non-float data, NaN or inf
        (the message names the array).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no weight file at {path}; check the path")
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    L = sum(1 for k in arrays if k.startswith("W"))
    expected = {f"{p}{l}" for p in "Wb" for l in range(L)}
    if L == 0 or set(arrays) != expected:
        raise ValueError(f"{path}: expected arrays W0..W{L - 1} and b0..b{L - 1}; "
                         f"found {sorted(arrays)}")
    return _check_weights([(np.ascontiguousarray(arrays[f"W{l}"].T), arrays[f"b{l}"]) for l in range(L)], str(path))


def save_weights(path, weights):
    """Write a list of (W, b) as an .npz (W0..WL, b0..bL) atomically (fastdds.io.atomic_write).

    Parameters
    ----------
    path : str or Path
    weights : list of (W, b)
        In the Dense layout, W_l of shape (fan_out, fan_in) (as `MLP.weights`), b_l of shape
        (fan_out,), NumPy or CuPy; validated first. The file stores W_l transposed, (fan_in,
        fan_out), the layout of the published weight files.
    """
    host = [(backend.to_numpy(W), backend.to_numpy(b)) for W, b in weights]
    host = _check_weights(host, "weights")
    arrays = {f"{p}{l}": x for l, (W, b) in enumerate(host)
              for p, x in (("W", np.ascontiguousarray(W.T)), ("b", b))}
    atomic_write(path, lambda f: np.savez(f, **arrays))
