"""CuPy kernels (GPU), twins of ``fastdds.kernels.cpu`` with the same signatures."""
