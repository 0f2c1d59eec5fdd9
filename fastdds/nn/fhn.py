"""FitzHugh-Nagumo layer: K explicit Euler steps per neuron as a Block, its layer form, and what
those K steps do over their horizon compared with the flow (`FHN.stability`).

    dv/dt = I - v (v - a)(v - 1) - w        dw/dt = b (v - g w)

Two ways in:

- ``mode="initial_state"`` (the published DynPMNN block): the input (batch, 2n) gives
  v0 = x[:, :n], w0 = x[:, n:]; the drive I is a per-neuron constant.
- ``mode="drive"``: I = W x + c with W (n, n_in) (Dense layout), c (n,); v0 = w0 = 0.

a, b, g, I (initial_state mode) and dt are per-neuron values, each fixed or trained (`train`).
The output is v_K, w_K or both ([v_K, w_K], (batch, 2n)). The fast path is
``fastdds.kernels.cpu.fhn`` (forward; reverse pass = discrete adjoint, recomputing the
trajectory per sample), its GPU twin ``fastdds.kernels.gpu.fhn`` for CuPy inputs (the
parameters are arrays of the active backend, every buffer comes from the input's array
module); `FHN.layers` gives the same map as a Chain of Layers.

One Euler step, with the cubic written out (v (v - a)(v - 1) = v^3 - (1 + a) v^2 + a v):

    v' = (1 - dt a) v - dt w + dt I + 2 dt (1 + a) (v^2 / 2) - dt v^3
    w' = dt b v + (1 - dt b g) w
"""

import warnings
from typing import NamedTuple

import numpy as np

from .. import backend, initializers
from ..analysis.euler_horizon import euler_horizon
from ..layers import Block, Branch, Chain, Layer, dense
from ..operators import Banded, Dense
from ..validation import as_state

TRAINABLE = ("a", "b", "g", "I", "dt")
MODES = ("initial_state", "drive")
OUTPUTS = ("v", "w", "both")


class FixedPointStep(NamedTuple):
    """The Euler step of one neuron linearised at one of its fixed points (`FHN.euler_step_at_fixed_points`).

    Attributes
    ----------
    neuron : int
    point : ndarray (2,)
        (v*, w*).
    step : Banded
        I + dt J on the neuron's state [v; w] (2 x 2, offsets 0, +1, -1): its `spectrum()` is
        1 + dt lambda(J), its `moments()` the row sums and first moments of the step.
    """

    neuron: int
    point: np.ndarray
    step: Banded


class FHN(Block):
    """A layer of n FitzHugh-Nagumo neurons integrated by K explicit Euler steps.

    Parameters
    ----------
    n : int
        Neurons.
    mode : {"initial_state", "drive"}
    n_in : int
        Input features (drive mode only; initial_state takes 2n).
    a, b, g, I, dt : float or array (n,)
        FHN parameters and Euler step (I is unused in drive mode: c plays its role).
    steps : int
        K, the number of Euler steps (t_end = K dt).
    train : iterable of str
        Which of "a", "b", "g", "I", "dt" are trained (W and c always are in drive mode).
    output : {"v", "w", "both"}
    rng : numpy.random.Generator, optional
        For W and c (PyTorch's Linear init, U(+-1/sqrt(n_in)), W drawn first; default seed 0).
    dtype : float64 or float32

    Attributes
    ----------
    params : list
        Drive mode: [W (n, n_in), c (n,)], then the trained ones of a, b, g, I, dt in that order.
    """

    def __init__(self, n, mode="initial_state", n_in=None, a=0.2, b=0.02, g=3.0, I=0.0, dt=20.0, steps=25,
                 train=(), output="both", rng=None, dtype=np.float64):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; use one of {OUTPUTS}")
        train = tuple(train)
        bad = [t for t in train if t not in TRAINABLE or (t == "I" and mode == "drive")]
        if bad:
            raise ValueError(f"cannot train {bad}; choose from {TRAINABLE} ('I' only in initial_state mode, "
                             f"drive mode trains W and c)")
        if int(steps) < 1:
            raise ValueError(f"steps = {steps}; need at least one Euler step")
        self.n, self.mode, self.output, self.steps = int(n), mode, output, int(steps)
        self.dtype = backend.resolve_dtype(dtype)
        xp = backend.xp()
        for name, val in {"a": a, "b": b, "g": g, "I": I, "dt": dt}.items():
            host = np.broadcast_to(np.asarray(backend.to_numpy(val), dtype=self.dtype), (self.n,)).copy()
            if not np.isfinite(host).all():
                raise ValueError(f"FHN parameter {name} is {val}; it must be finite")
            if name == "dt" and np.any(host <= 0):
                raise ValueError(f"dt must be positive; got {host}")
            setattr(self, name, xp.asarray(host))
        self.train = tuple(t for t in TRAINABLE if t in train)
        self.params = []
        if mode == "drive":
            if n_in is None:
                raise ValueError("drive mode needs n_in, the number of input features")
            rng = np.random.default_rng(0) if rng is None else rng
            self.n_in = int(n_in)
            self.W = xp.asarray(initializers.weight("torch", self.n_in, self.n, rng, self.dtype))
            self.c = xp.asarray(initializers.torch_uniform(rng, self.n_in, (self.n,), self.dtype))
            self.params += [self.W, self.c]
        else:
            self.n_in = 2 * self.n
        self.n_out = 2 * self.n if output == "both" else self.n
        self.params += [getattr(self, t) for t in self.train]

    def config(self):
        """Constructor keyword arguments (JSON-serialisable) that rebuild this architecture.

        The per-neuron values are the current ones; W and c are not included (load them).
        """
        cfg = {"n": self.n, "mode": self.mode, "steps": self.steps, "train": list(self.train),
               "output": self.output, "dtype": self.dtype.name,
               **{k: getattr(self, k).tolist() for k in ("a", "b", "g", "I", "dt")}}
        if self.mode == "drive":
            cfg["n_in"] = self.n_in
        return cfg

    def _inputs(self, x):
        """(v0, w0, I), each (batch, n) and C-contiguous arrays of x's module, for a validated x."""
        xp = backend.array_module(x)
        if self.mode == "drive":
            I = xp.ascontiguousarray(x @ self.W.T + self.c)
            z = xp.zeros_like(I)
            return z, z, I
        v0, w0 = xp.ascontiguousarray(x[:, :self.n]), xp.ascontiguousarray(x[:, self.n:])
        return v0, w0, xp.ascontiguousarray(xp.broadcast_to(self.I, v0.shape))

    def _forward(self, x, keep):
        xp = backend.array_module(x)
        v0, w0, I = self._inputs(x)
        vK, wK = xp.empty_like(v0), xp.empty_like(v0)
        backend.kernels("fhn", like=x).forward(v0, w0, I, self.a, self.b, self.g, self.dt, self.steps, vK, wK)
        y = {"v": vK, "w": wK}.get(self.output)
        return (xp.concatenate([vK, wK], axis=1) if y is None else y), ((x, v0, w0, I) if keep else None)

    def _backward(self, cache, dy):
        """Discrete adjoint of the K Euler steps: dx and the gradients of params."""
        x, v0, w0, I = cache
        xp = backend.array_module(v0)
        zero = xp.zeros_like(v0)
        dvK = {"v": dy, "w": zero, "both": dy[:, :self.n]}[self.output]
        dwK = {"v": zero, "w": dy, "both": dy[:, self.n:]}[self.output]
        dv0, dw0, dI = xp.empty_like(v0), xp.empty_like(v0), xp.empty_like(v0)
        d = {k: xp.empty(self.n, dtype=v0.dtype) for k in ("a", "b", "g", "dt")}
        backend.kernels("fhn", like=v0).backward(
            v0, w0, I, self.a, self.b, self.g, self.dt, self.steps, xp.ascontiguousarray(dvK),
            xp.ascontiguousarray(dwK), dv0, dw0, dI, d["a"], d["b"], d["g"], d["dt"])
        d["I"] = dI.sum(axis=0)
        if self.mode == "drive":
            return dI @ self.W, [dI.T @ x, d["I"]] + [d[t] for t in self.train]
        return xp.concatenate([dv0, dw0], axis=1), [d[t] for t in self.train]

    def euler_layer(self):
        """One explicit Euler step as a Layer on the state [v; w] (drive mode: [v; w; I]).

        P is Banded with per-neuron diagonals: offset 0 (1 - dt a on v, 1 - dt b g on w, 1 on I),
        +n (-dt: w into v), -n (dt b: v into w) and, in drive mode, +2n (dt: I into v). The
        constant term is c = [dt I; 0] (initial-state mode). Two branches act on the v rows only
        (Q zero on the others, R the identity): Q = diag(2 dt (1 + a)) with u^2 / 2 and
        Q = diag(-dt) with u^3. The coefficients are computed from the current a, b, g, I, dt
        (a snapshot, not views).

        Returns
        -------
        Layer, n_in = n_out = 2n (drive mode 3n)
        """
        n, dt, a, b, g = self.n, self.dt, self.a, self.b, self.g
        xp = backend.array_module(a)
        one, zero = xp.ones(n, self.dtype), xp.zeros(n, self.dtype)
        drive = self.mode == "drive"
        extra = [zero] if drive else []
        offsets = [0, n, -n] + ([2 * n] if drive else [])
        diags = [xp.concatenate([1 - dt * a, 1 - dt * b * g] + ([one] if drive else [])),
                 xp.concatenate([-dt, zero] + extra), xp.concatenate([zero, dt * b] + extra)]
        if drive:
            diags.append(xp.concatenate([dt, zero, zero]))
        P = Banded(offsets, xp.stack(diags), "zero", dtype=self.dtype)
        branches = [Branch(Banded((0,), xp.concatenate([q, zero] + extra)[None, :], "zero", dtype=self.dtype),
                           act) for q, act in ((2 * dt * (1 + a), "square_half"), (-dt, "cube"))]
        c = None if drive else xp.concatenate([dt * self.I, zero])
        return Layer(P, branches, c)

    def layers(self):
        """The layer form: [drive mode: dense x -> [0; 0; W x + c]], K Euler-step Layers (one
        Layer object repeated, see `euler_layer`), and the output selection as a dense Layer.

        Returns
        -------
        Chain equal to this block to round-off (same dtype; a snapshot of the coefficients)
        """
        n, m = self.n, (3 if self.mode == "drive" else 2) * self.n
        xp = backend.array_module(self.a)
        blocks = []
        if self.mode == "drive":
            W = xp.zeros((m, self.n_in), self.dtype)
            W[2 * n:] = self.W
            blocks.append(dense(W, xp.concatenate([xp.zeros(2 * n, self.dtype), self.c])))
        blocks += [self.euler_layer()] * self.steps
        rows = {"v": slice(0, n), "w": slice(n, 2 * n), "both": slice(0, 2 * n)}[self.output]
        blocks.append(Layer(Dense(xp.eye(m, dtype=self.dtype)[rows])))
        return Chain(blocks)

    def trajectory(self, x):
        """All K + 1 Euler states for input x (batch, n_in): (v, w), each (K + 1, batch, n)."""
        v0, w0, I = self._inputs(as_state("x", x, self.n_in, self.dtype)[0])
        xp = backend.array_module(v0)
        tv = xp.empty((self.steps + 1,) + v0.shape, dtype=v0.dtype)
        tw = xp.empty_like(tv)
        backend.kernels("fhn", like=v0).trajectory(v0, w0, I, self.a, self.b, self.g, self.dt, tv, tw)
        return tv, tw

    def fixed_points(self, I=None):
        """Real fixed points per neuron: v solves -v^3 + (1 + a) v^2 - (a + 1/g) v + I = 0, w = v / g.

        Parameters
        ----------
        I : array (n,), optional
            Drive (default: the layer's I; in drive mode pass the drive of interest, e.g. c).

        Returns
        -------
        list of n arrays of shape (m, 2), m in 1..3: rows (v*, w*).
        """
        I = np.broadcast_to(np.asarray(backend.to_numpy(self.I if I is None else I), dtype=np.float64), (self.n,))
        a_, g_ = (np.asarray(backend.to_numpy(getattr(self, k)), dtype=np.float64) for k in ("a", "g"))
        out = []
        for j in range(self.n):
            a, g = float(a_[j]), float(g_[j])
            r = np.roots([-1.0, 1.0 + a, -(a + 1.0 / g), float(I[j])])
            v = np.sort(r[np.abs(r.imag) < 1e-9 * max(1.0, np.abs(r).max())].real)
            out.append(np.column_stack([v, v / g]))
        return out

    def _fixed_point_drive(self):
        return self.c if self.mode == "drive" else self.I

    def euler_step_at_fixed_points(self, I=None):
        """The Euler step linearised at every real fixed point, as operators for `fastdds compare`.

        At (v*, w*) the step is I + dt J with J = [[-(3 v*^2 - 2 (1 + a) v* + a), -1], [b, -b g]].

        Parameters
        ----------
        I : array (n,), optional
            Drive (default: I in initial-state mode, c in drive mode, as `fixed_point_note` uses).

        Returns
        -------
        list of FixedPointStep, neuron by neuron, fixed points in increasing v*; each step a
        float64 Banded (2 x 2) on [v; w].
        """
        out = []
        fixed = self.fixed_points(self._fixed_point_drive() if I is None else I)
        for j, fp in enumerate(fixed):
            a, b, g, dt = (float(getattr(self, k)[j]) for k in ("a", "b", "g", "dt"))
            for v, w in fp:
                J = euler_step_jacobian(v, a, b, g, dt)
                diags = np.array([[J[0, 0], J[1, 1]], [J[0, 1], 0.0], [0.0, J[1, 0]]])
                out.append(FixedPointStep(j, np.array([v, w]), Banded((0, 1, -1), diags, "zero")))
        return out

    def stability(self, x, tol=1e-2, warn=True):
        """What the K Euler steps do over their horizon on inputs x (`fastdds.analysis.euler_horizon`).

        The Euler trajectory is measured against a Richardson-extrapolated fine-Euler solution of
        the same ODE (same v0, w0 and drive I per sample): the output's error per neuron, the
        largest dt (same t_end) that keeps every neuron within `tol` of the flow, whether the steps
        diverge, and the amplification of the step Jacobians over the K steps. The Euler radius at
        the fixed points (see `fixed_point_note`) is one line of data in ``notes``, not the verdict.
        Computed in float64 on the host.

        Parameters
        ----------
        x : ndarray (batch, n_in) or (n_in,), the layer's dtype
            The layer's inputs (e.g. the previous blocks' outputs on training data).
        tol : float
            Tolerance on the relative error per neuron, in (0, 1].
        warn : bool
            Issue a RuntimeWarning with the verdict when the steps diverge or miss the tolerance.

        Returns
        -------
        fastdds.analysis.euler_horizon.HorizonReport (``.message`` is the one-sentence verdict)
        """
        x2 = as_state("x", x, self.n_in, self.dtype)[0]
        v0, w0, I = (np.asarray(backend.to_numpy(c), dtype=np.float64) for c in self._inputs(x2))
        a, b, g, dt = (np.asarray(backend.to_numpy(getattr(self, k)), dtype=np.float64) for k in ("a", "b", "g", "dt"))
        kern = backend.kernels("fhn", like=v0)

        def advance(state, h, m):
            vK, wK = np.empty_like(v0), np.empty_like(v0)
            kern.forward(state[0], state[1], I, a, b, g, h, m, vK, wK)
            return vK, wK

        def jacobian(state, h):
            return euler_step_jacobian(state[0], a, b, g, h)

        report = euler_horizon(advance, (v0, w0), dt, self.steps, jacobian, tol=tol, notes=(self.fixed_point_note(),))
        if warn and (report.diverges or not report.within_tol):
            warnings.warn(report.message, RuntimeWarning, stacklevel=2)
        return report

    def fixed_point_note(self):
        """One line of data: the Euler radius of I + dt J at the fixed points where the flow contracts
        (drive I in initial-state mode, c in drive mode), the dt that would bring it to 1 there, and
        how many fixed points the flow itself repels. A local linearisation, not a verdict on K steps."""
        a, b, g, dt = (np.asarray(backend.to_numpy(getattr(self, k)), dtype=np.float64) for k in ("a", "b", "g", "dt"))
        radius, dt_one, repel = 0.0, np.inf, 0
        for j, fp in enumerate(self.fixed_points(self._fixed_point_drive())):
            dmax = max_stable_dt(fp[:, 0], a[j], b[j], g[j])
            repel += int((dmax == 0).sum())
            if (dmax > 0).any():
                radius = max(radius, float(euler_radius(fp[dmax > 0, 0], a[j], b[j], g[j], dt[j]).max()))
                dt_one = min(dt_one, float(dmax[dmax > 0].min()))
        return (f"fixed points ({'drive c' if self.mode == 'drive' else 'drive I'}): Euler radius up to {radius:.3g} "
                f"where the flow contracts (radius <= 1 for dt <= {dt_one:.3g}); {repel} repelled by the flow itself")


def euler_step_jacobian(v, a, b, g, h):
    """Jacobian of one Euler step of size h on [v, w], I + h J with J as in `jacobian_eigenvalues`.

    Parameters
    ----------
    v : float or ndarray (..., n), the state's v (the step's Jacobian does not depend on w or I)
    a, b, g, h : float or ndarray (n,), broadcasting with v

    Returns
    -------
    ndarray (..., n, 2, 2), float64: [[1 - h (3 v^2 - 2 (1 + a) v + a), -h], [h b, 1 - h b g]]
    """
    v, a, b, g, h = np.broadcast_arrays(*(np.asarray(t, dtype=np.float64) for t in (v, a, b, g, h)))
    J = np.empty(v.shape + (2, 2))
    J[..., 0, 0] = 1.0 - h * (3.0 * v * v - 2.0 * (1.0 + a) * v + a)
    J[..., 0, 1] = -h
    J[..., 1, 0] = h * b
    J[..., 1, 1] = 1.0 - h * b * g
    return J


def jacobian_eigenvalues(v, a, b, g):
    """Eigenvalues of the FHN Jacobian J = [[-(3v^2 - 2(1 + a)v + a), -1], [b, -b g]].

    Parameters
    ----------
    v : ndarray, any shape broadcasting with a, b, g (per neuron on the last axis)

    Returns
    -------
    lam1, lam2 : complex ndarrays of the broadcast shape
    """
    j11 = -(3.0 * v * v - 2.0 * (1.0 + a) * v + a)
    j22 = -b * g
    tr, det = j11 + j22, j11 * j22 + b
    root = np.sqrt(np.asarray(tr * tr / 4.0 - det, dtype=complex))
    return tr / 2.0 + root, tr / 2.0 - root


def euler_radius(v, a, b, g, dt):
    """Spectral radius of the Euler map's Jacobian I + dt J at v (J as in `jacobian_eigenvalues`)."""
    l1, l2 = jacobian_eigenvalues(v, a, b, g)
    return np.maximum(np.abs(1.0 + dt * l1), np.abs(1.0 + dt * l2))


def max_stable_dt(v, a, b, g):
    """Largest dt with spectral radius of I + dt J <= 1 at v: min over eigenvalues of -2 Re(l) / |l|^2.

    Zero where an eigenvalue has Re(l) >= 0 (no Euler step contracts there; the flow itself does
    not contract either).
    """
    out = None
    for lam in jacobian_eigenvalues(v, a, b, g):
        d = np.where(lam.real < 0.0, -2.0 * lam.real / np.maximum(np.abs(lam) ** 2, 1e-300), 0.0)
        out = d if out is None else np.minimum(out, d)
    return out
