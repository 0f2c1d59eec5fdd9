"""Numba runtime probes and cache warming (CPU)."""

import time

import numba as nb
import numpy as np


@nb.njit(parallel=True, cache=True)
def parallel_probe(n):
    """A trivial parallel loop; running it initialises Numba's threading layer. Returns sum(range(n))."""
    s = 0
    for i in nb.prange(n):
        s += i
    return s


def _warm_banded(dtype):
    """Every compiled form of the banded products (A x, A^T y; constant and variable diagonals)
    and the diagonal gradient, with the argument types `fastdds.Banded` passes."""
    from . import banded

    x, out = np.ones((1, 8), dtype), np.empty((1, 8), dtype)
    for m, n in ((3, 1), (3, 8), (5, 1), (7, 1)):  # constant stencils of every class, variable diagonals
        offsets = np.arange(m, dtype=np.int64) - m // 2
        diags = np.ones((m, n), dtype)
        banded.apply(x, offsets, diags, 0, out)
        banded.apply_transpose(x, offsets, diags, 0, out)
        banded.diag_grad(x, x, offsets, 0, np.zeros_like(diags))


def _warm_layer(dtype):
    """The fused banded layer branch, forward and backward (one compile serves every activation)."""
    from . import layer

    x = np.ones((1, 8), dtype)
    offsets = np.array([-1, 0, 1], dtype=np.int64)
    diags, b = np.ones((3, 8), dtype), np.zeros(8, dtype)
    a, s1, y = (np.zeros_like(x) for _ in range(3))
    layer.banded_branch_forward(x, offsets, diags, 0, b, 1, 0.0, offsets, diags, 0, a, s1, y)
    layer.banded_branch_backward(x, y, a, s1, offsets, diags, 0, offsets, diags, 0, np.empty_like(x),
                                 np.zeros_like(x), np.zeros_like(diags), np.zeros_like(diags), np.zeros(8, dtype))


def _warm_burgers(dtype):
    """The time loop of every (flux, limiter) pair, with the argument types `fastdds.pde.burgers.solve` passes."""
    from . import burgers

    for fcode in range(burgers.N_FLUXES):
        for lcode in range(burgers.N_LIMITERS):
            burgers.prepare(fcode, lcode, dtype)


WARMERS = {"banded": _warm_banded, "layer": _warm_layer, "burgers": _warm_burgers}


def warm(groups=None, dtypes=(np.float64, np.float32), progress=None):
    """Compile the CPU kernels of `groups` on small inputs, or load them from Numba's on-disk
    cache, so that later first calls start at once.

    Parameters
    ----------
    groups : iterable of str, optional
        Names from `WARMERS` ("banded", "layer", "burgers"); default all.
    dtypes : iterable of dtypes
        float64 and/or float32.
    progress : callable, optional
        Called as progress(group, dtype_name, seconds) after each group and dtype.

    Returns
    -------
    dict : group -> seconds (wall time, all dtypes together).
    """
    names = list(WARMERS) if groups is None else list(groups)
    unknown = [g for g in names if g not in WARMERS]
    if unknown:
        raise ValueError(f"unknown kernel group(s) {unknown}; choose from {sorted(WARMERS)}")
    seconds = {}
    for group in names:
        seconds[group] = 0.0
        for dtype in dtypes:
            t0 = time.perf_counter()
            WARMERS[group](np.dtype(dtype))
            dt = time.perf_counter() - t0
            seconds[group] += dt
            if progress is not None:
                progress(group, np.dtype(dtype).name, dt)
    return seconds
