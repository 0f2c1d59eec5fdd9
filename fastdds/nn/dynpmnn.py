"""Dynamical physics-modelled neural networks (DynPMNN): the published FitzHugh-Nagumo block of
Felipe-Sosa et al., fastdds' FHN networks, and the study's MLP baseline.

Each model is a `fastdds.layers.Chain` of Blocks (dense `linear` layers, LayerNorm, pointwise
activations, FHN), so `params`, `forward`, `backward` and `layers()` are the Chain's;
`fastdds.nn.train.fit` trains them. The published block also has a fused training epoch.
"""

import numpy as np

from .. import backend
from ..layers import Chain, linear, pointwise
from .fhn import FHN
from .norm import LayerNorm


def _listed(value):
    """A float or per-neuron array argument as JSON (a float or a list of floats)."""
    return np.asarray(value, dtype=np.float64).tolist()


class DynPMNN(Chain):
    """The published block: linear(n_in -> 2n), LayerNorm(2n), SiLU, FHN (initial-state mode,
    v0 = h[:, :n], w0 = h[:, n:]), linear(2n -> 1).

    With the defaults (n_in = 8, one neuron, a = 0.2, b = 0.02, g = 3, I = 0, dt = 20, 25 steps)
    it is the California Housing block of the paper: 25 parameters. Note that explicit Euler at
    dt = 20 diverges on the block's inputs: with the initial weights, `FHN.stability` finds the
    output within 1 % of the flow only for dt <= 1.35 (371 steps over t_end = 500).

    Parameters
    ----------
    n_in : int
    neurons : int
    a, b, g, I, dt : float or array (neurons,)
    steps : int
    train : iterable of str
        FHN parameters to train ("a", "b", "g", "I", "dt"); the published block trains none.
    seed : int
        Draws the first linear layer's W (2n, n_in) and b, then the last one's.
    dtype : float64 or float32

    Attributes
    ----------
    blocks : [linear, LayerNorm, silu, FHN, linear]
    fhn : FHN
    norm : LayerNorm
    params : [W1 (2n, n_in), b1, ln weight, ln bias, trained FHN values..., W2 (1, 2n), b2]
    """

    def __init__(self, n_in=8, neurons=1, a=0.2, b=0.02, g=3.0, I=0.0, dt=20.0, steps=25, train=(), seed=0,
                 dtype=np.float64):
        self._config = {"n_in": int(n_in), "neurons": int(neurons), "a": _listed(a), "b": _listed(b),
                        "g": _listed(g), "I": _listed(I), "dt": _listed(dt), "steps": int(steps),
                        "train": list(train), "seed": int(seed), "dtype": np.dtype(dtype).name}
        rng = np.random.default_rng(seed)
        dtype = backend.resolve_dtype(dtype)
        m = 2 * int(neurons)
        encoder = linear(n_in, m, rng, dtype=dtype)
        self.norm = LayerNorm(m, dtype=dtype)
        self.fhn = FHN(neurons, "initial_state", a=a, b=b, g=g, I=I, dt=dt, steps=steps, train=train,
                       output="both", dtype=dtype)
        super().__init__([encoder, self.norm, pointwise(m, "silu", dtype), self.fhn, linear(m, 1, rng, dtype=dtype)])

    def config(self):
        """Constructor keyword arguments (JSON-serialisable) that rebuild this architecture."""
        return dict(self._config)

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
            np.stack([f.a, f.b, f.g, f.I, f.dt]), f.steps, self.norm.eps, lrs, opt.beta1, opt.beta2,
            opt.eps, opt.weight_decay, opt.step_count)
        opt.step_count += nbatch
        return float(sse)


class FHNNet(Chain):
    """fastdds' FHN network: a bounded encoder linear(n_in -> width) + tanh, FHN layers in drive
    mode (I = W x + c, v0 = w0 = 0), each passing [v_K, w_K] on, then linear(2 n_last -> 1).

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
        Euler step; `FHN.stability` says how far the K steps land from the flow on given inputs and
        which dt keeps them within a tolerance.
    steps : int
    train : iterable of str
        FHN parameters trained per neuron ("a", "b", "g", "dt").
    seed : int
        Draws, in order: the encoder, each FHN layer's W and c, the readout.
    dtype : float64 or float32

    Attributes
    ----------
    fhn : FHN, the first FHN layer; fhn_layers : list of all of them
    """

    def __init__(self, n_in=8, width=16, hidden=(32,), a=0.2, b=0.02, g=3.0, dt=0.5, steps=10,
                 train=("a", "b", "g", "dt"), seed=0, dtype=np.float64):
        self._config = {"n_in": int(n_in), "width": int(width), "hidden": [int(h) for h in hidden], "a": float(a),
                        "b": float(b), "g": float(g), "dt": float(dt), "steps": int(steps), "train": list(train),
                        "seed": int(seed), "dtype": np.dtype(dtype).name}
        rng = np.random.default_rng(seed)
        dtype = backend.resolve_dtype(dtype)
        blocks = [linear(n_in, width, rng, dtype=dtype), pointwise(width, "tanh", dtype)] if width else []
        self.fhn_layers, size = [], width or n_in
        for n in hidden:
            self.fhn_layers.append(FHN(n, "drive", n_in=size, a=a, b=b, g=g, dt=dt, steps=steps, train=train,
                                       output="both", rng=rng, dtype=dtype))
            size = 2 * n
        self.fhn = self.fhn_layers[0]
        super().__init__(blocks + self.fhn_layers + [linear(size, 1, rng, dtype=dtype)])

    def config(self):
        """Constructor keyword arguments (JSON-serialisable) that rebuild this architecture."""
        return dict(self._config)


class MLPBaseline(Chain):
    """The study's MLP baseline: linear layers with an activation between them (none after the
    last), initialised as PyTorch's nn.Linear (W and b ~ U(+-1/sqrt(fan_in)), W then b, layer
    by layer from one generator).

    Parameters
    ----------
    sizes : sequence of int, e.g. [8, 512, 256, 128, 1] (168,961 parameters)
    activation : str
    seed : int
    dtype : float64 or float32
    """

    def __init__(self, sizes, activation="relu", seed=0, dtype=np.float64):
        self._config = {"sizes": [int(s) for s in sizes], "activation": activation, "seed": int(seed),
                        "dtype": np.dtype(dtype).name}
        if len(sizes) < 2:
            raise ValueError(f"sizes {list(sizes)}: an MLP needs at least an input and an output size")
        rng = np.random.default_rng(seed)
        dtype = backend.resolve_dtype(dtype)
        blocks = []
        for k, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
            if k:
                blocks.append(pointwise(fan_in, activation, dtype))
            blocks.append(linear(fan_in, fan_out, rng, dtype=dtype))
        super().__init__(blocks)

    def config(self):
        """Constructor keyword arguments (JSON-serialisable) that rebuild this architecture."""
        return dict(self._config)
