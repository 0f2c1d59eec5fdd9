"""Learned stencils: recovery of nu and the speed from solver trajectories, the gradient of the
training loss, moment constraints, bad input and the `fastdds reproduce learned-stencil` CLI."""

import json

import numpy as np
import pytest

from fastdds.cli import main
from fastdds.nn import learned_stencil as L
from fastdds.pde import burgers, heat


@pytest.fixture(scope="module")
def adv():
    return L.advection_diffusion_data(snapshots=21, batch=2)


@pytest.fixture(scope="module")
def burg():
    return L.burgers_data(snapshots=21, batch=2)


def test_ftcs_data_give_the_ftcs_stencil_exactly():
    """Data from FTCS are one width-3 step: the fit is that stencil, and nu_raw = M2 / (2 dt) = D."""
    n, D, U = 32, 0.01, 0.5
    dx = 1.0 / n
    dt = 0.5 * heat.max_stable_dt("ftcs", dx, D, U)
    u = [L._smooth_fields(np.random.default_rng(3), 3, n, 4, 1.0)]
    for _ in range(10):
        u.append(heat.ftcs(u[-1], dx, dt, 1, D, U))
    data = L.Trajectories(np.array(u), dx, dt, "advection-diffusion", D, U)
    model = L.LearnedStencil(n, 3)
    res = L.fit(model, data, "lstsq")
    r, s = heat.coefficients(dx, dt, D, U)
    np.testing.assert_allclose(model.layer.P.diagonals[:, 0], [s + r, 1 - 2 * r, r - s], rtol=0, atol=1e-12)
    assert abs(res["nu_raw"] / D - 1) < 1e-9 and abs(res["speed"] / U - 1) < 1e-9
    # the cumulant reading gives forward Euler's effective diffusivity D - U^2 dt / 2
    assert abs(res["nu"] - (D - U * U * dt / 2)) < 1e-9 * D


def test_forward_euler_burgers_data_give_the_scheme_layer():
    """Central-flux forward-Euler Burgers data: the fitted P, Q are `burgers.step_layers`' stencils."""
    n, nu = 32, 0.05
    dx = 1.0 / n
    u0 = L._smooth_fields(np.random.default_rng(4), 2, n, 2, 0.5)
    dt = 0.5 * burgers.max_stable_dt("central", dx, nu, float(np.abs(u0).max()))
    runs = []
    for u in u0:
        snaps = [u.copy()]
        burgers.solve(u, dx, nu=nu, scheme="central", nsteps=8, dt=dt, chunks=8,
                      callback=lambda k, total, state: snaps.append(state.copy()))
        runs.append(snaps)
    data = L.Trajectories(np.transpose(np.array(runs), (1, 0, 2)).copy(), dx, dt, "burgers", nu, 1.0)
    model = L.LearnedStencil(n, 3, nonlinear=True)
    res = L.fit(model, data, "lstsq")
    ref = burgers.step_layers("central", n, dx, dt, nu)[0]
    np.testing.assert_allclose(model.layer.P.diagonals[:, 0], ref.P.diagonals[:, 0], rtol=0, atol=1e-11)
    np.testing.assert_allclose(model.layer.branches[0].Q.diagonals[:, 0], ref.branches[0].Q.diagonals[:, 0],
                               rtol=0, atol=1e-11)
    assert abs(res["nu_raw"] / nu - 1) < 1e-8 and abs(res["speed"] - 1) < 1e-8
    assert model.layer.branches[0].fused  # Q and R banded: the fused layer kernels run


def test_recovers_advection_diffusion_within_one_percent(adv):
    """RK4 data, width 5, stride 1: exact least squares and L-BFGS through the backward agree."""
    for method in ("lstsq", "lbfgs"):
        res = L.fit(L.LearnedStencil(64, 5, constraints=L.CONSTRAINTS[adv.case]), adv, method)
        assert abs(res["nu"] / adv.nu - 1) < 1e-3, (method, res["nu"])
        assert abs(res["speed"] / adv.speed - 1) < 1e-3, (method, res["speed"])


def test_stride_shrinks_the_time_step_bias(adv):
    """Width 3 at stride 1 is biased by O(dt) (about 2 %); stride 4 (four layers per interval,
    trained with L-BFGS through the Chain) brings it under 1 %."""
    errs = []
    for stride in (1, 4):
        model = L.LearnedStencil(64, 3, stride=stride, constraints=L.CONSTRAINTS[adv.case])
        res = L.fit(model, adv, "lbfgs")
        errs.append(max(abs(res["nu"] / adv.nu - 1), abs(res["speed"] / adv.speed - 1)))
    assert errs[0] > 0.01 > errs[1]
    assert errs[1] < errs[0] / 3


def test_recovers_burgers_within_one_percent(burg):
    model = L.LearnedStencil(64, 3, nonlinear=True, stride=4, constraints=L.CONSTRAINTS["burgers"])
    res = L.fit(model, burg, "lbfgs")
    assert abs(res["nu"] / burg.nu - 1) < 0.01 and abs(res["speed"] - 1) < 0.01, res


def test_float32_matches_float64(burg):
    out = {}
    for dtype in (np.float64, np.float32):
        d = L.Trajectories(burg.u.astype(dtype), burg.dx, burg.dt, burg.case, burg.nu, burg.speed)
        model = L.LearnedStencil(64, 3, nonlinear=True, stride=2, constraints=L.CONSTRAINTS["burgers"], dtype=dtype)
        out[dtype] = L.fit(model, d, "lbfgs")
        assert model.layer.P.diagonals.dtype == dtype
    assert abs(out[np.float32]["nu"] / out[np.float64]["nu"] - 1) < 1e-3
    assert abs(out[np.float32]["speed"] / out[np.float64]["speed"] - 1) < 1e-3


@pytest.mark.parametrize("constrained, per_row", [(False, False), (True, False), (True, True)])
def test_loss_gradient_against_central_differences(burg, constrained, per_row):
    n = 16 if per_row else 64
    data = burg if not per_row else L.burgers_data(nx=n, nu=0.05, snapshots=4, batch=2)
    model = L.LearnedStencil(n, 5, nonlinear=True, stride=3, seed=2, per_row=per_row,
                             constraints=L.CONSTRAINTS["burgers"] if constrained else None)
    x, y = data.pairs
    theta = model.get_free() + 0.01 * np.random.default_rng(0).standard_normal(model.nfree)
    model.set_free(theta)
    _, g = model.loss_and_grad(x, y)
    g = np.concatenate([gk.reshape(-1) for gk in g])
    num = np.zeros_like(theta)
    h = 1e-6
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        model.set_free(theta + e)
        lp = model.loss_and_grad(x, y)[0]
        model.set_free(theta - e)
        lm = model.loss_and_grad(x, y)[0]
        num[i] = (lp - lm) / (2 * h)
    assert np.abs(num - g).max() / np.abs(num).max() < 1e-6


@pytest.mark.parametrize("method, per_row", [("lbfgs", False), ("adam", False), ("lbfgs", True), ("lstsq", True)])
def test_constraints_hold_exactly(burg, method, per_row):
    model = L.LearnedStencil(64, 5, nonlinear=True, stride=1 if method == "lstsq" else 2, per_row=per_row,
                             constraints=L.CONSTRAINTS["burgers"])
    L.fit(model, burg, method, steps=50, lr=1e-2)
    h = burg.dx
    m = model.moments()  # every row
    P, Q = m["P"], m["Q"]
    assert np.abs(P[0] - 1).max() < 1e-13 and np.abs(P[1]).max() < 1e-13 * h and np.abs(Q[0]).max() < 1e-13
    rows = 64 if per_row else 1
    assert model.nfree == 7 * rows and model.nweights == 10 * rows
    assert np.abs(P[2]).min() > 0  # the second moment is learned


def test_per_row_stencils_recover_advection_diffusion(adv):
    """One width-5 stencil per row (320 weights), exact least squares row by row: the row mean
    and every row within 1 %; the rows agree with the shared-stencil fit."""
    res = L.fit(L.LearnedStencil(64, 5, constraints=L.CONSTRAINTS[adv.case], per_row=True), adv, "lstsq")
    shared = L.fit(L.LearnedStencil(64, 5, constraints=L.CONSTRAINTS[adv.case]), adv, "lstsq")
    assert abs(res["nu"] / adv.nu - 1) < 1e-3 and abs(res["speed"] / adv.speed - 1) < 1e-3
    assert res["nu_spread"] < 0.01 and res["speed_spread"] < 0.01 and shared["nu_spread"] < 1e-12
    assert abs(res["nu"] / shared["nu"] - 1) < 1e-3


def test_adam_lowers_the_loss(adv):
    model = L.LearnedStencil(64, 3, constraints=L.CONSTRAINTS[adv.case], seed=5)
    x, y = adv.pairs
    start = model.loss_and_grad(x, y)[0]
    res = L.fit(model, adv, "adam", steps=300, lr=1e-2)
    assert res["loss"] < start / 100


def test_add_noise_is_seeded_and_relative(adv):
    a, b = L.add_noise(adv, 1e-3, seed=7), L.add_noise(adv, 1e-3, seed=7)
    np.testing.assert_array_equal(a.u, b.u)
    rel = np.sqrt(np.mean((a.u - adv.u) ** 2) / np.mean(adv.u**2))
    assert 0.9e-3 < rel < 1.1e-3
    assert L.add_noise(adv, 0.0) is adv


def test_bad_input_is_refused(adv, burg):
    bad = adv.u.copy()
    bad[3, 1, 7] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        L.Trajectories(bad, adv.dx, adv.dt, adv.case, adv.nu, adv.speed)
    with pytest.raises(ValueError, match=r"expected \(T, batch, n\)"):
        L.Trajectories(adv.u[0], adv.dx, adv.dt, adv.case, adv.nu, adv.speed)
    with pytest.raises(ValueError, match="unknown case"):
        L.Trajectories(adv.u, adv.dx, adv.dt, "kdv", adv.nu, adv.speed)
    with pytest.raises(ValueError, match="dt"):
        L.Trajectories(adv.u, adv.dx, -1.0, adv.case, adv.nu, adv.speed)
    with pytest.raises(ValueError, match="grid points"):
        L.fit(L.LearnedStencil(32, 3), adv, "lstsq")
    with pytest.raises(ValueError, match="nonlinear model"):
        L.fit(L.LearnedStencil(64, 3), burg, "lstsq")
    with pytest.raises(ValueError, match="stride 1"):
        L.fit(L.LearnedStencil(64, 3, stride=2), adv, "lstsq")
    with pytest.raises(ValueError, match="unknown method"):
        L.fit(L.LearnedStencil(64, 3), adv, "sgd")
    with pytest.raises(ValueError, match="odd"):
        L.LearnedStencil(64, 4)
    with pytest.raises(ValueError, match="operators"):
        L.LearnedStencil(64, 3, constraints={"Q": {0: 0.0}})
    with pytest.raises(ValueError, match="moment 3"):
        L.LearnedStencil(64, 3, constraints={"P": {3: 0.0}})
    model = L.LearnedStencil(64, 3)
    with pytest.raises(ValueError, match=r"expected \(N, 64\)"):
        model.loss_and_grad(adv.u[:, :, :32].reshape(-1, 32), adv.u[:, :, :32].reshape(-1, 32))
    with pytest.raises(ValueError, match="noise"):
        L.add_noise(adv, float("nan"))
    with pytest.raises(ValueError, match="snapshots"):
        L.burgers_data(snapshots=1)


def test_cli_quick_run_writes_the_table(tmp_path, capsys):
    assert main(["reproduce", "learned-stencil", "--quick", "--out", str(tmp_path), "--no-progress"]) in (0, None)
    text = capsys.readouterr().out
    assert "| case |" in text and "71,101" in text
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    assert (tmp_path / "results.md").read_text().count("\n| ") == len(rows)  # data lines after the header and rule
    assert {r["case"] for r in rows} == set(L.CASES)
    best = {c: min(max(r["nu_error"], r["speed_error"]) for r in rows if r["case"] == c) for c in L.CASES}
    assert best["advection-diffusion"] < 1e-3 and best["burgers"] < 0.01, best
    assert min(r["weights"] for r in rows) == 3 and max(r["weights"] for r in rows) == 640
    # an interrupted run: three rows kept in the checkpoint, the rest re-run with the same seeds
    from fastdds.nn.learned_stencil_study import reproduce

    check = json.loads((tmp_path / "checkpoint.json").read_text())
    check["keys"], check["rows"] = check["keys"][:3], check["rows"][:3]
    check["rows"][0]["seconds"] = -1.0
    (tmp_path / "checkpoint.json").write_text(json.dumps(check))
    again = reproduce(tmp_path, quick=True, progress=False, resume=True)
    assert again["resumed"] == 3 and again["results"][0]["seconds"] == -1.0
    assert [r["nu"] for r in again["results"][3:]] == [r["nu"] for r in rows[3:]]


def test_nan_targets_are_refused(adv):
    x, y = adv.pairs
    y = y.copy()
    y[2, 5] = np.inf
    with pytest.raises(ValueError, match="targets contains NaN or inf"):
        L.LearnedStencil(64, 3).loss_and_grad(x, y)
