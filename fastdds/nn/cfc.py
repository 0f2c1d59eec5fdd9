"""Closed-form continuous-time cell (CfC, Hasani et al. 2022), default mode, as ncps implements
it, for one time step (sequence length 1) from the zero state h0 = 0 (the published setup), with
a linear readout, as a Block:

    u = lecun_tanh(Wb [x; h0] + bb)               backbone, lecun_tanh = 1.7159 tanh(0.666 .)
    [z1; z2; za; zb] = Wh u + ch                  the four heads, one Dense layer
    h = tanh z1 (1 - gate) + gate tanh z2,  gate = sigmoid(za ts + zb)
    y = Wr h + br

Backbone, heads and readout are Dense layers (weights (n_out, n_in)); the gate mixing is the
one bilinear part (a product of two functions of the heads), not of the layer form
y = P x + c + sum_k Q_k sigma_k(R_k x + b_k): `layers()` keeps it as the `Gate` block.

The fused forward runs its transcendental functions as whole-array NumPy tanh (SIMD; a scalar
tanh in a Numba loop was about 10x slower per value, and the CfC epoch was bound by it), the
sigmoid as 1/2 + tanh(x/2)/2; the element-wise reverse pass is one kernel
(``fastdds.kernels.cpu.cfc.cell_backward``). Each head block is initialised as ncps does
(Glorot-uniform over (backbone, units)); 64 units and a 128-wide backbone on 8 inputs: 42,433
parameters.
"""

import numpy as np

from .. import backend
from ..layers import Block, Chain, Layer, linear
from ..operators import Dense

LECUN_A, LECUN_B = 1.7159, 0.666


def _gate(z, n, ts):
    xp = backend.array_module(z)
    heads = xp.tanh(z[:, :2 * n])
    f1, f2 = heads[:, :n], heads[:, n:]
    gate = 0.5 + 0.5 * xp.tanh(0.5 * (z[:, 2 * n:3 * n] * ts + z[:, 3 * n:]))
    return f1 + gate * (f2 - f1), (f1, f2, gate)


def _gate_backward(saved, dh, ts):
    f1, f2, gate = saved
    xp = backend.array_module(dh)
    dz = xp.empty((dh.shape[0], 4 * f1.shape[1]), dtype=dh.dtype)
    backend.kernels("cfc", like=dh).cell_backward(xp.ascontiguousarray(dh), ts, f1, f2, gate, dz)
    return dz


class Gate(Block):
    """The CfC gate mixing z = [z1; z2; za; zb] (4 n) -> h = tanh z1 (1 - g) + g tanh z2 (n),
    g = sigmoid(za ts + zb); no parameters, not of the layer form (bilinear in its two factors).

    Parameters
    ----------
    units : int
        n.
    ts : float
        Elapsed time of the step.
    dtype : float32 or float64
    """

    def __init__(self, units, ts=1.0, dtype=np.float64):
        self.n_out, self.n_in = int(units), 4 * int(units)
        self.ts, self.dtype, self.params = float(ts), backend.resolve_dtype(dtype), []

    def _forward(self, z, keep):
        h, saved = _gate(z, self.n_out, self.ts)
        return h, (saved if keep else None)

    def _backward(self, cache, dh):
        return _gate_backward(cache, dh, self.ts), []

    def layers(self):
        """Itself: the gating has no layer form."""
        return Chain([self])


class CfC(Block):
    """One-step CfC regressor from h0 = 0.

    Parameters
    ----------
    n_in : int
    units : int
    backbone : int
        Width of the one backbone layer.
    ts : float
        Elapsed time of the step.
    seed : int
        Draws the backbone (Glorot-uniform W, then b), the heads (a PyTorch draw, b, then
        ncps' Glorot-uniform W) and the readout, as before the weights became (n_out, n_in).
    dtype : float64 or float32

    Attributes
    ----------
    backbone : Layer, dense (backbone, n_in + units); the hidden-state columns multiply h0 = 0,
        so they are kept (as ncps has them) but skipped, and their gradient is zero
    heads : Layer, dense (4 units, backbone): [W1; W2; Wa; Wt]
    readout : Layer, dense (1, units)
    params : backbone's [W, b], heads' [W, b], readout's [W, b]
    """

    def __init__(self, n_in=8, units=64, backbone=128, ts=1.0, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.dtype = backend.resolve_dtype(dtype)
        self.n_in, self.n_out, self.units, self.width = int(n_in), 1, int(units), int(backbone)
        self.ts, self.seed = float(ts), int(seed)
        self.backbone = linear(self.n_in + self.units, self.width, rng, init="glorot_uniform", dtype=self.dtype)
        self.heads = linear(self.width, 4 * self.units, rng, dtype=self.dtype)
        bound = np.sqrt(6.0 / (self.width + self.units))  # ncps: Glorot over (backbone, units) per head
        heads = rng.uniform(-bound, bound, size=(self.width, 4 * self.units)).T
        self.heads.P.matrix[...] = backend.array_module(self.heads.P.matrix).asarray(heads)
        self.readout = linear(self.units, 1, rng, dtype=self.dtype)
        self.params = self.backbone.params + self.heads.params + self.readout.params

    def config(self):
        """Constructor keywords that rebuild this architecture (JSON-serialisable)."""
        return {"n_in": self.n_in, "units": self.units, "backbone": self.width, "ts": self.ts, "seed": self.seed,
                "dtype": self.dtype.name}

    def _forward(self, x, keep):
        xp = backend.array_module(x)
        Wb, bb = self.backbone.params
        t = xp.tanh((x @ Wb[:, :self.n_in].T + bb) * LECUN_B)
        z, c_h = self.heads._forward(LECUN_A * t, keep)
        h, saved = _gate(z, self.units, self.ts)
        y, c_r = self.readout._forward(h, keep)
        return y, ((x, t, c_h, saved, c_r) if keep else None)

    def _backward(self, cache, dy):
        x, t, c_h, saved, c_r = cache
        dh, g_r = self.readout._backward(c_r, dy)
        d_u, g_h = self.heads._backward(c_h, _gate_backward(saved, dh, self.ts))
        dpre = d_u * ((LECUN_A * LECUN_B) * (1 - t * t))
        Wb = self.backbone.params[0]
        gWb = backend.array_module(Wb).zeros_like(Wb)
        gWb[:, :self.n_in] = dpre.T @ x
        return dpre @ Wb[:, :self.n_in], [gWb, dpre.sum(axis=0)] + g_h + g_r

    def layers(self):
        """Chain([backbone, heads, Gate, readout]) over the model's own arrays.

        backbone is Layer(None, [(None, lecun_tanh, Dense(Wb[:, :n_in]), bb)]) (the columns
        of h0 = 0 dropped), heads and readout the model's dense Layers; `Gate` is the part that
        is not of the layer form.
        """
        Wb, bb = self.backbone.params
        backbone = Layer(None, [(None, "lecun_tanh", Dense(Wb[:, :self.n_in]), bb)])
        return Chain([backbone, self.heads, Gate(self.units, self.ts, self.dtype), self.readout])
