"""Learned stencils that recover the PDE: a Chain of banded layers fitted to solver trajectories,
read back through the row moments of its operators.

The model maps a snapshot u_n (n grid values, periodic) to the next one, u_{n+1}, by `stride`
copies of one layer in the fastdds layer form

    y = P x + Q sigma(R x),   sigma(u) = u^2/2 ("square_half"), R = I   (Burgers)
    y = P x                                                              (advection-diffusion)

P and Q are `Banded` operators with learnable constant diagonals (a stencil of `width` weights
each: 3 or 5 per operator, so 3 to 10 weights in all), or with ``per_row`` one stencil per grid
row (diagonals of shape (width, n): hundreds of weights, no shift invariance assumed); R is a
fixed banded identity, so the branch runs in the fused banded kernels
(``fastdds.kernels.cpu.layer``) forward and backward. Training goes through the Chain's
hand-written backward (no autodiff). A layer is a one-step (forward-Euler-like) map, while the
data are a solver's flow: the mismatch biases the recovered coefficients by O(tau), and a larger
stride (more, shorter layers per snapshot interval) shrinks it in proportion.

Reading the coefficients back. With grid spacing h = dx (length) and tau = dt_data / stride the
time one layer stands for (time), the row moments M_k = sum_j p_j (j h)^k of P (length^k) are
those of a convolution kernel. The flow of u_t + U u_x = nu u_xx over tau is the convolution
with a Gaussian of mass 1, mean -U tau and variance 2 nu tau, so with the cumulants
kappa_1 = M1 / M0, kappa_2 = M2 / M0 - kappa_1^2 of P

    U  = -kappa_1 / tau          (length / time)
    nu =  kappa_2 / (2 tau)      (length^2 / time)
    rate = (M0 - 1) / tau        (1 / time; 0 for a conservative equation)

These are exact for the exact flow and for RK4 of the central semi-discretisation (whose
stability polynomial leaves the first two cumulants of tau L unchanged); for a forward-Euler
step P = I + tau L they give nu - U^2 tau / 2 (its numerical anti-diffusion), while the raw
M2 / (2 tau) gives nu. For Burgers, u_t + c u u_x = nu u_xx with c = 1, the same formula on P
gives nu and the first moment of Q (the flux term) gives the nonlinear speed c = -M1(Q) / tau.

Moment constraints (as PDE-Net fixes moments of its filters). Each stencil is parametrised by
its dimensionless moments m_k = sum_j p_j o_j^k (k = 0 .. width-1, o_j the offsets): p = V^-1 m
with the (invertible) Vandermonde matrix V[k, j] = o_j^k, and dL/dm = V^-T dL/dp. A constraint
fixes some m_k (e.g. M0(P) = 1: no reaction; M1(P) = 0: no linear advection; M0(Q) = 0: the
nonlinear term is a flux difference) and only the others are trained, so the constraint holds
exactly (to round-off) at every step of any optimiser; the moment coordinates are also what lets
Adam, which rescales each coordinate, reach the small second moment.

Fitting: for stride 1 the model is linear in the weights, so `fit` with method "lstsq" solves
the least-squares problem exactly (in the free moments); "lbfgs" (``fastdds.optim.lbfgs``) and
"adam" (``fastdds.optim.Adam``) train the Chain through its backward, for any stride.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from .. import backend, optim
from ..layers import Chain, Layer
from ..operators import Banded
from ..pde import burgers, heat
from ..progress import Progress
from ..validation import check_finite

CASES = ("advection-diffusion", "burgers")
METHODS = ("lstsq", "lbfgs", "adam")

CONSTRAINTS = {
    "advection-diffusion": {"P": {0: 1.0}},
    "burgers": {"P": {0: 1.0, 1: 0.0}, "Q": {0: 0.0}},
}
"""The physical moment constraints of each case ({operator: {k: m_k}}, dimensionless moments):
no reaction (M0(P) = 1); for Burgers also no linear advection (M1(P) = 0) and a conservative
flux term (M0(Q) = 0)."""


@dataclass
class Trajectories:
    """Snapshots of one PDE from a fastdds solver.

    Attributes
    ----------
    u : ndarray, shape (T, batch, n), float32 or float64
        u[t, b] is trajectory b at time t * dt (periodic grid, x_i = i dx).
    dx : float
        Grid spacing (length).
    dt : float
        Time between snapshots (time): `substeps` solver steps.
    case : str
        One of `CASES`.
    nu, speed : float
        The true viscosity (length^2 / time) and speed (advection speed U, length / time; for
        Burgers the coefficient c = 1 of u u_x).
    meta : dict
        Solver, its step, substeps, noise level and seed.
    """

    u: np.ndarray
    dx: float
    dt: float
    case: str
    nu: float
    speed: float
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        u = self.u
        if not hasattr(u, "ndim") or u.ndim != 3 or u.shape[0] < 2 or u.shape[2] < 5:
            raise ValueError(f"trajectories have shape {getattr(u, 'shape', None)}; expected (T, batch, n) "
                             f"with T >= 2 snapshots and n >= 5 grid points")
        if u.dtype not in (np.float32, np.float64):
            raise ValueError(f"trajectories are {u.dtype}; use float32 or float64")
        check_finite("trajectories", u)
        if self.case not in CASES:
            raise ValueError(f"unknown case {self.case!r}; choose one of {CASES}")
        for name in ("dx", "dt"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise ValueError(f"{name} = {v} must be a positive number")

    @property
    def pairs(self):
        """(inputs, targets), each (N, n) with N = (T - 1) * batch: u_t and u_{t+1}."""
        n = self.u.shape[2]
        return self.u[:-1].reshape(-1, n), self.u[1:].reshape(-1, n)


def _smooth_fields(rng, batch, nx, modes, amplitude):
    """batch random periodic fields sum_k (a_k cos 2 pi k x + b_k sin 2 pi k x) / k, k = 1..modes."""
    x = np.arange(nx) / nx
    u = np.zeros((batch, nx))
    for k in range(1, modes + 1):
        a, b = rng.standard_normal((2, batch, 1)) * amplitude / k
        u += a * np.cos(2 * np.pi * k * x) + b * np.sin(2 * np.pi * k * x)
    return u


def add_noise(data, noise, seed=0):
    """A copy of `data` with Gaussian noise of standard deviation noise * RMS(u) on every value.

    Parameters
    ----------
    data : Trajectories
    noise : float >= 0
        Relative noise level.
    seed : int

    Returns
    -------
    Trajectories (the same data when noise is 0)
    """
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise = {noise} must be a finite number >= 0")
    if noise == 0:
        return data
    u = data.u.astype(np.float64)
    u = u + np.random.default_rng(seed).standard_normal(u.shape) * noise * np.sqrt(np.mean(u**2))
    return Trajectories(u.astype(data.u.dtype), data.dx, data.dt, data.case, data.nu, data.speed,
                        dict(data.meta, noise=float(noise), noise_seed=int(seed)))


def _check_sizes(nx, snapshots, batch, substeps, cfl):
    for name, v in (("nx", nx), ("snapshots", snapshots), ("batch", batch), ("substeps", substeps)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} = {v} must be a positive integer")
    if nx < 8:
        raise ValueError(f"nx = {nx}; the stencils need at least 8 grid points")
    if snapshots < 2:
        raise ValueError(f"snapshots = {snapshots}; a pair of snapshots at least")
    if not (np.isfinite(cfl) and 0 < cfl <= 1):
        raise ValueError(f"cfl = {cfl} must lie in (0, 1]")


def advection_diffusion_data(nx=64, nu=0.01, speed=0.5, snapshots=51, batch=4, substeps=1, cfl=0.5, modes=4,
                             seed=0, dtype=np.float64):
    """Trajectories of u_t + U u_x = nu u_xx on [0, 1) (periodic) from `fastdds.pde.heat.rk4`.

    Parameters
    ----------
    nx : int
        Grid points (dx = 1 / nx).
    nu, speed : float
        Diffusivity (length^2 / time, > 0) and advection speed U (length / time).
    snapshots : int
        Snapshots per trajectory (T), the first the initial state.
    batch : int
        Independent trajectories (random smooth initial states of `modes` Fourier modes).
    substeps : int
        RK4 steps between snapshots.
    cfl : float
        The RK4 step as a fraction of `heat.max_stable_dt`.
    seed : int
    dtype : float32 or float64
        Of the returned snapshots (the solver runs in float64).

    Returns
    -------
    Trajectories
    """
    _check_sizes(nx, snapshots, batch, substeps, cfl)
    if not (np.isfinite(nu) and nu > 0 and np.isfinite(speed)):
        raise ValueError(f"nu = {nu} must be > 0 and speed = {speed} finite")
    dx = 1.0 / nx
    step = cfl * heat.max_stable_dt("rk4", dx, nu, speed)
    u = _smooth_fields(np.random.default_rng(seed), batch, nx, modes, 1.0)
    snaps = [u]
    for _ in range(snapshots - 1):
        snaps.append(heat.rk4(snaps[-1], dx, step, substeps, nu, speed))
    return Trajectories(np.array(snaps, dtype=dtype), dx, step * substeps, "advection-diffusion", float(nu),
                        float(speed), {"solver": "heat.rk4 (central differences)", "solver_dt": step,
                                       "substeps": int(substeps), "nx": int(nx), "snapshots": int(snapshots),
                                       "batch": int(batch), "seed": int(seed), "noise": 0.0})


BURGERS_SCHEME = burgers.Scheme("central", rk="ssp-rk3")
"""The data scheme for Burgers: central flux (no numerical dissipation, so the data's viscosity
is nu) with SSP-RK3 time stepping."""


def burgers_data(nx=64, nu=0.02, snapshots=51, batch=4, substeps=1, cfl=0.5, modes=3, amplitude=0.5, seed=0,
                 dtype=np.float64):
    """Trajectories of u_t + u u_x = nu u_xx on [0, 1) (periodic) from `fastdds.pde.burgers.solve`
    (`BURGERS_SCHEME`, one step for all trajectories: cfl times the stable step of the largest
    initial |u|).

    Parameters as in `advection_diffusion_data`; amplitude scales the random initial states.
    nu * nx should stay above max|u| / 2 (cell Reynolds number below 2) for the central flux.

    Returns
    -------
    Trajectories (speed = 1, the coefficient of u u_x)
    """
    _check_sizes(nx, snapshots, batch, substeps, cfl)
    if not (np.isfinite(nu) and nu > 0):
        raise ValueError(f"nu = {nu} must be > 0 (the central flux needs viscosity)")
    dx = 1.0 / nx
    u0 = _smooth_fields(np.random.default_rng(seed), batch, nx, modes, amplitude)
    step = cfl * burgers.max_stable_dt(BURGERS_SCHEME, dx, nu, float(np.abs(u0).max()))
    runs = []
    for u in u0:
        snaps = [u.copy()]
        burgers.solve(u, dx, nu=nu, scheme=BURGERS_SCHEME, nsteps=(snapshots - 1) * substeps, dt=step,
                      chunks=snapshots - 1, callback=lambda k, total, state: snaps.append(state.copy()))
        runs.append(snaps)
    u = np.ascontiguousarray(np.transpose(np.array(runs), (1, 0, 2)), dtype=dtype)
    return Trajectories(u, dx, step * substeps, "burgers", float(nu), 1.0,
                        {"solver": "burgers.solve (central flux, SSP-RK3)", "solver_dt": step,
                         "substeps": int(substeps), "nx": int(nx), "snapshots": int(snapshots),
                         "batch": int(batch), "seed": int(seed), "noise": 0.0})


class _Stencil:
    """One banded operator's stencil in moment coordinates: p = V^-1 m, some m_k fixed."""

    def __init__(self, op, fixed):
        offs = op.offsets.astype(np.float64)
        m = offs.size
        self.op = op
        self.V = offs[None, :] ** np.arange(m)[:, None]
        self.Vinv = np.linalg.inv(self.V)
        for k in fixed:
            if not (isinstance(k, (int, np.integer)) and 0 <= k < m):
                raise ValueError(f"moment {k} cannot be fixed on a {m}-point stencil (k in 0..{m - 1})")
        self.fixed = {int(k): float(v) for k, v in fixed.items()}
        self.free = np.array([k for k in range(m) if k not in self.fixed], dtype=np.int64)

    def moments_of(self, p):
        """Dimensionless moments (m, ...) of weights p (m, ...) (one column per row when per-row)."""
        return self.V @ np.asarray(p, dtype=np.float64)

    def weights(self, theta):
        """The stencil weights (m,) or (m, n) for the free moments theta (m_free,) or (m_free, n)."""
        mom = np.zeros((self.V.shape[0],) + theta.shape[1:])
        for k, v in self.fixed.items():
            mom[k] = v
        mom[self.free] = theta
        return self.Vinv @ mom

    def pullback(self, g, shape):
        """dL/dtheta (of `shape`) from dL/dp (m, 1) or (m, n): the free rows of V^-T g."""
        g = np.asarray(g, dtype=np.float64).reshape(self.V.shape[0], -1)
        return (self.Vinv.T @ g)[self.free].reshape(shape)


class LearnedStencil:
    """u_{n+1} = (stride copies of one banded layer) u_n, fitted to trajectories.

    Parameters
    ----------
    nx : int
        Grid points of the periodic grid.
    width : int
        Stencil width of P (and Q), odd (3 or 5 are the studied ones), < nx.
    nonlinear : bool
        Add the Burgers branch Q (u^2 / 2).
    stride : int
        Layers per snapshot interval (the same layer repeated: a Chain of `stride` blocks).
    constraints : dict or None
        {"P": {k: m_k}, "Q": {k: m_k}} fixed dimensionless moments (see `CONSTRAINTS`); None
        trains every moment.
    dtype : float32 or float64
    per_row : bool
        One stencil per grid row (diagonals of shape (width, nx): width * nx weights per
        operator, no shift invariance assumed) instead of one constant stencil; the
        constraints then hold on every row and `coefficients` averages the rows.
    seed : int
        Draws a small jitter (1e-3) of the initial free moments around P = I, Q = 0.

    Attributes
    ----------
    chain : Chain
        The model in layer form (its Banded diagonals are the stencils).
    theta : list of ndarray
        The trained free moments, one array per operator (P, then Q), dtype of the model.
    nweights : int
        Stencil weights stored (width, or width * nx per row, per operator); `nfree` of them
        are trained.
    """

    def __init__(self, nx, width=3, nonlinear=False, stride=1, constraints=None, dtype=np.float64, per_row=False,
                 seed=0):
        if int(width) != width or width < 3 or width % 2 == 0 or width >= nx:
            raise ValueError(f"width = {width} must be an odd integer >= 3 and below nx = {nx}")
        if int(stride) != stride or stride < 1:
            raise ValueError(f"stride = {stride} must be a positive integer")
        dtype = backend.resolve_dtype(dtype)
        constraints = dict(constraints or {})
        unknown = set(constraints) - {"P", "Q"}
        if unknown or ("Q" in constraints and not nonlinear):
            raise ValueError(f"constraints name operators {sorted(constraints)}; this model has "
                             f"{['P', 'Q'] if nonlinear else ['P']}")
        offsets = np.arange(width) - width // 2
        eye = (offsets == 0).astype(np.float64)
        if per_row:
            eye = np.repeat(eye[:, None], nx, axis=1)
        P = Banded(offsets, eye, "periodic", n=nx, dtype=dtype)
        ops = [P]
        branches = []
        if nonlinear:
            Q = Banded(offsets, np.zeros_like(eye), "periodic", n=nx, dtype=dtype)
            branches = [(Q, "square_half", Banded([0], [1.0], "periodic", n=nx, dtype=dtype), None)]
            ops.append(Q)
        self.layer = Layer(P, branches)
        self.chain = Chain([self.layer] * int(stride))
        self.nx, self.width, self.nonlinear, self.stride = int(nx), int(width), bool(nonlinear), int(stride)
        self.dtype, self.per_row = dtype, bool(per_row)
        self.stencils = [_Stencil(op, constraints.get(name, {})) for name, op in zip("PQ", ops)]
        rng = np.random.default_rng(seed)
        self.theta = []
        for st in self.stencils:
            start = st.moments_of(st.op.diagonals if per_row else st.op.diagonals[:, 0])[st.free]
            self.theta.append(np.ascontiguousarray(start + 1e-3 * rng.standard_normal(start.shape), dtype=dtype))
        self._write()

    @property
    def nweights(self):
        return int(sum(st.op.diagonals.size for st in self.stencils))

    @property
    def nfree(self):
        return int(sum(t.size for t in self.theta))

    def _write(self):
        """Set the operators' diagonals from theta."""
        for st, th in zip(self.stencils, self.theta):
            st.op.diagonals[...] = st.weights(th).reshape(st.op.diagonals.shape)

    def set_free(self, flat):
        """Set every free moment from one flat vector (P's first)."""
        flat = np.asarray(flat, dtype=np.float64).reshape(-1)
        if flat.size != self.nfree:
            raise ValueError(f"{flat.size} values for {self.nfree} free moments")
        k = 0
        for th in self.theta:
            th[...] = flat[k:k + th.size].reshape(th.shape)
            k += th.size
        self._write()

    def get_free(self):
        """The free moments as one flat float64 vector."""
        return np.concatenate([t.astype(np.float64).reshape(-1) for t in self.theta])

    def _check_pairs(self, x, y):
        for name, a in (("inputs", x), ("targets", y)):
            if not hasattr(a, "ndim") or a.ndim != 2 or a.shape[1] != self.nx:
                raise ValueError(f"{name} have shape {getattr(a, 'shape', None)}; expected (N, {self.nx})")
        if x.shape != y.shape:
            raise ValueError(f"inputs {x.shape} and targets {y.shape} differ in shape")
        check_finite("inputs", x)
        check_finite("targets", y)
        return (np.ascontiguousarray(x, dtype=self.dtype), np.ascontiguousarray(y, dtype=self.dtype))

    def loss_and_grad(self, x, y):
        """L = mean((model(x) - y)^2) / 2 and dL/dtheta through the Chain's backward.

        Parameters
        ----------
        x, y : ndarray, shape (N, nx), the model's dtype: snapshots and their successors

        Returns
        -------
        loss : float
        grads : list of ndarray aligned with `theta` (float64)
        """
        x, y = self._check_pairs(x, y)
        out, cache = self.chain.forward(x)
        r = out - y
        loss = 0.5 * float(np.mean(r.astype(np.float64) ** 2))
        _, grads = self.chain.backward(cache, r / r.size)
        by_op = {id(p): g for p, g in zip(self.chain.params, grads)}
        return loss, [st.pullback(by_op[id(st.op.diagonals)], th.shape) for st, th in zip(self.stencils, self.theta)]

    def moments(self, kmax=2):
        """Row moments M_0..M_kmax of each trained operator with h = dx = 1 / nx (length^k).

        Returns
        -------
        dict {"P": ndarray (kmax + 1, nx), "Q": ...}: every row's moments (all rows equal for a
        constant stencil), from `Banded.moments`.
        """
        return {name: st.op.moments(1.0 / self.nx, kmax) for name, st in zip("PQ", self.stencils)}

    def coefficients(self, dt):
        """The PDE read back from the moments (formulas in the module docstring).

        Parameters
        ----------
        dt : float
            Time between the snapshots the model maps (time); tau = dt / stride.

        Returns
        -------
        dict: nu (length^2 / time), speed (U, or c for Burgers; length / time), rate (1 / time),
        nu_raw = M2(P) / (2 tau), each the mean over the rows; nu_spread and speed_spread, the
        largest relative deviation of a row from that mean (0 for a constant stencil); and the
        row-mean moments (dimensional, length^k).
        """
        tau = float(dt) / self.stride
        m = self.moments()
        M0, M1, M2 = m["P"]
        k1 = M1 / M0
        k2 = M2 / M0 - k1 * k1
        rows = {"nu": k2 / (2 * tau), "speed": -m["Q"][1] / tau if self.nonlinear else -k1 / tau,
                "rate": (M0 - 1) / tau, "nu_raw": M2 / (2 * tau)}
        out = {k: float(np.mean(v)) for k, v in rows.items()}
        for k in ("nu", "speed"):
            out[k + "_spread"] = float(np.abs(rows[k] - out[k]).max() / max(abs(out[k]), 1e-300))
        out["moments"] = {k: v.mean(axis=1).tolist() for k, v in m.items()}
        return out


def _features(model, x):
    """Least-squares design array (N, nx, m_P (+ m_Q)) of the stride-1 model in the stencil
    weights: the shifted states (and shifted u^2 / 2) that multiply each weight at each row."""
    offs = model.stencils[0].op.offsets
    cols = [np.roll(x, -o, axis=1) for o in offs]
    if model.nonlinear:
        f = 0.5 * x * x
        cols += [np.roll(f, -o, axis=1) for o in offs]
    return np.stack(cols, axis=2)


def _solve_free(model, A, y):
    """Least-squares free moments for design rows A (N', m_total) and targets y (N',)."""
    base, blocks, k = np.zeros(A.shape[0]), [], 0
    for st in model.stencils:
        cols = A[:, k:k + st.V.shape[0]]
        fixed = np.zeros(st.V.shape[0])
        for j, v in st.fixed.items():
            fixed[j] = v
        base += cols @ (st.Vinv @ fixed)
        blocks.append(cols @ st.Vinv[:, st.free])
        k += st.V.shape[0]
    B = np.concatenate(blocks, axis=1)
    scale = np.linalg.norm(B, axis=0)
    scale[scale == 0] = 1.0
    return np.linalg.lstsq(B / scale, y - base, rcond=None)[0] / scale


def _lstsq(model, x, y):
    """The exact least-squares fit in the free moments (stride 1), one solve, or one per row."""
    if model.stride != 1:
        raise ValueError(f"the least-squares fit is for stride 1 (the model is linear in its weights only then); "
                         f"this model has stride {model.stride}: use method 'lbfgs' or 'adam'")
    A = _features(model, x.astype(np.float64))
    y64 = y.astype(np.float64)
    if not model.per_row:
        theta = _solve_free(model, A.reshape(-1, A.shape[2]), y64.reshape(-1))
        model.set_free(theta)
        return 1
    per_row = np.stack([_solve_free(model, A[:, i, :], y64[:, i]) for i in range(model.nx)], axis=1)
    k = 0
    for th in model.theta:
        th[...] = per_row[k:k + th.shape[0]]
        k += th.shape[0]
    model._write()
    return model.nx


def fit(model, data, method="lbfgs", steps=500, lr=1e-3, progress=False):
    """Fit `model` to the snapshot pairs of `data`.

    Parameters
    ----------
    model : LearnedStencil
    data : Trajectories
        Its grid must match model.nx; Burgers data needs a nonlinear model.
    method : {"lstsq", "lbfgs", "adam"}
        "lstsq": the exact linear least-squares solution (stride 1; per row for a per-row
        model, iterations then counts the row solves); "lbfgs": SciPy L-BFGS-B on
        the free moments with the Chain's gradient; "adam": `fastdds.optim.Adam` on them.
    steps : int
        Iterations (L-BFGS) or updates (Adam).
    lr : float
        Adam's learning rate (the moments are dimensionless, O(1) for m_0).
    progress : bool

    Returns
    -------
    dict: loss (final), iterations, seconds (wall time of the fit), and `model.coefficients`.
    """
    if not isinstance(data, Trajectories):
        raise ValueError(f"data must be Trajectories (advection_diffusion_data, burgers_data); got {type(data).__name__}")
    if data.u.shape[2] != model.nx:
        raise ValueError(f"data have {data.u.shape[2]} grid points but the model {model.nx}")
    if data.case == "burgers" and not model.nonlinear:
        raise ValueError("Burgers data need the nonlinear model (LearnedStencil(..., nonlinear=True))")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps = {steps} must be a positive integer")
    x, y = model._check_pairs(*data.pairs)
    t0 = time.perf_counter()
    bar = Progress(int(steps), f"learned stencil ({method})", enabled=progress)
    if method == "lstsq":
        iterations = _lstsq(model, x, y)
    elif method == "lbfgs":
        def fg(flat):
            model.set_free(flat)
            loss, g = model.loss_and_grad(x, y)
            return loss, np.concatenate([gk.reshape(-1) for gk in g])

        count = [0]

        def tick(_):
            count[0] += 1
            bar.update(count[0])

        res = optim.lbfgs(fg, model.get_free(), maxiter=int(steps), callback=tick)
        model.set_free(res.x)
        iterations = int(res.nit)
    else:
        opt = optim.Adam(model.theta, lr=lr)
        for k in range(int(steps)):
            loss, g = model.loss_and_grad(x, y)
            opt.step(g)
            model._write()
            bar.update(k + 1, loss=loss)
        iterations = int(steps)
    seconds = time.perf_counter() - t0
    bar.close()
    loss, _ = model.loss_and_grad(x, y)
    return dict(model.coefficients(data.dt), loss=loss, iterations=iterations, seconds=seconds)
