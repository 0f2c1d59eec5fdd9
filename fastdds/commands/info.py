"""``fastdds info``: version, backend, threading and BLAS, GPU availability."""


def register(subparsers):
    p = subparsers.add_parser("info", help="print version, backend, threads, BLAS and GPU status")
    p.set_defaults(func=run)


def _blas():
    import numpy as np

    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # numpy < 1.25 has no dict mode
        return "unknown"


def run(args):
    import numba
    import numpy as np
    import scipy

    import fastdds
    from fastdds import backend
    from fastdds.kernels.cpu.runtime import parallel_probe

    ok, why = backend.gpu_available()
    parallel_probe(4)
    layer = numba.threading_layer()
    rows = [
        ("fastdds", fastdds.__version__),
        ("backend", backend.get_backend()),
        ("numpy / scipy / numba", f"{np.__version__} / {scipy.__version__} / {numba.__version__}"),
        ("numba threading layer", layer),
        ("numba threads", numba.get_num_threads()),
        ("BLAS", _blas()),
        ("GPU usable", "yes" if ok else f"no ({why})"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
