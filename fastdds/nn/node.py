"""Neural ODE baseline (Felipe-Sosa et al.'s NODE) as a Block: a dense encoder n_in -> H, then
dh/dt = f(h, t) on t in [0, 1] by a fixed-step explicit Runge-Kutta method with its discrete
adjoint, then a dense readout H -> 1.

The time field is a Chain on the augmented state [h, t]:

    f(h, t) = L3 tanh(L2 tanh(L1 LayerNorm([h, t]))),   L1: H + 1 -> H, L2, L3: H -> H

With H = 128: 51,203 parameters. The published model integrated with dopri5; here the method is
a Butcher tableau of `fastdds.tableaus` (RK4 by default, "rk4-3/8", "ssp-rk3", "euler", ...)
with a fixed number of steps.
"""

import numpy as np

from .. import backend, tableaus
from ..layers import Block, Chain, Layer, linear, pointwise
from ..operators import Dense
from .norm import LayerNorm


def time_field(hidden, rng, dtype=np.float64):
    """The field f as a Chain on [h, t] (H + 1 values) -> H values.

    Parameters
    ----------
    hidden : int
    rng : numpy.random.Generator
        Draws L1, L2, L3 in order (W, then b), PyTorch's nn.Linear initialisation.
    dtype : float32 or float64

    Returns
    -------
    Chain([LayerNorm(H + 1), L1, tanh, L2, tanh, L3])
    """
    return Chain([LayerNorm(hidden + 1, dtype=dtype), linear(hidden + 1, hidden, rng, dtype=dtype),
                  pointwise(hidden, "tanh", dtype), linear(hidden, hidden, rng, dtype=dtype),
                  pointwise(hidden, "tanh", dtype), linear(hidden, hidden, rng, dtype=dtype)])


class NODE(Block):
    """Dense(n_in -> H), a neural ODE on [0, 1], Dense(H -> 1).

    Parameters
    ----------
    n_in : int
    hidden : int
    steps : int
        Fixed steps of the method over [0, 1] (dt = 1 / steps).
    tableau : str or ButcherTableau
        A method of `fastdds.tableaus.TABLEAUS` ("rk4", "rk4-3/8", "euler", ...).
    seed : int
        Draws the encoder, the field's L1, L2, L3 and the readout in that order (as before the
        weights became (n_out, n_in): one seed gives the same numbers).
    dtype : float64 or float32

    Attributes
    ----------
    encoder, readout : Layer (dense)
    field : Chain (see `time_field`)
    params : encoder's [W, b], the field's [ln weight, ln bias, W1, b1, W2, b2, W3, b3], readout's [W, b]
    """

    def __init__(self, n_in=8, hidden=128, steps=4, tableau="rk4", seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.dtype = backend.resolve_dtype(dtype)
        self.n_in, self.n_out, self.hidden, self.seed = int(n_in), 1, int(hidden), int(seed)
        self.steps, self.tableau = int(steps), tableaus.get(tableau)
        if self.steps < 1:
            raise ValueError(f"steps = {steps} must be >= 1")
        self.encoder = linear(self.n_in, self.hidden, rng, dtype=self.dtype)
        self.field = time_field(self.hidden, rng, self.dtype)
        self.readout = linear(self.hidden, 1, rng, dtype=self.dtype)
        self.params = self.encoder.params + self.field.params + self.readout.params

    def config(self):
        """Constructor keywords that rebuild this architecture (JSON-serialisable)."""
        if tableaus.TABLEAUS.get(self.tableau.name) != self.tableau:
            raise ValueError(f"tableau {self.tableau.name!r} is not registered in fastdds.tableaus; "
                             f"a config can only name a registered method")
        return {"n_in": self.n_in, "hidden": self.hidden, "steps": self.steps, "tableau": self.tableau.name,
                "seed": self.seed, "dtype": self.dtype.name}

    def _field(self, h, t, keep):
        return self.field._forward(np.concatenate([h, np.full((h.shape[0], 1), t, dtype=h.dtype)], axis=1), keep)

    def _forward(self, x, keep):
        h, c_in = self.encoder._forward(x, keep)
        dt, tab, stages = 1.0 / self.steps, self.tableau, []
        for n in range(self.steps):
            ks, caches = [], []
            for ci, Ai in zip(tab.c, tab.a):
                hs = h + dt * sum(a * k for a, k in zip(Ai, ks)) if any(Ai) else h
                k, c = self._field(hs, (n + ci) * dt, keep)
                ks.append(k)
                caches.append(c)
            h = h + dt * sum(bi * k for bi, k in zip(tab.b, ks))
            stages.append(caches)
        y, c_out = self.readout._forward(h, keep)
        return y, ((c_in, stages, c_out) if keep else None)

    def _backward(self, cache, dy):
        """Discrete adjoint of the Runge-Kutta steps: stage by stage in reverse."""
        c_in, stages, c_out = cache
        dh, g_out = self.readout._backward(c_out, dy)
        g_field = [np.zeros_like(p) for p in self.field.params]
        dt, tab, H = 1.0 / self.steps, self.tableau, self.hidden
        for caches in reversed(stages):
            dks = [dt * bi * dh for bi in tab.b]
            for i in range(len(caches) - 1, -1, -1):
                dz, gi = self.field._backward(caches[i], dks[i])
                d_in = dz[:, :H]
                for g, gp in zip(g_field, gi):
                    g += gp
                dh = dh + d_in
                for j, a in enumerate(tab.a[i][:i]):
                    if a:
                        dks[j] = dks[j] + (dt * a) * d_in
        dx, g_in = self.encoder._backward(c_in, dh)
        return dx, g_in + g_field + g_out

    def layers(self):
        """The model's operators in order, for analysis: NOT the model's map.

        Returns Chain([encoder, lift, *field.layers(), readout]), where lift is the Layer
        h -> [h; 0] (P = Dense([I; 0])): the encoder, one evaluation of the field at t = 0 and
        the readout, over the model's own arrays. What is not of this form: the Runge-Kutta
        step. Its stage combination is linear (h + dt sum_j a_ij k_j), so one step is a Chain of
        layers on the stacked state [h; k_1; ...; k_s] with every field layer padded by identity
        blocks, but with Dense operators that is (s + 1)^2 H^2 entries per field layer per stage
        (about 0.4 GB for H = 128, RK4, 4 steps), so it is not built; and LayerNorm's
        normalisation is a Block without a layer form (see `fastdds.nn.norm`).
        """
        H = self.hidden
        lift = Layer(Dense(np.eye(H + 1, H, dtype=self.dtype)))
        return Chain([self.encoder, lift] + self.field.layers().blocks + [self.readout])
