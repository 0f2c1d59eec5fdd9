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


def constant_term(layer):
    """What a layer's constant term c holds: "-" when it has none, else its size n and max |c|."""
    if layer.c is None:
        return "-"
    c = np.asarray(backend.to_numpy(layer.c), dtype=np.float64)
    return f"n = {c.size}, max |c| {np.abs(c).max():.3g}"


def form_operators(blocks, prefix=None):
    """The operators of a layer form (e.g. ``model.layers().blocks``), each measured once, and a
    listing of its blocks.

    Without a prefix (a model), a Layer whose one operator is Dense (an MLP or affine layer)
    names it ``W<l>``, other Layers name theirs ``L<l>.P``, ``L<l>.Q<k>``, ``L<l>.R<k>``, l the
    position where the Layer first appears. With a prefix (an FD step, "fd") they are
    ``fd.P``, ... for a one-layer step and ``fd<l>.P``, ... for longer ones. A block (or
    operator) repeated in the form (K Euler steps of one Layer, weights shared between
    Runge-Kutta stages) is measured once. Blocks that are not Layers (e.g. the Standardize of
    LayerNorm) have no operators and are listed as such.

    Parameters
    ----------
    blocks : list of Block
    prefix : str, optional

    Returns
    -------
    ops : list of (name, Operator)
    listing : list of dicts with keys first (l), position ("l" or "l-m, k times"), kind (class
        name), shape ("n_in -> n_out"), operators (names, or "none: not a Layer"), activations,
        c (`constant_term`).
    """
    from ..operators import Dense

    seen_ops, positions, ops, listing = {}, {}, [], []
    for l, blk in enumerate(blocks):
        positions.setdefault(id(blk), []).append(l)
    for l, blk in enumerate(blocks):
        where = positions[id(blk)]
        if where[0] != l:
            continue
        row = dict(first=l, position=str(l) if len(where) == 1 else f"{l}-{where[-1]}, {len(where)} times",
                   kind=type(blk).__name__, shape=f"{blk.n_in} -> {blk.n_out}")
        if not isinstance(blk, Layer):
            listing.append(dict(row, operators="none: not a Layer", activations="-", c="-"))
            continue
        named = layer_operators(blk)
        if prefix is not None:
            head = f"{prefix}{l if len(blocks) > 1 else ''}."
        else:
            head = None if len(named) == 1 and isinstance(named[0][1], Dense) else f"L{l}."
        names = []
        for name, op in named:
            if id(op) not in seen_ops:
                seen_ops[id(op)] = f"W{l}" if head is None else head + name
                ops.append((seen_ops[id(op)], op))
            names.append(seen_ops[id(op)])
        listing.append(dict(row, operators=" ".join(names),
                            activations=" ".join(br.act.name for br in blk.branches) or "-", c=constant_term(blk)))
    return ops, listing


def fhn_fixed_point_operators(fhn):
    """The Euler step of an FHN layer linearised at its fixed points, one operator per fixed point.

    `FHN.euler_step_at_fixed_points` gives each neuron's 2 x 2 step I + dt J at each of its real
    fixed points (increasing v*). Operator k puts neuron j's step at its k-th fixed point (its last
    one when it has fewer) on the state [v; w]: a Banded (2n x 2n) with offsets 0, +n, -n, so its
    moments and spectrum are those of all neurons' linearised steps at once.

    Parameters
    ----------
    fhn : fastdds.nn.fhn.FHN

    Returns
    -------
    list of (name "fp<k>", Banded float64), k = 0 .. (most fixed points of a neuron) - 1
    """
    from ..operators import Banded

    n = fhn.n
    per_neuron = [[] for _ in range(n)]
    for step in fhn.euler_step_at_fixed_points():
        per_neuron[step.neuron].append(as_matrix(step.step))
    out = []
    for k in range(max(len(m) for m in per_neuron)):
        diags = np.zeros((3, 2 * n))
        for j, mats in enumerate(per_neuron):
            a = mats[min(k, len(mats) - 1)]
            diags[0, j], diags[0, n + j] = a[0, 0], a[1, 1]
            diags[1, j], diags[2, n + j] = a[0, 1], a[1, 0]
        out.append((f"fp{k}", Banded((0, n, -n), diags, "zero")))
    return out


def model_fixed_point_operators(model):
    """`fhn_fixed_point_operators` of every FHN layer of a model, named ``fhn<i>.fp<k>``.

    Parameters
    ----------
    model : Block; Chains (and models built on Chain) are searched block by block

    Returns
    -------
    list of (name, Banded); empty for a model without FHN layers
    """
    from ..nn.fhn import FHN

    found, todo = [], [model]
    while todo:
        blk = todo.pop(0)
        if isinstance(blk, FHN) and all(blk is not f for f in found):
            found.append(blk)
        todo[:0] = list(getattr(blk, "blocks", ()))
    return [(f"fhn{i}.{name}", op) for i, fhn in enumerate(found) for name, op in fhn_fixed_point_operators(fhn)]


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
