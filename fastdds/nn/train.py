"""Mini-batch training of any Block (MSE, Adam with L2 weight decay, early stopping): a model
(NODE, CfC, DynPMNN, the residual nets, an MLP Chain) or a bare Layer or Chain, e.g. one whose
Banded diagonals are to be learned from input/output pairs of a scheme.

`fit` follows the published California Housing protocol: shuffled mini-batches, MSE loss
(mean over the batch), Adam with weight decay added to the gradient, validation MSE after each
epoch, early stopping when it has not improved by more than `min_delta` for `patience`
epochs, and the weights of the best epoch restored. "Improved" means below the best value so
far minus `min_delta` (Keras' rule), and the best weights are those of the last improving epoch.
After every epoch the whole state (parameters, Adam moments, best weights, counters, history,
RNG state) is checkpointed atomically (`fastdds.io.save_training_state`), so ``resume=True``
continues exactly where it stopped; a model with `config()` also stores its class name and
config (meta keys "model" and "config"), so `fastdds.models.load_model` can rebuild it.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from .. import io
from ..optim import Adam
from ..progress import Progress
from ..validation import check_finite


def predict(model, X, batch=4096):
    """Block output for X (rows, n_in) in chunks of `batch` rows: ndarray (rows, n_out)."""
    return np.concatenate([model(X[i:i + batch]) for i in range(0, X.shape[0], batch)], axis=0)


def mse(model, X, Y):
    """Mean squared error of the model on (X, Y); NaN when the output is not finite."""
    with np.errstate(all="ignore"):
        return float(np.mean((predict(model, X) - Y) ** 2))


def metrics(model, X, Y):
    """Test metrics: {"rmse": ..., "r2": ..., "mse": ...}."""
    m = mse(model, X, Y)
    return {"mse": m, "rmse": float(np.sqrt(m)), "r2": float(1.0 - m / np.var(Y))}


@dataclass
class History:
    """What `fit` did: per-epoch train and validation MSE, epoch times, best epoch, stop reason."""

    train_mse: list = field(default_factory=list)
    val_mse: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    best_epoch: int = -1
    best_val: float = float("inf")
    wait: int = 0
    stopped: str = ""

    def as_meta(self):
        """The fields as a JSON-serialisable dict (stored in checkpoints)."""
        return dict(self.__dict__)


def _batch_step(model, X, Y, idx, opt):
    y, cache = model.forward(X[idx])
    err = y - Y[idx]
    sse = float(np.sum(err * err))
    if not np.isfinite(sse):
        return sse  # diverged: no update; fit stops the run after this epoch
    _, grads = model.backward(cache, (2.0 / idx.size) * err)
    opt.step(grads)
    return sse


def fit(model, train, val, lr=5e-4, batch=32, epochs=100, weight_decay=5e-3, patience=10, min_delta=0.05,
        seed=0, checkpoint=None, resume=False, progress=True, desc="train"):
    """Train `model` in place by mini-batch Adam on the MSE loss with early stopping.

    The loss of a batch is the sum of squared errors over its outputs divided by its rows (for
    one output, the mean squared error); the reported MSEs are means over every entry.

    Parameters
    ----------
    model : Block (params, forward, backward); a `train_epoch(X, Y, order, batch, opt)` method,
        when present and not returning None, runs a whole epoch in one kernel.
    train, val : (X, Y) with X (rows, model.n_in), Y (rows, model.n_out), the model's dtype
    lr : float or callable(step) -> float
    batch : int
    epochs : int
        Upper limit on epochs.
    weight_decay : float
        L2 coefficient added to the gradient (PyTorch's Adam weight_decay).
    patience : int
        Epochs without improvement before stopping (0 or less: never stop early).
    min_delta : float
        Smallest decrease of the validation MSE that counts as an improvement.
    seed : int
        Seeds the shuffling.
    checkpoint : str or Path, optional
        .npz file written atomically after every epoch.
    resume : bool
        Continue from `checkpoint`.
    progress : bool
    desc : str

    Returns
    -------
    History
        Also stops (stopped = "diverged") when the training or validation loss is not finite.
    """
    Xtr, Ytr = train
    Xva, Yva = val
    if not model.params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    dtype = model.params[0].dtype
    for name, (X, Y) in (("train", train), ("val", val)):
        if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0] or X.shape[1] != model.n_in \
                or Y.shape[1] != model.n_out:
            raise ValueError(f"{name} X {X.shape} and Y {Y.shape} do not fit the model; expected (rows, {model.n_in}) "
                             f"and (rows, {model.n_out})")
        for part, arr in (("X", X), ("Y", Y)):
            if arr.dtype != dtype:
                raise ValueError(f"{name} {part} is {arr.dtype} but the model is {dtype}; cast with .astype({dtype})")
            check_finite(f"{name} {part}", arr)
    model_meta = {"model": type(model).__name__, "config": model.config()} if hasattr(model, "config") else {}
    opt = Adam(model.params, lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    hist = History()
    best = [p.copy() for p in model.params]
    if resume:
        arrays, meta = io.load_training_state(checkpoint, model.params, opt)
        for i, b in enumerate(best):
            b[...] = arrays[f"best.{i}"]
        rng.bit_generator.state = meta["rng"]
        hist = History(**meta["history"])
        if hist.stopped == "max_epochs" and len(hist.val_mse) < epochs:
            hist.stopped = ""
    bar = Progress(epochs, desc=desc, enabled=progress, start=len(hist.val_mse))
    while len(hist.val_mse) < epochs and not hist.stopped:
        t0 = time.perf_counter()
        order = rng.permutation(Xtr.shape[0])
        sse = model.train_epoch(Xtr, Ytr, order, batch, opt) if hasattr(model, "train_epoch") else None
        if sse is None:
            with np.errstate(all="ignore"):
                sse = sum(_batch_step(model, Xtr, Ytr, order[i:i + batch], opt)
                          for i in range(0, order.size, batch))
        hist.epoch_time.append(time.perf_counter() - t0)
        hist.train_mse.append(sse / Ytr.size)
        v = mse(model, Xva, Yva)
        hist.val_mse.append(v)
        if not (np.isfinite(v) and np.isfinite(hist.train_mse[-1])):
            hist.stopped = "diverged"
        elif v < hist.best_val - min_delta:
            hist.best_val, hist.best_epoch, hist.wait = v, len(hist.val_mse) - 1, 0
            for b, p in zip(best, model.params):
                b[...] = p
        else:
            hist.wait += 1
            if 0 < patience <= hist.wait:
                hist.stopped = "early_stopping"
        if len(hist.val_mse) >= epochs and not hist.stopped:
            hist.stopped = "max_epochs"
        if checkpoint is not None:
            io.save_training_state(checkpoint, model.params, opt, {"rng": rng.bit_generator.state,
                                                                  "history": hist.as_meta(), **model_meta},
                                   {f"best.{i}": b for i, b in enumerate(best)})
        bar.update(len(hist.val_mse), train=hist.train_mse[-1], val=v)
    bar.close()
    if hist.best_epoch >= 0:
        for b, p in zip(best, model.params):
            p[...] = b
    return hist
