"""Neural ODE baseline (Felipe-Sosa et al.'s NODE) as a Block: a dense encoder n_in -> H, then
dh/dt = f(h, t) on t in [0, 1] by a fixed-step explicit Runge-Kutta method with its discrete
adjoint, then a dense readout H -> 1.

The time field is a Chain on the augmented state [h, t]:

    f(h, t) = L3 tanh(L2 tanh(L1 LayerNorm([h, t]))),   L1: H + 1 -> H, L2, L3: H -> H

With H = 128: 51,203 parameters. The published model integrated with dopri5; here the method is
a Butcher tableau of `fastdds.tableaus` (RK4 by default, "rk4-3/8", "ssp-rk3", "euler", ...)
with a fixed number of steps. `layers()` is the model's exact layer form: each Runge-Kutta step
a Chain of Layers on the stacked state [h; k_1; ...; k_s; work].
"""

import numpy as np
import scipy.sparse as sp

from .. import backend, tableaus
from ..layers import Block, Chain, Layer, linear, pointwise
from ..operators import Banded, Dense
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
        xp = backend.array_module(h)
        return self.field._forward(xp.concatenate([h, xp.full((h.shape[0], 1), t, dtype=h.dtype)], axis=1), keep)

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
        g_field = [backend.array_module(p).zeros_like(p) for p in self.field.params]
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
        """The exact layer form: a Chain of Layers on the stacked state [h; k_1; ...; k_s; w].

        A Runge-Kutta step combines its stages linearly (stage input h + dt sum_j a_ij k_j,
        update h + dt sum_i b_i k_i), so one step on a field that is a Chain is a Chain on a
        stacked state of N = (s + 1) H + H + 1 values: h, the s stage slopes and a work slot w
        (H + 1 values) in which the field runs. Per stage: a Banded Layer that writes
        [h + dt sum_j a_ij k_j; t_i] into w (t_i in its constant term c), the field's layers
        acting on w (identity on the rest), a Banded Layer that copies w into k_i; per step a
        Banded Layer that forms the update. Before: the encoder and h -> [h; 0]; after: the
        selection of h and the readout (the model's own Layers).

        The field's layers are shared by every stage and step; they are dense copies of the
        model's coefficients, padded to N x N (H = 128, RK4, 4 steps: 4.2 million values in all,
        34 MB in float64).
        Not of the layer form: LayerNorm's normalisation, kept as a Block on w (as in
        `fastdds.nn.norm`). Equal to the model to round-off. The arrays are on the model's
        device (built on the host, then copied there).
        """
        H, tab, dtype = self.hidden, self.tableau, self.dtype
        xp = backend.array_module(self.encoder.params[0])
        s = tab.stages
        w0 = (s + 1) * H
        N = w0 + H + 1
        rows = [range(j * H, (j + 1) * H) for j in range(s + 1)] + [range(w0, N)]  # h, k_1..k_s, w

        def banded(entries):
            """N x N Banded: the rows of each written slot r are sum coef * (slot c), H x H identity
            blocks; every other row passes its value on."""
            M = sp.lil_matrix((N, N))
            written = {r for r, _, _ in entries}
            for r, c, coef in entries:
                if coef:
                    M[rows[r].start:rows[r].start + H, rows[c].start:rows[c].start + H] += coef * np.eye(H)
            keep = [i for j in range(s + 2) if j not in written for i in rows[j]]
            M[keep, keep] = 1.0
            op = Banded.from_sparse(M.tocsr(), dtype=dtype)
            return Banded(op.offsets, xp.asarray(op.diagonals), "zero", dtype=dtype)

        dt = 1.0 / self.steps
        field = [_embed(blk, w0, H + 1, N, xp) for blk in self.field.layers().blocks]
        stage_in = [banded([(s + 1, 0, 1.0)] + [(s + 1, j + 1, dt * a) for j, a in enumerate(tab.a[i][:i])])
                    for i in range(s)]  # also clears the t row of w: the Layer's c sets it
        write = [banded([(i + 1, s + 1, 1.0)]) for i in range(s)]
        update = banded([(0, 0, 1.0)] + [(0, i + 1, dt * b) for i, b in enumerate(tab.b)])
        chain = [self.encoder, Layer(Dense(xp.asarray(np.eye(N, H, dtype=dtype))))]
        for n in range(self.steps):
            for i in range(s):
                c = np.zeros(N, dtype=dtype)
                c[N - 1] = (n + tab.c[i]) * dt
                chain += [Layer(stage_in[i], c=xp.asarray(c))] + field + [Layer(write[i])]
            chain.append(Layer(update))
        return Chain(chain + [Layer(Dense(xp.asarray(np.eye(H, N, dtype=dtype)))), self.readout])


class _OnSlice(Block):
    """A square block applied to the values [start, start + n) of a longer state; the rest passes."""

    def __init__(self, block, start, n_total):
        self.block, self.start = block, int(start)
        self.n_in = self.n_out = int(n_total)
        self.dtype, self.params = block.dtype, block.params

    def _forward(self, x, keep):
        part = slice(self.start, self.start + self.block.n_in)
        y = x.copy()
        y[:, part], cache = self.block._forward(backend.array_module(x).ascontiguousarray(x[:, part]), keep)
        return y, cache

    def _backward(self, cache, dy):
        part = slice(self.start, self.start + self.block.n_in)
        dx = dy.copy()
        dx[:, part], grads = self.block._backward(cache, backend.array_module(dy).ascontiguousarray(dy[:, part]))
        return dx, grads

    def layers(self):
        """Itself (the block it wraps has no layer form)."""
        return Chain([self])


def _embed(block, start, width, n_total, xp=np):
    """`block` acting on the slot [start, start + width) of an n_total state, identity elsewhere: a
    Layer of dense copies in the array module xp (outputs beyond block.n_out in the slot are
    zero), or an `_OnSlice` for a block that is not a Layer."""
    if not isinstance(block, Layer):
        return _OnSlice(block, start, n_total)
    dtype, (i0, o1, i1) = block.dtype, (start, start + block.n_out, start + block.n_in)
    outside = np.r_[0:start, start + width:n_total]
    P = np.zeros((n_total, n_total))
    P[outside, outside] = 1.0
    if block.P is not None:
        P[i0:o1, i0:i1] = backend.to_numpy(block.P.to_dense())
    c = np.zeros(n_total)
    if block.c is not None:
        c[i0:o1] = backend.to_numpy(block.c)
    branches = []
    for br in block.branches:
        Q = np.eye(block.n_out) if br.Q is None else backend.to_numpy(br.Q.to_dense())
        R = np.eye(block.n_in) if br.R is None else backend.to_numpy(br.R.to_dense())
        Qp, Rp = np.zeros((n_total, Q.shape[1])), np.zeros((R.shape[0], n_total))
        Qp[i0:o1], Rp[:, i0:i1] = Q, R
        branches.append((Dense(xp.asarray(Qp, dtype)), br.act, Dense(xp.asarray(Rp, dtype)),
                         None if br.b is None else br.b.copy()))
    return Layer(Dense(xp.asarray(P, dtype)), branches, xp.asarray(c.astype(dtype)))
