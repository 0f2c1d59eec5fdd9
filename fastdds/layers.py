"""The one protocol, the Block, and the one representation: the layer
y = P x + c + sum_k Q_k sigma_k(R_k x + b_k), and chains of blocks.

Every trainable or steppable object of fastdds is a `Block`:

    params                      list of the trainable arrays (updated in place by optimisers)
    n_in, n_out, dtype
    forward(x) -> (y, cache)    nothing is kept on the object
    backward(cache, dy) -> (dx, grads)    grads aligned with params, summed over the batch
    __call__(x) -> y
    layers() -> Chain           its layer form, built from the same coefficients

A subclass writes `_forward(x, keep)` and `_backward(cache, dy)` on validated 2-D states
(batch, n); the public methods validate once at the boundary, so a Chain of thousands of FD
steps checks its input once. An MLP layer is (P = 0, Q = I, R = W), a dense affine map
(P = W, c = b), a residual block (P = I, Q = h W2, R = W1), an FTCS heat step
(P = I + r D2, no branch) and a Lax-Friedrichs Burgers step (P = I + c D2, Q = -(dt/2h) D1,
R = I, sigma = u^2/2). Forward and backward are written side by side; the backward returns dx
and the gradient of every parameter (dense weights, banded diagonals, biases), so a stencil can
be learned as well as a dense matrix.
"""

import numpy as np

from . import backend, initializers
from .activations import get_activation
from .operators import Banded, Dense, Identity, Operator
from .validation import as_state, check_finite


class Block:
    """Base of every model and scheme step; see the module docstring for the protocol.

    Subclasses set `params`, `n_in`, `n_out`, `dtype` and implement `_forward`, `_backward`
    and `layers`.
    """

    params = ()
    n_in = n_out = 0
    dtype = np.dtype(np.float64)

    def _forward(self, x, keep):
        """y, cache for a validated x of shape (batch, n_in); cache None unless `keep`."""
        raise NotImplementedError

    def _backward(self, cache, dy):
        """dx, grads for dy of shape (batch, n_out)."""
        raise NotImplementedError

    def forward(self, x):
        """y and what `backward` needs.

        Parameters
        ----------
        x : ndarray, shape (n_in,) or (batch, n_in), the block's dtype

        Returns
        -------
        y : ndarray, shape (n_out,) or (batch, n_out), the block's dtype
        cache : opaque, for `backward`
        """
        x2, squeeze = as_state("x", x, self.n_in, self.dtype)
        y, cache = self._forward(x2, True)
        return (y[0] if squeeze else y), cache

    def backward(self, cache, dy):
        """Reverse pass of one `forward`.

        Parameters
        ----------
        cache : what that forward returned
        dy : ndarray, shape of its y
            Gradient of the loss with respect to y.

        Returns
        -------
        dx : ndarray, shape of x
        grads : list of ndarrays aligned with `params`, summed over the batch
        """
        dy2, squeeze = as_state("dy", dy, self.n_out, self.dtype)
        dx, grads = self._backward(cache, dy2)
        return (dx[0] if squeeze else dx), grads

    def __call__(self, x):
        """y for x of shape (n_in,) or (batch, n_in); nothing is kept for a backward."""
        x2, squeeze = as_state("x", x, self.n_in, self.dtype)
        y = self._forward(x2, False)[0]
        return y[0] if squeeze else y

    def layers(self):
        """The block's layer form: a Chain of Layers built from the same coefficients."""
        raise NotImplementedError(f"{type(self).__name__} has no layer form")

    @property
    def nparams(self):
        """Number of trainable scalars."""
        return int(sum(p.size for p in self.params))

    def __repr__(self):
        return f"{type(self).__name__}(n_in={self.n_in}, n_out={self.n_out}, dtype={self.dtype}, nparams={self.nparams})"


class Branch:
    """One term Q sigma(R x + b) of a layer; Q or R None means the identity, b None no bias."""

    def __init__(self, Q, activation, R=None, b=None):
        for name, op in (("Q", Q), ("R", R)):
            if op is not None and not isinstance(op, Operator):
                raise ValueError(f"{name} must be an Operator (Identity, Banded, Dense) or None; got {type(op)}")
        self.Q, self.R = Q, R
        self.act = get_activation(activation)
        self.b = b

    @property
    def params(self):
        return ((self.Q.params if self.Q else []) + (self.R.params if self.R else [])
                + ([self.b] if self.b is not None else []))

    @property
    def fused(self):
        """True when Q and R are both Banded: forward and backward then run as one kernel each."""
        return isinstance(self.Q, Banded) and isinstance(self.R, Banded)

    def _banded_args(self, like):
        return [(op._offsets_on(like), op.diagonals, op.code) for op in (self.R, self.Q)]

    def forward(self, x, y, keep):
        """y += Q sigma(R x + b); returns (a, s1) for the backward when `keep`, else None."""
        if self.fused:
            xp = backend.array_module(x)
            a, s1 = xp.empty_like(x), xp.empty_like(x)
            b = self.b if self.b is not None else xp.zeros(x.shape[1], x.dtype)
            (ro, rd, rb), (qo, qd, qb) = self._banded_args(x)
            backend.kernels("layer", like=x).banded_branch_forward(
                x, ro, rd, rb, b, self.act.code, self.act.alpha, qo, qd, qb, a, s1, y)
            return (a, s1) if keep else None
        z = self.R._apply(x) if self.R is not None else x
        if self.b is not None:
            z = z + self.b
        s = self.act.derivatives(z, 1 if keep else 0)
        y += self.Q._apply(s[0]) if self.Q is not None else s[0]
        return (s[0], s[1]) if keep else None

    def backward(self, x, dy, saved, dx):
        """dx += this branch's share of the input gradient; returns the gradients of `params`."""
        a, s1 = saved
        if self.fused:
            xp = backend.array_module(x)
            (ro, rd, rb), (qo, qd, qb) = self._banded_args(x)
            g_r, g_q, g_b = xp.zeros_like(rd), xp.zeros_like(qd), xp.zeros(x.shape[1], x.dtype)
            backend.kernels("layer", like=x).banded_branch_backward(
                x, dy, a, s1, ro, rd, rb, qo, qd, qb, xp.empty_like(x), dx, g_r, g_q, g_b)
            return [g_q, g_r] + ([g_b] if self.b is not None else [])
        da = self.Q._apply_transpose(dy) if self.Q is not None else dy
        grads = self.Q.grad(a, dy) if self.Q is not None else []
        dz = da * s1
        if self.R is not None:
            grads += self.R.grad(x, dz)
            dx += self.R._apply_transpose(dz)
        else:
            dx += dz
        return grads + ([dz.sum(axis=0)] if self.b is not None else [])


class Layer(Block):
    """y = P x + c + sum_k Q_k sigma_k(R_k x + b_k).

    Parameters
    ----------
    P : Operator or None
        Linear part; None means 0.
    branches : list of (Q, activation, R, b) or Branch
        Q, R: Operator or None (identity); activation: name, (name, alpha) or Activation;
        b: ndarray of shape (n_R_out,) or None.
    c : ndarray, shape (n_out,), optional
        Constant term (a dense layer's bias, a source term); trained like the other arrays.

    Attributes
    ----------
    params : list
        P's arrays, then c, then per branch Q's, R's and b.
    n_in, n_out : int
    dtype : numpy dtype
    """

    def __init__(self, P=None, branches=(), c=None):
        if P is not None and not isinstance(P, Operator):
            raise ValueError(f"P must be an Operator or None; got {type(P)}")
        self.P, self.c = P, c
        self.branches = [br if isinstance(br, Branch) else Branch(*br) for br in branches]
        if P is None and not self.branches:
            raise ValueError("a layer needs P or at least one branch")
        self.n_in, self.n_out, self.dtype = self._check_shapes()
        self.params = ((P.params if P is not None else []) + ([c] if c is not None else [])
                       + [p for br in self.branches for p in br.params])

    def _check_shapes(self):
        ops = [self.P] + [op for br in self.branches for op in (br.Q, br.R)]
        dtypes = {op.dtype for op in ops if op is not None}
        if len(dtypes) > 1:
            raise ValueError(f"operators of one layer must share a dtype; got {sorted(map(str, dtypes))}")
        n_in = n_out = None
        if self.P is not None:
            n_out, n_in = self.P.shape
        for k, br in enumerate(self.branches):
            r_out, r_in = br.R.shape if br.R else (None, None)
            q_out, q_in = br.Q.shape if br.Q else (None, None)
            hidden = {s for s in (r_out, q_in) if s is not None}
            if len(hidden) > 1:
                raise ValueError(f"branch {k}: R gives {r_out} values but Q takes {q_in}")
            width = hidden.pop() if hidden else None
            r_in = r_in if r_in is not None else width
            q_out = q_out if q_out is not None else width
            for name, have, want in (("input", r_in, n_in), ("output", q_out, n_out)):
                if have is not None and want is not None and have != want:
                    raise ValueError(f"branch {k}: {name} size {have} does not match the layer's {want}")
            n_in = n_in if n_in is not None else r_in
            n_out = n_out if n_out is not None else q_out
            if br.b is not None:
                if br.b.shape != (width if width is not None else n_in,):
                    raise ValueError(f"branch {k}: bias has shape {br.b.shape}, expected ({width or n_in},)")
                check_finite(f"branch {k} bias", br.b)
        if n_in is None or n_out is None:
            raise ValueError("layer sizes are undetermined: give P, or R or Q as operators")
        vectors = [("c", self.c)] + [(f"branch {k} bias", br.b) for k, br in enumerate(self.branches)]
        first = next((v for _, v in vectors if v is not None), None)
        dtype = dtypes.pop() if dtypes else backend.resolve_dtype(None, like=first)
        if self.c is not None:
            if self.c.shape != (n_out,):
                raise ValueError(f"constant term c has shape {self.c.shape}, expected ({n_out},)")
            check_finite("constant term c", self.c)
        for name, v in vectors:
            if v is not None and v.dtype != dtype:
                raise ValueError(f"{name} is {v.dtype} but the operators are {dtype}; cast it with .astype({dtype})")
        return n_in, n_out, dtype

    def _forward(self, x, keep):
        y = self.P._apply(x) if self.P is not None else backend.array_module(x).zeros(
            (x.shape[0], self.n_out), dtype=x.dtype)
        if self.c is not None:
            y += self.c
        saved = [br.forward(x, y, keep) for br in self.branches]
        return y, ((x, saved) if keep else None)

    def _backward(self, cache, dy):
        x, saved = cache
        grads = []
        if self.P is not None:
            dx = self.P._apply_transpose(dy)
            grads += self.P.grad(x, dy)
        else:
            dx = backend.array_module(dy).zeros_like(x)
        if self.c is not None:
            grads.append(dy.sum(axis=0))
        for br, s in zip(self.branches, saved):
            grads += br.backward(x, dy, s, dx)
        return dx, grads

    def layers(self):
        """A Chain of this one layer."""
        return Chain([self])


class Chain(Block):
    """Blocks applied in order: x_{l+1} = block_l(x_l). The same block may appear many times
    (an FD scheme's time steps); its gradients are then accumulated.

    Parameters
    ----------
    blocks : sequence of Block
        Consecutive sizes must match; all share one dtype.

    Attributes
    ----------
    blocks : list of Block
    params : list
        The trainable arrays of each distinct block, in order of first appearance.
    """

    def __init__(self, blocks):
        self.blocks = list(blocks)
        if not self.blocks:
            raise ValueError("a chain needs at least one block")
        for k, blk in enumerate(self.blocks):
            if not isinstance(blk, Block):
                raise ValueError(f"chain entry {k} is a {type(blk).__name__}, not a fastdds Block")
        for k, (a, b) in enumerate(zip(self.blocks, self.blocks[1:])):
            if a.n_out != b.n_in:
                raise ValueError(f"block {k} gives {a.n_out} values but block {k + 1} takes {b.n_in}")
            if a.dtype != b.dtype:
                raise ValueError(f"block {k} is {a.dtype} but block {k + 1} is {b.dtype}; build both in one dtype")
        self._unique = list({id(b): b for b in self.blocks}.values())
        self.params = [p for b in self._unique for p in b.params]
        self.n_in, self.n_out, self.dtype = self.blocks[0].n_in, self.blocks[-1].n_out, self.blocks[0].dtype

    def _forward(self, x, keep):
        caches = []
        for blk in self.blocks:
            x, cache = blk._forward(x, keep)
            caches.append(cache)
        return x, (caches if keep else None)

    def _backward(self, caches, dy):
        acc = {id(b): None for b in self._unique}
        for blk, cache in zip(reversed(self.blocks), reversed(caches)):
            dy, g = blk._backward(cache, dy)
            acc[id(blk)] = g if acc[id(blk)] is None else [a + b for a, b in zip(acc[id(blk)], g)]
        grads = []
        for blk in self._unique:
            grads += acc[id(blk)] if acc[id(blk)] is not None else [backend.array_module(p).zeros_like(p)
                                                                   for p in blk.params]
        return dy, grads

    def trajectory(self, x):
        """Every state of the chain.

        Parameters
        ----------
        x : ndarray, shape (n_in,) or (batch, n_in)

        Returns
        -------
        list of ndarrays: [x_0, x_1, ..., x_L], each shaped like x's batch (nothing is kept).
        """
        x2, squeeze = as_state("x", x, self.n_in, self.dtype)
        states = [x2]
        for blk in self.blocks:
            states.append(blk._forward(states[-1], False)[0])
        return [s[0] for s in states] if squeeze else states

    def layers(self):
        """The chain of every block's layer form, flattened (blocks repeated as in this chain)."""
        forms = {id(b): b.layers().blocks for b in self._unique}
        return Chain([blk for b in self.blocks for blk in forms[id(b)]])


def dense(W, b=None):
    """The affine layer y = W x + b: Layer(P = Dense(W), c = b).

    Parameters
    ----------
    W : ndarray, shape (n_out, n_in), float32 or float64
    b : ndarray, shape (n_out,), optional, dtype of W

    Returns
    -------
    Layer (its params are [W, b], the arrays given, not copies)
    """
    op = Dense(W)
    return Layer(op, c=None if b is None else backend.array_module(op.matrix).asarray(b, dtype=op.dtype))


def linear(n_in, n_out, rng, init="torch", dtype=np.float64):
    """A freshly initialised affine layer y = W x + b (PyTorch's nn.Linear as a Layer).

    Parameters
    ----------
    n_in, n_out : int
    rng : numpy.random.Generator
        W is drawn first, then b.
    init : str
        Of W, any of `fastdds.initializers.INITS`; b is always U(+-1/sqrt(n_in)) (PyTorch's).
    dtype : float32 or float64

    Returns
    -------
    Layer with params [W (n_out, n_in), b (n_out,)], arrays of the active backend (``backend.xp``)
    """
    xp = backend.xp()
    W = xp.asarray(initializers.weight(init, n_in, n_out, rng, dtype))
    return dense(W, xp.asarray(initializers.torch_uniform(rng, n_in, (n_out,), dtype)))


def pointwise(n, activation, dtype=None):
    """The layer y = sigma(x) on n features (no parameters): Layer(None, [(None, sigma, I, None)]).

    Parameters
    ----------
    n : int
    activation : str, (str, alpha) or Activation
    dtype : float32 or float64 (default float64)
    """
    return Layer(None, [(None, activation, Identity(n, dtype=dtype), None)])


def check_gradients(block, x, seed=0, h=1e-6):
    """Compare `block.backward` with central finite differences (float64 blocks).

    The scalar checked is L = sum(R * block(x)) with a fixed random R, so every output enters.
    Each parameter entry and each input entry is perturbed by +-h.

    Parameters
    ----------
    block : Block with float64 parameters
    x : ndarray (batch, n_in), float64
    seed : int
    h : float

    Returns
    -------
    list of float: max |numeric - analytic| / max |numeric| for each parameter, then for x.
    """
    y, cache = block.forward(x)
    R = np.random.default_rng(seed).standard_normal(y.shape)
    dx, grads = block.backward(cache, R)
    if len(grads) != len(block.params):
        raise ValueError(f"backward returned {len(grads)} gradients for {len(block.params)} params")
    errors = []
    for p, g in zip(list(block.params) + [x], list(grads) + [dx]):
        num = np.zeros(p.shape)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            lp = float(np.sum(block(x) * R))
            p[i] = old - h
            lm = float(np.sum(block(x) * R))
            p[i] = old
            num[i] = (lp - lm) / (2.0 * h)
        errors.append(float(np.abs(num - g).max() / max(np.abs(num).max(), 1e-300)))
    return errors
