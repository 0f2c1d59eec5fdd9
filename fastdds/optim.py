"""Optimisers: Adam with learning-rate schedules, and L-BFGS through SciPy.

Both work on lists of parameter arrays updated in place (``net.params``) and take gradients
as lists aligned with them; no autodiff framework is involved.
"""

import numpy as np
import scipy.optimize

from . import backend


def constant(lr):
    """Schedule returning `lr` at every step."""
    lr = float(lr)
    return lambda step: lr


def piecewise_constant(boundaries, values):
    """Schedule: values[0] before boundaries[0], values[k] from boundaries[k-1] on.

    Parameters
    ----------
    boundaries : sequence of int, increasing, length K
    values : sequence of float, length K + 1
    """
    b = np.asarray(boundaries)
    if len(values) != b.size + 1 or np.any(np.diff(b) <= 0):
        raise ValueError("piecewise_constant needs increasing boundaries and one more value than boundaries")
    vals = [float(v) for v in values]
    return lambda step: vals[int(np.searchsorted(b, step, side="right"))]


def exponential_decay(lr0, rate, steps, staircase=False):
    """Schedule lr0 * rate ** (step / steps) (floor of the exponent when `staircase`)."""
    def schedule(step):
        e = step / steps
        return float(lr0) * float(rate) ** (np.floor(e) if staircase else e)
    return schedule


class Adam:
    """Adam (Kingma & Ba) with optional L2 weight decay added to the gradient (PyTorch's Adam).

    Parameters
    ----------
    params : list of ndarrays
        Updated in place; any shapes, C-contiguous, all float32 or all float64.
    lr : float or callable(step) -> float
        Learning rate or schedule; the step passed is the number of updates done so far.
    betas : (float, float)
    eps : float
    weight_decay : float
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = list(params)
        if any(not p.flags.c_contiguous for p in self.params) or len({p.dtype for p in self.params}) > 1:
            raise ValueError("Adam updates its parameters in place through flat views, in one call: pass "
                             "C-contiguous arrays of one dtype (np.ascontiguousarray, .astype)")
        self.schedule = lr if callable(lr) else constant(lr)
        self.beta1, self.beta2 = (float(b) for b in betas)
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise ValueError(f"Adam betas must lie in [0, 1); got {betas}")
        self.eps, self.weight_decay = float(eps), float(weight_decay)
        lr0 = float(self.schedule(0))
        if not (np.isfinite(lr0) and lr0 >= 0):
            raise ValueError(f"Adam learning rate is {lr0}; it must be a finite number >= 0 (e.g. lr=1e-3)")
        if not (np.isfinite(self.eps) and self.eps > 0 and np.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"Adam eps = {eps} must be finite and > 0 and weight_decay = {weight_decay} finite and >= 0")
        self.m = [backend.array_module(p).zeros_like(p) for p in self.params]
        self.v = [backend.array_module(p).zeros_like(p) for p in self.params]
        self.step_count = 0
        self._flat = tuple(tuple(x.reshape(-1) for x in group) for group in (self.params, self.m, self.v))

    @property
    def lr(self):
        """Learning rate of the next step."""
        return self.schedule(self.step_count)

    def step(self, grads):
        """Apply one update with `grads` (list aligned with params)."""
        if len(grads) != len(self.params):
            raise ValueError(f"{len(grads)} gradients for {len(self.params)} parameters")
        for p, g in zip(self.params, grads):
            if g.shape != p.shape:
                raise ValueError(f"gradient of shape {g.shape} for a parameter of shape {p.shape}")
        lr = self.lr
        self.step_count += 1
        update = backend.kernels("optim", like=self.params[0]).adam_update
        # One call per array, each with 1-tuples: the kernel takes tuples, and a tuple of k arrays
        # is a type of its own, so one call over all of them compiled once per parameter count
        # (11 forms, 10.5 s, in the cold test suite's compile log); a call costs under a microsecond.
        for p, m, v, g in zip(*self._flat, grads):
            update((p,), (g.reshape(-1).astype(p.dtype, copy=False),), (m,), (v,), lr, self.beta1, self.beta2,
                   self.eps, self.weight_decay, self.step_count)

    def state_dict(self):
        """Moments and step count as a dict of arrays (for `fastdds.io.save_checkpoint`)."""
        state = {"adam.step": np.array(self.step_count)}
        for i, (m, v) in enumerate(zip(self.m, self.v)):
            state[f"adam.m.{i}"], state[f"adam.v.{i}"] = m, v
        return state

    def load_state_dict(self, state):
        """Restore what `state_dict` returned (host or device arrays)."""
        self.step_count = int(state["adam.step"])
        for i, (m, v) in enumerate(zip(self.m, self.v)):
            m[...] = backend.array_module(m).asarray(state[f"adam.m.{i}"])
            v[...] = backend.array_module(v).asarray(state[f"adam.v.{i}"])


def lbfgs(fun_and_grad, x0, maxiter=1000, callback=None, **options):
    """Minimise with SciPy's L-BFGS-B on a flat float64 vector.

    Parameters
    ----------
    fun_and_grad : callable(x) -> (float, ndarray)
        Loss and its gradient (hand-written), x of shape (n,), float64.
    x0 : ndarray, shape (n,)
    maxiter : int
    callback : callable(x), optional
        Called after each iteration.
    **options
        Passed to scipy.optimize.minimize's options; defaults maxcor=50, maxls=50 and
        ftol=machine epsilon, as in Raissi et al.'s code, and gtol=0 (stop on maxiter or no
        progress) where that code kept SciPy's 1e-5 (see ``fastdds.pinn.reproduce``).

    Returns
    -------
    scipy.optimize.OptimizeResult
    """
    opts = {"maxiter": int(maxiter), "maxfun": int(maxiter * 5 // 4) + 1, "maxcor": 50, "maxls": 50,
            "ftol": float(np.finfo(np.float64).eps), "gtol": 0.0}
    opts.update(options)

    def fg(x):
        f, g = fun_and_grad(x)
        return float(f), np.asarray(backend.to_numpy(g), dtype=np.float64)

    return scipy.optimize.minimize(fg, np.asarray(x0, dtype=np.float64), jac=True, method="L-BFGS-B",
                                   callback=callback, options=opts)
