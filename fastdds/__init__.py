"""fastdds: fast discrete dynamical systems.

Finite-difference time steps, PINN layers and FitzHugh-Nagumo layers share one
representation, the layer y = P x + sum_k Q_k sigma_k(R_k x + b_k), with compiled kernels
(Numba on the CPU, CuPy on the GPU) and hand-written derivatives.
"""

__version__ = "0.1.0"

from .activations import Activation, get_activation
from .backend import get_backend, gpu_available, set_backend
from .layers import Block, Branch, Chain, Layer
from .operators import Banded, Dense, Identity, Operator

__all__ = ["Activation", "Banded", "Block", "Branch", "Chain", "Dense", "Identity", "Layer", "Operator",
           "get_activation", "get_backend", "gpu_available", "set_backend", "__version__"]
