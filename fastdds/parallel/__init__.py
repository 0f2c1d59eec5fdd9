"""Past one node: MPI (mpi4py, the ``mpi`` extra) for ensembles of runs, data-parallel PINN
training and domain-decomposed stencil chains.

Launch with ``mpiexec -n N python ...`` (or ``srun``). `comm` is the only module that imports
mpi4py; without it every function here runs as one process (rank 0 of 1).

    comm      the communicator (MPI.COMM_WORLD or a one-process stand-in)
    halo      1-D grids split over ranks with halo exchange: Banded chains, Burgers, heat
    data      data-parallel PINN loss, gradients (one Allreduce a step), Adam and L-BFGS
    ensemble  seeds spread over ranks, one thread each; results gathered; run folders merged
"""

import os

LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")
"""Environment variables that mpiexec (MPICH's hydra, Open MPI, PMIx) or srun set in each rank."""


def launched_world():
    """The MPI world when this process is one of several ranks started by mpiexec / srun, else None.

    A plain process (no launcher variable in its environment) never imports mpi4py, so the
    commands stay one-process programs unless they are launched under MPI.
    """
    if not any(v in os.environ for v in LAUNCHER_VARIABLES):
        return None
    from . import comm

    world = comm.world()
    return world if world.Get_size() > 1 else None


def map_runs():
    """What the reproduce commands pass as `map_runs`: `ensemble.run_seeds` over the launched
    world (runs spread over the ranks, records on rank 0, None elsewhere), or None in a plain
    process (the runs then go one after another)."""
    world = launched_world()
    if world is None:
        return None
    from .ensemble import run_seeds

    return lambda run, items: run_seeds(run, items, world)
