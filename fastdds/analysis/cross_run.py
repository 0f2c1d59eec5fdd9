"""Independently trained runs of one problem: are their weights related?

Hidden neurons of an MLP can be permuted (and, for an odd activation such as tanh, have their
signs flipped) without changing the function, so a raw entry-by-entry correlation of two runs'
weights understates any shared structure. `match_neurons` finds the best one-to-one pairing of
the hidden neurons of two runs from the correlations of their activations over probe inputs
(Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``); `align_mlp` permutes (and
flips) the second run's weights accordingly, which leaves its function unchanged; `compare_runs`
reports both correlations for every pair of runs, layer by layer, and the spread of the outputs
against the spread of the weights.

Networks are given in the shared representation: lists of `fastdds.layers.Layer` in MLP form,
``Layer(None, [(None, act, Dense(W), b)])`` with W of shape (fan_out, fan_in) (the blocks of
``fastdds.nn.mlp.MLP.layers()``).
"""

import itertools

import numpy as np
from scipy.optimize import linear_sum_assignment

from .. import backend
from ..layers import Chain, Layer
from ..operators import Dense

ODD_ACTIVATIONS = frozenset({"tanh", "sin", "lecun_tanh", "identity"})
"""Activations with sigma(-z) = -sigma(z): a neuron's sign can be flipped with its weights."""


def mlp_weights(layers):
    """(W, b) of each layer of an MLP in the layer form, W in Dense's (fan_out, fan_in) layout.

    Parameters
    ----------
    layers : list of Layer, each ``Layer(None, [(None, act, Dense(W), b)])``, W (fan_out, fan_in)

    Returns
    -------
    list of (W, b): W float64 (fan_out, fan_in), b float64 (fan_out,) (zeros when absent).
    """
    out = []
    for k, layer in enumerate(layers):
        ok = (isinstance(layer, Layer) and layer.P is None and len(layer.branches) == 1
              and layer.branches[0].Q is None and isinstance(layer.branches[0].R, Dense))
        if not ok:
            raise ValueError(f"layer {k} is not in MLP form Layer(None, [(None, act, Dense(W), b)]); "
                             "cross-run matching needs plain dense layers")
        br = layer.branches[0]
        w = np.asarray(backend.to_numpy(br.R.matrix), dtype=np.float64)
        b = np.zeros(w.shape[0]) if br.b is None else np.asarray(backend.to_numpy(br.b), dtype=np.float64)
        out.append((w, b))
    return out


def pearson(a, b):
    """Pearson correlation of two arrays of one shape, flattened (NaN if either is constant)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"cannot correlate arrays of {a.size} and {b.size} entries")
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / den) if den > 0 else np.nan


def _standardise(x):
    """Columns of x centred and scaled to unit RMS (a constant column stays 0), float64."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    sd = np.sqrt(np.mean(x * x, axis=0))
    return x / np.where(sd > 0, sd, 1.0)


def activation_correlation(acts_a, acts_b):
    """Correlation of every neuron of A with every neuron of B over the probes.

    Parameters
    ----------
    acts_a : ndarray, shape (n_probes, width_a)
    acts_b : ndarray, shape (n_probes, width_b)

    Returns
    -------
    ndarray, float64, shape (width_a, width_b); a constant neuron correlates 0 with everything.
    """
    if acts_a.shape[0] != acts_b.shape[0]:
        raise ValueError(f"activations over {acts_a.shape[0]} and {acts_b.shape[0]} probes; use the same probes")
    return _standardise(acts_a).T @ _standardise(acts_b) / acts_a.shape[0]


def _assign(c, signs):
    """Hungarian pairing maximising the total (absolute, with `signs`) correlation c[j, perm[j]]."""
    _, perm = linear_sum_assignment(np.abs(c) if signs else c, maximize=True)
    paired = c[np.arange(c.shape[0]), perm]
    sign = np.where(paired < 0, -1.0, 1.0) if signs else np.ones(c.shape[0])
    return perm, sign, paired * sign


def match_neurons(acts_a, acts_b, signs=False):
    """Best one-to-one pairing of the neurons of B with those of A.

    Parameters
    ----------
    acts_a, acts_b : ndarray, shape (n_probes, width)
        Activations of one hidden layer of each run over the same probe inputs.
    signs : bool
        Allow sign flips (odd activations): pair on |correlation|.

    Returns
    -------
    perm : ndarray of int, shape (width,)
        Neuron j of A is paired with neuron perm[j] of B.
    sign : ndarray of float, shape (width,)
        +1, or -1 where B's neuron enters flipped (always +1 without `signs`).
    corr : ndarray, shape (width,)
        Correlation of each pair after the flip.
    """
    if acts_a.shape != acts_b.shape:
        raise ValueError(f"activations of shapes {acts_a.shape} and {acts_b.shape}; matching needs equal widths")
    return _assign(activation_correlation(acts_a, acts_b), signs)


def align_mlp(weights, perms, signs):
    """Permute (and flip) the hidden neurons of an MLP; the function it computes is unchanged.

    Parameters
    ----------
    weights : list of (W, b), W (fan_out, fan_in)
    perms, signs : lists of length len(weights) - 1
        For hidden layer l, new neuron j is old neuron perms[l][j] times signs[l][j].

    Returns
    -------
    list of (W, b), the aligned weights (new arrays).
    """
    if len(perms) != len(weights) - 1 or len(signs) != len(perms):
        raise ValueError(f"{len(weights)} layers need {len(weights) - 1} permutations and sign vectors")
    out = []
    for l, (w, b) in enumerate(weights):
        w, b = np.array(w, dtype=np.float64), np.array(b, dtype=np.float64)
        if l > 0:
            w = w[:, perms[l - 1]] * signs[l - 1][None, :]
        if l < len(perms):
            w, b = w[perms[l], :] * signs[l][:, None], b[perms[l]] * signs[l]
        out.append((w, b))
    return out


def network_states(layers, probes):
    """States of a network over probe inputs: [x, a_1, ..., y] (``Chain.trajectory``), float64.

    Parameters
    ----------
    layers : list of Layer
    probes : ndarray, shape (n_probes, n_in)
    """
    chain = Chain(layers)
    x = np.asarray(probes, dtype=chain.dtype)
    return [np.asarray(backend.to_numpy(s), dtype=np.float64) for s in chain.trajectory(x)]


def relative_spread(arrays):
    """RMS over entries of the std across runs, over the RMS entry.

    Parameters
    ----------
    arrays : list of ndarrays of one shape, one per run

    Returns
    -------
    float: 0 when every run agrees (or all are zero), sqrt(1 - 1/runs) for independent
    zero-mean runs of one variance.
    """
    st = np.stack([np.asarray(a, dtype=np.float64) for a in arrays])
    ms = np.mean(st**2)
    return float(np.sqrt(np.mean(st.std(axis=0) ** 2) / ms)) if ms > 0 else 0.0


def _flat(nets_weights):
    return [np.concatenate([w.ravel() for w, _ in net]) for net in nets_weights]


def _activation_name(layers):
    return layers[0].branches[0].act.name


def _pair_alignment(std_a, std_b, signs):
    """`_assign` on every hidden layer, from transposed standardised states (width, n_probes) of
    [x, a_1, ..., y] of two runs."""
    found = [_assign(a @ b.T / a.shape[1], signs) for a, b in zip(std_a[1:-1], std_b[1:-1])]
    return [f[0] for f in found], [f[1] for f in found], [f[2] for f in found]


def compare_runs(nets, probes, signs=None):
    """Weights and outputs of independently trained runs of one MLP architecture, pair by pair.

    Parameters
    ----------
    nets : list of lists of Layer (MLP form), at least 2 runs of one architecture
    probes : ndarray, shape (n_probes, n_in)
        Inputs over which activations are correlated (e.g. random points of the domain).
    signs : bool or None
        Allow sign flips in the matching; None: when the hidden activation is odd.

    Returns
    -------
    dict with
        layers : list over layers l of dicts: raw_mean, raw_std, raw_absmax (correlation of W_l
            between runs, over all pairs), matched_mean, matched_std (after neuron matching),
            act_corr (mean correlation of matched neurons of the layer's output; NaN for the
            output layer, which is not permuted), weight_spread_raw, weight_spread_matched
            (`relative_spread` of W_l; matched: every run aligned to run 1)
        raw, matched : ndarrays (n_layers, n_runs, n_runs) of the pairwise correlations
        output_corr_mean : mean correlation of the outputs between pairs of runs
        output_spread : `relative_spread` of the outputs over the probes
        weight_spread_raw, weight_spread_matched : same measure pooled over every layer
        signs : bool, the sign convention used
        pairs : number of pairs
        states : list over runs of `network_states` over the probes
        alignments : list over runs of (perms, signs) matching each run onto run 1 (None for run 1)
    """
    if len(nets) < 2:
        raise ValueError(f"cross-run comparison needs at least 2 runs; got {len(nets)}")
    weights = [mlp_weights(layers) for layers in nets]
    shapes = [[w.shape for w, _ in ws] for ws in weights]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"runs have different architectures: {shapes[0]} vs {next(s for s in shapes if s != shapes[0])}")
    if signs is None:
        signs = _activation_name(nets[0]) in ODD_ACTIVATIONS
    states = [network_states(layers, probes) for layers in nets]
    std_states = [[np.ascontiguousarray(_standardise(a).T) for a in run] for run in states]
    runs, depth = len(nets), len(weights[0])
    raw = np.full((depth, runs, runs), np.nan)
    matched = np.full((depth, runs, runs), np.nan)
    act = np.full((depth, runs, runs), np.nan)
    aligned_to_first, alignments = [weights[0]], [None]
    for i, j in itertools.combinations(range(runs), 2):
        perms, sg, corrs = _pair_alignment(std_states[i], std_states[j], signs)
        wj = align_mlp(weights[j], perms, sg)
        if i == 0:
            aligned_to_first.append(wj)
            alignments.append((perms, sg))
        for l in range(depth):
            raw[l, i, j] = raw[l, j, i] = pearson(weights[i][l][0], weights[j][l][0])
            matched[l, i, j] = matched[l, j, i] = pearson(weights[i][l][0], wj[l][0])
            if l < depth - 1:
                act[l, i, j] = act[l, j, i] = float(np.mean(corrs[l]))
    iu = np.triu_indices(runs, 1)
    out_y = np.stack([s[-1] for s in states])

    per_layer = []
    for l in range(depth):
        per_layer.append(dict(
            raw_mean=float(raw[l][iu].mean()), raw_std=float(raw[l][iu].std()),
            raw_absmax=float(np.abs(raw[l][iu]).max()),
            matched_mean=float(matched[l][iu].mean()), matched_std=float(matched[l][iu].std()),
            act_corr=float(np.mean(act[l][iu])) if l < depth - 1 else np.nan,
            weight_spread_raw=relative_spread([w[l][0] for w in weights]),
            weight_spread_matched=relative_spread([w[l][0] for w in aligned_to_first])))
    out_pairs = [pearson(out_y[i], out_y[j]) for i, j in zip(*iu)]
    return dict(layers=per_layer, raw=raw, matched=matched, signs=bool(signs), pairs=len(iu[0]),
                states=states, alignments=alignments,
                output_corr_mean=float(np.mean(out_pairs)),
                output_spread=relative_spread(list(out_y)),
                weight_spread_raw=relative_spread(_flat(weights)),
                weight_spread_matched=relative_spread(_flat(aligned_to_first)))
