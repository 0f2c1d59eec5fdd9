"""Numba kernels (CPU). One module per kernel group; see ``fastdds.kernels``."""
