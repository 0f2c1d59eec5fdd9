"""Layer normalisation as a Block: y = (x - mean) / sqrt(var + eps) * weight + bias over the
features (biased variance, as PyTorch).

Its layer form is a Chain of two blocks: `Standardize` (the cross-feature normalisation, the
one map here that is not of the layer form y = P x + c + sum_k Q_k sigma_k(R_k x + b_k)) and
the affine Layer(P = Banded diag(weight), c = bias), sharing the arrays of the fused block.
"""

import numpy as np

from .. import backend
from ..layers import Block, Chain, Layer
from ..operators import Banded


def _standardize(x, eps):
    mu = x.mean(axis=1, keepdims=True)
    xc = x - mu
    rstd = 1.0 / backend.array_module(x).sqrt((xc * xc).mean(axis=1, keepdims=True) + eps)
    return xc * rstd, rstd


def _standardize_backward(xhat, rstd, g):
    return rstd * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))


class Standardize(Block):
    """xhat = (x - mean(x)) / sqrt(var(x) + eps) over the n features; no parameters.

    Parameters
    ----------
    n : int
    eps : float
    dtype : float32 or float64
    """

    def __init__(self, n, eps=1e-5, dtype=np.float64):
        self.n_in = self.n_out = int(n)
        self.eps = float(eps)
        self.dtype = backend.resolve_dtype(dtype)
        self.params = []

    def _forward(self, x, keep):
        xhat, rstd = _standardize(x, self.eps)
        return xhat, ((xhat, rstd) if keep else None)

    def _backward(self, cache, dy):
        return _standardize_backward(*cache, dy), []

    def layers(self):
        """Itself: the normalisation has no layer form."""
        return Chain([self])


class LayerNorm(Block):
    """y = Standardize(x) * weight + bias, in one pass.

    Parameters
    ----------
    n : int
    eps : float
    dtype : float32 or float64

    Attributes
    ----------
    params : [weight (n,), bias (n,)], initialised to ones and zeros (arrays of the active backend)
    """

    def __init__(self, n, eps=1e-5, dtype=np.float64):
        self.n_in = self.n_out = int(n)
        self.eps = float(eps)
        self.dtype = backend.resolve_dtype(dtype)
        xp = backend.xp()
        self.weight = xp.ones(self.n_in, dtype=self.dtype)
        self.bias = xp.zeros(self.n_in, dtype=self.dtype)
        self.params = [self.weight, self.bias]

    def _forward(self, x, keep):
        xhat, rstd = _standardize(x, self.eps)
        return xhat * self.weight + self.bias, ((xhat, rstd) if keep else None)

    def _backward(self, cache, dy):
        xhat, rstd = cache
        dx = _standardize_backward(xhat, rstd, dy * self.weight)
        return dx, [(dy * xhat).sum(axis=0), dy.sum(axis=0)]

    def layers(self):
        """Chain([Standardize, Layer(Banded diag(weight), c = bias)]) over the same arrays."""
        return Chain([Standardize(self.n_in, self.eps, self.dtype),
                      Layer(Banded((0,), self.weight[None, :], "zero", dtype=self.dtype), c=self.bias)])
