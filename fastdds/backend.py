"""Backend selection (CPU = NumPy + Numba, GPU = CuPy) and kernel dispatch.

The backend decides where new arrays are created. Kernels are dispatched on the
array they receive: a CuPy array goes to ``fastdds.kernels.gpu.<group>``, anything
else to ``fastdds.kernels.cpu.<group>``. Both modules export the same functions with
the same signatures, so adding a GPU twin touches no caller.
"""

import importlib
import os

import numpy as np

BACKENDS = ("cpu", "gpu")
DTYPES = (np.float64, np.float32)

_state = {"name": None}
_KERNELS = {}  # (device, group) -> kernel module, so a call in a hot path skips the import machinery


def _gpu_problem():
    """Return None when a CUDA GPU is usable through CuPy, else a sentence saying why not."""
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed; install it with pip install 'fastdds[gpu]' (CUDA 12) or 'fastdds[gpu-cuda13]'"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken: report CuPy's own words
        return f"CuPy is installed but CUDA is not usable: {exc}"
    if count == 0:
        return "CuPy is installed but no CUDA device is visible (check CUDA_VISIBLE_DEVICES)"
    return None


def gpu_available():
    """Whether the GPU backend can be used.

    Returns
    -------
    ok : bool
    reason : str
        Empty when ``ok``; otherwise what is missing and how to fix it.
    """
    problem = _gpu_problem()
    return problem is None, problem or ""


def set_backend(name):
    """Select the array backend for arrays fastdds creates.

    Parameters
    ----------
    name : {"cpu", "gpu"}
        "cpu": NumPy arrays and Numba kernels. "gpu": CuPy arrays and CuPy kernels.

    Raises
    ------
    ValueError
        Unknown name.
    RuntimeError
        "gpu" requested but no usable GPU; the message says why.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")
    if name == "gpu":
        problem = _gpu_problem()
        if problem is not None:
            raise RuntimeError(f"the gpu backend is not usable: {problem}")
    _state["name"] = name


def get_backend():
    """Name of the active backend: "cpu" unless set by `set_backend` or $FASTDDS_BACKEND."""
    if _state["name"] is None:
        set_backend(os.environ.get("FASTDDS_BACKEND", "cpu").strip().lower() or "cpu")
    return _state["name"]


def xp():
    """The array module of the active backend (numpy or cupy)."""
    if get_backend() == "gpu":
        import cupy

        return cupy
    return np


def array_module(x):
    """The array module an array belongs to (cupy for CuPy arrays, else numpy)."""
    return importlib.import_module("cupy") if is_gpu_array(x) else np


def is_gpu_array(x):
    """True for a CuPy array."""
    return type(x) is not np.ndarray and type(x).__module__.startswith("cupy")


def kernels(group, like=None):
    """The kernel module ``fastdds.kernels.{cpu|gpu}.{group}``.

    Parameters
    ----------
    group : str
        Kernel group, e.g. "banded", "activations".
    like : array, optional
        Dispatch on this array's device; default: the active backend.
    """
    device = ("gpu" if is_gpu_array(like) else "cpu") if like is not None else get_backend()
    module = _KERNELS.get((device, group))
    if module is not None:
        return module
    try:
        module = importlib.import_module(f"fastdds.kernels.{device}.{group}")
    except ModuleNotFoundError as exc:
        if device == "gpu" and exc.name == f"fastdds.kernels.gpu.{group}":
            raise NotImplementedError(
                f"the GPU twin of the {group!r} kernels is not written yet; use the cpu backend") from exc
        raise
    _KERNELS[device, group] = module
    return module


def resolve_dtype(dtype=None, like=None):
    """The float dtype to use: `dtype` if given, else `like`'s if it is float32/float64, else float64.

    Raises
    ------
    ValueError
        A dtype other than float32 or float64.
    """
    if dtype is None:
        dt = getattr(like, "dtype", None)
        dtype = dt if dt in DTYPES else np.float64
    dtype = np.dtype(dtype)
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype} is not supported; use float64 (default) or float32")
    return dtype


def to_numpy(x):
    """A NumPy copy/view of a NumPy or CuPy array."""
    return x.get() if is_gpu_array(x) else np.asarray(x)
