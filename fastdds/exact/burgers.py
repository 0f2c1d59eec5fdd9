"""Exact Burgers solutions: viscous by Cole-Hopf, inviscid Riemann problems.

Viscous Burgers u_t + u u_x = nu u_xx on the whole line with u(x, 0) = u0(x) has, by the
Cole-Hopf transform u = -2 nu theta_x / theta, theta_t = nu theta_xx,

    u(x, t) = int u0(y) exp(-G(y)) dy / int exp(-G(y)) dy,
    G(y) = (x - y)^2 / (4 nu t) + F(y) / (2 nu),      F' = u0

(the numerator follows from -2 nu theta_x by one integration by parts, so it stays bounded at
small t). With y = x - sqrt(4 nu t) eta both integrals are Gaussian-weighted in eta and
smooth, so the trapezoidal rule on a uniform eta grid converges spectrally; the weights are
summed after subtracting the largest exponent (log-sum-exp), so exp(-F / (2 nu)) never
overflows and the ratio keeps full precision where theta is tiny, right at the front (where the
naive Fourier series of theta loses every digit). Zero Dirichlet ends on an interval follow
from the odd periodic extension of u0 on the whole line.
"""

import numpy as np

_CHUNK = 1 << 22  # quadrature values held at once (points x nodes)


def _quadrature_nodes(t, nu, span, lip):
    """Uniform eta nodes wide enough for exp(-G) down to e^-60 of its peak and fine enough
    for the curvature 2 + 2 t |u0'| of the exponent in eta and for u0(x - sqrt(4 nu t) eta)."""
    half = np.sqrt(span / (2.0 * nu) + 60.0) + 2.0
    step = min(0.25 / np.sqrt(1.0 + t * lip), 0.5 / (1.0 + np.sqrt(4.0 * nu * t) * lip))
    m = int(np.ceil(half / step))
    return np.linspace(-half, half, 2 * m + 1)


def cole_hopf(x, t, u0, antiderivative, nu, span, lip):
    """Viscous Burgers solution from any initial condition, to near machine precision.

    Parameters
    ----------
    x, t : array_like
        Positions and times (t >= 0), broadcast against each other.
    u0 : callable
        Initial condition on the whole line, vectorised over float64 arrays.
    antiderivative : callable
        F with F' = u0 (any constant), vectorised.
    nu : float
        Viscosity, > 0.
    span : float
        An upper bound of max F - min F over the line (sets the quadrature range).
    lip : float
        An upper bound of |u0'| (sets the quadrature step).

    Returns
    -------
    ndarray, float64, the broadcast shape of x and t.
    """
    if not nu > 0:
        raise ValueError(f"viscosity nu = {nu}; Cole-Hopf needs nu > 0 (use riemann() for nu = 0)")
    x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
    if not (np.isfinite(x).all() and np.isfinite(t).all()):
        raise ValueError("x and t must be finite")
    if (t < 0).any():
        raise ValueError(f"times must be >= 0; got min t = {t.min()}")
    out = np.empty(x.shape)
    xf, tf, of = x.reshape(-1), t.reshape(-1), out.reshape(-1)
    at0 = tf == 0
    of[at0] = u0(xf[at0])
    for tv in np.unique(tf[~at0]):
        idx = np.flatnonzero(tf == tv)
        eta = _quadrature_nodes(tv, nu, span, lip)
        c = np.sqrt(4.0 * nu * tv)
        rows = max(1, _CHUNK // eta.size)
        for lo in range(0, idx.size, rows):
            sel = idx[lo:lo + rows]
            y = xf[sel, None] - c * eta[None, :]
            expo = -eta[None, :] ** 2 - antiderivative(y) / (2.0 * nu)
            w = np.exp(expo - expo.max(axis=1, keepdims=True))
            of[sel] = (w * u0(y)).sum(axis=1) / w.sum(axis=1)
    return out


def burgers_raissi(x, t, nu=0.01 / np.pi):
    """Raissi et al. (2019) benchmark: u(x, 0) = -sin(pi x) on [-1, 1], u(+-1, t) = 0.

    Parameters
    ----------
    x, t : array_like
        Positions in [-1, 1] and times >= 0, broadcast against each other.
    nu : float
        Viscosity (default 0.01 / pi).

    Returns
    -------
    ndarray, float64, the broadcast shape.
    """
    return cole_hopf(x, t, lambda y: -np.sin(np.pi * y), lambda y: np.cos(np.pi * y) / np.pi, nu,
                     span=2.0 / np.pi, lip=np.pi)


def burgers_sin2pi(x, t, nu=0.01 / np.pi):
    """Viscous Burgers with u(x, 0) = sin(2 pi x) on [0, 1], u(0, t) = u(1, t) = 0.

    Parameters
    ----------
    x, t : array_like
        Positions in [0, 1] and times >= 0, broadcast against each other.
    nu : float
        Viscosity (default 0.01 / pi).

    Returns
    -------
    ndarray, float64, the broadcast shape.
    """
    return cole_hopf(x, t, lambda y: np.sin(2 * np.pi * y), lambda y: -np.cos(2 * np.pi * y) / (2 * np.pi),
                     nu, span=1.0 / np.pi, lip=2 * np.pi)


def riemann(x, t, u_left, u_right, x0=0.5):
    """Entropy solution of inviscid Burgers u_t + (u^2/2)_x = 0 with Riemann data.

    u(x, 0) = u_left for x < x0, u_right for x > x0. When u_left > u_right a shock moves with
    the Rankine-Hugoniot speed (u_left + u_right) / 2; otherwise a rarefaction fan
    u = (x - x0) / t spans u_left t <= x - x0 <= u_right t.

    Parameters
    ----------
    x, t : array_like
        Positions and times (t >= 0), broadcast against each other.
    u_left, u_right : float
    x0 : float
        Initial position of the jump.

    Returns
    -------
    ndarray, float64, the broadcast shape. At t = 0 (and on a shock) x = x0 + s t takes u_right.
    """
    x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(t, dtype=np.float64))
    if (t < 0).any():
        raise ValueError(f"times must be >= 0; got min t = {t.min()}")
    xi = x - x0
    if u_left > u_right:
        s = 0.5 * (u_left + u_right)
        return np.where(xi < s * t, float(u_left), float(u_right))
    with np.errstate(divide="ignore", invalid="ignore"):
        fan = np.clip(xi / t, u_left, u_right)
    return np.where(t > 0, fan, np.where(xi < 0, float(u_left), float(u_right)))
