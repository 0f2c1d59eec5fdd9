"""What K explicit Euler steps do over their horizon: the Euler trajectory against a reference
solution of the same ODE, the largest step that stays within a tolerance of the flow, whether
the steps diverge, and the finite-horizon amplification of the step Jacobians.

A layer of n independent neurons with a d-component state each (FHN: d = 2, [v, w]) takes K
Euler steps of size dt (per neuron) from x_0 to x_K, the flow's state at t_end = K dt. The
numbers here measure that map on given inputs, not a fixed point's linearisation: a local Euler
radius above 1 at a weakly damped oscillatory state (eigenvalues -eps +- i omega, radius <= 1
only for dt <= 2 eps / (eps^2 + omega^2)) says little about K finite steps.

- Reference: Euler with s and 2s substeps per layer step (s = 64, quadrupled while the two
  disagree by more than `tol` / 4 somewhere on the horizon, within a work limit), combined by
  Richardson extrapolation 2 x_(2s) - x_(s) (second order); `reference_error` is
  max_k |x_(2s) - x_(s)| on the error scale below, the error of the 2s-substep Euler itself and
  so an upper estimate of the extrapolated reference's.
- Error per neuron j: || x_K^Euler - x(t_end) || / max_k || x(t_k) ||, norms over the samples and
  the d components, t_k = k dt (k = 0..K): the output's error on the scale of the flow's states
  over the horizon (a final state that decays to zero is not divided by zero).
- Largest dt: with t_end fixed, the fewest steps K' (dt' = t_end / K') whose error stays within
  `tol` for every neuron, by doubling or halving from K and then bisection (on a log scale) down
  to one step.
- Amplification: per (sample, neuron), prod_k ||J_k||_2 over the K step Jacobians along the
  Euler trajectory (an upper bound), and ||J_{K-1} ... J_0||_2 (the actual growth of a small
  perturbation of x_0), each reported as the maximum over the samples.

All arithmetic is float64 on the host.
"""

from dataclasses import dataclass, field

import numpy as np

SUBSTEPS = 64
MAX_SUBSTEPS = 4096
WORK = 2e8  # element-steps (sample x neuron x Euler step) one step-search evaluation may take; the reference 4x
GROWTH = 100.0  # an Euler state this many times the flow's scale counts as diverging
FORGETS = 1e-3  # a flow whose output is below this fraction of its scale is said to decay (in the verdict)


@dataclass
class HorizonReport:
    """What `euler_horizon` found; per-neuron arrays have shape (n,).

    Attributes
    ----------
    dt : ndarray (n,)
        The layer's Euler step.
    steps : int
        K.
    t_end : ndarray (n,)
        K dt, the horizon (same time units as dt).
    tol : float
        The tolerance on the error (relative, see the module docstring).
    error : ndarray (n,)
        Error of the layer's output per neuron at its dt (inf where Euler overflowed).
    trajectory_error : ndarray (n,)
        The same error at every t_k = k dt, its maximum over k = 0..K.
    flow_output : ndarray (n,)
        ||x(t_end)|| / max_k ||x(t_k)||: how much of the flow's scale is left at the output
        (near 0: the flow itself forgets its input over the horizon).
    diverges : bool
        The Euler trajectory overflowed to inf/NaN, or reached `GROWTH` times the flow's scale.
    overflow_fraction : float
        Fraction of (sample, neuron) trajectories that overflowed.
    steps_needed : int or None
        The fewest steps over t_end that keep every neuron within `tol` (None: none up to
        `max_steps`).
    dt_max : ndarray (n,) or None
        t_end / steps_needed, the largest such dt per neuron.
    max_steps : int
        The largest step count the search tried.
    amplification : ndarray (n,)
        max over samples of prod_k ||J_k||_2 (inf where the trajectory overflowed).
    sensitivity : ndarray (n,)
        max over samples of ||J_{K-1} ... J_0||_2.
    substeps : int
        s of the reference (Euler with s and 2s substeps, Richardson-extrapolated).
    reference_error : float
        Estimated error of the reference on the error scale (largest over neurons).
    notes : tuple of str
        Extra data lines from the caller (e.g. the fixed-point Euler radius).
    message : str
        The verdict, one sentence.
    """

    dt: np.ndarray
    steps: int
    t_end: np.ndarray
    tol: float
    error: np.ndarray
    trajectory_error: np.ndarray
    flow_output: np.ndarray
    diverges: bool
    overflow_fraction: float
    steps_needed: object
    dt_max: object
    max_steps: int
    amplification: np.ndarray
    sensitivity: np.ndarray
    substeps: int
    reference_error: float
    notes: tuple = field(default_factory=tuple)
    message: str = ""

    @property
    def within_tol(self):
        """Whether every neuron's error at the layer's dt is within `tol`."""
        return bool(np.all(self.error <= self.tol))

    def lines(self):
        """The verdict, then one line of numbers, then the caller's notes."""
        data = (f"output error per neuron: max {self.error.max():.3g}, median {np.median(self.error):.3g}; along "
                f"the trajectory: max {self.trajectory_error.max():.3g}; flow's output / its scale: min "
                f"{self.flow_output.min():.3g}; amplification over the {self.steps} steps: prod ||J_k|| up to "
                f"{self.amplification.max():.3g}, ||J_K ... J_1|| up to {self.sensitivity.max():.3g}; reference: "
                f"Euler with {self.substeps} and {2 * self.substeps} substeps, Richardson-extrapolated (estimated "
                f"error {self.reference_error:.2g})")
        return [self.message, data, *self.notes]

    def to_dict(self):
        """The numbers as JSON-ready Python values (per-neuron arrays as lists)."""
        def plain(v):
            if isinstance(v, np.ndarray):
                return [None if not np.isfinite(x) else float(x) for x in v.ravel()]
            if isinstance(v, float) and not np.isfinite(v):
                return None
            return v
        keys = ("dt", "steps", "t_end", "tol", "error", "trajectory_error", "flow_output", "diverges",
                "overflow_fraction", "steps_needed", "dt_max", "max_steps", "amplification", "sensitivity", "substeps",
                "reference_error", "message")
        return {k: plain(getattr(self, k)) for k in keys} | {"notes": list(self.notes)}

    def __str__(self):
        return "\n".join(self.lines())


def _sq(state):
    """Per-neuron sum of squares over samples and components: (n,)."""
    return sum((c * c).sum(axis=0) for c in state)


def _ratio(num, scale):
    """num / scale per neuron: inf where num is not finite, 0 / 0 = 0 (a state that stays at zero)."""
    with np.errstate(all="ignore"):
        num = np.where(np.isfinite(num), num, np.inf)
        return np.divide(num, scale, out=np.where(num > 0, np.inf, 0.0), where=scale > 0)


def _scaled_error(a, b, scale):
    """Per-neuron ||a - b|| / scale (norms over samples and components)."""
    with np.errstate(all="ignore"):
        return _ratio(np.sqrt(_sq(tuple(x - y for x, y in zip(a, b)))), scale)


def _reference(advance, x0, dt, steps, tol, budget):
    """Richardson-extrapolated fine Euler at t_k = k dt: (states k = 0..K, scale (n,), substeps, error)."""
    s = SUBSTEPS
    while True:
        coarse, fine, ref, diff = x0, x0, [x0], []
        for _ in range(steps):
            coarse, fine = advance(coarse, dt / s, s), advance(fine, dt / (2 * s), 2 * s)
            with np.errstate(all="ignore"):
                ref.append(tuple(2 * f - c for f, c in zip(fine, coarse)))
                diff.append(_sq(tuple(f - c for f, c in zip(fine, coarse))))
        scale = np.sqrt(np.max([_sq(r) for r in ref], axis=0))
        est = float(_ratio(np.sqrt(np.max(diff, axis=0)), scale).max())
        if (est <= tol / 4 and np.isfinite(scale).all()) or 4 * s > MAX_SUBSTEPS or 12 * s * steps > budget:
            return ref, scale, s, est
        s *= 4


def _amplification(states, dt, jacobian):
    """max over samples of prod ||J_k||_2 and of ||prod J_k||_2, per neuron."""
    log_amp, prod = None, None
    with np.errstate(all="ignore"):
        for state in states[:-1]:
            J = jacobian(state, dt)
            ok = np.isfinite(J).all(axis=(-2, -1))
            norm = np.full(ok.shape, np.inf)
            norm[ok] = np.linalg.norm(J[ok], 2, axis=(-2, -1))
            log_amp = np.log(norm) if log_amp is None else log_amp + np.log(norm)
            prod = J if prod is None else J @ prod
        ok = np.isfinite(prod).all(axis=(-2, -1))
        sens = np.full(ok.shape, np.inf)
        sens[ok] = np.linalg.norm(prod[ok], 2, axis=(-2, -1))
        return np.exp(log_amp).max(axis=0), sens.max(axis=0)


def _fewest_steps(err, steps, tol, max_steps):
    """The fewest steps m <= max_steps with err(m) <= tol (err assumed to fall with m), or None."""
    ok, fail = (steps, None) if err(steps) <= tol else (None, steps)
    while ok is None and 2 * fail <= max_steps:
        ok, fail = (2 * fail, fail) if err(2 * fail) <= tol else (None, 2 * fail)
    while fail is None and ok > 1:
        half = ok // 2
        ok, fail = (half, None) if err(half) <= tol else (ok, half)
    if ok is None:
        return None
    while fail is not None and ok - fail > 1:
        mid = min(max(int(round(np.sqrt(ok * fail))), fail + 1), ok - 1)
        ok, fail = (mid, fail) if err(mid) <= tol else (ok, mid)
    return ok


def _fmt_dt(dt):
    lo, hi = float(dt.min()), float(dt.max())
    return f"{hi:.3g}" if f"{lo:.3g}" == f"{hi:.3g}" else f"{lo:.3g}..{hi:.3g}"


def _pct(x):
    return "inf" if not np.isfinite(x) else f"{100 * x:.3g}%"


def verdict(r):
    """The one-sentence verdict of a HorizonReport's numbers (see `euler_horizon`)."""
    at = f"dt = {_fmt_dt(r.dt)} ({r.steps} steps to t = {_fmt_dt(r.t_end)})"
    tol = f"{100 * r.tol:.3g}%"
    if r.dt_max is None:
        bound = (f"no dt down to {_fmt_dt(r.t_end / r.max_steps)} ({r.max_steps} steps) brings every neuron's output "
                 f"within {tol} of the flow")
    elif r.steps_needed == 1:
        bound = f"a single step over the whole horizon keeps every neuron's output within {tol} of the flow"
    else:
        bound = (f"dt <= {_fmt_dt(r.dt_max)} ({r.steps_needed} steps) keeps every neuron's output within {tol} "
                 f"of the flow")
    if r.diverges:
        what = ("inf/NaN on " + _pct(r.overflow_fraction) + " of the (input, neuron) trajectories"
                if r.overflow_fraction > 0 else f"its states grow past {GROWTH:g} times the flow's scale")
        return f"Explicit Euler diverges at {at}: {what}; {bound}."
    aside = [] if r.error.size == 1 else [f"median {_pct(np.median(r.error))}"]
    if r.trajectory_error.max() > max(r.tol, 2 * r.error.max()):
        aside.append(f"up to {_pct(r.trajectory_error.max())} along the way")
    if r.flow_output.min() < FORGETS:
        aside.append(f"the flow itself decays to {r.flow_output.min():.2g} of its scale")
    aside = f" ({'; '.join(aside)})" if aside else ""
    if r.within_tol:
        return (f"Explicit Euler matches the flow's output at {at}: error at most {_pct(r.error.max())} per "
                f"neuron{aside}; {bound}.")
    return (f"Explicit Euler stays bounded but misses the flow's output at {at}: error up to {_pct(r.error.max())} "
            f"per neuron{aside}, above the {tol} tolerance; {bound}.")


def euler_horizon(advance, x0, dt, steps, jacobian, tol=1e-2, notes=()):
    """Finite-horizon accuracy of K explicit Euler steps on given inputs.

    Parameters
    ----------
    advance : callable(state, h, m) -> state
        m explicit Euler steps of size h (ndarray (n,), one per neuron) from state, a tuple of d
        float64 arrays (batch, n); must propagate inf/NaN rather than raise.
    x0 : tuple of d ndarrays (batch, n)
        The initial states (float64).
    dt : ndarray (n,)
        The layer's step (positive).
    steps : int
        K.
    jacobian : callable(state, h) -> ndarray (batch, n, d, d)
        The Jacobian of one Euler step of size h at each (sample, neuron) state.
    tol : float
        Tolerance on the error per neuron (relative to the flow's scale), in (0, 1].
    notes : sequence of str
        Extra data lines to carry in the report.

    Returns
    -------
    HorizonReport
    """
    tol = float(tol)
    if not 0.0 < tol <= 1.0:
        raise ValueError(f"tol = {tol}; give a relative tolerance in (0, 1], e.g. 0.01")
    x0 = tuple(np.ascontiguousarray(c, dtype=np.float64) for c in x0)
    dt = np.asarray(dt, dtype=np.float64)
    steps = int(steps)
    if x0[0].size == 0:
        raise ValueError("the horizon analysis needs at least one input")
    elements = x0[0].size
    states = [x0]
    for _ in range(steps):
        states.append(advance(states[-1], dt, 1))
    t_end = steps * dt
    budget = max(4 * WORK, 3.0 * SUBSTEPS * steps * elements)
    refs, scale, substeps, ref_err = _reference(advance, x0, dt, steps, tol, budget / elements)
    max_steps = max(steps, int(min(steps * 4096, WORK / elements)))
    along = np.max([_scaled_error(e, r, scale) for e, r in zip(states, refs)], axis=0)
    decay = _ratio(np.sqrt(_sq(refs[-1])), scale)

    errors = {steps: _scaled_error(states[-1], refs[-1], scale)}

    def err(m):
        if m not in errors:
            errors[m] = _scaled_error(advance(x0, t_end / m, m), refs[-1], scale)
        return float(errors[m].max())

    needed = _fewest_steps(err, steps, tol, max_steps)
    with np.errstate(all="ignore"):
        finite = np.logical_and.reduce([np.isfinite(c) for s in states for c in s])
        overflow = float(1.0 - finite.mean())
        grown = np.sqrt(np.max([_sq(x) for x in states], axis=0)) > GROWTH * scale
    amp, sens = _amplification(states, dt, jacobian)
    r = HorizonReport(dt=dt, steps=steps, t_end=t_end, tol=tol, error=errors[steps], trajectory_error=along,
                      flow_output=decay,
                      diverges=bool(overflow > 0 or (np.isfinite(scale) & grown).any()), overflow_fraction=overflow,
                      steps_needed=needed, dt_max=None if needed is None else t_end / needed, max_steps=max_steps,
                      amplification=amp, sensitivity=sens, substeps=substeps, reference_error=ref_err,
                      notes=tuple(notes))
    r.message = verdict(r)
    return r
