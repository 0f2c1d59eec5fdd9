"""Compiled kernels of fastdds: Numba (``cpu``) and CuPy (``gpu``) functions over plain arrays.

Installed as ``fastdds.kernels``. The two submodules of a group (``cpu.banded`` and
``gpu.banded``, ...) export the same functions with the same signatures; callers pick one
through ``fastdds.backend.kernels``. Kernels assume validated input (shapes, dtypes,
contiguity); validation happens at the API boundary in ``fastdds``.
"""

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
