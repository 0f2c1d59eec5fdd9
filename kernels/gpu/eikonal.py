"""Fast sweeping for the Eikonal equation and the explicit 1-D Hamilton-Jacobi steps, GPU twins
of ``fastdds.kernels.cpu.eikonal`` (`sweep2d`, `sweep3d`, `finish`, `hj1d_steps`; the interface
band has no twin: its caller builds it on host arrays).

GPU ordering: Gauss-Seidel along anti-diagonals (hyperplanes i + j (+ k) = const in the
sweep's orientation). Within one of the 4 (2-D) or 8 (3-D) orderings, a cell's update reads
its axis neighbours up to 2 away; those the row-by-row sweep has already updated are exactly
the ones on earlier hyperplanes, and those it has not are on later ones. So updating every cell
of a hyperplane at once, hyperplane after hyperplane, is the same Gauss-Seidel sweep as the
CPU's, with the same locking (``state``), the same sweep count and the same result up to the
fused multiply-adds the device may form: no other ordering gives the CPU solver's iterates. The
fast iterative method (FIM) would use more of the device at once, but it reaches only the
converged fixed point, after a different number of updates, and has no sweep count to compare.

A solve is one launch of one thread block (``launch_block``): the block's threads share a
hyperplane, ``cuda.syncthreads`` separates hyperplanes, and a shared counter of changed cells
ends the sweeps; a kernel launch per hyperplane from the host would cost more than the
hyperplane's work on grids of a few thousand cells a side. One block uses one multiprocessor,
which bounds the speed on large grids (not measured: no GPU timing exists for this module).
The cell update and the stores are the CPU module's own helpers, compiled for the device.
"""

import math

import numpy as np
from numba import cuda, int32

from ..cpu import eikonal as _cpu
from ..cpu.eikonal import FIXED, SETTLE
from .launch import array_module, device, launch, launch_block

_lower, _replace = device(_cpu._lower), device(_cpu._replace)
_update2d, _update2d_order2 = device(_cpu._update2d), device(_cpu._update2d_order2)
_update3d, _update3d_order2 = device(_cpu._update3d), device(_cpu._update3d_order2)

__all__ = ["FIXED", "finish", "hj1d_steps", "sweep2d", "sweep3d"]


@cuda.jit(device=True)
def _visit2d(u, state, side, f, w0, w1, h0, h1, order, tol, cap, settling, i, j, changed):
    """Update active cell (i, j) and re-activate its neighbours when it moved (order 2 replaces
    the value while `settling`, then only lowers it, as the CPU sweep does)."""
    if state[i, j] != 1:
        return
    state[i, j] = 0
    if order == 1:
        moved = _lower(u, _update2d(u, f, w0, w1, h0, h1, i, j), tol, cap, (i, j))
    elif settling:
        moved = _replace(u, _update2d_order2(u, side, f, w0, w1, i, j), tol, cap, (i, j))
    else:
        moved = _lower(u, _update2d_order2(u, side, f, w0, w1, i, j), tol, cap, (i, j))
    if moved:
        cuda.atomic.add(changed, 0, 1)
        for o in range(1, order + 1):
            state[i - o, j] |= 1
            state[i + o, j] |= 1
            state[i, j - o] |= 1
            state[i, j + o] |= 1


@cuda.jit(device=True)
def _visit3d(u, state, side, f, w0, w1, w2, order, tol, cap, settling, i, j, k, changed):
    """As `_visit2d` in 3-D."""
    if state[i, j, k] != 1:
        return
    state[i, j, k] = 0
    if order == 1:
        moved = _lower(u, _update3d(u, f, w0, w1, w2, i, j, k), tol, cap, (i, j, k))
    elif settling:
        moved = _replace(u, _update3d_order2(u, side, f, w0, w1, w2, i, j, k), tol, cap, (i, j, k))
    else:
        moved = _lower(u, _update3d_order2(u, side, f, w0, w1, w2, i, j, k), tol, cap, (i, j, k))
    if moved:
        cuda.atomic.add(changed, 0, 1)
        for o in range(1, order + 1):
            state[i - o, j, k] |= 1
            state[i + o, j, k] |= 1
            state[i, j - o, k] |= 1
            state[i, j + o, k] |= 1
            state[i, j, k - o] |= 1
            state[i, j, k + o] |= 1


@cuda.jit(device=True)
def _wrap(u, state, ghost, src, reader):
    """The CPU module's `_wrap` on one thread: copy the periodic ghost cells from the cells they
    mirror (flat indices into u), re-activate the readers of a changed ghost."""
    if cuda.threadIdx.x == 0:
        last, changed = -1, False
        for p in range(ghost.size):
            g = ghost[p]
            if g != last:
                v = _at(u, src[p])
                changed = _at(u, g) != v
                _set(u, g, v)
                last = g
            if changed:
                _set(state, reader[p], _at(state, reader[p]) | 1)
    cuda.syncthreads()


@cuda.jit(device=True)
def _at(a, flat):
    """a at C-order flat index `flat` (2-D or 3-D a)."""
    if a.ndim == 2:
        return a[flat // a.shape[1], flat % a.shape[1]]
    return a[flat // (a.shape[1] * a.shape[2]), (flat // a.shape[2]) % a.shape[1], flat % a.shape[2]]


@cuda.jit(device=True)
def _set(a, flat, v):
    if a.ndim == 2:
        a[flat // a.shape[1], flat % a.shape[1]] = v
    else:
        a[flat // (a.shape[1] * a.shape[2]), (flat // a.shape[2]) % a.shape[1], flat % a.shape[2]] = v


@cuda.jit
def _sweeps2d(u, state, side, f, w0, w1, order, tol, cap, first, max_sweeps, ghost, src, reader, result):
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    changed = cuda.shared.array(1, int32)
    n0, n1 = u.shape[0] - 4, u.shape[1] - 4
    h0, h1 = 1.0 / math.sqrt(w0), 1.0 / math.sqrt(w1)
    sweeps, converged = max_sweeps, 0
    settle = SETTLE * 4
    _wrap(u, state, ghost, src, reader)
    for sweep in range(first, max_sweeps):
        if tid == 0:
            changed[0] = 0
        cuda.syncthreads()
        ordering = sweep % 4
        s0 = 1 if ordering == 0 or ordering == 3 else -1
        s1 = 1 if ordering < 2 else -1
        for d in range(n0 + n1 - 1):
            for ii in range(max(0, d - n1 + 1) + tid, min(n0 - 1, d) + 1, nt):
                jj = d - ii
                i = 2 + ii if s0 > 0 else n0 + 1 - ii
                j = 2 + jj if s1 > 0 else n1 + 1 - jj
                _visit2d(u, state, side, f, w0, w1, h0, h1, order, tol, cap, sweep < settle, i, j, changed)
            cuda.syncthreads()
        count = changed[0]
        cuda.syncthreads()
        if count == 0:
            sweeps, converged = sweep + 1, 1
            break
        _wrap(u, state, ghost, src, reader)
    if tid == 0:
        result[0] = sweeps
        result[1] = converged


@cuda.jit
def _sweeps3d(u, state, side, f, w0, w1, w2, order, tol, cap, first, max_sweeps, ghost, src, reader, result):
    tid, nt = cuda.threadIdx.x, cuda.blockDim.x
    changed = cuda.shared.array(1, int32)
    n0, n1, n2 = u.shape[0] - 4, u.shape[1] - 4, u.shape[2] - 4
    sweeps, converged = max_sweeps, 0
    settle = SETTLE * 8
    _wrap(u, state, ghost, src, reader)
    for sweep in range(first, max_sweeps):
        if tid == 0:
            changed[0] = 0
        cuda.syncthreads()
        ordering = sweep % 8
        s0 = 1 if ordering & 1 == 0 else -1
        s1 = 1 if ordering & 2 == 0 else -1
        s2 = 1 if ordering & 4 == 0 else -1
        for d in range(n0 + n1 + n2 - 2):
            for q in range(tid, n0 * n1, nt):
                ii, jj = q // n1, q % n1
                kk = d - ii - jj
                if 0 <= kk < n2:
                    i = 2 + ii if s0 > 0 else n0 + 1 - ii
                    j = 2 + jj if s1 > 0 else n1 + 1 - jj
                    k = 2 + kk if s2 > 0 else n2 + 1 - kk
                    _visit3d(u, state, side, f, w0, w1, w2, order, tol, cap, sweep < settle, i, j, k, changed)
            cuda.syncthreads()
        count = changed[0]
        cuda.syncthreads()
        if count == 0:
            sweeps, converged = sweep + 1, 1
            break
        _wrap(u, state, ghost, src, reader)
    if tid == 0:
        result[0] = sweeps
        result[1] = converged


def _result(u):
    return array_module(u).zeros(2, dtype=np.int64)


def sweep2d(u, state, side, f, w0, w1, order, tol, cap, max_sweeps, ghost, src, reader, first=0):
    """Fast sweeping in 2-D (4 orderings), in place; stops when a sweep changes no cell.

    Arguments (``first`` included), updates and results as ``fastdds.kernels.cpu.eikonal.sweep2d``
    (u, state, side, f device arrays of shape (n0 + 4, n1 + 4); ghost, src, reader int64 device
    arrays of flat indices for periodic axes), in the anti-diagonal ordering of the module
    docstring; the periodic ghost cells are refreshed by one thread between sweeps.

    Returns
    -------
    sweeps : int
    converged : bool
    """
    result = _result(u)
    launch_block(_sweeps2d, u, state, side, f, float(w0), float(w1), int(order), float(tol), float(cap),
                 int(first), int(max_sweeps), ghost, src, reader, result)
    sweeps, converged = (int(r) for r in result.tolist())
    return sweeps, bool(converged)


def sweep3d(u, state, side, f, w0, w1, w2, order, tol, cap, max_sweeps, ghost, src, reader, first=0):
    """Fast sweeping in 3-D (8 orderings), in place; as `sweep2d` on (n0 + 4, n1 + 4, n2 + 4)
    arrays, w2 = 1 / dx2^2, along the planes i + j + k = const.

    Returns
    -------
    sweeps : int
    converged : bool
    """
    result = _result(u)
    launch_block(_sweeps3d, u, state, side, f, float(w0), float(w1), float(w2), int(order), float(tol), float(cap),
                 int(first), int(max_sweeps), ghost, src, reader, result)
    sweeps, converged = (int(r) for r in result.tolist())
    return sweeps, bool(converged)


@cuda.jit
def _finish(u, side, signed, out):
    t = cuda.grid(1)
    n1, n2 = u.shape[1], u.shape[2]
    if t < u.shape[0] * n1 * n2:
        i, j, k = t // (n1 * n2), (t // n2) % n1, t % n2
        v = u[i, j, k]
        out[i, j, k] = -v if signed and side[i, j, k] < 0 else v


def finish(u, side, signed, out):
    """out = u, negated where side < 0 when `signed`; count the unreached (inf) cells.

    Parameters
    ----------
    u : device array, shape (n0, n1, n2) (a view of the padded solution; a 2-D grid as n0 = 1)
    side : device array of int8, shape of u
    signed : bool
    out : device array, shape of u, dtype of u; overwritten

    Returns
    -------
    int : number of cells where u is inf (a reduction of the array module).
    """
    launch(_finish, u.size, u, side, bool(signed), out)
    return int((u == math.inf).sum())


@cuda.jit
def _hj1d_step(a, b, p, g, d, dt):
    """b = one explicit step of a (see `hj1d_steps`), one thread per node; end nodes set to 0."""
    i = cuda.grid(1)
    n = a.size
    if i == 0 or i == n - 1:
        b[i] = 0.0
    elif i < n:
        z = abs(g * a[i + 1] - g * a[i - 1]) + (d[0] * a[i - 1] + d[1] * a[i] + d[2] * a[i + 1])
        b[i] = (p[0] * a[i - 1] + p[1] * a[i] + p[2] * a[i + 1]) - dt * max(z, 0.0) + dt


def hj1d_steps(u, nsteps, p, g, d, dt, work):
    """`nsteps` explicit steps of u_tau + |u_x| - 1 = 0 (tau = 1 - t), in place; one launch a step.

    Parameters
    ----------
    u : device array, shape (n,), float32 or float64; overwritten with the result
    nsteps : int
    p, d : device array, shape (3,), dtype of u
    g, dt : float
    work : device array, shape (n,), dtype of u; scratch
    (the step is ``fastdds.kernels.cpu.eikonal.hj1d_steps``'s)
    """
    a, b = u, work
    for _ in range(nsteps):
        launch(_hj1d_step, u.size, a, b, p, g, d, dt)
        a, b = b, a
    if nsteps % 2 == 1:
        u[:] = work
