"""DynPMNN block, FHN network, the MLP baseline, the trainer and the reproduce command."""

import json

import numpy as np
import pytest

from fastdds.cli import main
from fastdds.layers import Chain, check_gradients
from fastdds.nn.dynpmnn import DynPMNN, FHNNet, MLPBaseline
from fastdds.nn.train import fit, metrics
from fastdds.optim import Adam


def silu(z):
    return z / (1 + np.exp(-z))


def test_parameter_counts():
    assert DynPMNN().nparams == 25
    assert MLPBaseline([8, 512, 256, 128, 1]).nparams == 168961
    assert FHNNet(width=16, hidden=(64,), train="abg").nparams == 1553


def test_same_draws_as_before():
    """Seed -> the weights of the (fan_in, fan_out) code: U(+-1/sqrt(fan_in)), W then b, layer by layer."""
    def draw(rng, fan_in, shape):
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape)

    m = DynPMNN(seed=3)
    rng = np.random.default_rng(3)
    old = [draw(rng, 8, (8, 2)), draw(rng, 8, 2), draw(rng, 2, (2, 1)), draw(rng, 2, 1)]
    for p, q in zip(m.params[:2] + m.params[4:], old):
        np.testing.assert_array_equal(p, q.T)
    mlp = MLPBaseline([8, 4, 3, 1], seed=5)
    rng = np.random.default_rng(5)
    for (W, b), (i, o) in zip(zip(mlp.params[0::2], mlp.params[1::2]), [(8, 4), (4, 3), (3, 1)]):
        np.testing.assert_array_equal(W, draw(rng, i, (i, o)).T)
        np.testing.assert_array_equal(b, draw(rng, i, o))


def test_models_are_chains_with_config(rng):
    x = rng.standard_normal((4, 8))
    for model in (DynPMNN(neurons=2, dt=0.5, steps=4, train=("a", "dt"), seed=1),
                  FHNNet(width=4, hidden=(3, 2), steps=3, seed=2), FHNNet(width=0, hidden=(3,), seed=2),
                  MLPBaseline([8, 5, 1], seed=4)):
        assert isinstance(model, Chain)
        cfg = model.config()
        assert json.loads(json.dumps(cfg)) == cfg
        again = type(model)(**cfg)
        assert [p.shape for p in again.params] == [p.shape for p in model.params]
        for p, q in zip(again.params, model.params):
            p[...] = q
        np.testing.assert_array_equal(again(x), model(x))


def test_mlp_baseline_formula(rng):
    m = MLPBaseline([8, 6, 5, 1], seed=0)
    W0, b0, W1, b1, W2, b2 = m.params
    x = rng.standard_normal((7, 8))
    h = np.maximum(np.maximum(x @ W0.T + b0, 0) @ W1.T + b1, 0)
    np.testing.assert_allclose(m(x), h @ W2.T + b2, rtol=1e-14)
    assert max(check_gradients(m, x)) < 1e-6


def test_published_block_against_plain_numpy(rng):
    m = DynPMNN(dt=0.5, steps=30, seed=3)
    W1, b1, lw, lb, W2, b2 = m.params
    lw[:] = [1.3, 0.7]
    lb[:] = [0.1, -0.2]
    x = rng.standard_normal((6, 8))
    z = x @ W1.T + b1
    zh = (z - z.mean(1, keepdims=True)) / np.sqrt(z.var(1, keepdims=True) + 1e-5)
    h = silu(zh * lw + lb)
    v, w = h[:, 0], h[:, 1]
    for _ in range(30):
        v, w = v + 0.5 * (-v * (v - 0.2) * (v - 1) - w), w + 0.5 * 0.02 * (v - 3.0 * w)
    y = np.column_stack([v, w]) @ W2.T + b2
    np.testing.assert_allclose(m.forward(x)[0], y, rtol=1e-12)
    np.testing.assert_allclose(m.layers()(x), y, rtol=1e-12)


def test_model_gradients(rng):
    x = rng.standard_normal((5, 3))
    for model in (DynPMNN(n_in=3, neurons=2, b=0.3, dt=0.3, steps=6, train=("a", "b", "g", "I", "dt"), seed=1),
                  FHNNet(n_in=3, width=4, hidden=(3, 2), b=0.3, g=1.5, dt=0.3, steps=5, train=("a", "b", "g", "dt"),
                         seed=1)):
        errors = check_gradients(model, x)
        assert len(errors) == len(model.params) + 1 and max(errors) < 1e-6, (type(model).__name__, errors)


def test_layer_forms_equal_the_models(rng):
    x = rng.standard_normal((6, 3))
    for model in (DynPMNN(n_in=3, neurons=2, b=0.3, dt=0.3, steps=6, seed=1),
                  FHNNet(n_in=3, width=4, hidden=(3, 2), b=0.3, g=1.5, dt=0.3, steps=5, seed=1)):
        form = model.layers()
        y, yf = model(x), form(x)
        assert np.abs(yf - y).max() <= 1e-12 * np.abs(y).max(), type(model).__name__
        assert len(form.blocks) > len(model.blocks)


def generic_epoch(model, X, Y, order, batch, opt):
    """The per-batch loop: Chain forward / backward on the MSE loss, one Adam step a batch."""
    sse = 0.0
    for i in range(0, order.size, batch):
        idx = order[i:i + batch]
        y, cache = model.forward(X[idx])
        err = y - Y[idx]
        opt.step(model.backward(cache, (2.0 / idx.size) * err)[1])
        sse += float(np.sum(err * err))
    return sse


def test_fused_epoch_equals_per_batch_loop(rng):
    X, Y = rng.standard_normal((320, 8)), rng.standard_normal((320, 1))
    order = rng.permutation(320)
    m1, m2 = DynPMNN(dt=1.0, steps=20, seed=1), DynPMNN(dt=1.0, steps=20, seed=1)
    o1, o2 = (Adam(m.params, lr=1e-2, weight_decay=5e-3) for m in (m1, m2))
    sse1 = m1.train_epoch(X, Y, order, 32, o1)
    sse2 = generic_epoch(m2, X, Y, order, 32, o2)
    assert o1.step_count == o2.step_count == 10
    np.testing.assert_allclose(sse1, sse2, rtol=1e-12)
    for p, q in zip(m1.params, m2.params):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-13)
    for p, q in zip(o1.m + o1.v, o2.m + o2.v):
        np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-16)


def toy_data(rng, n=640):
    X = rng.standard_normal((n, 8))
    y = np.tanh(X[:, :1] - 0.5 * X[:, 1:2]) + 0.1 * rng.standard_normal((n, 1))
    return (X[:512], y[:512]), (X[512:], y[512:])


def test_training_lowers_validation_mse(rng):
    train, val = toy_data(rng)
    for model in (FHNNet(width=8, hidden=(8,), steps=5, seed=0), DynPMNN(dt=1.0, steps=10, seed=0)):
        before = metrics(model, *val)["mse"]
        hist = fit(model, train, val, lr=1e-2, epochs=5, min_delta=0.0, progress=False)
        after = metrics(model, *val)["mse"]
        assert after < 0.7 * before, (type(model).__name__, before, after)
        assert after == pytest.approx(min(hist.val_mse))


def test_resume_continues_exactly(rng, tmp_path):
    train, val = toy_data(rng)
    kw = dict(lr=1e-2, batch=32, min_delta=0.0, patience=0, progress=False, seed=7)
    a = FHNNet(width=4, hidden=(4,), steps=4, seed=0)
    ha = fit(a, train, val, epochs=4, **kw)
    b = FHNNet(width=4, hidden=(4,), steps=4, seed=0)
    fit(b, train, val, epochs=2, checkpoint=tmp_path / "c.npz", **kw)
    hb = fit(b, train, val, epochs=4, checkpoint=tmp_path / "c.npz", resume=True, **kw)
    assert hb.val_mse == ha.val_mse
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(p, q)


def test_early_stopping_restores_best(rng):
    train, val = toy_data(rng)
    kw = dict(lr=1e-2, progress=False, seed=3)
    ref = FHNNet(width=4, hidden=(4,), steps=4, seed=0)
    fit(ref, train, val, epochs=1, **kw)
    m = FHNNet(width=4, hidden=(4,), steps=4, seed=0)
    hist = fit(m, train, val, epochs=50, patience=2, min_delta=1e6, **kw)
    # only the first epoch improves on +inf by more than min_delta
    assert hist.stopped == "early_stopping" and len(hist.val_mse) == 3 and hist.best_epoch == 0
    for p, q in zip(ref.params, m.params):
        np.testing.assert_array_equal(p, q)


def test_published_dt_diverges(rng):
    train, val = toy_data(rng)
    hist = fit(DynPMNN(seed=0), train, val, epochs=3, progress=False)
    assert hist.stopped == "diverged"


def test_reproduce_quick(shared_data, tmp_path, capsys):
    rc = main(["reproduce", "dynpmnn", "--quick", "--models", "dynpmnn,fhnnet,cfc", "--out", str(tmp_path),
               "--data", str(shared_data / "cal_housing.csv.gz"), "--no-progress", "--epochs", "1"])
    assert rc == 0
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert [r["key"] for r in rows] == ["dynpmnn", "fhnnet", "cfc"]
    assert rows[0]["diverged"] == 1
    assert rows[0]["stability"].startswith("Initial weights: Explicit Euler diverges at dt = 20")
    run = json.loads((tmp_path / "runs" / "fhnnet_seed0.json").read_text())
    initial = run["stability_data"]["initial"]
    assert len(initial["error"]) == 64 and initial["steps"] == 10 and initial["diverges"] is False
    assert initial["message"] in rows[1]["stability"] and "Explicit Euler" in (tmp_path / "results.md").read_text()
    assert 0.3 < rows[1]["rmse_mean"] < 1.5
    assert rows[1]["params"] == FHNNet(width=16, hidden=(64,), train="abg").nparams
    assert "| DynPMNN" in (tmp_path / "results.md").read_text()
    rc = main(["reproduce", "dynpmnn", "--quick", "--models", "cfc,dynpmnn", "--out", str(tmp_path), "--resume",
               "--data", str(shared_data / "cal_housing.csv.gz"), "--no-progress", "--epochs", "1"])
    assert rc == 0
    again = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert again[0]["rmse_mean"] == rows[2]["rmse_mean"] and again[1]["diverged"] == 1


def test_command_lists_the_library_models():
    from fastdds.commands.reproduce_dynpmnn import MODEL_KEYS
    from fastdds.nn.reproduce import models, plan

    assert MODEL_KEYS == tuple(models())
    assert plan(["node:2", "mlp"], seeds=5) == [("node", 2), ("mlp", 5)]
    assert plan(None, seeds=5, quick=True) == [(k, 1) for k in MODEL_KEYS]
    with pytest.raises(ValueError, match="unknown models"):
        plan(["dynpmn"])


def test_float32_training_stays_float32(rng):
    X, Y = rng.standard_normal((128, 8)), rng.standard_normal((128, 1))
    order = rng.permutation(128)
    res = {}
    for dt in (np.float64, np.float32):
        m = DynPMNN(dt=1.0, steps=10, seed=1, dtype=dt)
        opt = Adam(m.params, lr=1e-2)
        m.train_epoch(X.astype(dt), Y.astype(dt), order, 32, opt)
        assert all(p.dtype == dt for p in m.params + opt.m + opt.v)
        res[dt] = m.params
    for p, q in zip(res[np.float64], res[np.float32]):
        np.testing.assert_allclose(p, q, rtol=1e-3, atol=1e-4)


def test_fit_rejects_bad_data(rng):
    (X, Y), val = toy_data(rng)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"train X contains NaN.*\(3, 2\)"):
        fit(FHNNet(width=4, hidden=(4,)), (bad, Y), val, epochs=1, progress=False)
    with pytest.raises(ValueError, match="float32 but the model is float64"):
        fit(FHNNet(width=4, hidden=(4,)), (X.astype(np.float32), Y), val, epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"X \(512, 8\) and Y \(511, 1\)"):
        fit(FHNNet(width=4, hidden=(4,)), (X, Y[:-1]), val, epochs=1, progress=False)
