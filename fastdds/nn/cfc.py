"""Closed-form continuous-time cell (CfC, Hasani et al. 2022), default mode, as ncps implements it,
for one time step (sequence length 1) with a linear readout.

    z = [x, h0]                                   (h0 = 0 by default)
    u = lecun_tanh(z Wb + bb)                     backbone, lecun_tanh = 1.7159 tanh(0.666 .)
    f1 = tanh(u W1 + c1), f2 = tanh(u W2 + c2), ta = u Wa + ca, tb = u Wt + ct
    gate = sigmoid(ta ts + tb)
    h = f1 (1 - gate) + gate f2,   y = h Wr + br

The four heads are stored as one (backbone, 4 units) matrix [W1 | W2 | Wa | Wt] (one GEMM),
each block initialised as ncps does (Glorot-uniform over (backbone, units)); 64 units and a
128-wide backbone on 8 inputs: 42,433 parameters.
"""

import numpy as np

from .. import backend
from .norm import Linear, Pointwise


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
        self.lecun, self.tanh, self.sigmoid = Pointwise("lecun_tanh"), Pointwise("tanh"), Pointwise("sigmoid")
        self.params = self.backbone.params + self.heads.params + self.readout.params

    def forward(self, x, h0=None):
        """x (batch, n_in), h0 (batch, units) or None (zeros) -> y (batch, 1), cache."""
        h0 = np.zeros((x.shape[0], self.units), dtype=x.dtype) if h0 is None else h0
        pre, c_bb = self.backbone.forward(np.concatenate([x, h0], axis=1))
        u, c_u = self.lecun.forward(pre)
        z, c_h = self.heads.forward(u)
        n = self.units
        f, c_f = self.tanh.forward(z[:, :2 * n])
        gate, c_g = self.sigmoid.forward(z[:, 2 * n:3 * n] * self.ts + z[:, 3 * n:])
        f1, f2 = f[:, :n], f[:, n:]
        h = f1 * (1.0 - gate) + gate * f2
        y, c_r = self.readout.forward(h)
        return y, (x.shape[1], c_bb, c_u, c_h, c_f, c_g, f1, f2, gate, c_r)

    def backward(self, cache, dy):
        """Hand-written reverse pass; returns dx and the parameter gradients."""
        n_in, c_bb, c_u, c_h, c_f, c_g, f1, f2, gate, c_r = cache
        dh, g_r = self.readout.backward(c_r, dy)
        df, _ = self.tanh.backward(c_f, np.concatenate([dh * (1.0 - gate), dh * gate], axis=1))
        dpre_gate, _ = self.sigmoid.backward(c_g, dh * (f2 - f1))
        du, g_h = self.heads.backward(c_h, np.concatenate([df, dpre_gate * self.ts, dpre_gate], axis=1))
        dpre, _ = self.lecun.backward(c_u, du)
        dz, g_bb = self.backbone.backward(c_bb, dpre)
        return dz[:, :n_in], g_bb + g_h + g_r
