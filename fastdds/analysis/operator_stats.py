"""Measures of one linear operator (Identity, Banded or Dense), from an FD chain or a network.

Every measure works on the host float64 dense matrix of the operator, so a stencil and a weight
matrix are measured the same way:

- row moments M_0..M_4 (``Operator.moments``), their mean and spread over rows;
- entry statistics: mean, std, skewness, excess kurtosis, KS test against the fitted normal law;
- singular values against Marchenko-Pastur, eigenvalues (square) against the circular law;
- band energy fraction within distance w of the diagonal, before and after a reverse
  Cuthill-McKee reordering of the thresholded |A|;
- effective rank (entropy) and stable rank; parameter count; FLOPs per application.
"""

import numpy as np
import scipy.sparse as sp
from scipy import stats
from scipy.sparse.csgraph import reverse_cuthill_mckee

from .. import backend
from ..layers import Layer
from ..operators import Operator
from .random_matrix import circular_law_fit, marchenko_pastur_fit


def as_matrix(op):
    """Host float64 dense matrix of an Operator (or of an array), shape (n_out, n_in)."""
    a = op.to_dense() if isinstance(op, Operator) else op
    a = np.asarray(backend.to_numpy(a), dtype=np.float64)
    if a.ndim != 2 or 0 in a.shape:
        raise ValueError(f"expected a non-empty 2-D operator; got shape {a.shape}")
    return a


def layer_operators(layer, prefix=""):
    """The operators of a layer, named P, Q<k>, R<k> (None entries left out).

    Parameters
    ----------
    layer : fastdds.layers.Layer
    prefix : str
        Put in front of every name (e.g. "W3." or "lf.").

    Returns
    -------
    list of (name, Operator)
    """
    if not isinstance(layer, Layer):
        raise ValueError(f"expected a fastdds.layers.Layer; got {type(layer).__name__}")
    ops = [("P", layer.P)] + [(f"{t}{k}", op) for k, br in enumerate(layer.branches)
                              for t, op in (("Q", br.Q), ("R", br.R))]
    return [(prefix + name, op) for name, op in ops if op is not None]


def moment_stats(op, h=1.0, kmax=4):
    """Mean and spread over rows of the row moments M_k(i) = sum_j A_ij ((j - i) h)^k.

    Parameters
    ----------
    op : Operator
    h : float
        Grid or neuron spacing (1: index units).
    kmax : int

    Returns
    -------
    dict: ``M{k}_mean``, ``M{k}_std`` for k = 0..kmax (float), and ``profile``, the
    (kmax + 1, n_out) array of moments itself.
    """
    m = np.asarray(op.moments(h, kmax), dtype=np.float64)
    out = {f"M{k}_mean": float(m[k].mean()) for k in range(kmax + 1)}
    out.update({f"M{k}_std": float(m[k].std()) for k in range(kmax + 1)})
    out["profile"] = m
    return out


def entry_stats(a):
    """Statistics of all entries of a matrix, and a KS test against the fitted normal law.

    Parameters
    ----------
    a : ndarray, any shape

    Returns
    -------
    dict: mean, std, skewness, excess_kurtosis (0 for a normal law), ks (KS distance to
    N(mean, std^2)) and ks_pvalue (for a fully specified law: lenient, since the mean and std
    are fitted). A constant matrix gives NaN for the shape measures.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    mean, std = float(x.mean()), float(x.std())
    out = dict(mean=mean, std=std, skewness=np.nan, excess_kurtosis=np.nan, ks=np.nan, ks_pvalue=np.nan)
    if std > 0.0 and x.size > 2:
        res = stats.kstest(x, "norm", args=(mean, std))
        out.update(skewness=float(stats.skew(x)), excess_kurtosis=float(stats.kurtosis(x)),
                   ks=float(res.statistic), ks_pvalue=float(res.pvalue))
    return out


def _diagonal_distance(shape):
    """|j - c_i| with c_i = (i + 1/2) n / m - 1/2: the diagonal of a rectangular matrix scaled to
    run corner to corner (for a square matrix it is |j - i|)."""
    m, n = shape
    centre = (np.arange(m) + 0.5) * (n / m) - 0.5
    return np.abs(np.arange(n)[None, :] - centre[:, None])


def band_energy(a, width=1):
    """Share of the squared Frobenius norm within `width` of the diagonal.

    Parameters
    ----------
    a : ndarray, shape (m, n)
        For m != n the diagonal is the scaled line from corner to corner, j = (i + 1/2) n/m - 1/2.
    width : float >= 0

    Returns
    -------
    float in [0, 1] (NaN for a zero matrix). 1 for a tridiagonal matrix with width = 1.
    """
    a = np.asarray(a, dtype=np.float64)
    if width < 0:
        raise ValueError(f"band width must be >= 0; got {width}")
    total = float(np.sum(a**2))
    if total == 0.0:
        return np.nan
    return 1.0 - float(np.sum(a[_diagonal_distance(a.shape) > width + 1e-12] ** 2) / total)


def rcm_order(a, keep=0.1):
    """Row and column orders that favour locality: reverse Cuthill-McKee on the thresholded |A|.

    The pattern keeps the largest `keep` fraction of |A_ij| (and never a zero). A square matrix
    is symmetrised (pattern of |A| + |A|^T) and gets one order for rows and columns. A
    rectangular m x n matrix is read as a bipartite graph (rows and columns are nodes, the
    (m + n) square adjacency [[0, B], [B^T, 0]]); the RCM order of its nodes gives the row order
    (row nodes in visiting order) and the column order (column nodes in visiting order).

    Parameters
    ----------
    a : ndarray, shape (m, n)
    keep : float in (0, 1]

    Returns
    -------
    rows : ndarray of int, shape (m,)
    cols : ndarray of int, shape (n,)
        ``a[np.ix_(rows, cols)]`` is the reordered matrix.
    """
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be a fraction in (0, 1]; got {keep}")
    mag = np.abs(np.asarray(a, dtype=np.float64))
    m, n = mag.shape
    pattern = (mag >= np.quantile(mag, 1.0 - keep)) & (mag > 0.0)
    if m == n:
        graph = sp.csr_matrix(pattern | pattern.T)
        order = reverse_cuthill_mckee(graph, symmetric_mode=True)
        return order, order
    b = sp.csr_matrix(pattern.astype(np.int8))
    graph = sp.bmat([[None, b], [b.T, None]], format="csr")
    order = reverse_cuthill_mckee(graph, symmetric_mode=True)
    return order[order < m], order[order >= m] - m


def effective_rank(singular_values):
    """Entropy effective rank and stable rank of a matrix from its singular values.

    Parameters
    ----------
    singular_values : ndarray, shape (p,)

    Returns
    -------
    entropy_rank : float
        exp(-sum p_i log p_i) with p_i = s_i / sum s (Roy & Vetterli 2007): between 1 and p.
    stable_rank : float
        ||A||_F^2 / ||A||_2^2 = sum s^2 / max s^2: between 1 and p.
    """
    s = np.asarray(singular_values, dtype=np.float64)
    if s.size == 0 or s.max() <= 0.0:
        return np.nan, np.nan
    p = s[s > 0] / s.sum()
    return float(np.exp(-np.sum(p * np.log(p)))), float(np.sum(s**2) / s.max() ** 2)


def operator_report(op, h=1.0, kmax=4, band_width=1, keep=0.1):
    """Every per-operator measure of one operator.

    Parameters
    ----------
    op : Operator (Identity, Banded, Dense)
    h : float
        Spacing for the moments (1: index units).
    kmax : int
        Highest row moment.
    band_width : float
        Distance from the diagonal counted by the band energy.
    keep : float
        Fraction of largest |A_ij| kept for the RCM pattern.

    Returns
    -------
    dict of scalars (see `MEASURES` for the keys and their meaning), plus the arrays
    ``matrix`` (dense float64), ``moment_profile`` (kmax + 1, n_out), ``singular_values``,
    ``eigenvalues`` (square only) and ``rcm_matrix`` (the reordered matrix) for plots.
    """
    if not isinstance(op, Operator):
        raise ValueError(f"expected an Operator (Identity, Banded, Dense); got {type(op).__name__}")
    a = as_matrix(op)
    m, n = a.shape
    out = dict(kind=type(op).__name__, shape=f"{m}x{n}", nparams=int(op.nparams), flops=int(op.flops(1)),
               matrix=a)
    mom = moment_stats(op, h, kmax)
    out["moment_profile"] = mom.pop("profile")
    out.update(mom)
    out.update({f"entry_{k}": v for k, v in entry_stats(a).items()})
    s = np.linalg.svd(a, compute_uv=False)
    out["singular_values"] = s
    out.update({f"mp_{k}": v for k, v in marchenko_pastur_fit(s, a.shape).items()})
    out["entropy_rank"], out["stable_rank"] = effective_rank(s)
    out["rank_fraction"] = out["entropy_rank"] / min(m, n)
    if m == n:
        ev = op.spectrum("eig")
        out["eigenvalues"] = ev
        out.update({f"circ_{k}": v for k, v in circular_law_fit(ev, a.std()).items()})
    else:
        out.update({f"circ_{k}": np.nan for k in ("radius", "inside", "spectral_radius", "radius_ratio", "ks")})
    rows, cols = rcm_order(a, keep)
    out["rcm_matrix"] = a[np.ix_(rows, cols)]
    out["band_energy"] = band_energy(a, band_width)
    out["band_energy_rcm"] = band_energy(out["rcm_matrix"], band_width)
    return out


MEASURES = [
    ("kind", "storage form"),
    ("shape", "n_out x n_in"),
    ("nparams", "stored coefficients"),
    ("flops", "FLOPs per application (one state)"),
    *[(f"M{k}_{s}", f"row moment M_{k} (index units), {s} over rows") for k in range(5) for s in ("mean", "std")],
    ("entry_mean", "mean entry"),
    ("entry_std", "entry standard deviation"),
    ("entry_skewness", "entry skewness (0 for normal)"),
    ("entry_excess_kurtosis", "entry excess kurtosis (0 for normal)"),
    ("entry_ks", "KS distance of entries to fitted normal"),
    ("entry_ks_pvalue", "KS p-value (fitted normal; lenient)"),
    ("mp_sigma2", "fitted entry variance for Marchenko-Pastur"),
    ("mp_ks", "KS distance of s^2/N to Marchenko-Pastur"),
    ("mp_edge_ratio", "largest s^2/N over the MP upper edge"),
    ("circ_inside", "fraction of eigenvalues inside sigma sqrt(n)"),
    ("circ_radius_ratio", "spectral radius over sigma sqrt(n)"),
    ("circ_spectral_radius", "spectral radius"),
    ("circ_ks", "KS distance of |lambda|^2/(sigma^2 n) to U(0,1)"),
    ("band_energy", "squared-norm share within the band"),
    ("band_energy_rcm", "same after reverse Cuthill-McKee"),
    ("entropy_rank", "entropy effective rank exp(H(s/sum s))"),
    ("stable_rank", "stable rank ||A||_F^2/||A||_2^2"),
    ("rank_fraction", "entropy rank over min(m, n)"),
]
"""(key, description) of every scalar measure of `operator_report`, in table order."""
