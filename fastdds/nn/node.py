"""Neural ODE baseline (Felipe-Sosa et al.'s NODE): Linear(n_in -> H), then dh/dt = f(h, t) on
t in [0, 1] by a fixed-step explicit Runge-Kutta scheme with its discrete adjoint, then
Linear(H -> 1).

f(h, t) = L3(tanh(L2(tanh(L1(LayerNorm([h, t])))))), L1: H + 1 -> H, L2, L3: H -> H. With
H = 128: 51,203 parameters. The published model integrated with dopri5; here the scheme is a
Butcher tableau given as data (RK4 by default) with a fixed number of steps.
"""

import numpy as np

from .. import backend
from .blocks import LayerNorm, Linear, Pointwise, Sequential

RK4 = {"c": (0.0, 0.5, 0.5, 1.0), "A": ((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
       "b": (1 / 6, 1 / 3, 1 / 3, 1 / 6), "order": 4}
EULER = {"c": (0.0,), "A": ((),), "b": (1.0,), "order": 1}


class TimeField(Sequential):
    """The vector field f(h, t) = L3(tanh(L2(tanh(L1(LayerNorm([h, t])))))) as a block on [h, t]."""

    def __init__(self, hidden, rng, dtype):
        super().__init__([LayerNorm(hidden + 1, dtype=dtype), Linear(hidden + 1, hidden, rng, dtype=dtype),
                          Pointwise("tanh"), Linear(hidden, hidden, rng, dtype=dtype), Pointwise("tanh"),
                          Linear(hidden, hidden, rng, dtype=dtype)])

    def at(self, h, t):
        """f(h, t): h (batch, H), t float -> (batch, H), cache."""
        return self.forward(np.concatenate([h, np.full((h.shape[0], 1), t, dtype=h.dtype)], axis=1))


class NODE:
    """Linear(n_in -> H), a neural ODE on [0, 1], Linear(H -> 1).

    Parameters
    ----------
    n_in : int
    hidden : int
    steps : int
        Fixed steps of the scheme over [0, 1].
    tableau : dict
        Explicit Butcher tableau {"c", "A", "b"} (`RK4`, `EULER`).
    seed : int
    dtype : float64 or float32
    """

    def __init__(self, n_in=8, hidden=128, steps=4, tableau=RK4, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        dtype = backend.resolve_dtype(dtype)
        self.encoder = Linear(n_in, hidden, rng, dtype=dtype)
        self.field = TimeField(hidden, rng, dtype)
        self.readout = Linear(hidden, 1, rng, dtype=dtype)
        self.steps, self.tableau = int(steps), tableau
        self.params = self.encoder.params + self.field.params + self.readout.params

    def forward(self, x):
        """x (batch, n_in) -> y (batch, 1); the cache holds every stage's field cache."""
        h, c_in = self.encoder.forward(x)
        dt, tab, stages = 1.0 / self.steps, self.tableau, []
        for n in range(self.steps):
            ks, caches = [], []
            for ci, Ai in zip(tab["c"], tab["A"]):
                hs = h + dt * sum(a * k for a, k in zip(Ai, ks)) if any(Ai) else h
                k, c = self.field.at(hs, (n + ci) * dt)
                ks.append(k)
                caches.append(c)
            h = h + dt * sum(bi * k for bi, k in zip(tab["b"], ks))
            stages.append(caches)
        y, c_out = self.readout.forward(h)
        return y, (c_in, stages, c_out)

    def backward(self, cache, dy):
        """Discrete adjoint of the Runge-Kutta steps; returns dx and the parameter gradients."""
        c_in, stages, c_out = cache
        dh, g_out = self.readout.backward(c_out, dy)
        g_field = [np.zeros_like(p) for p in self.field.params]
        dt, tab, H = 1.0 / self.steps, self.tableau, dh.shape[1]
        for caches in reversed(stages):
            dks = [dt * bi * dh for bi in tab["b"]]
            for i in range(len(caches) - 1, -1, -1):
                dz, gi = self.field.backward(caches[i], dks[i])
                d_in = dz[:, :H]
                for g, gp in zip(g_field, gi):
                    g += gp
                dh = dh + d_in
                for j, a in enumerate(tab["A"][i]):
                    if a:
                        dks[j] = dks[j] + (dt * a) * d_in
        dx, g_in = self.encoder.backward(c_in, dh)
        return dx, g_in + g_field + g_out
