"""``fastdds info``: version, backend, threading and BLAS, GPU availability."""


def register(subparsers):
    p = subparsers.add_parser("info", help="print version, backend, threads, BLAS and GPU status")
    p.add_argument("--compile", nargs="*", metavar="GROUP", default=None,
                   help="also compile the CPU kernels (all groups, or the ones named: banded, layer, burgers) "
                        "for float64 and float32 into Numba's on-disk cache, so later first calls start at once")
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
    if args.compile is not None:
        from fastdds.kernels.cpu.runtime import warm

        seconds = warm(args.compile or None, progress=lambda group, dtype, s: print(
            f"compiled {group} ({dtype}) in {s:.1f} s", flush=True))
        print(f"compiled {len(seconds)} kernel group(s) in {sum(seconds.values()):.1f} s")
