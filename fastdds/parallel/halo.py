"""Domain decomposition of 1-D stencil chains: a grid split over ranks, with halo exchange.

What is decomposed: the last axis of a state of n grid nodes (shape (n,) or (batch, n)). Rank
r of P owns the contiguous nodes start_r .. stop_r - 1 (`Decomposition`: the first n % P ranks
one node more, so any n >= P splits). A step whose value at node i depends on the nodes
i - w .. i + w (its radius w: 1 for a 3-point stencil, one per Runge-Kutta stage, ...) needs w
neighbour values on each side. Before a run of steps of summed radius W, each rank receives W
ghost values from each neighbour ([halo | own | halo], one non-blocking Isend / Irecv per
neighbour and direction), runs the single-process code on that extended array, and keeps its
own part: garbage from the cut ends of the extended array travels w nodes a step, so after the
steps it has not reached the own nodes. A halo of width k w thus lets k steps run between
exchanges, trading 2 k w redundant node updates per rank for k times fewer messages.

No new stencil kernel is written: each rank calls the library's own kernels on its extended
array, so the own nodes are computed by the same arithmetic as in one process and the gathered
result equals the single-process run to round-off (bit for bit in the tests, except periodic
Banded chains, within an ulp: the single-process kernel takes another path at the wrap).

Ends: a periodic grid wraps (rank 0's left neighbour is rank P - 1; one rank is its own
neighbour, served by a copy without a message); at a physical end (Dirichlet, outflow,
Neumann, the first node of the grid) the extended array has no halo there and the scheme's own
boundary treatment applies, as in one process. The other end of such an array is cut, and the
boundary treatment the single-process code applies there is harmless garbage.

Entry points: `run_chain` (a Layer or Chain of Banded / Identity operators, any batch),
`burgers_solve` (any `fastdds.pde.burgers` scheme, its fused kernel through
`fastdds.pde.burgers.solve`), `heat_solve` (FTCS, RK4 of `fastdds.pde.heat`). Crank-Nicolson's
tridiagonal solve couples the whole grid in every step and is not decomposed here, nor are the
doubled-state Runge-Kutta layers of `fastdds.pde.burgers.step_layers` (offsets +-n couple the
two halves of the state, not neighbouring nodes); their fused kernels are decomposed through
`burgers_solve`.

2-D grids: a grid of ny rows of nx nodes flattened row by row, with a Banded step of offsets
(-nx, -1, 0, 1, nx) (x-crossings zeroed in its variable diagonals; "periodic" wraps in y), is
decomposed by this same code into slabs of rows: its reach is nx, so each exchange sends k nx
values to each of two neighbours (tested for a 2-D FTCS heat chain), and a slab must hold at
least k rows. A P_x x P_y block decomposition would send 2 k (nx / P_x + ny / P_y) values a
rank instead of 2 k nx and allow more ranks than rows, at the price of four neighbours (eight
with the corners a 9-point stencil needs) and a 2-D own/halo layout; it is not built.
Gauss-Seidel fast sweeping (the Eikonal solver) is not a chain: it would need Zhao's parallel
variant (each block sweeps its part, halos exchanged between sweeps, more iterations), not
written.
"""

import numpy as np

from ..layers import Layer
from ..operators import Banded, Identity
from ..pde import burgers, heat
from ..validation import check_time_step
from . import comm as _comm

_RIGHTWARD, _LEFTWARD = 11, 12  # message tags: values travelling to the right / left neighbour


class Decomposition:
    """A 1-D grid of `n` nodes split into contiguous blocks, one per rank of `comm`.

    Parameters
    ----------
    n : int
        Global number of nodes, >= the number of ranks.
    periodic : bool
        Whether the grid wraps (node n - 1 neighbours node 0).
    comm : communicator, optional
        Default `fastdds.parallel.comm.world()`.

    Attributes
    ----------
    rank, size : int
    counts, starts : ndarray of int, shape (size,)
        Nodes owned by each rank and the global index of its first node.
    start, stop : int
        This rank's own global nodes start .. stop - 1.
    left, right : int or None
        Neighbour ranks; None at a physical end of a non-periodic grid.
    """

    def __init__(self, n, periodic, comm=None):
        self.comm = _comm.resolve(comm)
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.n, self.periodic = int(n), bool(periodic)
        if self.n < self.size:
            raise ValueError(f"a grid of {self.n} nodes cannot be split over {self.size} ranks; use n >= {self.size}")
        blocks = np.array([_comm.share(self.n, r, self.size) for r in range(self.size)])
        self.starts, self.counts = blocks[:, 0], blocks[:, 1] - blocks[:, 0]
        self.start, self.stop = (int(v) for v in blocks[self.rank])
        wrap = self.periodic
        self.left = (self.rank - 1) % self.size if (self.rank > 0 or wrap) else None
        self.right = (self.rank + 1) % self.size if (self.rank < self.size - 1 or wrap) else None

    @property
    def count(self):
        """Nodes this rank owns."""
        return self.stop - self.start

    def local(self, u):
        """This rank's own part of a global state: a copy of u[..., start:stop]."""
        u = np.asarray(u)
        if u.shape[-1] != self.n:
            raise ValueError(f"the state has {u.shape[-1]} nodes but the decomposition has {self.n}")
        return u[..., self.start:self.stop].copy()

    def gather(self, u, root=0):
        """The global state on `root` (None on the other ranks) from every rank's own part."""
        parts = self.comm.gather(np.asarray(u), root=root)
        return np.concatenate(parts, axis=-1) if self.rank == root else None

    def halo_widths(self, width):
        """(left, right) halo widths of this rank for an exchange of `width`: 0 at a physical end."""
        return (width if self.left is not None else 0), (width if self.right is not None else 0)

    def rows(self, width):
        """Global node index of every entry of this rank's extended array (mod n where it wraps)."""
        wl, wr = self.halo_widths(width)
        return np.arange(self.start - wl, self.stop + wr) % self.n

    def extend(self, u, width):
        """[halo | own | halo]: this rank's part with `width` neighbour values on each side.

        Parameters
        ----------
        u : ndarray, shape (..., count)
            This rank's own nodes.
        width : int
            Halo width, <= the fewest nodes any rank owns.

        Returns
        -------
        ndarray, shape (..., wl + count + wr), dtype of u; (wl, wr) = `halo_widths(width)`.
        """
        m = self.count
        if u.shape[-1] != m:
            raise ValueError(f"rank {self.rank} owns {m} nodes but was given {u.shape[-1]}")
        wl, wr = self.halo_widths(width)
        ext = np.empty(u.shape[:-1] + (wl + m + wr,), dtype=u.dtype)
        ext[..., wl:wl + m] = u
        self.exchange(ext, width)
        return ext

    def exchange(self, ext, width):
        """Fill the halos of an extended array (built by `extend` with this width) in place.

        One non-blocking send and receive per neighbour (two of each per rank; none at a
        physical end; a rank that is its own periodic neighbour copies its far ends instead).
        """
        if width > int(self.counts.min()):
            raise ValueError(f"halo width {width} exceeds the {int(self.counts.min())} nodes of the smallest block; "
                             f"use fewer ranks, a larger grid or fewer steps between exchanges")
        m = self.count
        wl, wr = self.halo_widths(width)
        if width == 0:
            return
        own = ext[..., wl:wl + m]
        requests, received, sent = [], [], []
        for side, nb, tag_in, tag_out, edge, halo in (
                ("left", self.left, _RIGHTWARD, _LEFTWARD, slice(0, width), slice(0, wl)),
                ("right", self.right, _LEFTWARD, _RIGHTWARD, slice(m - width, m), slice(wl + m, wl + m + wr))):
            if nb is None:
                continue
            if nb == self.rank:  # periodic, one rank: the halo is the far end of the own nodes
                far = slice(m - width, m) if side == "left" else slice(0, width)
                ext[..., halo] = own[..., far]
                continue
            buf = np.empty(ext.shape[:-1] + (width,), dtype=ext.dtype)
            out = np.ascontiguousarray(own[..., edge])
            requests.append(self.comm.Irecv(buf, source=nb, tag=tag_in))
            requests.append(self.comm.Isend(out, dest=nb, tag=tag_out))
            received.append((halo, buf))
            sent.append(out)  # kept alive until the sends complete
        _comm.waitall(requests)
        for halo, buf in received:
            ext[..., halo] = buf

    def own(self, ext, width):
        """The own nodes of an extended array built by `extend(u, width)`."""
        wl = self.halo_widths(width)[0]
        return ext[..., wl:wl + self.count]


def advance(dec, u, radii, width, run):
    """Run consecutive steps on a decomposed state, exchanging halos between groups of steps.

    Steps are grouped greedily so that each group's summed radius is at most `width`; before a
    group the halos of its summed radius are exchanged.

    Parameters
    ----------
    dec : Decomposition
    u : ndarray, shape (..., dec.count)
    radii : sequence of int
        Radius of each step (how far its value at a node reaches).
    width : int
        Largest halo width (>= every radius).
    run : callable(ext, i, j, width) -> ndarray shaped like ext
        Runs steps i .. j - 1 on the extended array of that halo width.

    Returns
    -------
    ndarray, shape (..., dec.count): the own nodes after every step.
    """
    radii = [int(r) for r in radii]
    if radii and max(radii) > width:
        raise ValueError(f"a step of radius {max(radii)} needs a halo of at least that width; got {width}")
    i = 0
    while i < len(radii):
        j, w = i, 0
        while j < len(radii) and w + radii[j] <= width:
            w += radii[j]
            j += 1
        u = dec.own(run(dec.extend(u, w), i, j, w), w)  # a view; the next extend copies it
        i = j
    return u.copy()


def _radius(op):
    """How far an operator reaches: max |offset| of a Banded, 0 for Identity or None."""
    if op is None or isinstance(op, Identity):
        return 0
    if isinstance(op, Banded):
        return int(np.abs(op.offsets).max())
    raise ValueError(f"a {type(op).__name__} operator couples every node; only Banded and Identity operators "
                     f"are decomposed")


def layer_radius(layer):
    """Radius of y = P x + c + sum Q sigma(R x + b): max(r(P), r(Q) + r(R)) over its branches."""
    return max([_radius(layer.P)] + [_radius(br.Q) + _radius(br.R) for br in layer.branches])


def _local_operator(op, rows, physical, dec):
    if op is None:
        return None
    if isinstance(op, Identity):
        return Identity(rows.size, op.scale, op.dtype)
    if (op.boundary == "periodic") != dec.periodic:
        kind = "periodic" if dec.periodic else "non-periodic"
        raise ValueError(f"an operator with boundary {op.boundary!r} on a {kind} decomposition; "
                         f"build the Decomposition with periodic={op.boundary == 'periodic'}")
    if op.shape[0] != dec.n:
        raise ValueError(f"an operator of size {op.shape[0]} on a decomposed grid of {dec.n} nodes")
    d = op.diagonals[:, 0] if op.constant else op.diagonals[:, rows]
    return Banded(op.offsets, d, op.boundary if physical else "zero", n=rows.size, dtype=op.dtype)


def local_layer(layer, dec, width):
    """The layer restricted to this rank's extended array of halo `width`.

    Banded operators keep the rows of the extended nodes (variable diagonals sliced, constant
    ones shared); their boundary is the global one where the array reaches a physical end and
    "zero" elsewhere (at a cut end any treatment will do: the halo absorbs its garbage).
    Vectors (c, biases) are sliced.
    """
    if not isinstance(layer, Layer):
        raise ValueError(f"only Layers are decomposed; got a {type(layer).__name__} (pass block.layers())")
    rows = dec.rows(width)
    physical = dec.left is None or dec.right is None

    def vec(v):
        return None if v is None else v[rows]

    def op(o):
        return _local_operator(o, rows, physical, dec)

    branches = [(op(br.Q), br.act, op(br.R), vec(br.b)) for br in layer.branches]
    return Layer(op(layer.P), branches, vec(layer.c))


def run_chain(block, u, dec, width=None):
    """Apply a Layer or Chain of square Banded / Identity layers to a decomposed state.

    Parameters
    ----------
    block : Layer or Chain
        Every layer of ``block.layers()`` maps dec.n nodes to dec.n nodes.
    u : ndarray, shape (dec.count,) or (batch, dec.count), the block's dtype
        This rank's own nodes.
    dec : Decomposition
    width : int, optional
        Halo width; default the largest layer radius (an exchange before every layer). k times
        that lets k layers run between exchanges.

    Returns
    -------
    ndarray, shape of u: this rank's own nodes of block(global state).
    """
    layers = block.layers().blocks
    for k, lay in enumerate(layers):
        if lay.n_in != dec.n or lay.n_out != dec.n:
            raise ValueError(f"layer {k} maps {lay.n_in} to {lay.n_out} values; a decomposed chain maps the "
                             f"{dec.n} grid nodes to themselves")
    radii = [layer_radius(lay) for lay in layers]
    width = max(radii) if width is None else int(width)
    cache = {}

    def run(ext, i, j, w):
        for lay in layers[i:j]:
            key = (id(lay), w)
            if key not in cache:
                cache[key] = local_layer(lay, dec, w)
            ext = cache[key](ext)
        return ext

    return advance(dec, u, radii, width, run)


def _global_max(dec, u):
    return dec.comm.allreduce(float(np.abs(u).max()), op=_comm.MAX)


def burgers_solve(u, dec, dx, dt, nsteps, nu=0.0, scheme="lf", *, flux=None, limiter=None, rk=None,
                  boundary="periodic", left=0.0, right=0.0, alpha=None, steps_per_exchange=1, check_every=64):
    """`fastdds.pde.burgers.solve` on a decomposed grid: each rank advances its extended array.

    A step of an s-stage scheme reaches s nodes (first order) or 2 s (MUSCL) on each side, so
    a halo of k times that is exchanged every k steps. The Lax-Friedrichs speed is the global
    `dissipation_speed` (a MAX over ranks), the stability check is made once with the global
    max|u0| (the same answer on every rank), and each rank calls `solve` with the given dt on
    [halo | own | halo] with the scheme's boundary at a physical end ("outflow" at a cut end).

    Parameters
    ----------
    u : ndarray, shape (dec.count,), float32 or float64
        This rank's own nodes of the initial state.
    dec : Decomposition
        periodic exactly when `boundary` is "periodic".
    dx, dt : float
    nsteps : int
    nu, scheme, flux, limiter, rk, boundary, left, right, alpha, check_every
        As in `fastdds.pde.burgers.solve` (alpha default: global max|u0|, Dirichlet ends in).
    steps_per_exchange : int
        k: steps between halo exchanges.

    Returns
    -------
    ndarray, shape (dec.count,): this rank's own nodes after nsteps steps.

    A state that turns NaN raises on the ranks that see it (as `solve` does) and leaves the
    others waiting at the next exchange: launch with ``python -m mpi4py`` so that it aborts.
    """
    if (boundary == "periodic") != dec.periodic:
        raise ValueError(f"boundary {boundary!r} on a {'periodic' if dec.periodic else 'non-periodic'} decomposition")
    s = burgers.get_scheme(scheme, flux, limiter, rk)
    u = np.array(u)  # a copy: the Dirichlet ends are written in
    if boundary == "dirichlet":
        if dec.left is None:
            u[0] = left
        if dec.right is None:
            u[-1] = right
    umax = _global_max(dec, u)
    if s.flux == "lf" and alpha is None:
        alpha = umax
    limit = burgers.max_stable_dt(s, dx, nu, alpha if s.flux == "lf" else umax)
    check_time_step(dt, limit, f"the decomposed Burgers scheme (global max|u0| = {umax:g})")
    per_step = len(burgers.RK[s.rk].a) * (1 if s.limiter == "none" else 2)
    lo_end, hi_end = dec.left is None, dec.right is None
    local_bc = boundary if (lo_end or hi_end) and boundary != "periodic" else "outflow"

    def run(ext, i, j, w):
        lv = left if lo_end else float(ext[0])
        rv = right if hi_end else float(ext[-1])
        return burgers.solve(ext, dx, nu=nu, scheme=s, nsteps=j - i, dt=dt, boundary=local_bc, left=lv, right=rv,
                             alpha=alpha if s.flux == "lf" else None, check_every=check_every).u

    return advance(dec, u, [per_step] * int(nsteps), per_step * int(steps_per_exchange), run)


def heat_solve(u, dec, dx, dt, nsteps, D, U=0.0, method="ftcs", steps_per_exchange=1):
    """`fastdds.pde.heat.ftcs` or `rk4` on a decomposed grid (periodic or Dirichlet).

    FTCS reaches one node a step, RK4 four (four stages of the 3-point stencil). Every rank runs
    the single-process kernel with the "zero" boundary on [halo | own | halo]: at a physical
    end that is the problem's zero end value, at a cut end garbage that the halo absorbs.

    Parameters
    ----------
    u : ndarray, shape (dec.count,) or (batch, dec.count)
    dec : Decomposition
    dx, dt, nsteps, D, U
        As in `fastdds.pde.heat.ftcs`.
    method : {"ftcs", "rk4"}
    steps_per_exchange : int

    Returns
    -------
    ndarray, shape of u.
    """
    steppers = {"ftcs": (heat.ftcs, 1), "rk4": (heat.rk4, 4)}
    if method not in steppers:
        raise ValueError(f"unknown method {method!r}; decomposed heat steppers are {sorted(steppers)}")
    step, per_step = steppers[method]

    def run(ext, i, j, w):
        return step(ext, dx, dt, j - i, D, U, boundary="zero")

    return advance(dec, np.asarray(u), [per_step] * int(nsteps), per_step * int(steps_per_exchange), run)
