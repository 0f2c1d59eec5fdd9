"""Element-wise reverse pass of the CfC cell, fused (Numba). The forward's tanh runs as whole-array
NumPy tanh (see ``fastdds.nn.cfc``).
"""

import numba as nb


@nb.njit(cache=True)
def cell_backward(dh, ts, f1, f2, gate, dz):
    """Reverse of the cell forward f1 = tanh z1, f2 = tanh z2, gate = sigmoid(za ts + zb),
    h = f1 (1 - gate) + gate f2: dz (N, 4n) = [dz1 | dz2 | dza | dzb] from dh (N, n) and the
    saved f1, f2, gate."""
    n = dh.shape[1]
    for s in range(dh.shape[0]):
        for j in range(n):
            d, a, b, g = dh[s, j], f1[s, j], f2[s, j], gate[s, j]
            dp = d * (b - a) * g * (1.0 - g)
            dz[s, j] = d * (1.0 - g) * (1.0 - a * a)
            dz[s, n + j] = d * g * (1.0 - b * b)
            dz[s, 2 * n + j] = dp * ts
            dz[s, 3 * n + j] = dp
