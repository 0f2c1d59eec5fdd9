"""Weight initialisers, one home for every model.

Weights are stored as Dense operators, (n_out, n_in). Each draw is made in the (fan_in,
fan_out) order of the published weight files and then transposed, so that one seed gives the
same numbers in every fastdds version and in both dtypes (drawn in float64, then cast).
"""

import numpy as np

INITS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "torch")


def torch_uniform(rng, fan_in, shape, dtype=np.float64):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default nn.Linear init (kaiming_uniform, a = sqrt(5)).

    Parameters
    ----------
    rng : numpy.random.Generator
    fan_in : int
    shape : tuple of int
    dtype : float32 or float64

    Returns
    -------
    ndarray of `shape` and `dtype`
    """
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def weight(init, fan_in, fan_out, rng, dtype=np.float64):
    """One weight matrix in the Dense layout.

    Parameters
    ----------
    init : {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "torch"}
        Glorot / He as in Keras (normal ones plain, not truncated); "torch" is `torch_uniform`.
    fan_in, fan_out : int
    rng : numpy.random.Generator
    dtype : float32 or float64

    Returns
    -------
    ndarray, shape (fan_out, fan_in), C-contiguous
    """
    if init == "glorot_uniform":
        lim = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-lim, lim, (fan_in, fan_out))
    elif init == "glorot_normal":
        w = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), (fan_in, fan_out))
    elif init == "he_uniform":
        lim = np.sqrt(6.0 / fan_in)
        w = rng.uniform(-lim, lim, (fan_in, fan_out))
    elif init == "he_normal":
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out))
    elif init == "torch":
        w = torch_uniform(rng, fan_in, (fan_in, fan_out))
    else:
        raise ValueError(f"unknown init {init!r}; choose one of {INITS}")
    return np.ascontiguousarray(w.T, dtype=dtype)
