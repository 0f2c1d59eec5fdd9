"""Error norms, one definition for every solver, reproduction and command.

L1 = mean|e|, L2 = RMS(e) = sqrt(mean(e^2)), Linf = max|e| for e = u - exact, computed in
float64 on the host, so float32 solutions are measured as exactly as float64 ones.
"""

import numpy as np

from . import backend


def error_norms(u, exact):
    """L1, L2 and Linf of e = u - exact.

    Parameters
    ----------
    u, exact : array_like of one shape (NumPy or CuPy, any float dtype)

    Returns
    -------
    dict {"L1": float, "L2": float, "Linf": float}, in the units of u
    """
    e = np.asarray(backend.to_numpy(u), dtype=np.float64) - np.asarray(backend.to_numpy(exact), dtype=np.float64)
    if e.size == 0:
        raise ValueError("error norms of an empty array are undefined; give at least one value")
    a = np.abs(e)
    return {"L1": float(a.mean()), "L2": float(np.sqrt(np.mean(e * e))), "Linf": float(a.max())}


def relative_l2(u, exact):
    """||u - exact||_2 / ||exact||_2 (float64), e.g. over a whole space-time grid."""
    u, exact = (np.asarray(backend.to_numpy(v), dtype=np.float64) for v in (u, exact))
    return float(np.linalg.norm(u - exact) / np.linalg.norm(exact))
