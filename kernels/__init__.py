"""Compiled kernels of fastdds: Numba (``cpu``) and CuPy (``gpu``) functions over plain arrays.

Installed as ``fastdds.kernels``. The two submodules of a group (``cpu.banded`` and
``gpu.banded``, ...) export the same functions with the same signatures; callers pick one
through ``fastdds.backend.kernels``. Kernels assume validated input (shapes, dtypes,
contiguity); validation happens at the API boundary in ``fastdds``.
"""

import numpy as np

from . import cache  # noqa: F401  before any kernel is decorated: the cache's stamp covers every kernel source

# Activation codes shared by every backend's kernels (index into the derivative formulas).
ACTIVATION_CODES = {
    "identity": 0,
    "tanh": 1,
    "sin": 2,
    "leaky_relu": 3,
    "softplus": 4,
    "silu": 5,
    "square_half": 6,
    "relu_square_half": 7,
    "neg_square_half": 8,
    "abs": 9,
    "relu": 10,
    "sigmoid": 11,
    "lecun_tanh": 12,
    "cube": 13,
}

# Boundary codes shared by every kernel (banded, layer and Burgers kernels, both backends); the
# meaning of each name is documented once, in ``fastdds.boundaries``.
BOUNDARY_CODES = {"periodic": 0, "zero": 1, "neumann": 2, "dirichlet": 3, "outflow": 4}

# The groups of a packed MLP workspace (`layer_part`): each layer's input streams a_l, its
# products z_l = W_l a_l and its activation derivatives s_l. NumPy integers, which Numba types
# as int64: a Python int in compiled code is typed Literal[int] and would compile `layer_part`
# once per group value.
INPUTS, PRODUCTS, DERIVS = np.int64(0), np.int64(1), np.int64(2)


def layer_part(buf, layout, group, l):
    """Layer l's array of one group of a packed MLP workspace, a view of the 1-D buffer `buf`.

    Parameters
    ----------
    buf : 1-D array (NumPy or CuPy), C-contiguous
    layout : int64 ndarray, shape (groups, L, 5)
        Per group and layer: [offset into buf, d0, d1, d2, d3].
    group, l : int

    Returns
    -------
    array of shape (d0, d1, d2, d3), a view of buf. Plain Python, so the GPU twins call it as it
    is and the Numba kernels compile it (``fastdds.kernels.cpu.mlp``).
    """
    o, d0, d1, d2, d3 = layout[group, l, 0], layout[group, l, 1], layout[group, l, 2], layout[group, l, 3], \
        layout[group, l, 4]
    return buf[o:o + d0 * d1 * d2 * d3].reshape((d0, d1, d2, d3))
