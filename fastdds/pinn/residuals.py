"""PDE residuals for PINNs, each with its partials with respect to the derivative streams it reads.

A network evaluated with Taylor streams returns a dict ``s`` mapping a derivative key to an
(N, 1) array: ``()`` is u, ``(0,)`` is du/dX[:, 0], ``(1,)`` du/dX[:, 1], ``(0, 0)`` the second
derivative in X[:, 0], and so on (for (x, t) inputs: ``(0,)`` = u_x, ``(1,)`` = u_t,
``(0, 0)`` = u_xx). A residual maps those streams to r (N, 1) and returns dr/ds[key] for every
key it reads. The loss ``w mean(r^2)`` then needs only

    dL/ds[key] = 2 w / N * r * dr/ds[key],

which the network's reverse pass turns into parameter gradients. The forward value and its
partials sit side by side in each ``evaluate``, so one can be checked against the other at a
glance (tests/test_residuals.py checks them against central differences).

Adding a PDE: subclass `Residual`, list the streams, return r and the partials. Allen-Cahn,
u_t - eps u_xx + u^3 - u = 0, is::

    class AllenCahn(Residual):
        def __init__(self, eps=1e-4):
            self.eps = eps
            self.streams = ((), (1,), (0, 0))

        def evaluate(self, s, X):
            u, u_t, u_xx = s[()], s[(1,)], s[(0, 0)]
            r = u_t - self.eps * u_xx + u ** 3 - u
            return r, {(): 3 * u ** 2 - 1, (1,): 1.0, (0, 0): -self.eps}

A partial may be a Python float when it is constant (it broadcasts and keeps the dtype).
"""

import numpy as np


class Residual:
    """Base class of a pointwise PDE residual r(X, u, u_x, ...).

    Attributes
    ----------
    streams : tuple of tuple of int
        Derivative keys the residual reads (``()`` for u itself).
    """

    streams = ()

    def evaluate(self, s, X):
        """Residual and its partials.

        Parameters
        ----------
        s : dict key -> ndarray (N, 1)
            The streams listed in `streams` (float32 or float64).
        X : ndarray (N, d)
            The points (for coefficients that depend on position).

        Returns
        -------
        r : ndarray (N, 1), dtype of the streams
        partials : dict key -> ndarray (N, 1) or float
            dr/ds[key] for every key in `streams`.
        """
        raise NotImplementedError

    def __call__(self, s, X):
        """Residual only, r (N, 1)."""
        return self.evaluate(s, X)[0]


class Burgers(Residual):
    """Burgers, u_t + u u_x - nu u_xx, inputs (x, t); nu = 0 gives the inviscid equation.

    Parameters
    ----------
    nu : float
        Viscosity (>= 0). With nu = 0 the second derivative is not computed at all.
    """

    def __init__(self, nu):
        if not nu >= 0.0:
            raise ValueError(f"Burgers viscosity nu = {nu} must be >= 0")
        self.nu = float(nu)
        self.streams = ((), (0,), (1,), (0, 0)) if self.nu > 0 else ((), (0,), (1,))

    def evaluate(self, s, X):
        u, u_x, u_t = s[()], s[(0,)], s[(1,)]
        r = u_t + u * u_x
        partials = {(): u_x, (0,): u, (1,): 1.0}
        if self.nu > 0:
            r = r - self.nu * s[(0, 0)]
            partials[(0, 0)] = -self.nu
        return r, partials


class EikonalTime(Residual):
    """Time-dependent 1-D Eikonal, -u_t + sqrt(u_x^2 + eps) - 1, inputs (x, t).

    Parameters
    ----------
    eps : float
        Smoothing of |u_x| (1e-8 in the published setup) so the residual is differentiable.
    """

    def __init__(self, eps=1e-8):
        self.eps = float(eps)
        self.streams = ((0,), (1,))

    def evaluate(self, s, X):
        u_x, u_t = s[(0,)], s[(1,)]
        g = np.sqrt(u_x * u_x + self.eps)
        return -u_t + g - 1.0, {(0,): u_x / g, (1,): -1.0}


class Eikonal2D(Residual):
    """Stationary 2-D Eikonal, |grad u| - 1/f(x, y), with |grad u| = sqrt(u_x^2 + u_y^2 + eps).

    Parameters
    ----------
    speed : float or callable(X (N, 2)) -> ndarray (N,) or (N, 1)
        Front speed f > 0 (u is then the travel time).
    eps : float
        Smoothing of the gradient norm.
    """

    def __init__(self, speed=1.0, eps=1e-8):
        self.speed, self.eps = speed, float(eps)
        self.streams = ((0,), (1,))

    def evaluate(self, s, X):
        u_x, u_y = s[(0,)], s[(1,)]
        f = self.speed(X).reshape(-1, 1) if callable(self.speed) else self.speed
        g = np.sqrt(u_x * u_x + u_y * u_y + self.eps)
        return g - (1.0 / f), {(0,): u_x / g, (1,): u_y / g}


class Heat(Residual):
    """Heat equation, u_t - D u_xx, inputs (x, t).

    Parameters
    ----------
    D : float
        Diffusivity (> 0).
    """

    def __init__(self, D):
        if not D > 0.0:
            raise ValueError(f"diffusivity D = {D} must be > 0")
        self.D = float(D)
        self.streams = ((1,), (0, 0))

    def evaluate(self, s, X):
        return s[(1,)] - self.D * s[(0, 0)], {(1,): 1.0, (0, 0): -self.D}


class AllenCahn(Residual):
    """Allen-Cahn, u_t - eps u_xx + u^3 - u, inputs (x, t): the worked example of adding a PDE.

    Parameters
    ----------
    eps : float
        Interface diffusivity (> 0).
    """

    def __init__(self, eps=1e-4):
        if not eps > 0.0:
            raise ValueError(f"Allen-Cahn eps = {eps} must be > 0")
        self.eps = float(eps)
        self.streams = ((), (1,), (0, 0))

    def evaluate(self, s, X):
        u, u_t, u_xx = s[()], s[(1,)], s[(0, 0)]
        r = u_t - self.eps * u_xx + u ** 3 - u
        return r, {(): 3.0 * u ** 2 - 1.0, (1,): 1.0, (0, 0): -self.eps}
