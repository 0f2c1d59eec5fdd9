"""fastdds.nn.train.fit on any Block: a bare FD Layer, a Chain, the residual nets, the checkpoint meta."""

import numpy as np
import pytest

from fastdds import io
from fastdds.layers import Chain, Layer, linear, pointwise
from fastdds.nn.residual import LMResNet, ResNet
from fastdds.nn.train import fit, mse
from fastdds.operators import Banded
from fastdds.optim import exponential_decay
from fastdds.pde import heat as H

QUIET = dict(weight_decay=0.0, patience=0, min_delta=0.0, progress=False)


def ftcs_pairs(rng, nx, r, rows):
    step = H.ftcs_layer(nx, r)
    X = rng.standard_normal((rows, nx))
    return X, step(X)


def test_fit_learns_the_ftcs_stencil_of_a_heat_step(rng):
    nx, r = 24, 0.3
    train, val = ftcs_pairs(rng, nx, r, 256), ftcs_pairs(rng, nx, r, 64)
    layer = Layer(Banded((-1, 0, 1), np.array([0.0, 1.0, 0.0]), "periodic", n=nx))
    hist = fit(layer, train, val, lr=exponential_decay(0.05, 0.1, 300), batch=64, epochs=100, **QUIET)
    lo, di, up = layer.params[0].ravel()
    assert abs(lo - r) < 1e-6 and abs(up - r) < 1e-6 and abs(di - (1 - 2 * r)) < 1e-6, (lo, di, up)
    assert hist.val_mse[-1] < 1e-12 < hist.val_mse[0]


def test_fit_trains_a_chain_with_several_outputs(rng):
    X = rng.standard_normal((256, 3))
    Y = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]])
    net = Chain([linear(3, 16, np.random.default_rng(0)), pointwise(16, "tanh"),
                 linear(16, 2, np.random.default_rng(1))])
    before = mse(net, X[192:], Y[192:])
    hist = fit(net, (X[:192], Y[:192]), (X[192:], Y[192:]), lr=1e-2, batch=32, epochs=30, **QUIET)
    assert hist.val_mse[-1] < 0.5 * before, (before, hist.val_mse)


def test_fit_trains_residual_nets_and_keeps_their_structure(rng):
    X = rng.standard_normal((256, 3))
    Y = np.sin(X.sum(axis=1, keepdims=True))
    m = LMResNet(n_in=3, width=4, hidden=5, depth=3, k=0.2, seed=2)
    structure = [(p.copy(), mask) for p, mask in zip(m._all, m._masks) if mask is not None]
    k = [step.branches[0].Q.diagonals for step in m.steps]
    k0 = [kn.copy() for kn in k]
    before = mse(m, X[192:], Y[192:])
    hist = fit(m, (X[:192], Y[:192]), (X[192:], Y[192:]), lr=1e-2, batch=32, epochs=20, **QUIET)
    assert hist.val_mse[-1] < 0.5 * before, (before, hist.val_mse)
    for before, mask in structure:
        after = next(p for p, q in zip(m._all, m._masks) if q is mask)
        np.testing.assert_array_equal(after[~mask], before[~mask])
    # k_1 multiplies x_0 - x_{-1} = 0 (the lift starts from x_{-1} = x_0): no gradient; k_2, k_3 train
    assert k[0][0, 0] == k0[0][0, 0] and all(abs(a[0, 0] - b[0, 0]) > 1e-4 for a, b in zip(k[1:], k0[1:]))
    assert all(any(kn is p for p in m.params) for kn in k)


def test_checkpoint_stores_the_model_config_and_resumes(rng, tmp_path):
    X = rng.standard_normal((128, 3))
    Y = np.cos(X[:, :1])
    train, val = (X[:96], Y[:96]), (X[96:], Y[96:])
    a, b = ResNet(n_in=3, width=4, depth=2, seed=1), ResNet(n_in=3, width=4, depth=2, seed=1)
    ha = fit(a, train, val, lr=1e-2, batch=16, epochs=4, **QUIET)
    fit(b, train, val, lr=1e-2, batch=16, epochs=2, checkpoint=tmp_path / "c.npz", **QUIET)
    _, meta = io.load_checkpoint(tmp_path / "c.npz")
    assert meta["model"] == "ResNet" and meta["config"] == b.config()
    hb = fit(b, train, val, lr=1e-2, batch=16, epochs=4, checkpoint=tmp_path / "c.npz", resume=True, **QUIET)
    assert hb.val_mse == ha.val_mse
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(p, q)


def test_fit_uses_the_fused_epoch_when_the_model_has_one(rng):
    class Counted(ResNet):
        calls = 0

        def train_epoch(self, X, Y, order, batch, opt):
            Counted.calls += 1
            return None if Counted.calls == 1 else 0.0

    m = Counted(n_in=3, width=4, depth=1, seed=0)
    X, Y = rng.standard_normal((32, 3)), rng.standard_normal((32, 1))
    hist = fit(m, (X, Y), (X, Y), lr=1e-2, batch=8, epochs=2, **QUIET)
    assert Counted.calls == 2 and hist.train_mse[1] == 0.0 and hist.train_mse[0] > 0


def test_fit_rejects_data_that_does_not_fit_the_block(rng):
    layer = H.ftcs_layer(8, 0.2)
    X = rng.standard_normal((10, 8))
    with pytest.raises(ValueError, match=r"expected \(rows, 8\) and \(rows, 8\)"):
        fit(layer, (X, X[:, :1]), (X, X), progress=False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        fit(pointwise(8, "tanh"), (X, X), (X, X), progress=False)


def test_fit_stops_a_generic_loop_that_diverges():
    """A trained FHN parameter keeps fit off the fused epoch; dt = 20 overflows: stopped, not raised."""
    from fastdds.nn.dynpmnn import DynPMNN

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((128, 8)), rng.standard_normal((128, 1))
    model = DynPMNN(train=("a",), seed=0)
    with np.errstate(all="ignore"):
        hist = fit(model, (X, Y), (X, Y), epochs=3, progress=False)
    assert hist.stopped == "diverged" and len(hist.val_mse) == 1
    assert not np.isfinite(hist.train_mse[0])
    assert all(np.isfinite(p).all() for p in model.params)
