"""The one representation: a layer y = P x + sum_k Q_k sigma_k(R_k x + b_k), and chains of them.

An MLP layer is (P = 0, Q = I, R = W), a residual block (P = I, Q = h W2, R = W1), an FTCS
heat step (P = I + r D2, no branch) and a Lax-Friedrichs Burgers step
(P = I + c D2, Q = -(dt/2h) D1, R = I, sigma = u^2/2). Forward and backward are written side
by side; the backward returns dx and the gradient of every parameter (dense weights, banded
diagonals, biases), so a stencil can be learned as well as a dense matrix.
"""

from . import backend
from .activations import get_activation
from .kernels import BOUNDARY_CODES
from .operators import Banded, Operator
from .validation import as_state, check_finite


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
        xp = backend.array_module(like)
        return [(xp.asarray(op.offsets), op.diagonals, BOUNDARY_CODES[op.boundary]) for op in (self.R, self.Q)]

    def forward_fused(self, x, y):
        """y += Q sigma(R x + b) in one kernel; returns (a, s1) for the backward."""
        xp = backend.array_module(x)
        a, s1 = xp.empty_like(x), xp.empty_like(x)
        b = self.b if self.b is not None else xp.zeros(x.shape[1], x.dtype)
        (ro, rd, rb), (qo, qd, qb) = self._banded_args(x)
        backend.kernels("layer", like=x).banded_branch_forward(
            x, ro, rd, rb, b, self.act.code, self.act.alpha, qo, qd, qb, a, s1, y)
        return a, s1

    def backward_fused(self, x, dy, a, s1, dx):
        """dx += this branch's share of the input gradient; returns the gradients of `params`."""
        xp = backend.array_module(x)
        (ro, rd, rb), (qo, qd, qb) = self._banded_args(x)
        g_r, g_q, g_b = xp.zeros_like(rd), xp.zeros_like(qd), xp.zeros(x.shape[1], x.dtype)
        backend.kernels("layer", like=x).banded_branch_backward(
            x, dy, a, s1, ro, rd, rb, qo, qd, qb, xp.empty_like(x), dx, g_r, g_q, g_b)
        return [g_q, g_r] + ([g_b] if self.b is not None else [])


class Layer:
    """y = P x + sum_k Q_k sigma_k(R_k x + b_k).

    Parameters
    ----------
    P : Operator or None
        Linear part; None means 0.
    branches : list of (Q, activation, R, b)
        Q, R: Operator or None (identity); activation: name, (name, alpha) or Activation;
        b: ndarray of shape (n_R_out,) or None.

    Attributes
    ----------
    n_in, n_out : int
    dtype : numpy dtype
    """

    def __init__(self, P=None, branches=()):
        if P is not None and not isinstance(P, Operator):
            raise ValueError(f"P must be an Operator or None; got {type(P)}")
        self.P = P
        self.branches = [br if isinstance(br, Branch) else Branch(*br) for br in branches]
        if P is None and not self.branches:
            raise ValueError("a layer needs P or at least one branch")
        self.n_in, self.n_out, self.dtype = self._check_shapes()
        self._cache = None

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
        dtype = dtypes.pop() if dtypes else backend.resolve_dtype(None, like=self.branches[0].b)
        for k, br in enumerate(self.branches):
            if br.b is not None and br.b.dtype != dtype:
                raise ValueError(f"branch {k}: bias is {br.b.dtype} but the operators are {dtype}")
        return n_in, n_out, dtype

    def params(self):
        """Trainable arrays in a fixed order: P's, then per branch Q's, R's and b."""
        return (self.P.params if self.P else []) + [p for br in self.branches for p in br.params]

    def _forward(self, x, keep):
        y = self.P._apply(x) if self.P is not None else backend.array_module(x).zeros(
            (x.shape[0], self.n_out), dtype=x.dtype)
        saved = []
        for br in self.branches:
            if br.fused:
                saved.append(br.forward_fused(x, y))
                continue
            z = br.R._apply(x) if br.R is not None else x
            if br.b is not None:
                z = z + br.b
            s = br.act.derivatives(z, 1 if keep else 0)
            y += br.Q._apply(s[0]) if br.Q is not None else s[0]
            saved.append((s[0], s[1]) if keep else None)
        return y, ((x, saved) if keep else None)

    def _backward(self, cache, dy):
        x, saved = cache
        grads = []
        if self.P is not None:
            dx = self.P._apply_transpose(dy)
            grads += self.P.grad(x, dy)
        else:
            dx = backend.array_module(dy).zeros_like(x)
        for br, (a, s1) in zip(self.branches, saved):
            if br.fused:
                grads += br.backward_fused(x, dy, a, s1, dx)
                continue
            da = br.Q._apply_transpose(dy) if br.Q is not None else dy
            grads += br.Q.grad(a, dy) if br.Q is not None else []
            dz = da * s1
            if br.R is not None:
                grads += br.R.grad(x, dz)
                dx += br.R._apply_transpose(dz)
            else:
                dx += dz
            grads += [dz.sum(axis=0)] if br.b is not None else []
        return dx, grads

    def forward(self, x, keep=True):
        """y for x of shape (n_in,) or (batch, n_in); keeps what `backward` needs when `keep`.

        Returns
        -------
        ndarray, shape (n_out,) or (batch, n_out), the layer's dtype.
        """
        x2, squeeze = as_state("x", x, self.n_in, self.dtype)
        y, self._cache = self._forward(x2, keep)
        self._squeeze = squeeze
        return y[0] if squeeze else y

    def backward(self, dy):
        """Reverse pass of the last `forward(x, keep=True)`.

        Parameters
        ----------
        dy : ndarray, shape of the forward output
            Gradient of the loss with respect to y.

        Returns
        -------
        dx : ndarray, shape of x
        grads : list of ndarrays aligned with `params()`, summed over the batch
        """
        if self._cache is None:
            raise RuntimeError("backward needs a preceding forward(x, keep=True)")
        dy2, _ = as_state("dy", dy, self.n_out, self.dtype)
        dx, grads = self._backward(self._cache, dy2)
        return (dx[0] if self._squeeze else dx), grads

    def __call__(self, x):
        return self.forward(x, keep=False)


class Chain:
    """A sequence of layers: x_{l+1} = layer_l(x_l). The same layer may appear many times
    (an FD scheme's time steps); its gradients are then accumulated."""

    def __init__(self, layers):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("a chain needs at least one layer")
        for k, (a, b) in enumerate(zip(self.layers, self.layers[1:])):
            if a.n_out != b.n_in:
                raise ValueError(f"layer {k} gives {a.n_out} values but layer {k + 1} takes {b.n_in}")
        self._unique = list({id(l): l for l in self.layers}.values())
        self._cache = None

    @property
    def n_in(self):
        return self.layers[0].n_in

    @property
    def dtype(self):
        return self.layers[0].dtype

    def params(self):
        """Trainable arrays of each distinct layer, in order of first appearance."""
        return [p for l in self._unique for p in l.params()]

    def forward(self, x, keep=True):
        """Run every layer.

        Parameters
        ----------
        x : ndarray, shape (n_in,) or (batch, n_in)

        Returns
        -------
        list of ndarrays: the trajectory [x_0, x_1, ..., x_L], each shaped like the input's batch.
        """
        x2, squeeze = as_state("x", x, self.n_in, self.dtype)
        states, caches = [x2], []
        for layer in self.layers:
            y, cache = layer._forward(states[-1], keep)
            states.append(y)
            caches.append(cache)
        self._cache = caches if keep else None
        self._squeeze = squeeze
        return [s[0] for s in states] if squeeze else states

    def backward(self, dy):
        """Reverse pass of the last `forward(x, keep=True)` for a loss on the final state.

        Returns
        -------
        dx : ndarray, shape of x
        grads : list aligned with `params()`, accumulated over repeated layers
        """
        if self._cache is None:
            raise RuntimeError("backward needs a preceding forward(x, keep=True)")
        dy2, _ = as_state("dy", dy, self.layers[-1].n_out, self.dtype)
        acc = {id(l): None for l in self._unique}
        for layer, cache in zip(reversed(self.layers), reversed(self._cache)):
            dy2, g = layer._backward(cache, dy2)
            acc[id(layer)] = g if acc[id(layer)] is None else [a + b for a, b in zip(acc[id(layer)], g)]
        grads = [g for l in self._unique for g in acc[id(l)]]
        return (dy2[0] if self._squeeze else dy2), grads

