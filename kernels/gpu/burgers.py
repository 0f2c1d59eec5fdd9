"""Fused conservative Burgers solver, GPU twin of ``fastdds.kernels.cpu.burgers``.

The same scheme, codes, buffers and coefficient layout (see the CPU module): a time step is its
Runge-Kutta stages, each one launch with a thread per node, then a one-thread launch that sets
the ghost nodes (periodic ghosts need the other end of the grid, written by other blocks). A
first-order stage computes a node from its three neighbours with the CPU module's
`_node_update`; a MUSCL stage computes the node's two face fluxes from its five neighbours
(each face twice, once per side, instead of once into a buffer) with the CPU's `_limit` and
`_flux`. Numba compiles those scalar helpers for the device, so both backends share one
formula. Fused multiply-adds may differ, so results agree to round-off. The stage loop runs on
the host; the NaN/inf check every `check_every` steps is a reduction of the array module (a
device-to-host transfer of one flag).
"""

import time

import numpy as np
from numba import cuda

from ..cpu import burgers as _cpu
from ..cpu.burgers import C_ALPHA, C_DIFF, C_DTDX, C_HALF, C_LEFT, C_RIGHT, C_TWO, C_ZERO, DIRICHLET, GHOST, \
    N_FLUXES, N_LIMITERS, PERIODIC
from .launch import array_module, device, device_module, launch

_flux, _limit, _node_update = device(_cpu._flux), device(_cpu._limit), device(_cpu._node_update)


@cuda.jit(device=True)
def _face(v, p, fcode, lcode, alpha, half, zero):
    """Numerical flux between extended nodes p and p + 1 (MUSCL-reconstructed states)."""
    a = v[p] + _limit(lcode, v[p] - v[p - 1], v[p + 1] - v[p], zero, half)
    b = v[p + 1] - _limit(lcode, v[p + 1] - v[p], v[p + 2] - v[p + 1], zero, half)
    return _flux(fcode, a, b, alpha, half, zero)


@cuda.jit
def _stage(out, v, base, rk_a, rk_b, k, fcode, lcode, coefs):
    """out = a_k base + b_k (v + dt L(v)) on the interior node of this thread."""
    t = cuda.grid(1)
    if t < v.size - 2 * GHOST:
        i = t + GHOST
        ak, bk = rk_a[k], rk_b[k]
        c, d, two = coefs[C_DTDX], coefs[C_DIFF], coefs[C_TWO]
        alpha, half, zero = coefs[C_ALPHA], coefs[C_HALF], coefs[C_ZERO]
        if lcode == 0:
            h = half * c
            dd = d + h * alpha if fcode == 0 else d
            cc, q = two * half - two * dd, half * h
            new = _node_update(fcode, v[i - 1], v[i], v[i + 1], dd, cc, h, q, zero)
            out[i] = new if (ak == zero and bk == two * half) else ak * base[i] + bk * new
        else:
            fl = _face(v, i - 1, fcode, lcode, alpha, half, zero)
            fr = _face(v, i, fcode, lcode, alpha, half, zero)
            out[i] = ak * base[i] + bk * (v[i] - c * (fr - fl) + d * (v[i + 1] - two * v[i] + v[i - 1]))


@cuda.jit
def _fill(w, bc, coefs):
    """Set ghost nodes (and Dirichlet end nodes) of the extended state w (one thread)."""
    if cuda.grid(1) == 0:
        m = w.size - 2 * GHOST
        lo, hi = GHOST, GHOST + m - 1
        if bc == PERIODIC:
            for g in range(GHOST):
                w[g] = w[m + g]
                w[hi + 1 + g] = w[lo + g]
        elif bc == DIRICHLET:
            w[lo], w[hi] = coefs[C_LEFT], coefs[C_RIGHT]
            for g in range(1, GHOST + 1):
                w[lo - g] = coefs[C_TWO] * w[lo] - w[lo + g]
                w[hi + g] = coefs[C_TWO] * w[hi] - w[hi - g]
        else:
            for g in range(1, GHOST + 1):
                w[lo - g] = w[lo]
                w[hi + g] = w[hi]


def advance(u, out, nsteps, fcode, lcode, rk_a, rk_b, bc, coefs, check_every, work):
    """Advance u by `nsteps` time steps of the scheme (fcode, lcode, rk_a, rk_b).

    Parameters
    ----------
    u : device array, shape (n,), float32 or float64
        Initial state (not modified unless it is `out`).
    out : device array, shape (n,), dtype of u
        Final state.
    nsteps : int
    fcode, lcode : int
        Flux and reconstruction codes (``fastdds.kernels.cpu.burgers``).
    rk_a, rk_b : device array, shape (s,), dtype of u
        Shu-Osher coefficients of the s-stage Runge-Kutta method.
    bc : int
        Boundary code of ``fastdds.kernels.BOUNDARY_CODES``: periodic, dirichlet or outflow.
    coefs : device array, shape (8,), dtype of u
        dt/dx, nu dt/dx^2, alpha, 0.5, 0, left value, right value, 2 (layout C_*).
    check_every : int
        Test the state for NaN/inf every this many steps (and after the last).
    work : device array, shape (3, n + 4), dtype of u
        Scratch space.

    Returns
    -------
    int : -1 when every check passed, else the step after which NaN/inf was first seen
    (`out` then holds that state).
    """
    xp = array_module(u)
    n = u.size
    cur, s0, s1 = work[0], work[1], work[2]
    cur[GHOST:GHOST + n] = u
    launch(_fill, 1, cur, bc, coefs)
    bad = -1
    for step in range(1, nsteps + 1):
        v = cur
        for k in range(rk_a.size):
            w = s0 if k % 2 == 0 else s1
            launch(_stage, n, w, v, cur, rk_a, rk_b, k, fcode, lcode, coefs)
            launch(_fill, 1, w, bc, coefs)
            v = w
        if rk_a.size % 2 == 1:
            cur, s0 = s0, cur
        else:
            cur, s1 = s1, cur
        if (step % check_every == 0 or step == nsteps) and not bool(xp.isfinite(cur).all()):
            bad = step
            break
    out[:] = cur[GHOST:GHOST + n]
    return bad


def scheme_kernel(fcode, lcode):
    """`advance` of one (flux, limiter) pair, as ``fastdds.kernels.cpu.burgers.scheme_kernel``:
    same arguments as `advance` less fcode and lcode (the device kernels branch on the codes at
    run time, so nothing is built per pair)."""
    key = (int(fcode), int(lcode))
    if key[0] not in range(N_FLUXES) or key[1] not in range(N_LIMITERS):
        raise ValueError(f"unknown (flux, limiter) codes {key}; fluxes are 0..{N_FLUXES - 1}, "
                         f"limiters 0..{N_LIMITERS - 1}")

    def advance_scheme(u, out, nsteps, rk_a, rk_b, bc, coefs, check_every, work):
        return advance(u, out, nsteps, key[0], key[1], rk_a, rk_b, bc, coefs, check_every, work)

    return advance_scheme


def prepare(fcode, lcode, dtype):
    """Compile the device kernels of one (flux, limiter) pair for `dtype` by running them on 8
    nodes, as ``fastdds.kernels.cpu.burgers.prepare`` does for the CPU loop.

    Returns
    -------
    float : seconds spent (about 0 when the kernels were already compiled in this process).
    """
    t0 = time.perf_counter()
    xp, dtype = device_module(), np.dtype(dtype)
    coefs = xp.asarray(np.array([0.1, 0.01, 1.0, 0.5, 0.0, 0.0, 0.0, 2.0], dtype=dtype))
    scheme_kernel(fcode, lcode)(xp.zeros(8, dtype), xp.empty(8, dtype), 1, xp.zeros(1, dtype), xp.ones(1, dtype), 0,
                                coefs, 1, xp.empty((3, 12), dtype))
    return time.perf_counter() - t0
