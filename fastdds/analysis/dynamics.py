"""Layer-wise dynamics: a network's depth and an FD scheme's time steps on one axis.

A network maps probe inputs through its layers, an FD chain maps an initial state through its
time steps; both give a trajectory z_0, z_1, ..., z_L (``Chain.trajectory``). For each depth l this
module reports the state's mean and spread, how far independently trained runs disagree
(raw, and after the neuron matching of `fastdds.analysis.cross_run`), and the step size
||z_{l+1} - z_l|| wherever consecutive states have one width.
"""

import numpy as np

from .. import backend
from ..layers import Chain
from ..linearize import spectral_radius
from .cross_run import relative_spread


def chain_trajectory(chain, x0):
    """States of a chain from x0, float64 host arrays.

    Parameters
    ----------
    chain : Chain, or list of Layer
    x0 : ndarray, shape (n_in,) or (batch, n_in)

    Returns
    -------
    list of ndarrays, shape (batch, width_l): [x0, x1, ..., xL].
    """
    chain = chain if isinstance(chain, Chain) else Chain(chain)
    x = np.asarray(x0, dtype=chain.dtype)
    states = chain.trajectory(x.reshape(-1, chain.n_in))
    return [np.asarray(backend.to_numpy(s), dtype=np.float64) for s in states]


def step_sizes(states):
    """RMS step ||z_{l+1} - z_l||_2 / sqrt(width), averaged over the batch, per transition.

    Parameters
    ----------
    states : list of ndarrays, shape (batch, width_l)

    Returns
    -------
    ndarray, shape (len(states) - 1,); NaN where the two widths differ.
    """
    out = np.full(len(states) - 1, np.nan)
    for l, (a, b) in enumerate(zip(states, states[1:])):
        if a.shape == b.shape:
            out[l] = float(np.mean(np.sqrt(np.mean((b - a) ** 2, axis=1))))
    return out


def depth_statistics(runs, alignments=None):
    """State statistics per depth over one or more runs.

    Parameters
    ----------
    runs : list over runs of lists of ndarrays (batch, width_l)
        Trajectories over the same inputs (`chain_trajectory` or `cross_run.network_states`).
    alignments : list over runs of (perms, signs), optional
        Neuron matching of each run onto run 0 for the hidden states 1..L-1 (run 0 itself: None),
        from `cross_run.match_neurons`; gives ``spread_matched``.

    Returns
    -------
    dict of ndarrays of length L + 1 (depth 0 = input):
        depth : l / L (the common axis of networks and time-stepping chains)
        width : state width
        mean : mean over runs, batch and units
        std : std over the batch and units within a run, averaged over runs
        spread : `relative_spread` across runs with units in stored order (NaN for one run)
        spread_matched : the same after matching (NaN without alignments)
        step : RMS step size from depth l to l + 1, averaged over runs (NaN at the last depth and
            where widths differ)
    """
    depth = len(runs[0])
    if any(len(r) != depth for r in runs):
        raise ValueError("every run must have the same number of states")
    out = dict(depth=np.arange(depth) / max(depth - 1, 1), width=np.array([s.shape[1] for s in runs[0]]),
               mean=np.array([np.mean([r[l].mean() for r in runs]) for l in range(depth)]),
               std=np.array([np.mean([r[l].std() for r in runs]) for l in range(depth)]),
               spread=np.full(depth, np.nan), spread_matched=np.full(depth, np.nan),
               step=np.append(np.mean([step_sizes(r) for r in runs], axis=0), np.nan))
    if len(runs) > 1:
        out["spread"] = np.array([relative_spread([r[l] for r in runs]) for l in range(depth)])
    if alignments is not None and len(runs) > 1:
        if len(alignments) != len(runs):
            raise ValueError(f"{len(runs)} runs but {len(alignments)} alignments (run 0's is None)")
        matched = []
        for r, al in zip(runs, alignments):
            if al is None:
                matched.append(r)
                continue
            perms, signs = al
            matched.append([r[0]] + [s[:, p] * g for s, p, g in zip(r[1:-1], perms, signs)] + [r[-1]])
        out["spread_matched"] = np.array([relative_spread([r[l] for r in matched]) for l in range(depth)])
    return out


def euler_radii(blocks, x0, positions):
    """Euler radius (spectral radius of the Jacobian, `fastdds.linearize`) of blocks along a run.

    Each block is linearised at the state it receives on the trajectory from x0, so a network
    layer and an FD step are measured by the same code: a von Neumann amplification factor for
    a linear FD step, the local growth rate of a residual block.

    Parameters
    ----------
    blocks : list of Block
    x0 : ndarray, shape (n_in,)
        One input state (e.g. the mean probe of a network, or an FD initial state).
    positions : list of int
        Which blocks to linearise.

    Returns
    -------
    list of float aligned with `positions`; NaN for a block with n_in != n_out.
    """
    chain = Chain(blocks)
    states = chain.trajectory(np.asarray(x0, dtype=chain.dtype))
    return [spectral_radius(blocks[l], states[l]) if blocks[l].n_in == blocks[l].n_out else np.nan
            for l in positions]
