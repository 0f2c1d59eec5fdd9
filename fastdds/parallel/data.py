"""Data-parallel PINN training: each rank holds a share of every group's points.

Split: group g's N_g points are cut into contiguous blocks, one per rank (the first N_g % P
ranks one point more); rank r keeps its block with the weight w n_r / N_g, so that its
``w_r mean_r(r^2)`` is its share of ``w mean(r^2)`` and the ranks' terms add up to the
single-process loss (up to the rounding of w n_r / N_g). Each rank runs the library's own `fastdds.pinn.loss.loss_and_grads` on
its share (so the network's batching and kernels are untouched).

Reduction: ONE Allreduce a step over one flat float64 buffer. With ``ordered=True`` (the
default) the buffer has a row per rank, (P, nparams + ngroups): rank r writes its gradient
and loss parts into row r and zeros stay elsewhere, so the SUM Allreduce adds every entry to
zeros only (exact, whatever algorithm MPI picks), and every rank then sums the rows in rank
order itself. The result is therefore the same bits on every rank and independent of the MPI
library; the L-BFGS line searches of the ranks, which see identical inputs, stay in lock-step.
Against one process it differs only in how the per-point terms are grouped in the sums
((g1 + g2) + (g3 + g4) instead of ((g1 + g2) + g3) + g4): weights after K Adam steps agree to
round-off, and one rank reproduces `loss_and_grads` bit for bit. This was chosen over
splitting along the network's own batches (bit-identical with one process, but it ties this
module to the network's internal batching) and over an Allgather of per-batch gradients (more data). The
price is P times the bytes of a plain reduction; ``ordered=False`` sends one row
(nparams + ngroups) and lets MPI fix the order (equal to round-off, not bit-reproducible
across MPI libraries), the choice for many ranks (the README's cluster model).
"""

import numpy as np

from .. import optim
from ..pinn.loss import loss_and_grads
from ..pinn.problems import Group, Problem
from . import comm as _comm


def split_problem(problem, comm=None):
    """This rank's share of `problem`: every group's block of points, weight scaled by n_r / N.

    Parameters
    ----------
    problem : fastdds.pinn.problems.Problem
    comm : communicator, optional

    Returns
    -------
    Problem (groups with no point on this rank left out; the others in their order).
    """
    comm = _comm.resolve(comm)
    rank, size = comm.Get_rank(), comm.Get_size()
    groups = []
    for g in problem.groups:
        N = g.X.shape[0]
        a, b = _comm.share(N, rank, size)
        if b > a:
            groups.append(Group(g.name, g.X[a:b], None if g.target is None else g.target[a:b],
                                g.weight * (b - a) / N))
    return Problem(problem.name, problem.residual, problem.lower, problem.upper, groups, problem.exact)


class DataParallelLoss:
    """The PINN loss and gradient of `problem`, its points spread over the ranks of `comm`.

    Parameters
    ----------
    net : the network `fastdds.pinn.loss.loss_and_grads` takes (its ``params`` are updated in
        place by the trainers below; every rank starts from the same weights)
    problem : fastdds.pinn.problems.Problem
        The whole problem (every rank builds the same one, e.g. from the same seed), in the
        network's dtype.
    comm : communicator, optional
    ordered : bool
        Fixed rank-order summation (see the module docstring); False: one plain Allreduce row.
    """

    def __init__(self, net, problem, comm=None, ordered=True):
        self.net, self.comm, self.ordered = net, _comm.resolve(comm), bool(ordered)
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.names = [g.name for g in problem.groups]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"group names must be distinct to be reduced by name; got {self.names}")
        self.local = split_problem(problem, self.comm)
        self.shapes = [p.shape for p in net.params]
        self.offsets = np.cumsum([0] + [p.size for p in net.params])
        width = int(self.offsets[-1]) + len(self.names)
        rows = self.size if self.ordered else 1
        self._send = np.zeros((rows, width))
        self._recv = np.empty_like(self._send)
        self.allreduces = 0

    def __call__(self):
        """(loss, parts, grads) of the whole problem at the current weights, the same on every rank.

        Returns
        -------
        loss : float
        parts : dict group name -> float (in the problem's group order)
        grads : list of ndarrays aligned with net.params, their dtype
        """
        n = int(self.offsets[-1])
        row = self._send[self.rank if self.ordered else 0]
        row[:] = 0.0
        if self.local.groups:
            _, parts, grads = loss_and_grads(self.net, self.local)
            for g, a, b in zip(grads, self.offsets[:-1], self.offsets[1:]):
                row[a:b] = g.ravel()
            for k, name in enumerate(self.names):
                row[n + k] = parts.get(name, 0.0)
        self.comm.Allreduce(self._send, self._recv, op=_comm.SUM)
        self.allreduces += 1
        total = self._recv[0].copy()
        for r in range(1, self._recv.shape[0]):
            total += self._recv[r]
        dtype = self.net.params[0].dtype
        spans = zip(self.shapes, self.offsets[:-1], self.offsets[1:])
        grads = [total[a:b].reshape(s).astype(dtype) for s, a, b in spans]
        parts = {name: float(total[n + k]) for k, name in enumerate(self.names)}
        return sum(parts.values()), parts, grads


def train(net, problem, adam_steps=0, lr=1e-3, lbfgs_maxiter=0, lbfgs_options=None, comm=None, ordered=True):
    """`adam_steps` Adam steps, then L-BFGS-B on the reduced loss, the points spread over ranks.

    The same schedule as `fastdds.pinn.train.train` (without its checkpoints and progress line):
    ``optim.Adam(net.params, lr)`` on the reduced gradients, then ``optim.lbfgs`` run by SciPy
    on every rank with identical inputs (the reduced loss and gradient), so all ranks take the
    same iterates and end with the same weights.

    Parameters
    ----------
    net, problem, comm, ordered
        As in `DataParallelLoss`.
    adam_steps : int
    lr : float or callable(step) -> float
    lbfgs_maxiter : int
    lbfgs_options : dict, optional
        Passed to `fastdds.optim.lbfgs`.

    Returns
    -------
    dict : loss_adam (ndarray, loss before each Adam step), loss_lbfgs (after each L-BFGS
    iteration), final_loss, parts, lbfgs_message, allreduces (MPI calls made).
    """
    dp = DataParallelLoss(net, problem, comm, ordered)
    opt = optim.Adam(net.params, lr)
    loss_adam, loss_lbfgs, message = [], [], ""
    for _ in range(int(adam_steps)):
        loss, _, grads = dp()
        opt.step(grads)
        loss_adam.append(loss)
    if lbfgs_maxiter:
        def fun_and_grad(x):
            net.set_flat(x)
            loss, _, grads = dp()
            return loss, net.grads_to_flat(grads)

        def callback(intermediate_result):
            loss_lbfgs.append(float(intermediate_result.fun))

        result = optim.lbfgs(fun_and_grad, net.get_flat(), maxiter=int(lbfgs_maxiter), callback=callback,
                             **(lbfgs_options or {}))
        net.set_flat(result.x)
        message = str(result.message)
    final, parts, _ = dp()
    return {"loss_adam": np.asarray(loss_adam), "loss_lbfgs": np.asarray(loss_lbfgs), "final_loss": final,
            "parts": parts, "lbfgs_message": message, "allreduces": dp.allreduces}
