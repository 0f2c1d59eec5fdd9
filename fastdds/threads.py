"""Running independent pieces of CPU work on several threads, each with single-threaded BLAS.

Small matrix products (a 20-wide layer over a chunk of points) ran 1.5-4x faster per core on one
BLAS thread each than as one product split over 2 OpenBLAS threads (100-wide ones about 1.2x),
and the compiled element-wise kernels between them then run in parallel too. `run_workers` gives each worker
thread its share, with the BLAS libraries held to one thread for the duration (through
threadpoolctl, restored on exit). The worker count follows Numba's thread count
(``numba.set_num_threads`` or $NUMBA_NUM_THREADS), so one setting governs all CPU parallelism.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext

import numba
import scipy.linalg.cython_blas  # noqa: F401  SciPy's BLAS (compiled kernels call it) loaded before
from threadpoolctl import ThreadpoolController  # the controller takes stock of the BLAS libraries

_state = {"pool": None, "pool_size": 0, "blas": None, "saved": (), "users": 0}
_lock = threading.Lock()


def num_workers(limit):
    """Workers for at most `limit` independent pieces: min(Numba's thread count, limit), >= 1."""
    return max(1, min(numba.get_num_threads(), int(limit)))


def _reset_after_fork():
    global _lock
    _state.update(pool=None, pool_size=0, users=0)  # the child has none of the parent's threads
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


@contextmanager
def _one_blas_thread():
    """BLAS on one thread while any caller is inside; the first in sets it, the last out restores
    it (callers from several user threads would otherwise restore each other's settings). The
    BLAS libraries are looked up once and set directly: threadpoolctl's `limit` takes stock of
    every library each time, 19 us against 6 us a call, and a PINN step makes ten such calls."""
    with _lock:
        if _state["users"] == 0:
            if _state["blas"] is None:
                _state["blas"] = ThreadpoolController().select(user_api="blas").lib_controllers
            _state["saved"] = [(lib, lib.num_threads) for lib in _state["blas"]]
            for lib, _ in _state["saved"]:
                lib.set_num_threads(1)
        _state["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["users"] -= 1
            if _state["users"] == 0:
                for lib, n in _state["saved"]:
                    lib.set_num_threads(n)


def run_workers(work, n, blas=True):
    """Call work(0), ..., work(n - 1) concurrently, work(0) in the calling thread.

    Parameters
    ----------
    work : callable(int)
        One worker's share; it must release the GIL in its heavy parts (BLAS, ``nogil`` kernels).
    n : int
        Number of workers. With n == 1, work(0) runs alone and BLAS keeps its own thread count.
    blas : bool
        Whether the workers call BLAS. Only then is BLAS held to one thread: setting and
        restoring OpenBLAS's thread count took 80-110 us of a 20-wide PINN batch's 450 us
        forward (AMD EPYC family 26 model 2, 2 workers), whose products are all register tiles.

    Raises whatever a worker raised, after all workers have finished.
    """
    if n == 1:
        work(0)
        return
    with _lock:
        if _state["pool_size"] < n - 1:
            if _state["pool"] is not None:
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="fastdds")
            _state["pool_size"] = n - 1
        pool = _state["pool"]
    with _one_blas_thread() if blas else nullcontext():
        futures = [pool.submit(work, w) for w in range(1, n)]
        try:
            work(0)
        finally:
            wait(futures)
    for f in futures:
        f.result()
