"""Run under mpiexec (any number of ranks): data-parallel PINN training against one process.

Every rank trains the single-process reference too (a small heat PINN); rank 0 prints the
relative differences of the loss, the gradient and the weights after K Adam steps and after
L-BFGS iterations, and checks that every rank holds the same weights. Exit status 1 (through
MPI_Abort, ``python -m mpi4py``) on a difference above round-off.
"""

import sys

import numpy as np

from fastdds.nn.mlp import MLP
from fastdds.parallel import comm as pcomm
from fastdds.parallel.data import DataParallelLoss, train
from fastdds.pinn.loss import loss_and_grads
from fastdds.pinn.problems import heat_sine
from fastdds.pinn.train import train as train_one

world = pcomm.world()
rank, size = world.Get_rank(), world.Get_size()
failures = []


def rel(a, b):
    a = np.concatenate([np.ravel(x) for x in a]).astype(np.float64)
    b = np.concatenate([np.ravel(x) for x in b]).astype(np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


def check(name, err, tol):
    if rank == 0:
        print(f"{name}: {err:.3e} (tol {tol:g})", flush=True)
        if not err <= tol:
            failures.append(name)


def same_on_every_rank(name, params):
    flat = np.concatenate([p.ravel() for p in params])
    everyone = world.allgather(flat)
    check(f"{name}: max|rank r - rank 0|", max(float(np.abs(f - everyone[0]).max()) for f in everyone), 0.0)


for dtype, tol_grad, tol_w in ((np.float64, 1e-13, 1e-12), (np.float32, 1e-6, 1e-6)):
    if size == 1:  # one rank reproduces loss_and_grads and the trainer bit for bit
        tol_grad = tol_w = 0.0
    problem = heat_sine(2, n_collocation=301, n_ic=31, n_bc=17).astype(dtype)
    tag = np.dtype(dtype).name
    net = MLP(sizes=[2, 12, 12, 1], seed=1, dtype=dtype)
    ref = MLP(sizes=[2, 12, 12, 1], seed=1, dtype=dtype)
    loss, parts, grads = DataParallelLoss(net, problem, world)()
    loss1, parts1, grads1 = loss_and_grads(ref, problem)
    check(f"{tag} loss", abs(loss - loss1) / loss1, tol_grad)
    check(f"{tag} parts", max(abs(parts[k] - parts1[k]) / parts1[k] for k in parts1), tol_grad)
    check(f"{tag} gradient", rel(grads, grads1), tol_grad)
    lbfgs = 6 if dtype == np.float64 else 0
    hist = train(net, problem, adam_steps=8, lr=1e-2, lbfgs_maxiter=lbfgs, comm=world)
    hist1 = train_one(ref, problem, adam_steps=8, lr=1e-2, lbfgs_maxiter=lbfgs, progress=False)
    check(f"{tag} Adam losses", rel([hist["loss_adam"]], [hist1["loss_adam"]]), tol_grad)
    check(f"{tag} weights after 8 Adam + {lbfgs} L-BFGS", rel(net.params, ref.params), tol_w)
    check(f"{tag} final loss", abs(hist["final_loss"] - hist1["final_loss"]) / hist1["final_loss"], tol_w)
    same_on_every_rank(tag, net.params)
    if not lbfgs:  # 8 steps and the final loss
        check(f"{tag} Allreduce calls - (8 + 1)", float(abs(hist["allreduces"] - 9)), 0.0)

if rank == 0:
    print(f"{len(failures)} failures on {size} ranks: {failures}", flush=True)
world.Barrier()
sys.exit(1 if failures and rank == 0 else 0)
