"""The PINN loss, sum over groups of w mean(r^2), and its gradient through the network.

For each group the network runs forward with the Taylor streams the group needs; the loss
derivative with respect to each stream,

    data group:      r = u - target,            dL/du      = 2 w / N * r
    residual group:  r = R(u, u_x, ...),        dL/ds[key] = 2 w / N * r * dR/ds[key],

is handed to the network's reverse pass, which returns the parameter gradients. A group's
points go through the network in the batches it asks for (``MLP.batches``: a batch's kept
streams stay in cache); nothing here loops over single points.
"""

import numpy as np


class InputScaling:
    """A network seen through the affine input map xi = 2 (X - lower) / (upper - lower) - 1.

    The streams it returns are derivatives in the physical X: d/dX_i = a_i d/dxi_i with
    a_i = 2 / (upper_i - lower_i), so a stream with key k is scaled by prod(a[k]), in the
    forward pass and (the same factor) in the reverse pass.

    Parameters
    ----------
    net : fastdds.nn.mlp.MLP (or any object with its forward/backward/params API)
    lower, upper : sequence of float, length d_in
    """

    def __init__(self, net, lower, upper):
        self.net = net
        self.lower = np.asarray(lower, dtype=np.float64)
        self.a = 2.0 / (np.asarray(upper, dtype=np.float64) - self.lower)

    @property
    def params(self):
        return self.net.params

    def _factor(self, key):
        return float(np.prod(self.a[list(key)])) if key else 1.0

    def scale_inputs(self, X):
        """xi (N, d), the dtype of X."""
        return ((X - self.lower.astype(X.dtype)) * self.a.astype(X.dtype) - 1).astype(X.dtype, copy=False)

    def forward(self, X, derivs=(), keep=False):
        """Streams in physical coordinates; see `fastdds.nn.mlp.MLP.forward`."""
        out = self.net.forward(self.scale_inputs(X), derivs=derivs, keep=keep)
        return {k: v * v.dtype.type(self._factor(k)) for k, v in out.items()}

    def batches(self, N, derivs=()):
        """See `fastdds.nn.mlp.MLP.batches`."""
        return self.net.batches(N, derivs)

    def backward(self, dout):
        """Parameter gradients from dL/d(physical stream); see `fastdds.nn.mlp.MLP.backward`."""
        return self.net.backward({k: v * v.dtype.type(self._factor(k)) for k, v in dout.items()})

    def __call__(self, X):
        return self.forward(X)[()]


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
    net : MLP or InputScaling
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
            streams = net.forward(group.X[batch], derivs=derivs, keep=True)
            value, dstreams = stream_gradients(problem, group, streams, batch)
            if not np.isfinite(value):
                raise RuntimeError(f"the {group.name!r} loss is {value}; training diverged: lower the "
                                   f"learning rate or check the data")
            parts[group.name] += value
            g = net.backward(dstreams)
            grads = g if grads is None else [a + b for a, b in zip(grads, g)]
    return sum(parts.values()), parts, grads
