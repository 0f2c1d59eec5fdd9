"""Past one node: MPI (mpi4py, the ``mpi`` extra) for ensembles of runs, data-parallel PINN
training and domain-decomposed stencil chains.

Launch with ``mpiexec -n N python ...`` (or ``srun``). `comm` is the only module that imports
mpi4py; without it every function here runs as one process (rank 0 of 1).

    comm      the communicator (MPI.COMM_WORLD or a one-process stand-in)
    halo      1-D grids split over ranks with halo exchange: Banded chains, Burgers, heat
    data      data-parallel PINN loss, gradients (one Allreduce a step), Adam and L-BFGS
    ensemble  seeds spread over ranks, one thread each; results gathered; run folders merged
"""
