"""Input checks used at the API boundary (never inside kernels)."""

import warnings

import numpy as np

from . import backend


def check_finite(name, x):
    """Raise ValueError naming `name` and the first bad index if x holds NaN or inf."""
    xp = backend.array_module(x)
    if not bool(xp.isfinite(x).all()):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(backend.to_numpy(x)))[0])
        raise ValueError(f"{name} contains NaN or inf (first at index {bad[0] if len(bad) == 1 else bad}); "
                         f"check the data or the step that produced it")


def as_state(name, x, n, dtype):
    """Validate an operator input: shape (n,) or (batch, n), dtype `dtype`, finite.

    Returns
    -------
    x2 : ndarray, shape (batch, n), C-contiguous
    squeeze : bool
        True when x was 1-D (the caller returns a 1-D result).
    """
    if not hasattr(x, "dtype"):
        x = backend.xp().asarray(x, dtype=dtype)
    if x.ndim not in (1, 2) or x.shape[-1] != n:
        raise ValueError(f"{name} has shape {x.shape}; expected ({n},) or (batch, {n})")
    if x.dtype != dtype:
        raise ValueError(f"{name} is {x.dtype} but the operator is {np.dtype(dtype)}; "
                         f"cast one of them (x.astype(...) or operator.astype(...)) so they match")
    check_finite(name, x)
    xp = backend.array_module(x)
    return xp.ascontiguousarray(x.reshape(-1, n)), x.ndim == 1


def check_time_step(dt, dt_max, what, unsafe=False, stacklevel=3):
    """Refuse (or, with `unsafe`, warn about) a time step beyond a scheme's stability limit.

    Parameters
    ----------
    dt, dt_max : float
        The step asked for and the largest stable one (same time units).
    what : str
        The scheme and its setting, for the message (e.g. "FTCS (dx = 0.01, D = 1)").
    unsafe : bool
        Warn (RuntimeWarning) instead of raising.

    Raises
    ------
    ValueError
        dt > dt_max and not `unsafe`; the message names the largest stable dt.
    """
    if dt > dt_max * (1 + 1e-9):
        msg = (f"{what} is unstable: dt = {dt:.6g} exceeds the stability limit; the largest stable dt is {dt_max:.6g} "
               f"(cfl {dt / dt_max:.3g} > 1); lower dt or cfl")
        if not unsafe:
            raise ValueError(msg + ", or pass unsafe=True to run anyway")
        warnings.warn(msg, RuntimeWarning, stacklevel=stacklevel)
