"""Input checks used at the API boundary (never inside kernels)."""

import warnings

import numpy as np

from . import backend


def check_finite(name, x):
    """Raise ValueError naming `name` and the first bad index if x holds NaN or inf.

    The common case costs one reduction and no temporary: the sum of x is finite unless an
    entry is NaN or inf (or the sum overflows); only then is every entry tested.
    """
    xp = backend.array_module(x)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing or inf - inf sum is expected here
        if bool(xp.isfinite(xp.sum(x))) or bool(xp.isfinite(x).all()):
            return
    bad = tuple(int(i) for i in np.argwhere(~np.isfinite(backend.to_numpy(x)))[0])
    raise ValueError(f"{name} contains NaN or inf (first at index {bad[0] if len(bad) == 1 else bad}); "
                     f"check the data or the step that produced it")


def as_state(name, x, n, dtype, finite=True):
    """Validate an operator input: shape (n,) or (batch, n), dtype `dtype`, finite.

    Parameters
    ----------
    finite : bool
        Test for NaN/inf here; False when the kernel tests its input in its own pass.

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
    if finite:
        check_finite(name, x)
    x2 = x[None] if x.ndim == 1 else x  # a view, as reshape, in half its time
    return (x2 if x2.flags.c_contiguous else backend.array_module(x).ascontiguousarray(x2)), x.ndim == 1


def as_out(out, shape, dtype, like, separate_from=None):
    """Validate an output array given by the caller (``out=``).

    Parameters
    ----------
    out : ndarray
        Must have exactly `shape` and `dtype`, be C-contiguous, and live on the same device as `like`.
    shape : tuple of int
        The shape of the result.
    separate_from : ndarray, optional
        An input that out must not overlap (for kernels that read neighbours while they write).

    Returns
    -------
    ndarray : out itself.
    """
    if type(out) is not type(like) and (not hasattr(out, "dtype")
                                        or backend.is_gpu_array(out) is not backend.is_gpu_array(like)):
        where = "a CuPy" if backend.is_gpu_array(like) else "a NumPy"
        raise ValueError(f"out must be {where} array of shape {shape} and dtype {np.dtype(dtype)}; "
                         f"got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"out has shape {out.shape}; the result has shape {shape}")
    if out.dtype != dtype:
        raise ValueError(f"out is {out.dtype} but the result is {np.dtype(dtype)}; pass an array of dtype "
                         f"{np.dtype(dtype)}")
    if not out.flags.c_contiguous:
        raise ValueError("out is not C-contiguous; pass a contiguous array (e.g. np.empty(shape, dtype))")
    if separate_from is not None and backend.array_module(out).may_share_memory(out, separate_from):
        raise ValueError("out overlaps the input; this operator reads neighbouring entries of its input while "
                         "it writes out, so out must be a separate array")
    return out


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


def available_memory():
    """Bytes of memory this process can still use: the smallest of the system's available
    memory (``MemAvailable`` of /proc/meminfo, else ``os.sysconf``) and the room left under a
    cgroup limit (containers, batch jobs); None where neither can be read."""
    import os
    from pathlib import Path

    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def format_bytes(n):
    """`n` bytes as a short text with a binary unit (e.g. "1.5 GiB")."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def check_memory(need, what, hint=""):
    """Refuse a run whose estimated peak memory exceeds what is available.

    Parameters
    ----------
    need : int or float
        Estimated peak memory of the run (bytes).
    what : str
        The run, for the message (e.g. "solve burgers --nx 200000000 (float64)").
    hint : str
        How to make it fit (appended to the message).

    Returns
    -------
    int or None : the available memory (bytes), None when it cannot be read (then nothing is checked).

    Raises
    ------
    MemoryError
        need > available; the message gives both numbers.
    """
    free = available_memory()
    if free is not None and need > free:
        raise MemoryError(f"{what} needs about {format_bytes(need)} of memory but {format_bytes(free)} is available"
                          + (f"; {hint}" if hint else ""))
    return free
