"""Options shared by several subcommands."""

import numpy as np


def add_backend_options(parser):
    """--backend {cpu,gpu} and --dtype {float64,float32}."""
    parser.add_argument("--backend", choices=("cpu", "gpu"), default=None,
                        help="array backend (default: $FASTDDS_BACKEND or cpu)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="floating-point precision (default float64)")


def apply_backend_options(args):
    """Select the backend asked for; return the dtype as a numpy dtype."""
    from fastdds import backend

    if args.backend:
        backend.set_backend(args.backend)
    return np.dtype(args.dtype)
