"""Small differentiable blocks with hand-written backward passes: Linear, LayerNorm, pointwise
activations (SiLU, tanh, LeCun tanh, ...) and Sequential.

Every block follows one protocol, forward and backward side by side (micrograd style):

    y, cache = block.forward(x)          x: (batch, n_in)
    dx, grads = block.backward(cache, dy)   grads aligned with block.params

Forward keeps nothing on the object, so one block can be evaluated several times before the
backward passes (the RK4 stages of a neural ODE reuse one vector field). Parameters are arrays
updated in place by the optimiser.
"""

import numpy as np

from ..activations import get_activation
from .mlp import init_weight


def torch_uniform(rng, fan_in, shape, dtype):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default nn.Linear init (kaiming_uniform, a = sqrt(5))."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


class Linear:
    """y = x W + b.

    Parameters
    ----------
    n_in, n_out : int
    rng : numpy.random.Generator
    init : {"torch", "glorot_uniform"}
        "torch": W and b ~ U(+-1/sqrt(n_in)), PyTorch's default; "glorot_uniform":
        W ~ U(+-sqrt(6 / (n_in + n_out))), b as "torch" (what ncps' CfC does).
    dtype : float64 or float32
    """

    def __init__(self, n_in, n_out, rng, init="torch", dtype=np.float64):
        if init == "torch":
            self.W = torch_uniform(rng, n_in, (n_in, n_out), dtype)
        elif init == "glorot_uniform":
            self.W = init_weight("glorot_uniform", n_in, n_out, rng).astype(dtype)
        else:
            raise ValueError(f"unknown init {init!r}; use 'torch' or 'glorot_uniform'")
        self.b = torch_uniform(rng, n_in, (n_out,), dtype)
        self.params = [self.W, self.b]

    def forward(self, x):
        """x: (batch, n_in) -> y: (batch, n_out)."""
        return x @ self.W + self.b, x

    def backward(self, x, dy):
        """Gradients of y = x W + b: dx = dy W^T, dW = x^T dy, db = sum dy."""
        return dy @ self.W.T, [x.T @ dy, dy.sum(axis=0)]


class LayerNorm:
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased var, as PyTorch).

    Parameters
    ----------
    n : int
    eps : float
    dtype : float64 or float32
    """

    def __init__(self, n, eps=1e-5, dtype=np.float64):
        self.eps = float(eps)
        self.weight = np.ones(n, dtype=dtype)
        self.bias = np.zeros(n, dtype=dtype)
        self.params = [self.weight, self.bias]

    def forward(self, x):
        """x: (batch, n) -> y: (batch, n)."""
        mu = x.mean(axis=1, keepdims=True)
        xc = x - mu
        rstd = 1.0 / np.sqrt((xc * xc).mean(axis=1, keepdims=True) + self.eps)
        xhat = xc * rstd
        return xhat * self.weight + self.bias, (xhat, rstd)

    def backward(self, cache, dy):
        """dx = rstd (g - mean(g) - xhat mean(g xhat)), g = dy weight."""
        xhat, rstd = cache
        gh = dy * self.weight
        dx = rstd * (gh - gh.mean(axis=1, keepdims=True) - xhat * (gh * xhat).mean(axis=1, keepdims=True))
        return dx, [(dy * xhat).sum(axis=0), dy.sum(axis=0)]


class Pointwise:
    """y = sigma(x) for a registered activation ("silu", "tanh", "lecun_tanh", "relu", "sigmoid", ...).

    Parameters
    ----------
    name : str
        A name from `fastdds.activations.names()`.
    """

    params = []

    def __init__(self, name):
        self.act = get_activation(name)

    def forward(self, x):
        """y = sigma(x), same shape."""
        s = self.act.derivatives(x, 1)
        return s[0], s[1]

    def backward(self, s1, dy):
        """dx = sigma'(x) dy."""
        return dy * s1, []


class Sequential:
    """Blocks applied in order; params is the concatenation of theirs.

    Parameters
    ----------
    blocks : list of blocks following the forward/backward protocol
    """

    def __init__(self, blocks):
        self.blocks = list(blocks)
        self.params = [p for blk in self.blocks for p in blk.params]

    def forward(self, x):
        """Chain the forwards; cache is the list of block caches."""
        caches = []
        for blk in self.blocks:
            x, c = blk.forward(x)
            caches.append(c)
        return x, caches

    def backward(self, caches, dy):
        """Chain the backwards in reverse; grads concatenated in params order."""
        grads = []
        for blk, c in zip(reversed(self.blocks), reversed(caches)):
            dy, g = blk.backward(c, dy)
            grads = g + grads
        return dy, grads


def n_params(model):
    """Number of scalar parameters of a block or model."""
    return int(sum(p.size for p in model.params))


def check_gradients(block, x, seed=0, h=1e-6):
    """Compare `block.backward` with central finite differences (float64 blocks).

    The scalar checked is L = sum(R * block.forward(x)[0]) with a fixed random R, so every
    output enters. Each parameter entry and each input entry is perturbed by +-h.

    Parameters
    ----------
    block : block-protocol object with float64 parameters
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
    errors = []
    for p, g in zip(block.params + [x], grads + [dx]):
        num = np.zeros(p.shape)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            lp = float(np.sum(block.forward(x)[0] * R))
            p[i] = old - h
            lm = float(np.sum(block.forward(x)[0] * R))
            p[i] = old
            num[i] = (lp - lm) / (2.0 * h)
        errors.append(float(np.abs(num - g).max() / max(np.abs(num).max(), 1e-300)))
    return errors
