"""Array copy for compiled code (Numba).

``dst[:] = src`` between two arrays makes Numba compile its broadcast shape check and the
formatting of its error message: about 3 s of compile in the first function of a process that
uses it, 0.3 s in each later one, measured on a fresh cache, against 0.08 s for this loop. The
kernels copy through `copy_into` instead; their callers guarantee the shapes.
"""

import numba as nb


@nb.njit(cache=True, nogil=True)
def copy_into(dst, src):
    """dst[i] = src[i] for i < dst.size.

    Parameters
    ----------
    dst : ndarray, 1-D, written
    src : ndarray, 1-D, at least dst.size entries, dst's dtype (or one that casts to it)
    """
    for i in range(dst.size):
        dst[i] = src[i]
