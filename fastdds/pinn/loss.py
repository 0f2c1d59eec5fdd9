"""The PINN loss, sum over groups of w mean(r^2), and its gradient through the network.

For each group the network runs forward with the Taylor streams the group needs; the loss
derivative with respect to each stream,

    data group:      r = u - target,            dL/du      = 2 w / N * r
    residual group:  r = R(u, u_x, ...),        dL/ds[key] = 2 w / N * r * dR/ds[key],

is handed to the network's reverse pass, which returns the parameter gradients: per batch
``net.streams(X, derivs)`` gives the streams and a cache, ``net.stream_backward(cache, dL/ds)``
the gradients (``fastdds.nn.mlp.MLP``; an input scaling is part of the network). A group's
points go through the network in the batches it asks for (``MLP.batches``: a batch's kept
streams stay in cache); nothing here loops over single points.
"""

import numpy as np


def stream_gradients(problem, group, streams, batch=slice(None)):
    """Loss term of a batch of one group's points and its derivative with respect to the streams.

    Parameters
    ----------
    problem : fastdds.pinn.problems.Problem
    group : fastdds.pinn.problems.Group
    streams : dict key -> ndarray (n, 1)
        The network's output on group.X[batch].
    batch : slice
        The batch's points among the group's N (default: all of them).

    Returns
    -------
    value : float
        The batch's part of w mean(r^2) (w sum(r^2) / N), accumulated in float64.
    dstreams : dict key -> ndarray (n, 1), dtype of the streams
    """
    u = streams[()]
    n = group.X.shape[0]
    if group.target is None:
        r, partials = problem.residual.evaluate(streams, group.X[batch])
    else:
        r, partials = u - group.target[batch], {(): 1.0}
    c = r.dtype.type(2.0 * group.weight / n)
    value = group.weight * (float(np.sum(np.square(r, dtype=np.float64))) / n)
    return value, {k: c * r * p for k, p in partials.items()}


def loss_and_grads(net, problem):
    """Total loss, its parts, and the parameter gradients.

    Parameters
    ----------
    net : fastdds.nn.mlp.MLP
    problem : fastdds.pinn.problems.Problem
        Point sets in the network's dtype (``problem.astype(dtype)``).

    Returns
    -------
    loss : float
    parts : dict group name -> float
    grads : list of ndarray aligned with net.params
    """
    parts, grads = {}, None
    for group in problem.groups:
        derivs = tuple(k for k in problem.residual.streams if k) if group.target is None else ()
        parts[group.name] = 0.0
        for batch in net.batches(group.X.shape[0], derivs):
            streams, cache = net.streams(group.X[batch], derivs)
            value, dstreams = stream_gradients(problem, group, streams, batch)
            if not np.isfinite(value):
                raise RuntimeError(f"the {group.name!r} loss is {value}; training diverged: lower the "
                                   f"learning rate or check the data")
            parts[group.name] += value
            g = net.stream_backward(cache, dstreams)
            grads = g if grads is None else [a + b for a, b in zip(grads, g)]
    return sum(parts.values()), parts, grads
