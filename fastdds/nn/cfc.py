"""Closed-form continuous-time cell (CfC, Hasani et al. 2022), default mode, as ncps implements it,
for one time step (sequence length 1) with a linear readout.

    z = [x, h0]                                   (h0 = 0 by default)
    u = lecun_tanh(z Wb + bb)                     backbone, lecun_tanh = 1.7159 tanh(0.666 .)
    f1 = tanh(u W1 + c1), f2 = tanh(u W2 + c2), ta = u Wa + ca, tb = u Wt + ct
    gate = sigmoid(ta ts + tb)
    h = f1 (1 - gate) + gate f2,   y = h Wr + br

The forward's transcendental functions run as whole-array NumPy/CuPy tanh (SIMD; a scalar tanh in
a Numba loop measured about 10x slower per value, and the CfC epoch was bound by it), the sigmoid
as 1/2 + tanh(x/2)/2; the reverse element-wise pass is a fused kernel in ``fastdds.kernels.cpu.cfc``. The four heads are stored as one (backbone, 4 units)
matrix [W1 | W2 | Wa | Wt] (one GEMM), each block initialised as ncps does (Glorot-uniform over
(backbone, units)); 64 units and a 128-wide backbone on 8 inputs: 42,433 parameters.
"""

import numpy as np

from .. import backend
from .blocks import Linear

LECUN_A, LECUN_B = 1.7159, 0.666


class CfC:
    """One-step CfC regressor.

    Parameters
    ----------
    n_in : int
    units : int
    backbone : int
        Width of the one backbone layer.
    ts : float
        Elapsed time of the step.
    seed : int
    dtype : float64 or float32
    """

    def __init__(self, n_in=8, units=64, backbone=128, ts=1.0, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        dtype = backend.resolve_dtype(dtype)
        self.units, self.ts = int(units), float(ts)
        self.backbone = Linear(n_in + units, backbone, rng, init="glorot_uniform", dtype=dtype)
        self.heads = Linear(backbone, 4 * units, rng, dtype=dtype)
        bound = np.sqrt(6.0 / (backbone + units))
        self.heads.W[...] = rng.uniform(-bound, bound, size=self.heads.W.shape)
        self.readout = Linear(units, 1, rng, dtype=dtype)
        self.params = self.backbone.params + self.heads.params + self.readout.params

    def forward(self, x, h0=None):
        """x (batch, n_in), h0 (batch, units) or None (zeros) -> y (batch, 1), cache.

        With h0 = None the hidden-state rows of the backbone matrix multiply zeros, so they are
        skipped (their gradient is zero).
        """
        xp, n = backend.array_module(x), self.units
        z_in = x if h0 is None else xp.concatenate([x, h0], axis=1)
        t = xp.tanh((z_in @ self.backbone.W[:z_in.shape[1]] + self.backbone.b) * LECUN_B)
        du = (LECUN_A * LECUN_B) * (1 - t * t)
        z, c_h = self.heads.forward(LECUN_A * t)
        heads = xp.tanh(z[:, :2 * n])
        f1, f2 = heads[:, :n], heads[:, n:]
        gate = 0.5 + 0.5 * xp.tanh(0.5 * (z[:, 2 * n:3 * n] * self.ts + z[:, 3 * n:]))
        h = f1 + gate * (f2 - f1)
        y, c_r = self.readout.forward(h)
        return y, (x.shape[1], z_in, du, c_h, f1, f2, gate, c_r)

    def backward(self, cache, dy):
        """Hand-written reverse pass; returns dx and the parameter gradients."""
        n_in, z_in, du, c_h, f1, f2, gate, c_r = cache
        dh, g_r = self.readout.backward(c_r, dy)
        dz = np.empty((dh.shape[0], 4 * self.units), dtype=dh.dtype)
        backend.kernels("cfc", like=dh).cell_backward(np.ascontiguousarray(dh), self.ts, f1, f2, gate, dz)
        d_u, g_h = self.heads.backward(c_h, dz)
        dpre = d_u * du
        gWb = np.zeros_like(self.backbone.W)
        gWb[:z_in.shape[1]] = z_in.T @ dpre
        return dpre @ self.backbone.W[:n_in].T, [gWb, dpre.sum(axis=0)] + g_h + g_r
