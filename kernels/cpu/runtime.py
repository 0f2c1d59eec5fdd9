"""Numba runtime probes (CPU)."""

import numba as nb


@nb.njit(parallel=True, cache=True)
def parallel_probe(n):
    """A trivial parallel loop; running it initialises Numba's threading layer. Returns sum(range(n))."""
    s = 0
    for i in nb.prange(n):
        s += i
    return s
