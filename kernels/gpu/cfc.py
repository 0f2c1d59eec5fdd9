"""Element-wise reverse pass of the CfC cell, GPU twin of ``fastdds.kernels.cpu.cfc``."""

from numba import cuda

from .launch import launch


@cuda.jit
def _cell_backward(dh, ts, f1, f2, gate, dz):
    t = cuda.grid(1)
    n = dh.shape[1]
    if t < dh.shape[0] * n:
        s, j = t // n, t % n
        d, a, b, g = dh[s, j], f1[s, j], f2[s, j], gate[s, j]
        dp = d * (b - a) * g * (1.0 - g)
        dz[s, j] = d * (1.0 - g) * (1.0 - a * a)
        dz[s, n + j] = d * g * (1.0 - b * b)
        dz[s, 2 * n + j] = dp * ts
        dz[s, 3 * n + j] = dp


def cell_backward(dh, ts, f1, f2, gate, dz):
    """Reverse of the cell forward f1 = tanh z1, f2 = tanh z2, gate = sigmoid(za ts + zb),
    h = f1 (1 - gate) + gate f2: dz (N, 4n) = [dz1 | dz2 | dza | dzb] from dh (N, n) and the
    saved f1, f2, gate (device arrays of one dtype; ts a float)."""
    launch(_cell_backward, dh.size, dh, ts, f1, f2, gate, dz)
