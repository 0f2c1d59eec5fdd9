"""How far a matrix is from an i.i.d. random one: Marchenko-Pastur and the circular law.

For an m x n matrix A with i.i.d. entries of variance sigma^2, let p = min(m, n), N = max(m, n)
and y = p / N <= 1. The p eigenvalues lambda = s^2 / N of A A^T / N (s the singular values)
follow, as p, N grow, the Marchenko-Pastur law on [sigma^2 (1 - sqrt y)^2, sigma^2 (1 + sqrt y)^2]:

    rho(lambda) = sqrt((b - lambda)(lambda - a)) / (2 pi sigma^2 y lambda).

For a square n x n matrix the eigenvalues fill the disc of radius sigma sqrt(n) uniformly
(circular law), so |lambda|^2 / (sigma^2 n) is uniform on [0, 1].
"""

import numpy as np
from scipy import stats

MIN_SPECTRUM = 10
"""Fewest values for which a spectral law is tested; smaller spectra report NaN."""


def _mp_edges(ratio, sigma2):
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"Marchenko-Pastur ratio y = min(m, n) / max(m, n) must be in (0, 1]; got {ratio}")
    if not sigma2 > 0.0:
        raise ValueError(f"Marchenko-Pastur variance must be positive; got {sigma2}")
    return sigma2 * (1.0 - np.sqrt(ratio)) ** 2, sigma2 * (1.0 + np.sqrt(ratio)) ** 2


def mp_pdf(x, ratio, sigma2=1.0):
    """Marchenko-Pastur density.

    Parameters
    ----------
    x : array_like, float
        Eigenvalues of A A^T / N.
    ratio : float in (0, 1]
        y = min(m, n) / max(m, n).
    sigma2 : float > 0
        Entry variance.

    Returns
    -------
    ndarray, float64, shape of x; 0 outside the support.
    """
    a, b = _mp_edges(ratio, sigma2)
    x = np.asarray(x, dtype=np.float64)
    inside = (x > a) & (x < b)
    xs = np.where(inside, x, 0.5 * (a + b))
    dens = np.sqrt(np.maximum((b - xs) * (xs - a), 0.0)) / (2.0 * np.pi * sigma2 * ratio * xs)
    return np.where(inside, dens, 0.0)


def mp_cdf(x, ratio, sigma2=1.0, nodes=4001):
    """Marchenko-Pastur distribution function by numerical integration of `mp_pdf`.

    The substitution lambda = a + (b - a) sin^2(phi) removes the square-root endpoint
    singularities, leaving a smooth integrand on [0, pi/2] that the trapezoidal rule
    integrates to ~1e-7 with the default nodes.

    Parameters
    ----------
    x : array_like, float
    ratio, sigma2 : as in `mp_pdf`
    nodes : int
        Quadrature nodes in phi.

    Returns
    -------
    ndarray, float64, shape of x, values in [0, 1].
    """
    a, b = _mp_edges(ratio, sigma2)
    phi = np.linspace(0.0, 0.5 * np.pi, nodes)
    lam = a + (b - a) * np.sin(phi) ** 2
    sc = np.sin(phi) * np.cos(phi)
    integrand = (b - a) ** 2 * 2.0 * sc**2 / (2.0 * np.pi * sigma2 * ratio * np.maximum(lam, 1e-300))
    if a == 0.0:
        integrand[0] = (b - a) * 2.0 / (2.0 * np.pi * sigma2 * ratio)  # limit phi -> 0 when a = 0
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (integrand[1:] + integrand[:-1]) * np.diff(phi))])
    cum /= cum[-1]
    return np.interp(np.asarray(x, dtype=np.float64), lam, cum, left=0.0, right=1.0)


def marchenko_pastur_fit(singular_values, shape):
    """Compare singular values with the Marchenko-Pastur law of the matrix's shape.

    The variance is fitted as the mean square entry, sigma^2 = sum(s^2) / (m n) (the mean of
    the MP law); an entry mean far from 0 shows up as one outlier above the upper edge.

    Parameters
    ----------
    singular_values : ndarray, shape (min(m, n),)
    shape : (int, int)
        (m, n) of the matrix.

    Returns
    -------
    dict with
        ratio : y = min(m, n) / max(m, n)
        sigma2 : fitted entry variance
        ks : Kolmogorov-Smirnov distance sup |F_emp - F_MP| of lambda = s^2 / max(m, n)
        ks_pvalue : its p-value (for a fully specified law; the fitted sigma2 makes it lenient)
        edge_ratio : s_max^2 / N over the upper edge sigma^2 (1 + sqrt y)^2 (about 1 if random)
    All NaN when fewer than `MIN_SPECTRUM` singular values (e.g. a 2 -> 100 input layer).
    """
    m, n = (int(s) for s in shape)
    s = np.asarray(singular_values, dtype=np.float64)
    p, big = min(m, n), max(m, n)
    if s.shape != (p,):
        raise ValueError(f"expected {p} singular values for a {m} x {n} matrix; got shape {s.shape}")
    nan = dict(ratio=p / big, sigma2=float(np.sum(s**2) / (m * n)), ks=np.nan, ks_pvalue=np.nan,
               edge_ratio=np.nan)
    if p < MIN_SPECTRUM or nan["sigma2"] == 0.0:
        return nan
    ratio, sigma2 = p / big, nan["sigma2"]
    lam = s**2 / big
    res = stats.kstest(lam, lambda v: mp_cdf(v, ratio, sigma2))
    return dict(ratio=ratio, sigma2=sigma2, ks=float(res.statistic), ks_pvalue=float(res.pvalue),
                edge_ratio=float(lam.max() / _mp_edges(ratio, sigma2)[1]))


def circular_law_fit(eigenvalues, sigma):
    """Compare eigenvalues of a square n x n matrix with the circular law.

    Parameters
    ----------
    eigenvalues : ndarray, complex, shape (n,)
    sigma : float > 0
        Entry standard deviation (fitted by the caller, e.g. the std of the entries).

    Returns
    -------
    dict with
        radius : sigma sqrt(n)
        inside : fraction of eigenvalues with |lambda| <= radius (about 1 if random)
        spectral_radius : max |lambda|
        radius_ratio : spectral_radius / radius (about 1 if random)
        ks : KS distance of |lambda|^2 / radius^2 from Uniform(0, 1) (small if random)
    NaN entries when n < `MIN_SPECTRUM` or sigma = 0.
    """
    ev = np.asarray(eigenvalues)
    n = ev.size
    mod = np.abs(ev)
    out = dict(radius=np.nan, inside=np.nan, spectral_radius=float(mod.max()) if n else np.nan,
               radius_ratio=np.nan, ks=np.nan)
    if n < MIN_SPECTRUM or not sigma > 0.0:
        return out
    radius = float(sigma) * np.sqrt(n)
    out.update(radius=radius, inside=float(np.mean(mod <= radius)), radius_ratio=float(mod.max() / radius),
               ks=float(stats.kstest((mod / radius) ** 2, "uniform").statistic))
    return out
