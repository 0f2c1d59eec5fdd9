"""Dynamical physics-modelled neural networks (DynPMNN): the published FitzHugh-Nagumo block of
Felipe-Sosa et al. and fastdds' FHN networks.

Models follow the block protocol of `fastdds.nn.blocks` (params, forward -> (y, cache),
backward(cache, dy) -> (dx, grads)); `fastdds.nn.train.fit` trains them.
"""

import numpy as np

from .. import backend
from .fhn import FHN
from .blocks import LayerNorm, Linear, Pointwise, Sequential


class DynPMNN(Sequential):
    """The published block: Linear(n_in -> 2n), LayerNorm(2n), SiLU, FHN (initial-state mode,
    v0 = h[:, :n], w0 = h[:, n:]), Linear(2n -> 1).

    With the defaults (n_in = 8, one neuron, a = 0.2, b = 0.02, g = 3, I = 0, dt = 20, 25 steps)
    it is the California Housing block of the paper: 25 parameters. Note that explicit Euler at
    dt = 20 is unstable at the FHN fixed point (largest stable dt 8.125; see `FHN.stability`).

    Parameters
    ----------
    n_in : int
    neurons : int
    a, b, g, I, dt : float or array (neurons,)
    steps : int
    train : iterable of str
        FHN parameters to train ("a", "b", "g", "I", "dt"); the published block trains none.
    seed : int
    dtype : float64 or float32
    """

    def __init__(self, n_in=8, neurons=1, a=0.2, b=0.02, g=3.0, I=0.0, dt=20.0, steps=25, train=(), seed=0,
                 dtype=np.float64):
        rng = np.random.default_rng(seed)
        dtype = backend.resolve_dtype(dtype)
        self.fhn = FHN(neurons, "initial_state", a=a, b=b, g=g, I=I, dt=dt, steps=steps, train=train,
                       output="both", dtype=dtype)
        self.encoder = Sequential([Linear(n_in, 2 * neurons, rng, dtype=dtype), LayerNorm(2 * neurons, dtype=dtype),
                                   Pointwise("silu")])
        super().__init__([self.encoder, self.fhn, Linear(2 * neurons, 1, rng, dtype=dtype)])

    def train_epoch(self, X, Y, order, batch, opt):
        """One epoch of mini-batch Adam on the MSE loss, fused into one kernel (no Python per batch).

        Used by `fastdds.nn.train.fit` when no FHN parameter is trained and the arrays are on the CPU.

        Parameters
        ----------
        X : ndarray (rows, n_in); Y : ndarray (rows, 1), dtype of the model
        order : int64 ndarray (rows,)
        batch : int
        opt : fastdds.optim.Adam over self.params (its moments and step count are updated)

        Returns
        -------
        float, sum of squared errors over the epoch, or None when the fused kernel does not apply
        (the caller then runs the generic per-batch loop).
        """
        if self.fhn.train or backend.is_gpu_array(X):
            return None
        nbatch = -(-order.size // batch)
        lrs = np.array([opt.schedule(opt.step_count + i) for i in range(nbatch)], dtype=np.float64)
        f = self.fhn
        sse = backend.kernels("dynpmnn", like=X).epoch(
            X, Y, order, batch, tuple(self.params), tuple(opt.m), tuple(opt.v),
            np.stack([f.a, f.b, f.g, f.I, f.dt]), f.steps, self.encoder.blocks[1].eps, lrs, opt.beta1, opt.beta2,
            opt.eps, opt.weight_decay, opt.step_count)
        opt.step_count += nbatch
        return float(sse)


class FHNNet(Sequential):
    """fastdds' FHN network: a bounded encoder Linear(n_in -> width) + tanh, FHN layers in drive
    mode (I = x W + c, v0 = w0 = 0), each passing [v_K, w_K] on, then Linear(2 n_last -> 1).

    The tanh keeps the drive bounded: standardised California Housing features reach 100+
    (AveOccup), and an unbounded drive pushes v where explicit Euler needs dt < 2 / (3 v^2).

    Parameters
    ----------
    n_in : int
    width : int
        Encoder width (0: no encoder, the first FHN layer is driven by the raw input).
    hidden : sequence of int
        Neurons per FHN layer.
    a, b, g : float
        Initial FHN parameters (per neuron, trained when listed in `train`).
    dt : float
        Euler step; keep it below the largest stable dt (`FHN.stability`).
    steps : int
    train : iterable of str
        FHN parameters trained per neuron ("a", "b", "g", "dt").
    seed : int
    dtype : float64 or float32
    """

    def __init__(self, n_in=8, width=16, hidden=(32,), a=0.2, b=0.02, g=3.0, dt=0.5, steps=10,
                 train=("a", "b", "g", "dt"), seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        dtype = backend.resolve_dtype(dtype)
        encoder = [Linear(n_in, width, rng, dtype=dtype), Pointwise("tanh")] if width else []
        blocks, width = [], width or n_in
        for n in hidden:
            blocks.append(FHN(n, "drive", n_in=width, a=a, b=b, g=g, dt=dt, steps=steps, train=train,
                              output="both", rng=rng, dtype=dtype))
            width = 2 * n
        self.encoder, self.fhn, self.fhn_layers = Sequential(encoder), blocks[0], blocks
        super().__init__([self.encoder] + blocks + [Linear(width, 1, rng, dtype=dtype)])
