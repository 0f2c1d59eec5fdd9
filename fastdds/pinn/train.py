"""Training loop: full-batch Adam on a schedule, then (optionally) L-BFGS-B, with checkpoints.

Training is full batch and deterministic (no random state after the points are drawn), so a
checkpoint holds everything the continuation needs: the parameters, Adam's moments and step
count, and the loss history. Resuming an Adam phase from a checkpoint reproduces the
uninterrupted run bit for bit (same machine, same BLAS threads). An L-BFGS phase interrupted
part-way restarts L-BFGS from the saved parameters with the iterations left (SciPy's
curvature pairs are not saved), so that continuation is close to, not identical with, the
uninterrupted run.

A finished Adam phase can be extended: call again with more `adam_steps` and ``resume=True``
(Adam ends for good once L-BFGS has taken a step).

Checkpoints are written atomically (`fastdds.io.save_checkpoint`) every `checkpoint_every`
steps, at the end of each phase, and on Ctrl-C.

An optional `evaluate` hook (e.g. the error against an exact solution) is called on the
network every `evaluate_every` Adam steps or L-BFGS iterations, before the first step and at
the end; its results go into the history (``evaluations``) with the training wall time and the
number of loss-and-gradient evaluations so far. The hook only reads the network: the losses
and parameters are bit-identical with and without it, and its own run time is not counted in
the wall time.
"""

import time
from pathlib import Path

import numpy as np

from .. import io, optim
from ..progress import Progress
from .loss import loss_and_grads


class _State:
    """Mutable record of a training run (what a checkpoint holds)."""

    def __init__(self):
        self.lbfgs_iters, self.wall, self.initial = 0, 0.0, None
        self.loss_adam, self.loss_lbfgs, self.parts = [], [], {}
        self.lbfgs_message, self.t0 = "", 0.0
        self.grad_evals, self.evaluations = 0, []


def _save(path, net, opt, st):
    io.save_training_state(path, net.params, opt,
                           {"model": type(net).__name__, "config": net.config(),
                            "lbfgs_iters": st.lbfgs_iters, "wall_time": st.wall, "initial": st.initial,
                            "parts": st.parts, "lbfgs_message": st.lbfgs_message,
                            "grad_evals": st.grad_evals, "evaluations": st.evaluations},
                           {"history.adam": np.asarray(st.loss_adam, dtype=np.float64),
                            "history.lbfgs": np.asarray(st.loss_lbfgs, dtype=np.float64)})


def _load(path, net, opt, st):
    arrays, meta = io.load_training_state(path, net.params, opt)
    st.loss_adam = arrays["history.adam"].tolist()
    st.loss_lbfgs = arrays["history.lbfgs"].tolist()
    st.lbfgs_iters, st.wall, st.initial = int(meta["lbfgs_iters"]), float(meta["wall_time"]), meta["initial"]
    st.parts, st.lbfgs_message = meta["parts"], meta["lbfgs_message"]
    st.grad_evals, st.evaluations = int(meta.get("grad_evals", 0)), list(meta.get("evaluations", []))


def train(net, problem, adam_steps=0, lr=1e-3, lbfgs_maxiter=0, lbfgs_options=None, checkpoint=None,
          checkpoint_every=1000, resume=False, progress=True, desc="train", evaluate=None, evaluate_every=100):
    """Train `net` on `problem`: `adam_steps` Adam steps, then L-BFGS-B for `lbfgs_maxiter` iterations.

    Parameters
    ----------
    net : fastdds.nn.mlp.MLP
        Updated in place.
    problem : fastdds.pinn.problems.Problem
        Point sets in the network's dtype.
    adam_steps : int
        Total Adam steps (including those done before a resume).
    lr : float or callable(step) -> float
        Adam learning rate or schedule (``fastdds.optim.piecewise_constant`` ...).
    lbfgs_maxiter : int
        0 skips L-BFGS.
    lbfgs_options : dict, optional
        Passed to `fastdds.optim.lbfgs`.
    checkpoint : str or Path, optional
        Checkpoint file (.npz); written every `checkpoint_every` Adam steps or L-BFGS iterations,
        after each phase and on Ctrl-C.
    checkpoint_every : int
    resume : bool
        Continue from `checkpoint` if it exists (a run that never wrote one starts afresh).
    progress : bool
        Show a progress line on stderr.
    desc : str
        Label of the progress line.
    evaluate : callable(net) -> dict of float, optional
        Called before the first step, every `evaluate_every` Adam steps and L-BFGS iterations,
        and at the end (the network at those parameters; it must not change them).
    evaluate_every : int
        Steps (Adam) or iterations (L-BFGS) between evaluations.

    Returns
    -------
    dict
        ``loss_adam`` (ndarray, loss before each Adam step), ``loss_lbfgs`` (ndarray, loss after
        each L-BFGS iteration), ``initial_loss``, ``final_loss``, ``parts`` (last loss per group), ``adam_steps``,
        ``lbfgs_iters``, ``lbfgs_message``, ``wall_time`` (s, summed over resumes), ``grad_evals``
        (loss-and-gradient evaluations of the training, the initial one included, the final one
        not), and with `evaluate` ``evaluations``: a list of dicts adam_steps, lbfgs_iters,
        grad_evals, wall_time (training seconds up to that point, the evaluations' own time left
        out) and the hook's results.

    Raises
    ------
    KeyboardInterrupt
        After writing a checkpoint (when `checkpoint` is given).
    """
    if adam_steps < 0 or lbfgs_maxiter < 0 or checkpoint_every < 1 or evaluate_every < 1:
        raise ValueError(f"adam_steps={adam_steps}, lbfgs_maxiter={lbfgs_maxiter} must be >= 0 and "
                         f"checkpoint_every={checkpoint_every}, evaluate_every={evaluate_every} >= 1")
    _check_points(net, problem)
    opt = optim.Adam(net.params, lr)
    st = _State()
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        _load(checkpoint, net, opt, st)
    bar = Progress(adam_steps + lbfgs_maxiter, desc, enabled=progress, start=len(st.loss_adam) + st.lbfgs_iters)
    st.t0 = time.perf_counter()

    def save():
        now = time.perf_counter()
        st.wall, st.t0 = st.wall + now - st.t0, now
        if checkpoint is not None:
            _save(checkpoint, net, opt, st)

    def record():
        """Run the hook (when given and not run at this step yet), its time off the clock."""
        steps = (opt.step_count, st.lbfgs_iters)
        if evaluate is None or (st.evaluations and
                                (st.evaluations[-1]["adam_steps"], st.evaluations[-1]["lbfgs_iters"]) == steps):
            return
        start = time.perf_counter()
        values = evaluate(net)
        st.evaluations.append({"adam_steps": steps[0], "lbfgs_iters": steps[1], "grad_evals": st.grad_evals,
                               "wall_time": st.wall + start - st.t0, **values})
        st.t0 += time.perf_counter() - start

    updating = False
    try:
        if st.initial is None:
            st.initial = loss_and_grads(net, problem)[0]
            st.grad_evals += 1
        record()
        while opt.step_count < adam_steps and not st.lbfgs_iters:
            loss, st.parts, grads = loss_and_grads(net, problem)
            updating = True
            opt.step(grads)
            st.loss_adam.append(loss)
            st.grad_evals += 1
            updating = False
            bar.update(opt.step_count, loss=loss, lr=opt.schedule(opt.step_count - 1))
            if opt.step_count % evaluate_every == 0:
                record()
            if opt.step_count % checkpoint_every == 0:
                save()
        record()
        save()
        if st.lbfgs_iters < lbfgs_maxiter and not st.lbfgs_message:
            _run_lbfgs(net, problem, lbfgs_maxiter, lbfgs_options or {}, st, bar, checkpoint_every, save,
                       evaluate_every, record)
            record()
            save()
    except KeyboardInterrupt:
        if not updating:
            save()
        raise
    finally:
        bar.close()
    final, st.parts, _ = loss_and_grads(net, problem)
    hist = {"loss_adam": np.asarray(st.loss_adam), "loss_lbfgs": np.asarray(st.loss_lbfgs),
            "initial_loss": st.initial, "final_loss": final,
            "parts": st.parts, "adam_steps": opt.step_count, "lbfgs_iters": st.lbfgs_iters,
            "lbfgs_message": st.lbfgs_message, "wall_time": st.wall, "grad_evals": st.grad_evals}
    if evaluate is not None:
        hist["evaluations"] = st.evaluations
    return hist


def _check_points(net, problem):
    """Every group's points must match the network's input width and dtype."""
    d_in, dtype = net.n_in, net.dtype
    for g in problem.groups:
        if g.X.shape[1] != d_in:
            raise ValueError(f"group {g.name!r} has points of {g.X.shape[1]} coordinates but the network takes {d_in}")
        if g.X.dtype != dtype:
            raise ValueError(f"group {g.name!r} points are {g.X.dtype} but the network is {dtype}; "
                             f"train on problem.astype(np.{dtype})")


def _run_lbfgs(net, problem, maxiter, options, st, bar, every, save, evaluate_every, record):
    """L-BFGS-B on the flat parameter vector for the iterations left; keeps `st` current.

    Calls `save` every `every` iterations and `record` every `evaluate_every` iterations with
    the parameters at the accepted iterate (the next loss evaluation sets its own, so this
    changes nothing); on Ctrl-C the parameters are put back to that iterate before re-raising.
    """
    last = [net.get_flat()]

    def fun_and_grad(x):
        net.set_flat(x)
        loss, _, grads = loss_and_grads(net, problem)
        st.grad_evals += 1
        return loss, net.grads_to_flat(grads)

    def callback(intermediate_result):
        last[0] = intermediate_result.x.copy()
        st.lbfgs_iters += 1
        st.loss_lbfgs.append(float(intermediate_result.fun))
        bar.update(bar.n + 1, loss=float(intermediate_result.fun))
        if st.lbfgs_iters % evaluate_every == 0:
            net.set_flat(last[0])
            record()
        if st.lbfgs_iters % every == 0:
            net.set_flat(last[0])
            save()

    try:
        result = optim.lbfgs(fun_and_grad, last[0], maxiter=maxiter - st.lbfgs_iters, callback=callback, **options)
    except KeyboardInterrupt:
        net.set_flat(last[0])
        raise
    net.set_flat(result.x)
    st.lbfgs_message = str(result.message)
