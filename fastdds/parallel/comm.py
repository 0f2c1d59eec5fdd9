"""The one place fastdds imports mpi4py: the communicator every parallel path takes.

`world()` is ``MPI.COMM_WORLD`` when the ``mpi`` extra is installed (``pip install -e ".[mpi]"``:
mpi4py and the mpich wheel, which brings ``mpiexec``), else `SingleProcess`, a stand-in with
rank 0 of 1 and the few collective calls fastdds uses, so that every function of
`fastdds.parallel` also runs, unchanged, as one plain process. `require()` is for the callers
that only make sense under mpiexec (the test scripts): it raises with the reason the extra is
missing. `AVAILABLE` and `REASON` say which it is. `share` is the one rule that splits N items
(grid nodes, PINN points) into contiguous blocks over the ranks.

Calls used (mpi4py's spelling): Get_rank, Get_size, Allreduce (buffers), allreduce, gather,
bcast, allgather, Barrier (objects), Isend / Irecv and `waitall` (halo exchange, between
distinct ranks only: `fastdds.parallel.halo` copies a periodic self-neighbour's cells without a
message).
"""

try:
    from mpi4py import MPI
except ImportError as err:  # the mpi extra is absent, or its MPI library does not load
    MPI, AVAILABLE = None, False
    REASON = f"mpi4py is not importable ({err}); install the extra: pip install -e \".[mpi]\""
else:
    AVAILABLE, REASON = True, ""

SUM = MPI.SUM if AVAILABLE else "sum"
MAX = MPI.MAX if AVAILABLE else "max"


class SingleProcess:
    """Stand-in communicator of one process (rank 0, size 1) with mpi4py's method names.

    Collectives return their input (a reduction over one rank is the identity); point-to-point
    calls are not offered (one process has no other rank to talk to).
    """

    def Get_rank(self):
        return 0

    def Get_size(self):
        return 1

    def Allreduce(self, sendbuf, recvbuf, op=SUM):
        """recvbuf[...] = sendbuf (ndarrays of one shape)."""
        recvbuf[...] = sendbuf

    def allreduce(self, obj, op=SUM):
        return obj

    def gather(self, obj, root=0):
        return [obj]

    def allgather(self, obj):
        return [obj]

    def bcast(self, obj, root=0):
        return obj

    def Barrier(self):
        return None


def world():
    """MPI.COMM_WORLD, or a `SingleProcess` stand-in when mpi4py is absent."""
    return MPI.COMM_WORLD if AVAILABLE else SingleProcess()


def resolve(comm):
    """`comm`, or `world()` when it is None."""
    return world() if comm is None else comm


def require():
    """Raise RuntimeError (with the reason) unless mpi4py is importable."""
    if not AVAILABLE:
        raise RuntimeError(f"this needs MPI: {REASON}")


def waitall(requests):
    """Wait for a list of non-blocking requests (``comm.Isend`` / ``comm.Irecv``)."""
    if requests:
        MPI.Request.Waitall(requests)


def share(N, rank, size):
    """(start, stop) of rank's contiguous block when N items are split over `size` ranks: the
    first N % size ranks get one item more (the split of grids and of PINN point sets)."""
    base, extra = divmod(int(N), int(size))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)
