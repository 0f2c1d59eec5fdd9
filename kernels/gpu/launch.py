"""Launch helpers shared by the GPU kernels (Numba's CUDA target).

Every element-wise kernel runs one thread per output element on a 1-D grid of THREADS-thread
blocks. Under ``NUMBA_ENABLE_CUDASIM=1`` Numba's simulator runs each block's threads as Python
threads, so the blocks there are small (32 threads; 8 for the one-block kernels, whose every
barrier the simulator pays per thread) to keep the tests quick.
"""

import importlib
import types

import numpy as np
from numba import config

THREADS = 32 if config.ENABLE_CUDASIM else 256


def launch(kernel, n, *args):
    """Run ``kernel`` on at least n threads (ceil(n / THREADS) blocks); nothing for n == 0.

    Parameters
    ----------
    kernel : a ``numba.cuda.jit`` kernel whose thread t handles element t (t < n)
    n : int
        Number of elements.
    *args : the kernel's arguments (CuPy arrays on a device, NumPy arrays in the simulator)
    """
    if n > 0:
        _run(kernel, (n + THREADS - 1) // THREADS, THREADS, args)


def _run(kernel, blocks, threads, args):
    """kernel[blocks, threads](*args). A device takes strided views through the CUDA array
    interface; the simulator copies each NumPy argument to its fake device as one buffer and
    refuses a strided view, so there such a view goes as a contiguous copy, copied back after."""
    if not config.ENABLE_CUDASIM:
        kernel[blocks, threads](*args)
        return
    strided = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and not a.flags.c_contiguous]
    run = [np.ascontiguousarray(a) if i in strided else a for i, a in enumerate(args)]
    kernel[blocks, threads](*run)
    for i in strided:
        args[i][...] = run[i]



def array_module(x):
    """The array module of x: cupy for a CuPy array, numpy otherwise (the simulator's case).

    The same test as ``fastdds.backend.array_module``, which kernels may not import.
    """
    return importlib.import_module("cupy") if type(x).__module__.startswith("cupy") else np


def device_module():
    """The array module of device arrays here: cupy, or numpy under the simulator."""
    return np if config.ENABLE_CUDASIM else importlib.import_module("cupy")


BLOCK_THREADS = 8 if config.ENABLE_CUDASIM else 1024


def launch_block(kernel, *args):
    """Run ``kernel`` as one block of BLOCK_THREADS threads (for kernels that need a barrier
    between the steps of one solve, ``cuda.syncthreads``)."""
    _run(kernel, 1, BLOCK_THREADS, args)


def device(fn):
    """A CPU kernel module's scalar ``numba.njit`` helper as a device function.

    Numba's CUDA target compiles the dispatcher itself for the device. The simulator passes its
    own array objects, which compiled CPU code cannot take, so there the helper runs as Python,
    and so do the helpers it calls (`_as_python`).
    """
    if not config.ENABLE_CUDASIM or config.DISABLE_JIT:  # DISABLE_JIT: `fn` is Python already
        return fn
    return _as_python(fn)


_PY_GLOBALS = {}


def _as_python(fn):
    """The Python source of an njit dispatcher, with every dispatcher its module's globals name
    also turned back into Python (one rewritten globals dict per module)."""
    py = fn.py_func
    key = id(py.__globals__)
    if key not in _PY_GLOBALS:
        g = _PY_GLOBALS[key] = dict(py.__globals__)
        for name, value in list(g.items()):
            if hasattr(value, "py_func") and hasattr(value, "targetoptions"):
                g[name] = _as_python(value)
    return types.FunctionType(py.__code__, _PY_GLOBALS[key], py.__name__, py.__defaults__, py.__closure__)
