"""The survey's residual architectures as Chains of Layers, analysed like FD schemes.

Each net is: a dense lift n_in -> d, `depth` steps of a discretised ODE x' = f(x),
f(x) = W2 sigma(W1 x + b1) (W1: m x d, W2: d x m), and a dense readout d -> n_out.

    ResNet (forward Euler)    x_{n+1} = x_n + h f(x_n)
                              Layer(P = I, [(Q = h W2, sigma, R = W1, b1)])
    LM-ResNet (Lu et al.)     x_{n+1} = (1 - k_n) x_n + k_n x_{n-1} + h f(x_n)
    leapfrog (reversible)     x_{n+1} = x_{n-1} + 2 h f(x_n)

The two-step methods act on the doubled state X_n = [x_n; x_{n-1}] (lift: x_{-1} = x_0):

    LM-ResNet  X -> [x_n; x_n] + [k_n (x_{n-1} - x_n); 0] + [h W2; 0] sigma([W1, 0] X + b1)
               P = Banded [[I, 0], [I, 0]], a linear branch (Q = k_n I, identity, R = [[-I, I], [0, 0]])
    leapfrog   P = Banded [[0, I], [I, 0]],  Q = [2 h W2; 0], R = [W1, 0]

The Layers hold the coefficients themselves (Q = h W2 is the trained array, k_n a one-value
Banded diagonal). The arrays that only carry the doubled-state structure (the copy blocks, the
zero blocks of [h W2; 0] and [W1, 0], the lift x -> [x; x] and the readout's selection of x_n)
are not trained: `params` lists only arrays with a trainable entry, and `backward` zeroes the
gradient of the structural entries, so an optimiser never moves them. `layers()` is the full
Chain of Layers (every array), for `fastdds.analysis`; `stability(x)` linearises each step at
the states x passes through, with the same code as an FD step (`fastdds.linearize`).
"""

import numpy as np

from .. import backend, initializers
from ..layers import Chain, Layer, linear
from ..linearize import spectral_radius
from ..operators import Banded, Dense, Identity


class LayerNet(Chain):
    """A Chain of Layers some of whose entries are structure, not trainable.

    Parameters
    ----------
    blocks : sequence of Block
    masks : dict of id(array) -> bool ndarray shaped like the array (True: trainable)
        Arrays not listed are trainable; an all-False mask removes the array from `params`.
    lift, readout : int
        How many blocks at the start and at the end are not steps (`steps`, `stability`).
    """

    def __init__(self, blocks, masks=None, lift=0, readout=0):
        super().__init__(blocks)
        self._lift, self._readout = int(lift), int(readout)
        masks = masks or {}
        self._all = self.params
        self._masks = [masks.get(id(p)) for p in self._all]
        self._keep = [m is None or bool(m.any()) for m in self._masks]
        self.params = [p for p, keep in zip(self._all, self._keep) if keep]

    def _backward(self, caches, dy):
        dx, grads = super()._backward(caches, dy)
        return dx, [g if m is None else g * m for g, m, keep in zip(grads, self._masks, self._keep) if keep]

    @property
    def nparams(self):
        """Number of trainable scalars (structural entries excluded)."""
        return int(sum(p.size if m is None else m.sum() for p, m, keep in zip(self._all, self._masks, self._keep)
                       if keep))

    @property
    def steps(self):
        """The step Layers (between the lift and the readout)."""
        return self.blocks[self._lift:len(self.blocks) - self._readout]

    def stability(self, x):
        """Euler radius of every step, linearised at the state it receives from input x.

        Parameters
        ----------
        x : ndarray, shape (n_in,)

        Returns
        -------
        ndarray, shape (depth,), float64: max |eig J_n(X_n)|, J_n = P + sum_k Q_k diag(sigma_k') R_k.
        """
        states = self.trajectory(x)[self._lift:]
        return np.array([spectral_radius(step, s) for step, s in zip(self.steps, states)])


def _field(width, hidden, rng, dtype):
    """W1 (m, d), b1 (m,), W2 (d, m), drawn in that order, PyTorch's nn.Linear bounds; arrays of
    the active backend (``backend.xp``)."""
    W1 = initializers.weight("torch", width, hidden, rng, dtype)
    b1 = initializers.torch_uniform(rng, width, (hidden,), dtype)
    W2 = initializers.weight("torch", hidden, width, rng, dtype)
    xp = backend.xp()
    return xp.asarray(W1), xp.asarray(b1), xp.asarray(W2)


class _Residual(LayerNet):
    """Shared constructor of the three nets: lift, steps, readout, config."""

    doubled = False

    def __init__(self, n_in=8, n_out=1, width=16, hidden=None, depth=4, h=None, activation="tanh", seed=0,
                 dtype=np.float64, **extra):
        rng = np.random.default_rng(seed)
        dtype = backend.resolve_dtype(dtype)
        hidden = int(width if hidden is None else hidden)
        if min(int(depth), int(width), hidden) < 1 or not (h is None or np.isfinite(h)):
            raise ValueError(f"depth = {depth}, width = {width}, hidden = {hidden} must be >= 1 and h = {h} finite")
        h = 1.0 / int(depth) if h is None else float(h)
        self._config = {"n_in": int(n_in), "n_out": int(n_out), "width": int(width), "hidden": hidden,
                        "depth": int(depth), "h": h, "activation": activation, "seed": int(seed),
                        "dtype": dtype.name, **extra}
        d, masks, xp = int(width), {}, backend.xp()
        lift, readout = [linear(int(n_in), d, rng, dtype=dtype)], []
        if self.doubled:
            double = Dense(xp.asarray(np.vstack([np.eye(d), np.eye(d)]).astype(dtype)))
            select = Dense(xp.asarray(np.hstack([np.eye(d), np.zeros((d, d))]).astype(dtype)))
            lift.append(Layer(double))
            readout.append(Layer(select))
            masks[id(double.matrix)] = xp.zeros(double.shape, bool)
            masks[id(select.matrix)] = xp.zeros(select.shape, bool)
        steps = [self._step(d, *_field(d, hidden, rng, dtype), h, activation, dtype, masks, **extra)
                 for _ in range(int(depth))]
        readout_layer = linear(d, int(n_out), rng, dtype=dtype)
        super().__init__(lift + steps + readout + [readout_layer], masks, len(lift), len(readout) + 1)

    def config(self):
        """Constructor keywords that rebuild this architecture (JSON-serialisable)."""
        return dict(self._config)


class ResNet(_Residual):
    """Residual network = forward Euler: x_{n+1} = x_n + h W2 sigma(W1 x_n + b1).

    Parameters
    ----------
    n_in, n_out : int
    width : int
        d, the state of the ODE.
    hidden : int, optional
        m, the field's hidden width (default d).
    depth : int
        Number of steps (each its own W1, b1, W2).
    h : float, optional
        Step size (default 1 / depth: the ODE on t in [0, 1]).
    activation : str
    seed : int
        Draws the lift (W, b), then per step W1, b1, W2, then the readout (W, b).
    dtype : float32 or float64

    Attributes
    ----------
    params : lift [W, b], then per step [Q = h W2, W1, b1], then readout [W, b]
    """

    @staticmethod
    def _step(d, W1, b1, W2, h, activation, dtype, masks):
        return Layer(Identity(d, dtype=dtype), [(Dense(h * W2), activation, Dense(W1), b1)])


class LMResNet(_Residual):
    """Linear-multistep ResNet: x_{n+1} = (1 - k_n) x_n + k_n x_{n-1} + h W2 sigma(W1 x_n + b1), on the
    doubled state [x_n; x_{n-1}].

    Parameters
    ----------
    k : float
        Initial k_n of every step (trained; k = 0 is forward Euler).
    others as `ResNet`.

    Attributes
    ----------
    params : lift [W, b], then per step [k_n (1, 1), Q = [h W2; 0], R = [W1, 0], b1], then readout [W, b]
        (Q's lower rows and R's right columns are structure: zero, never trained)
    """

    doubled = True

    def __init__(self, n_in=8, n_out=1, width=16, hidden=None, depth=4, h=None, activation="tanh", seed=0,
                 dtype=np.float64, k=0.0):
        super().__init__(n_in, n_out, width, hidden, depth, h, activation, seed, dtype, k=float(k))

    @staticmethod
    def _step(d, W1, b1, W2, h, activation, dtype, masks, k):
        xp = backend.array_module(W1)
        top, bot = np.r_[np.ones(d), np.zeros(d)], np.r_[np.zeros(d), np.ones(d)]
        P = Banded((0, -d), xp.asarray(np.vstack([top, bot])), "zero", dtype=dtype)
        R_k = Banded((0, d), xp.asarray(np.vstack([-top, top])), "zero", dtype=dtype)
        K = Banded((0,), xp.asarray(np.array([k])), "zero", n=2 * d, dtype=dtype)
        return _two_step(P, [(K, "identity", R_k, None)], d, h * W2, W1, b1, activation, masks, (P, R_k))


class Leapfrog(_Residual):
    """Leapfrog (reversible) ResNet: x_{n+1} = x_{n-1} + 2 h W2 sigma(W1 x_n + b1), on the doubled
    state [x_n; x_{n-1}].

    Parameters as `ResNet`.

    Attributes
    ----------
    params : lift [W, b], then per step [Q = [2 h W2; 0], R = [W1, 0], b1], then readout [W, b]
    """

    doubled = True

    @staticmethod
    def _step(d, W1, b1, W2, h, activation, dtype, masks):
        P = Banded((d, -d), backend.array_module(W1).asarray(np.array([1.0, 1.0])), "zero", n=2 * d, dtype=dtype)
        return _two_step(P, [], d, 2 * h * W2, W1, b1, activation, masks, (P,))


def _two_step(P, branches, d, Q, W1, b1, activation, masks, fixed):
    """A doubled-state step: P, the extra branches, and the field branch [Q; 0] sigma([W1, 0] X + b1)."""
    m, xp = W1.shape[0], backend.array_module(W1)
    Qd = Dense(xp.vstack([Q, xp.zeros((d, m), Q.dtype)]))
    Rd = Dense(xp.hstack([W1, xp.zeros((m, d), W1.dtype)]))
    masks[id(Qd.matrix)] = xp.vstack([xp.ones((d, m), bool), xp.zeros((d, m), bool)])
    masks[id(Rd.matrix)] = xp.hstack([xp.ones((m, d), bool), xp.zeros((m, d), bool)])
    for op in fixed:
        masks[id(op.diagonals)] = xp.zeros(op.diagonals.shape, bool)
    return Layer(P, branches + [(Qd, activation, Rd, b1)])
