"""Pointwise activations with their first three derivatives.

The formulas live once per backend in ``fastdds.kernels.{cpu,gpu}.activations``; this
module names them. sigma''' is there because the reverse pass through the second-derivative
Taylor stream of a PINN needs it.
"""

from dataclasses import dataclass

from . import backend
from .kernels import ACTIVATION_CODES


@dataclass(frozen=True)
class Activation:
    """A registered pointwise activation.

    Parameters
    ----------
    name : str
        Key of ``fastdds.kernels.ACTIVATION_CODES``.
    alpha : float
        Parameter (negative slope of leaky_relu); ignored by the others.
    """

    name: str
    alpha: float = 0.0

    @property
    def code(self):
        return ACTIVATION_CODES[self.name]

    def derivatives(self, z, order=1):
        """sigma and its derivatives up to `order` at z.

        Parameters
        ----------
        z : ndarray, any shape, float32 or float64 (NumPy or CuPy)
        order : int in 0..3

        Returns
        -------
        ndarray, shape (order + 1, *z.shape), dtype of z: [sigma, sigma', ...].
        """
        if not 0 <= order <= 3:
            raise ValueError(f"derivative order {order} is not available; use 0..3")
        xp = backend.array_module(z)
        zc = xp.ascontiguousarray(z)
        out = xp.empty((order + 1,) + zc.shape, dtype=zc.dtype)
        backend.kernels("activations", like=zc).evaluate(self.code, float(self.alpha), zc.reshape(-1),
                                                         out.reshape(order + 1, -1))
        return out

    def __call__(self, z):
        """sigma(z), same shape and dtype as z."""
        return self.derivatives(z, 0)[0]


_DEFAULT_ALPHA = {"leaky_relu": 0.01}


def get_activation(spec):
    """Look up an activation.

    Parameters
    ----------
    spec : str, (str, float) or Activation
        A name from `names()`, optionally with its parameter, e.g. ("leaky_relu", 0.01).

    Returns
    -------
    Activation
    """
    if isinstance(spec, Activation):
        return spec
    name, alpha = (spec, None) if isinstance(spec, str) else spec
    if name not in ACTIVATION_CODES:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATION_CODES)}")
    return Activation(name, float(_DEFAULT_ALPHA.get(name, 0.0) if alpha is None else alpha))


def names():
    """Names of all registered activations."""
    return sorted(ACTIVATION_CODES)
