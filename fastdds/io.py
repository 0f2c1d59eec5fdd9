"""Files: atomic writes that never lose a user's file, checkpoints, JSON results.

Every write goes to a temporary file in the destination's folder, is flushed to disk, and
replaces the destination in one rename, so an interrupted run leaves either the old file or
the new one, never a torn one. An existing destination is kept as ``NAME.bak`` (hard link,
so there is no moment without it) unless ``backup=False``; earlier backups are numbered
``NAME.bak.1``, ``NAME.bak.2``, ... (higher is newer), never overwritten. New files get the permissions the
umask allows (0666 & ~umask), a replaced file keeps its own. JSON is strict: NaN and +-inf are
written as null.
"""

import json
import math
import os
import stat
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
        Keep an existing file as ``path + ".bak"``; an older ``.bak`` moves to ``.bak.N``
        (N = 1, 2, ...: higher is newer), so no earlier generation is ever lost.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(fd, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if backup and path.exists():
            bak = path.with_name(path.name + ".bak")
            if bak.exists():
                os.replace(bak, path.with_name(f"{bak.name}.{_generations(bak) + 1}"))
            os.link(path, bak)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _generations(bak):
    """Highest N of the existing ``bak.N`` files (0 if none)."""
    nums = [p.name[len(bak.name) + 1:] for p in bak.parent.glob(bak.name + ".*")]
    return max((int(n) for n in nums if n.isdigit()), default=0)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _jsonable(obj, strict=True):
    """Plain JSON types; with `strict`, NaN and +-inf become None (null)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, strict) for v in obj]
    if hasattr(obj, "dtype"):
        arr = backend.to_numpy(obj)
        return _jsonable(arr.tolist() if arr.ndim else arr.item(), strict)
    if isinstance(obj, Path):
        return str(obj)
    if strict and isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path, obj, backup=True):
    """Write `obj` (dicts, lists, numbers, NumPy/CuPy arrays) as indented strict JSON (NaN, inf -> null), atomically."""
    text = json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n"
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
    host["__meta__"] = np.array(json.dumps(_jsonable(meta, strict=False)))
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
    arrays = read_npz(path, "checkpoint")
    if "__meta__" not in arrays:
        raise ValueError(f"{path} is an .npz without the '__meta__' record of a fastdds checkpoint (arrays "
                         f"{sorted(arrays)}); give a checkpoint written by fastdds, or start without --resume")
    try:
        meta = json.loads(str(arrays.pop("__meta__")))
    except ValueError as exc:
        raise ValueError(f"checkpoint {path} has a damaged '__meta__' record ({exc}); "
                         f"start without --resume") from None
    return arrays, meta


def read_npz(path, what="file"):
    """Every array of an .npz file, read in full, with one clear error for any damaged file.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file should be ("checkpoint", "weight file"), for the messages.

    Returns
    -------
    dict of str -> ndarray (host), in the file's order.

    Raises
    ------
    FileNotFoundError
        No file at `path`.
    ValueError
        An empty file, one that is not an .npz archive (a lone .npy, text, garbage), a truncated
        or damaged archive, or an array of Python objects (which fastdds never writes and does
        not load); the message names the file.
    """
    import zipfile
    import zlib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}; check the path")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(6)
    if size == 0:
        raise ValueError(f"{what} {path} is empty (0 bytes): it was never written completely; write it again")
    if head.startswith(b"\x93NUMPY"):
        raise ValueError(f"{what} {path} is a single .npy array, not an .npz archive of named arrays")
    if not head.startswith(b"PK"):
        raise ValueError(f"{what} {path} is not an .npz archive (it does not start with the zip signature); "
                         f"give the .npz file fastdds wrote")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except ValueError as exc:
        if "pickle" in str(exc) or "Object arrays" in str(exc):
            raise ValueError(f"{what} {path} holds an array of Python objects, which fastdds never writes and does "
                             f"not load; give an .npz of numeric arrays") from None
        raise ValueError(f"{what} {path} is damaged ({exc}); write it again") from None
    except (EOFError, OSError, zipfile.BadZipFile, zlib.error, KeyError) as exc:
        raise ValueError(f"{what} {path} is truncated or damaged ({size} bytes; {exc}): an interrupted copy or "
                         f"download? write or fetch it again") from None


def save_training_state(path, params, opt, meta, extra=None):
    """One checkpoint layout for every trainer: parameters, optimiser state, extras, metadata.

    Parameters
    ----------
    path : str or Path
        Destination (.npz), written atomically.
    params : list of ndarray
        Stored as ``param.0``, ``param.1``, ... (a model's `params`, in order).
    opt : object with ``state_dict()`` (e.g. fastdds.optim.Adam), or None
    meta : dict
        JSON-serialisable; a model's ``config()`` goes under "model" / "config" so that
        `fastdds.models.load_model` can rebuild it from the checkpoint.
    extra : dict of str -> ndarray, optional
        More arrays (best weights, loss histories); their names must not start with "param.".
    """
    arrays = {f"param.{i}": p for i, p in enumerate(params)}
    arrays.update(opt.state_dict() if opt is not None else {})
    arrays.update(extra or {})
    save_checkpoint(path, arrays, meta)


def load_training_state(path, params, opt=None):
    """Restore what `save_training_state` wrote into `params` (in place) and `opt`.

    Raises
    ------
    FileNotFoundError
        No file at `path`.
    ValueError
        The file's parameters do not match `params` in number, shape or dtype (the message
        names the parameter and what to change).

    Returns
    -------
    arrays : dict of the remaining arrays (extras), host ndarrays
    meta : dict
    """
    arrays, meta = load_checkpoint(path)
    saved = sorted((k for k in arrays if k.startswith("param.")), key=lambda k: int(k.split(".")[1]))
    if len(saved) != len(params):
        raise ValueError(f"checkpoint {path} holds {len(saved)} parameter arrays but the model has {len(params)}; "
                         f"use the same configuration or start without --resume")
    for i, p in enumerate(params):
        a = arrays.pop(f"param.{i}")
        if a.shape != p.shape:
            raise ValueError(f"checkpoint {path} does not match this model (parameter {i}: {a.shape} vs {p.shape}); "
                             f"use the same configuration or start without --resume")
        if a.dtype != p.dtype:
            raise ValueError(f"checkpoint {path} holds {a.dtype} parameters but the model is {p.dtype}; "
                             f"resume with the same dtype")
        p[...] = backend.array_module(p).asarray(a)
    if opt is not None:
        opt.load_state_dict(arrays)
    return {k: v for k, v in arrays.items() if not k.startswith("adam.")}, meta
