"""The model registry: every Block model by class name, saved and loaded in one file layout.

`save_model` writes a model with `fastdds.io.save_training_state` (the checkpoint layout of every
trainer: arrays ``param.0``, ``param.1``, ... and the metadata {"model": class name, "config":
model.config()}); `load_model` rebuilds ``cls(**config)`` from `MODELS` and loads the arrays. It
also reads the checkpoints `fastdds.nn.train.fit` writes (same layout; its best weights
``best.i`` when present) and the published PINN weight files (arrays W0..WL, b0..bL, through
`fastdds.nn.mlp.MLP.load`). Classes are imported only when used, so a registered class that a
module lacks fails with a message naming it, when that class is asked for.
"""

import importlib
from pathlib import Path

from . import io

MODELS = {
    "MLP": "fastdds.nn.mlp",
    "FHN": "fastdds.nn.fhn",
    "DynPMNN": "fastdds.nn.dynpmnn",
    "FHNNet": "fastdds.nn.dynpmnn",
    "MLPBaseline": "fastdds.nn.dynpmnn",
    "NODE": "fastdds.nn.node",
    "CfC": "fastdds.nn.cfc",
    "ResNet": "fastdds.nn.residual",
    "LMResNet": "fastdds.nn.residual",
    "Leapfrog": "fastdds.nn.residual",
}
"""Class name -> the module that defines it."""


def model_class(name):
    """The model class registered under `name`.

    Raises
    ------
    ValueError
        `name` is not in `MODELS`, or its module does not define it (the message says which).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; the registry (fastdds.models.MODELS) holds {sorted(MODELS)}")
    try:
        module = importlib.import_module(MODELS[name])
    except ImportError as exc:
        raise ValueError(f"model {name!r} lives in {MODELS[name]}, which cannot be imported ({exc})") from exc
    cls = getattr(module, name, None)
    if cls is None:
        raise ValueError(f"model {name!r} is registered in {MODELS[name]}, which does not define it; "
                         f"update fastdds.models.MODELS")
    return cls


def model_config(model):
    """{"model": class name, "config": model.config()}: what `load_model` needs to rebuild it.

    Raises
    ------
    ValueError
        The class is not registered or has no ``config()`` method.
    """
    name = type(model).__name__
    if MODELS.get(name) is None or model_class(name) is not type(model):
        raise ValueError(f"{name} is not a registered model class; add it to fastdds.models.MODELS")
    if not callable(getattr(model, "config", None)):
        raise ValueError(f"{name} has no config() method, so a saved {name} could not be rebuilt")
    return {"model": name, "config": model.config()}


def save_model(path, model):
    """Write a model's parameters and its architecture (atomically, one .npz).

    Parameters
    ----------
    path : str or Path
    model : a registered Block model with ``config()`` and ``params``
    """
    io.save_training_state(path, model.params, None, model_config(model))


def _is_weight_file(arrays):
    return "__meta__" not in arrays and "W0" in arrays


def weight_file_layers(path, arrays=None):
    """Layer widths (input to output) and dtype of a PINN weight file (W0..WL stored (fan_in, fan_out), b0..bL).

    Parameters
    ----------
    path : str or Path
    arrays : dict of str -> ndarray, optional
        The file's arrays when already read (`fastdds.io.read_npz`).

    Returns
    -------
    sizes : list of int, e.g. [2, 20, 20, 1]
    dtype : numpy dtype the network loads as: that of W0 (as `fastdds.nn.mlp.MLP.load`). A file
        whose arrays mix dtypes warns (UserWarning naming the file and the arrays of each dtype)
        that they are converted to it.

    Raises
    ------
    FileNotFoundError, ValueError
        No file, a damaged file (`fastdds.io.read_npz`), or no W0..WL / b0..bL arrays.
    """
    import warnings

    arrays = io.read_npz(path, "weight file") if arrays is None else arrays
    L = sum(1 for k in arrays if k.startswith("W"))
    if L == 0 or set(arrays) != {f"{p}{l}" for p in "Wb" for l in range(L)}:
        raise ValueError(f"weight file {path}: expected arrays W0..WL and b0..bL; found {sorted(arrays)}")
    for l in range(L):
        if arrays[f"W{l}"].ndim != 2:
            raise ValueError(f"weight file {path}: W{l} has shape {arrays[f'W{l}'].shape}; expected (fan_in, fan_out)")
    dtype = arrays["W0"].dtype
    kinds = {}
    for name, a in arrays.items():
        kinds.setdefault(str(a.dtype), []).append(name)
    if len(kinds) > 1:
        listed = "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in sorted(kinds.items()))
        warnings.warn(f"weight file {path} mixes dtypes ({listed}); every array is converted to {dtype} "
                      f"(the dtype of W0)", UserWarning, stacklevel=2)
    return [arrays["W0"].shape[0]] + [arrays[f"W{l}"].shape[1] for l in range(L)], dtype


def load_model(path, activation="tanh", dtype=None):
    """Rebuild a model from a file of `save_model`, a `fit` checkpoint or a PINN weight file.

    Parameters
    ----------
    path : str or Path
    activation : str
        Hidden activation of a PINN weight file (W0..WL, b0..bL), which does not store it;
        ignored for the other files, whose config holds it.
    dtype : float32 or float64, optional
        Of a PINN weight file (default: the file's); the other files rebuild the saved dtype.

    Returns
    -------
    model : Block, its parameters those of the file (a fit checkpoint: its best weights, the
        ones fit restores, when it has them; else the last epoch's)

    Raises
    ------
    FileNotFoundError
        No file at `path`.
    ValueError
        An empty, truncated or damaged file (naming it), a checkpoint without the "model" /
        "config" metadata, an unregistered class, or parameters that do not match the rebuilt
        model (the message says which).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}; check the path")
    arrays = io.read_npz(path, "model file")
    if _is_weight_file(arrays):
        from .nn.mlp import MLP

        _, file_dtype = weight_file_layers(path, arrays)
        return MLP.load(path, activation, dtype=file_dtype if dtype is None else dtype)
    _, meta = io.load_checkpoint(path)
    if "model" not in meta or "config" not in meta:
        raise ValueError(f"{path} has no 'model' / 'config' metadata, so its architecture is unknown; "
                         f"write it with fastdds.models.save_model (or a trainer that stores model.config())")
    model = model_class(meta["model"])(**meta["config"])
    extra, _ = io.load_training_state(path, model.params)
    best = [extra.get(f"best.{i}") for i in range(len(model.params))]
    if all(b is not None for b in best):
        for p, b in zip(model.params, best):
            p[...] = b
    return model
