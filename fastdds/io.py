"""Files: atomic writes that never lose a user's file, checkpoints, JSON results.

Every write goes to a temporary file in the destination's folder, is flushed to disk, and
replaces the destination in one rename, so an interrupted run leaves either the old file or
the new one, never a torn one. An existing destination is kept as ``NAME.bak`` (hard link,
so there is no moment without it) unless ``backup=False``.
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import backend


def atomic_write(path, write, backup=True):
    """Write `path` atomically.

    Parameters
    ----------
    path : str or Path
    write : callable(file object opened "wb")
        Writes the content.
    backup : bool
        Keep an existing file as ``path + ".bak"``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if backup and path.exists():
            bak = path.with_name(path.name + ".bak")
            bak.unlink(missing_ok=True)
            os.link(path, bak)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "dtype"):
        arr = backend.to_numpy(obj)
        return arr.tolist() if arr.ndim else arr.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path, obj, backup=True):
    """Write `obj` (dicts, lists, numbers, NumPy/CuPy arrays) as indented JSON, atomically."""
    text = json.dumps(_jsonable(obj), indent=2, allow_nan=True) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()), backup)


def write_text(path, text, backup=True):
    """Write a text file atomically."""
    atomic_write(path, lambda f: f.write(text.encode()), backup)


def save_checkpoint(path, arrays, meta):
    """Save a training checkpoint atomically (no .bak: a checkpoint replaces its predecessor).

    Parameters
    ----------
    path : str or Path
        Destination (.npz).
    arrays : dict of str -> ndarray
        Parameters, optimiser moments, RNG state arrays...
    meta : dict
        JSON-serialisable scalars (step, epoch, loss history...), stored as ``__meta__``.
    """
    host = {k: backend.to_numpy(v) for k, v in arrays.items()}
    host["__meta__"] = np.array(json.dumps(_jsonable(meta)))
    atomic_write(path, lambda f: np.savez(f, **host), backup=False)


def load_checkpoint(path):
    """Load a checkpoint written by `save_checkpoint`.

    Returns
    -------
    arrays : dict of str -> ndarray (host)
    meta : dict
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; start without --resume, or give the right path")
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
        meta = json.loads(str(data["__meta__"]))
    return arrays, meta
