"""PINN problems, samplers, loss gradient, training, checkpoint/resume, float32, bad input."""

import numpy as np
import pytest

from fastdds import io
from fastdds.nn import mlp
from fastdds.nn.mlp import MLP
from fastdds.pinn import problems, residuals
from fastdds.pinn.loss import loss_and_grads
from fastdds.pinn.train import train

# ---------------------------------------------------------------- samplers and problems


@pytest.mark.parametrize("sampler", [problems.uniform, problems.latin_hypercube])
def test_samplers_seeded_and_inside(sampler):
    lo, hi = [-1.0, 0.0], [1.0, 2.0]
    a = sampler(500, lo, hi, np.random.default_rng(7))
    b = sampler(500, lo, hi, np.random.default_rng(7))
    c = sampler(500, lo, hi, np.random.default_rng(8))
    assert a.shape == (500, 2) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert (a >= lo).all() and (a <= hi).all()
    # both fill the box: every quarter of each axis gets between 15% and 35% of the points
    for d in range(2):
        counts = np.histogram(a[:, d], bins=4, range=(lo[d], hi[d]))[0]
        assert counts.min() > 75 and counts.max() < 175


def test_latin_hypercube_one_point_per_stratum():
    n = 64
    X = problems.latin_hypercube(n, [0.0, -3.0, 1.0], [1.0, 3.0, 2.0], np.random.default_rng(1))
    for d, (lo, hi) in enumerate([(0.0, 1.0), (-3.0, 3.0), (1.0, 2.0)]):
        strata = np.floor((X[:, d] - lo) / (hi - lo) * n).astype(int)
        assert np.array_equal(np.sort(strata), np.arange(n))


def test_published_point_sets():
    p = problems.burgers_sin2pi(1)
    assert p.npoints() == {"ic": 201, "pde": 10_000, "bc": 422}
    ic = p.groups[0]
    assert np.allclose(ic.X[:, 1], 0) and np.allclose(ic.target[:, 0], np.sin(2 * np.pi * ic.X[:, 0]))
    assert np.allclose(np.diff(ic.X[:, 0]), 1 / 200)
    e = problems.eikonal_time(3)
    assert e.npoints() == {"terminal": 200, "pde": 10_000, "bc": 400}
    assert np.allclose(e.groups[0].X[:, 1], 1.0) and np.allclose(np.abs(e.groups[2].X[:, 0]), 1.0)
    r = problems.burgers_raissi(1)
    assert r.npoints() == {"data": 100, "pde": 10_100}
    d = r.groups[0]
    on_ic = d.X[:, 1] == 0
    assert np.allclose(d.target[on_ic, 0], -np.sin(np.pi * d.X[on_ic, 0]))
    assert np.allclose(np.abs(d.X[~on_ic, 0]), 1.0) and np.allclose(d.target[~on_ic], 0.0)
    inv = problems.burgers_riemann(1)
    assert set(np.unique(inv.groups[0].target)) == {0.0, 1.0}


@pytest.mark.parametrize("build", [problems.burgers_sin2pi, problems.burgers_riemann, problems.eikonal_time,
                                   problems.burgers_raissi, problems.heat_sine])
def test_problem_points_inside_and_reproducible(build):
    p, q = build(5), build(5)
    for g, h in zip(p.groups, q.groups):
        assert np.array_equal(g.X, h.X)
        assert (g.X >= p.lower - 1e-12).all() and (g.X <= p.upper + 1e-12).all(), g.name
    pde = next(g for g in p.groups if g.target is None)
    assert not np.array_equal(pde.X, next(g for g in build(6).groups if g.target is None).X)


def test_problem_bad_input():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="target has shape"):
        problems.Group("ic", X, np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        problems.Group("pde", np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="expected \\(N, d\\)"):
        problems.Group("pde", np.zeros(3))
    with pytest.raises(ValueError, match="upper > lower"):
        problems.uniform(3, [0.0, 1.0], [1.0, 1.0], np.random.default_rng(0))


# ---------------------------------------------------------------- loss gradient


def _central_difference_check(net, problem, nprobe=25, h=1e-6):
    _, _, grads = loss_and_grads(net, problem)
    g = net.grads_to_flat(grads)
    x0 = net.get_flat()
    idx = np.random.default_rng(0).choice(x0.size, nprobe, replace=False)
    fd = np.empty(nprobe)
    for j, i in enumerate(idx):
        x = x0.copy()
        x[i] += h
        net.set_flat(x)
        lp = loss_and_grads(net, problem)[0]
        x[i] -= 2 * h
        net.set_flat(x)
        fd[j] = (lp - loss_and_grads(net, problem)[0]) / (2 * h)
    net.set_flat(x0)
    return np.abs(g[idx] - fd).max() / np.abs(fd).max()


@pytest.mark.parametrize("nu", [0.05, 0.0])
@pytest.mark.parametrize("scaled", [False, True])
def test_burgers_loss_gradient_matches_central_differences(nu, scaled):
    p = problems.burgers_sin2pi(2, n_collocation=60, n_ic=11, n_bc=7, nu=nu) if nu else \
        problems.burgers_riemann(2, n_collocation=60, n_ic=11, n_bc=7)
    box = {"lower": p.lower, "upper": p.upper} if scaled else {}
    net = MLP([2, 7, 6, 1], activation="tanh", seed=4, **box)
    assert _central_difference_check(net, p) < 1e-6


def test_heat_and_allen_cahn_loss_gradients():
    p = problems.heat_sine(1, n_collocation=50, n_ic=9, n_bc=5)
    net = MLP([2, 8, 1], activation="sin", seed=2)
    assert _central_difference_check(net, p) < 1e-6
    p.residual = residuals.AllenCahn(1e-3)
    assert _central_difference_check(net, p) < 1e-6


def test_batches_of_points_change_the_loss_only_at_round_off(monkeypatch):
    p = problems.burgers_sin2pi(3, n_collocation=3000, n_ic=11, n_bc=7, nu=0.02)
    net = MLP([2, 8, 8, 1], seed=5)
    whole = loss_and_grads(net, p)
    per_point = 4 * (2 + 8 + 8 + 8 + 8 + 1) * 8  # 4 streams of a and z, float64
    monkeypatch.setattr(mlp, "BATCH_BYTES", 1100 * per_point)
    assert len(net.batches(3000, ((0,), (1,), (0, 0)))) == 3
    batched = loss_and_grads(net, p)
    assert batched[0] == pytest.approx(whole[0], rel=1e-13)
    assert batched[1] == pytest.approx(whole[1], rel=1e-13)
    for g, h in zip(batched[2], whole[2]):
        np.testing.assert_allclose(g, h, rtol=1e-11, atol=1e-14 * np.abs(h).max())


def test_group_weights_scale_the_loss():
    p = problems.heat_sine(1, n_collocation=40, n_ic=9, n_bc=5)
    net = MLP([2, 8, 1], seed=2)
    loss, parts, grads = loss_and_grads(net, p)
    p.groups[1].weight = 3.0
    loss3, parts3, grads3 = loss_and_grads(net, p)
    assert parts3["pde"] == pytest.approx(3 * parts["pde"], rel=1e-12)
    assert loss3 == pytest.approx(loss + 2 * parts["pde"], rel=1e-12)


# ---------------------------------------------------------------- training


def _heat():
    return problems.heat_sine(0, n_collocation=200, n_ic=32, n_bc=16, D=0.1)


def test_training_lowers_loss_100x_and_solves_heat():
    p = _heat()
    net = MLP([2, 16, 16, 1], seed=1)
    hist = train(net, p, adam_steps=300, lr=1e-2, lbfgs_maxiter=100, progress=False)
    assert hist["adam_steps"] == 300 and 0 < hist["lbfgs_iters"] <= 100
    assert hist["loss_adam"].size == 300 and hist["loss_lbfgs"].size == hist["lbfgs_iters"]
    assert hist["final_loss"] < hist["loss_adam"][0] / 100
    assert hist["loss_lbfgs"][-1] < hist["loss_adam"][-1]
    x, t = np.meshgrid(np.linspace(0, 1, 21), np.linspace(0, 1, 21))
    X = np.stack([x.ravel(), t.ravel()], 1)
    err = np.abs(net(X)[:, 0] - p.exact(X[:, 0], X[:, 1])).max()
    assert err < 2e-2


def test_resume_continues_bit_for_bit(tmp_path):
    p = _heat()
    straight = MLP([2, 8, 8, 1], seed=3)
    train(straight, p, adam_steps=2000, lr=5e-3, progress=False)

    ckpt = tmp_path / "run.ckpt.npz"
    first = MLP([2, 8, 8, 1], seed=3)
    train(first, p, adam_steps=1000, lr=5e-3, checkpoint=ckpt, checkpoint_every=250, progress=False)
    resumed = MLP([2, 8, 8, 1], seed=99)  # different init: everything must come from the checkpoint
    hist = train(resumed, p, adam_steps=2000, lr=5e-3, checkpoint=ckpt, checkpoint_every=250, resume=True,
                 progress=False)
    assert hist["adam_steps"] == 2000 and hist["loss_adam"].size == 2000
    for a, b in zip(straight.params, resumed.params):
        assert np.array_equal(a, b)


def test_interrupt_leaves_a_resumable_checkpoint(tmp_path):
    class Interrupting(residuals.Heat):
        calls = 0

        def evaluate(self, s, X):
            Interrupting.calls += 1
            if Interrupting.calls == 301:
                raise KeyboardInterrupt
            return super().evaluate(s, X)

    p = _heat()
    straight = MLP([2, 8, 1], seed=5)
    train(straight, p, adam_steps=500, lr=5e-3, progress=False)
    ckpt = tmp_path / "c.npz"
    p.residual = Interrupting(0.1)
    net = MLP([2, 8, 1], seed=5)
    with pytest.raises(KeyboardInterrupt):
        train(net, p, adam_steps=500, lr=5e-3, checkpoint=ckpt, checkpoint_every=1000, progress=False)
    p.residual = residuals.Heat(0.1)
    hist = train(net, p, adam_steps=500, lr=5e-3, checkpoint=ckpt, resume=True, progress=False)
    assert hist["loss_adam"].size == 500
    for a, b in zip(straight.params, net.params):
        assert np.array_equal(a, b)


def test_lbfgs_phase_resumes_from_checkpoint(tmp_path):
    p = _heat()
    ckpt = tmp_path / "c.npz"
    net = MLP([2, 8, 1], seed=6)
    h1 = train(net, p, adam_steps=50, lr=1e-2, lbfgs_maxiter=20, checkpoint=ckpt, progress=False)
    # a finished run resumes to the same state without further work
    again = MLP([2, 8, 1], seed=0)
    h2 = train(again, p, adam_steps=50, lr=1e-2, lbfgs_maxiter=20, checkpoint=ckpt, resume=True, progress=False)
    assert h2["lbfgs_iters"] == h1["lbfgs_iters"] and h2["final_loss"] == h1["final_loss"]
    assert all(np.array_equal(a, b) for a, b in zip(net.params, again.params))


def test_interrupted_lbfgs_resumes_from_its_last_iterate(tmp_path):
    class Interrupting(residuals.Heat):
        calls = 0

        def evaluate(self, s, X):
            Interrupting.calls += 1
            if Interrupting.calls == 60:  # 1 initial + 10 Adam + ~49 L-BFGS evaluations
                raise KeyboardInterrupt
            return super().evaluate(s, X)

    p = _heat()
    p.residual = Interrupting(0.1)
    ckpt = tmp_path / "c.npz"
    net = MLP([2, 8, 1], seed=6)
    with pytest.raises(KeyboardInterrupt):
        train(net, p, adam_steps=10, lr=1e-2, lbfgs_maxiter=200, checkpoint=ckpt, checkpoint_every=5, progress=False)
    arrays, meta = io.load_checkpoint(ckpt)
    assert meta["model"] == "MLP" and MLP(**meta["config"]).sizes == [2, 8, 1]  # rebuildable from the file
    done = meta["lbfgs_iters"]
    assert 0 < done < 200 and arrays["history.lbfgs"].size == done and arrays["adam.step"] == 10
    p.residual = residuals.Heat(0.1)
    saved = MLP([2, 8, 1], seed=0)
    for i, q in enumerate(saved.params):
        q[...] = arrays[f"param.{i}"]
    assert loss_and_grads(saved, p)[0] == pytest.approx(arrays["history.lbfgs"][-1], rel=1e-12)  # an accepted iterate
    hist = train(net, p, adam_steps=10, lr=1e-2, lbfgs_maxiter=200, checkpoint=ckpt, resume=True, progress=False)
    assert hist["adam_steps"] == 10 and done < hist["lbfgs_iters"] <= 200
    assert hist["final_loss"] < arrays["history.lbfgs"][-1]


def test_resume_rejects_a_different_network(tmp_path):
    p = _heat()
    ckpt = tmp_path / "c.npz"
    train(MLP([2, 8, 1], seed=6), p, adam_steps=5, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="does not match this model"):
        train(MLP([2, 9, 1], seed=6), p, adam_steps=10, checkpoint=ckpt, resume=True, progress=False)


def test_float32_training_stays_float32():
    p = _heat().astype(np.float32)
    net = MLP([2, 16, 16, 1], seed=1, dtype=np.float32)
    hist = train(net, p, adam_steps=300, lr=1e-2, lbfgs_maxiter=20, progress=False)
    assert all(q.dtype == np.float32 for q in net.params)
    assert net.streams(p.groups[1].X, derivs=((1,), (0, 0)))[0][(0, 0)].dtype == np.float32
    assert hist["final_loss"] < hist["loss_adam"][0] / 100


def test_diverging_training_raises():
    p = _heat()
    net = MLP([2, 8, 1], seed=1)
    net.params[-2][...] = 1e200  # u ~ 1e200: the squared misfit overflows
    with pytest.raises(RuntimeError, match="diverged"), np.errstate(over="ignore"):
        train(net, p, adam_steps=3, lr=1e-2, progress=False)


def test_train_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="must be >= 0"):
        train(MLP([2, 4, 1]), _heat(), adam_steps=-1, progress=False)
    with pytest.raises(ValueError, match="problem.astype"):
        train(MLP([2, 4, 1], dtype=np.float32), _heat(), adam_steps=1, progress=False)
    with pytest.raises(ValueError, match="network takes 3"):
        train(MLP([3, 4, 1]), _heat(), adam_steps=1, progress=False)
    ckpt = tmp_path / "c.npz"
    train(MLP([2, 4, 1], dtype=np.float32), _heat().astype(np.float32), adam_steps=2, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="holds float32 parameters but the model is float64"):
        train(MLP([2, 4, 1]), _heat(), adam_steps=4, checkpoint=ckpt, resume=True, progress=False)
