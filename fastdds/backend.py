"""Backend selection (CPU = NumPy + Numba, GPU = CuPy + numba-cuda) and kernel dispatch.

The backend decides where new arrays are created (`xp`: models built on the gpu backend hold
CuPy weights). Kernels are dispatched on the array they receive (`kernels`): a CuPy array goes
to ``fastdds.kernels.gpu.<group>``, anything else to ``fastdds.kernels.cpu.<group>``. Both
modules export the same functions with the same signatures, and callers allocate through
`array_module` of their input, so adding a GPU twin touches no caller. This is the one place
that refuses the GPU: a group with no twin (`gpu_groups` lists those with one) or a missing
CuPy / numba-cuda / device raises here, with what to do.
"""

import importlib
import importlib.util
import os
import pkgutil

import numpy as np

BACKENDS = ("cpu", "gpu")
DTYPES = (np.float64, np.float32)

_state = {"name": None}
_KERNELS = {}  # (device, group) -> kernel module, so a call in a hot path skips the import machinery


def _gpu_problem():
    """Return None when a CUDA GPU is usable through CuPy and numba-cuda, else a sentence saying why not."""
    try:
        import cupy
    except ImportError:
        return "CuPy is not installed; install it with pip install 'fastdds[gpu]' (CUDA 12) or 'fastdds[gpu-cuda13]'"
    if importlib.util.find_spec("numba_cuda") is None:
        return ("numba-cuda is not installed (the GPU kernels are numba-cuda kernels); install it with "
                "pip install 'numba-cuda[cu12]' (CUDA 12) or 'numba-cuda[cu13]', or pip install 'fastdds[gpu]'")
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


def gpu_groups():
    """Names of the kernel groups that have a GPU twin (``fastdds.kernels.gpu.<group>``)."""
    gpu = importlib.import_module("fastdds.kernels.gpu")
    return sorted(m.name for m in pkgutil.iter_modules(gpu.__path__) if m.name != "launch")


def kernels(group, like=None):
    """The kernel module ``fastdds.kernels.{cpu|gpu}.{group}``: the one place that picks a device.

    Callers pass the array they work on and allocate through `array_module` of it, so the same
    lines run on NumPy and on CuPy arrays.

    Parameters
    ----------
    group : str
        Kernel group, e.g. "banded", "activations".
    like : array, optional
        Dispatch on this array's device; default: the active backend.

    Raises
    ------
    ValueError
        No such kernel group.
    RuntimeError
        A GPU array (or the gpu backend) meets a group with no GPU twin (NotImplementedError,
        naming the groups that have one), or numba-cuda / CUDA is not usable (the message says
        how to fix it).
    """
    device = ("gpu" if is_gpu_array(like) else "cpu") if like is not None else get_backend()
    module = _KERNELS.get((device, group))
    if module is not None:
        return module
    if importlib.util.find_spec(f"fastdds.kernels.cpu.{group}") is None:
        raise ValueError(f"unknown kernel group {group!r}")
    if device == "gpu":
        if group not in gpu_groups():
            raise NotImplementedError(
                f"the {group!r} kernels have no GPU twin (GPU twins: {', '.join(gpu_groups())}); run this on "
                f"the cpu backend: pass NumPy arrays (fastdds.backend.to_numpy(x)) or set_backend('cpu')")
        problem = _gpu_problem()
        if problem is not None:
            raise RuntimeError(f"the GPU kernels of {group!r} are not usable: {problem}")
    module = _KERNELS[device, group] = importlib.import_module(f"fastdds.kernels.{device}.{group}")
    return module


def device_key(x):
    """A hashable name of the device an array lives on: "cpu" for a NumPy array, the device id
    for a CuPy one."""
    return getattr(x.device, "id", x.device) if is_gpu_array(x) else "cpu"


def on_device(host, like, cache):
    """A constant host array on `like`'s device, copied there once per device.

    Parameters
    ----------
    host : ndarray
        A NumPy array that its owner never changes (e.g. a stencil's offsets).
    like : array
        Its device is the one wanted.
    cache : dict
        Held by the owner of `host`: device id -> the device copy.

    Returns
    -------
    `host` itself for a NumPy `like`, else the device copy.
    """
    if not is_gpu_array(like):
        return host
    key = device_key(like)
    copy = cache.get(key)
    if copy is None:
        copy = cache[key] = array_module(like).asarray(host)
    return copy


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
