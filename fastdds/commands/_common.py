"""Options shared by several subcommands."""

import numpy as np


def add_backend_options(parser, gpu=True):
    """--backend and --dtype {float64,float32}.

    gpu : bool
        The command has GPU kernels: --backend {cpu,gpu} (default $FASTDDS_BACKEND, else cpu).
        Otherwise --backend offers cpu only and defaults to it, whatever $FASTDDS_BACKEND says.
    """
    if gpu:
        parser.add_argument("--backend", choices=("cpu", "gpu"), default=None,
                            help="array backend: %(choices)s (default: $FASTDDS_BACKEND or cpu)")
    else:
        parser.add_argument("--backend", choices=("cpu",), default="cpu",
                            help="array backend: cpu only (this command does not run on the GPU yet)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="floating-point precision: %(choices)s (default float64)")


def apply_backend_options(args):
    """Select the backend asked for; return the dtype as a numpy dtype."""
    from fastdds import backend

    if args.backend:
        backend.set_backend(args.backend)
    return np.dtype(args.dtype)


def _number(text, kind, test, what):
    import argparse
    import math

    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    if not test(value):
        raise argparse.ArgumentTypeError(f"{text} is not {what}")
    return value


def finite(text):
    """argparse type: a finite float."""
    return _number(text, float, lambda v: True, "finite")


def positive(text):
    """argparse type: a finite float > 0."""
    return _number(text, float, lambda v: v > 0, "positive (give a value > 0)")


def nonnegative(text):
    """argparse type: a finite float >= 0."""
    return _number(text, float, lambda v: v >= 0, "non-negative (give a value >= 0)")


def count(text):
    """argparse type: an integer >= 1."""
    return _number(text, int, lambda v: v >= 1, "a positive count (give an integer >= 1)")


def _check_writable(start, text, doing):
    """Raise unless the nearest existing folder at or above `start` is a writable folder."""
    import argparse
    import os

    parent = start
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot {doing} {text}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot {doing} {text}: no write permission in {parent}")


def output_file(text):
    """argparse type: a path a file can be written to (checked before any work: not a folder, no
    file where a parent folder must be, a writable nearest existing folder)."""
    import argparse
    from pathlib import Path

    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name inside it, e.g. {path / 'out.json'}")
    _check_writable(path.parent, text, "write")
    return text


def output_dir(text):
    """argparse type: a folder that exists or can be made (not a file, nor under one; writable)."""
    import argparse
    from pathlib import Path

    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder for the output")
    _check_writable(path, text, "make the folder")
    return text


class StopFlag:
    """Turn SIGINT / SIGTERM into a flag while the block runs, so that a long loop stops at its next check
    (after saving its state) instead of losing the work in hand; a second signal interrupts at once.

    Use as ``with StopFlag() as stop: ... if stop.signal: save; raise KeyboardInterrupt``. Outside
    the main thread (where Python cannot install handlers) the flag never rises and signals keep
    their handlers.
    """

    def __init__(self):
        self.signal = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signum

    def __enter__(self):
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def duration(seconds):
    """A time in seconds as a short text ("0.42 s", "12 min", "3.1 h", "17 days")."""
    if seconds < 120:
        return f"{seconds:.2g} s" if seconds < 10 else f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def announce(text):
    """Print a run's size line on stderr (once: on MPI rank 0 only, under mpiexec)."""
    import sys

    from fastdds.parallel import launched_world

    world = launched_world()
    if world is None or world.Get_rank() == 0:
        print(text, file=sys.stderr, flush=True)
