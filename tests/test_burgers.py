"""Burgers solvers: convergence orders against Cole-Hopf, TVD and shock position on Riemann data,
chain == fused kernel, float32, bad input."""

import numpy as np
import pytest

from fastdds.exact.burgers import burgers_sin2pi, riemann
from fastdds.pde import burgers as B

NU = 0.02
T = 0.1


def _smooth_error(scheme, nx, boundary):
    if boundary == "periodic":
        x = np.arange(nx) / nx
    else:
        x = np.linspace(0.0, 1.0, nx)
    r = B.solve(np.sin(2 * np.pi * x), x[1] - x[0], T, NU, scheme, boundary=boundary, cfl=0.8)
    return np.abs(r.u - burgers_sin2pi(x, T, NU)).max()


@pytest.mark.parametrize("scheme, order", [("lf", 0.9), ("rusanov", 0.9), ("eo", 0.9), ("upwind", 0.9),
                                           ("central", 1.9), ("muscl-rk2", 1.9), ("muscl-rk3", 1.9),
                                           (B.Scheme("eo", "vanleer", "ssp-rk3"), 1.9)])
@pytest.mark.parametrize("boundary", ["periodic", "dirichlet"])
def test_convergence_order_on_smooth_viscous_solution(scheme, order, boundary):
    sizes = (200, 400, 800) if boundary == "periodic" else (201, 401, 801)
    errs = [_smooth_error(scheme, n, boundary) for n in sizes]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert errs[-1] < 0.01
    assert orders.min() >= order, (errs, orders)


def _tv(u):
    return np.abs(np.diff(u)).sum()


@pytest.mark.parametrize("scheme", ["lf", "rusanov", "eo", "upwind", "muscl-rk2", "muscl-rk3",
                                    B.Scheme("rusanov", "vanleer", "ssp-rk2")])
def test_riemann_shock_is_tvd_and_in_place(scheme):
    nx = 400
    dx = 1.0 / nx
    x = (np.arange(nx) + 0.5) * dx
    u = riemann(x, 0.0, 1.0, 0.0)
    tv0 = _tv(u)
    t = 0.0
    for _ in range(6):
        r = B.solve(u, dx, 0.05, 0.0, scheme, boundary="outflow", cfl=0.9)
        assert _tv(r.u) <= tv0 + 1e-12
        assert r.u.max() <= 1.0 + 1e-12 and r.u.min() >= -1e-12
        u, t = r.u, t + r.t
    shock = x[np.flatnonzero(u < 0.5)[0]] - 0.5 * dx  # where u crosses 1/2
    assert abs(shock - (0.5 + 0.5 * t)) < 2 * dx
    # mass conservation: the outflow ends pass flux 1/2 in at the left, 0 out at the right
    assert abs(u.sum() * dx - (0.5 + 0.5 * t)) < 1e-12


def _face_flux(flux, a, b, alpha):
    """The numerical fluxes by their textbook definitions (the kernel uses rearranged forms)."""
    f = lambda u: 0.5 * u * u
    if flux == "lf":
        return 0.5 * (f(a) + f(b)) - 0.5 * alpha * (b - a)
    if flux == "rusanov":
        return 0.5 * (f(a) + f(b)) - 0.5 * np.maximum(np.abs(a), np.abs(b)) * (b - a)
    if flux == "eo":
        return f(np.maximum(a, 0.0)) + f(np.minimum(b, 0.0))
    if flux == "central":
        return 0.5 * (f(a) + f(b))
    return np.maximum(f(np.maximum(a, 0.0)), f(np.minimum(b, 0.0)))  # Godunov


@pytest.mark.parametrize("rk", ["euler", "ssp-rk2"])
@pytest.mark.parametrize("flux", ["lf", "rusanov", "eo", "central", "upwind"])
def test_first_order_step_matches_face_flux_definition(flux, rk, rng):
    """One step on rough periodic data of both signs against F_{i+1/2} - F_{i-1/2} computed face by face."""
    n, dx, nu, dt = 257, 0.01, 0.003, 0.002
    u = rng.uniform(-1.5, 1.5, n)
    alpha = 2.0

    def euler(v):
        F = _face_flux(flux, v, np.roll(v, -1), alpha)
        return v - dt / dx * (F - np.roll(F, 1)) + nu * dt / dx**2 * (np.roll(v, -1) - 2 * v + np.roll(v, 1))

    ref = euler(u) if rk == "euler" else 0.5 * u + 0.5 * euler(euler(u))
    r = B.solve(u, dx, nu=nu, scheme=B.Scheme(flux, rk=rk), nsteps=1, dt=dt,
                alpha=alpha if flux == "lf" else None)
    np.testing.assert_allclose(r.u, ref, rtol=0, atol=1e-14)


@pytest.mark.parametrize("scheme", ["rusanov", "eo", "upwind", "muscl-rk3"])
def test_rarefaction_error_shrinks(scheme):
    errs = []
    for nx in (200, 800):
        dx = 2.0 / nx
        x = -0.5 + (np.arange(nx) + 0.5) * dx
        r = B.solve(riemann(x, 0.0, -1.0, 1.0, 0.5), dx, 0.3, 0.0, scheme, boundary="outflow")
        errs.append(np.abs(r.u - riemann(x, r.t, -1.0, 1.0, 0.5)).mean())
    assert errs[0] < 0.02 and errs[1] < 0.5 * errs[0]


@pytest.mark.parametrize("boundary", ["periodic", "dirichlet", "outflow"])
@pytest.mark.parametrize("rk", ["euler", "ssp-rk2", "ssp-rk3"])
@pytest.mark.parametrize("flux", ["lf", "eo", "central"])
def test_chain_equals_fused_kernel(flux, rk, boundary, rng):
    nx, nu, nsteps = 60, 0.01, 200
    scheme = B.Scheme(flux, rk=rk)
    x = np.arange(nx) / nx
    u0 = np.sin(2 * np.pi * x) + 0.3 * rng.standard_normal(nx) * np.exp(-((x - 0.5) / 0.1) ** 2)
    if boundary == "dirichlet":
        u0[0], u0[-1] = 0.2, -0.1
    dx = x[1]
    alpha = 1.2 * np.abs(u0).max() if flux == "lf" else None
    dt = 0.7 * B.max_stable_dt(scheme, dx, nu, alpha or np.abs(u0).max())
    r = B.solve(u0, dx, nu=nu, scheme=scheme, nsteps=nsteps, dt=dt, boundary=boundary, alpha=alpha,
                left=u0[0], right=u0[-1])
    layers = B.step_layers(scheme, nx, dx, dt, nu, boundary, alpha=alpha)
    assert len(layers) == len(B.RK[rk].a)
    start = u0 if rk == "euler" else B.lift(u0)
    y = B.chain(scheme, nx, dx, dt, nu, nsteps, boundary, alpha=alpha)(start)
    for half in (y[:nx], y[-nx:]):
        assert np.abs(half - r.u).max() <= 1e-12 * np.abs(r.u).max()
    assert np.abs(r.u - u0).max() > 1e-3  # the state really moved


def test_lf_layer_matches_design_table():
    nx, dx, dt, nu, alpha = 16, 0.1, 0.01, 0.05, 1.5
    (layer,) = B.step_layers("lf", nx, dx, dt, nu, alpha=alpha)
    c = nu * dt / dx**2 + alpha * dt / (2 * dx)
    P = layer.P.to_dense()
    assert np.allclose(np.diag(P), 1 - 2 * c) and np.allclose(np.diag(P, 1), c)
    Q = layer.branches[0].Q.to_dense()
    assert np.allclose(np.diag(Q, 1), -dt / (2 * dx)) and np.allclose(np.diag(Q, -1), dt / (2 * dx))
    assert layer.branches[0].act.name == "square_half"


def test_float32_stays_float32():
    nx = 200
    x = np.arange(nx) / nx
    u0 = np.sin(2 * np.pi * x)
    r32 = B.solve(u0.astype(np.float32), 1.0 / nx, 0.1, NU, "muscl-rk3")
    r64 = B.solve(u0, 1.0 / nx, 0.1, NU, "muscl-rk3")
    assert r32.u.dtype == np.float32 and r64.u.dtype == np.float64
    assert np.abs(r32.u - r64.u).max() < 1e-4  # 400 steps of float32 round-off
    (layer,) = B.step_layers("eo", nx, 1.0 / nx, r32.dt, NU, dtype=np.float32)
    assert layer.dtype == np.float32


def test_bad_input_raises():
    u = np.sin(2 * np.pi * np.arange(50) / 50)
    with pytest.raises(ValueError, match="negative"):
        B.solve(u, 0.02, 0.1, -0.1)
    with pytest.raises(ValueError, match="largest stable dt"):
        B.solve(u, 0.02, 0.1, 0.0, "lf", cfl=1.5)
    with pytest.raises(ValueError, match=r"largest stable dt is 0\.02"):
        B.solve(u, 0.02, nu=0.0, scheme="rusanov", dt=0.03, nsteps=3)
    with pytest.warns(RuntimeWarning, match="stability limit"):
        B.solve(u, 0.02, nu=0.0, scheme="rusanov", dt=0.021, nsteps=2, unsafe=True)
    bad = u.copy()
    bad[7] = np.nan
    with pytest.raises(ValueError, match="index 7"):
        B.solve(bad, 0.02, 0.1)
    with pytest.raises(ValueError, match="1-D"):
        B.solve(u.reshape(5, 10), 0.02, 0.1)
    with pytest.raises(ValueError, match="unknown scheme"):
        B.solve(u, 0.02, 0.1, scheme="weno")
    with pytest.raises(ValueError, match="nu > 0"):
        B.solve(u, 0.02, 0.1, 0.0, "central")
    with pytest.raises(ValueError, match="alpha"):
        B.solve(u, 0.02, 0.1, 0.0, "lf", alpha=0.5)
    with pytest.raises(ValueError, match="not a chain"):
        B.step_layers("muscl-rk3", 50, 0.02, 0.001, 0.0)


def test_time_step_arguments_and_input_untouched():
    u = np.sin(2 * np.pi * np.linspace(0, 1, 41)) + 0.1
    keep = u.copy()
    a = B.solve(u, 0.025, 0.2, 0.01, "eo", nsteps=50, boundary="dirichlet")
    b = B.solve(u, 0.025, nu=0.01, scheme="eo", dt=0.004, nsteps=50, boundary="dirichlet")
    assert np.array_equal(u, keep)  # the Dirichlet ends are set on a copy
    assert a.nsteps == b.nsteps == 50 and a.dt == pytest.approx(0.004)
    assert np.abs(a.u - b.u).max() < 1e-15 and a.u[0] == 0.0 and a.u[-1] == 0.0
    with pytest.raises(ValueError, match="does not reach t_end"):
        B.solve(u, 0.025, 0.3, 0.01, "eo", dt=0.004, nsteps=50)
    with pytest.raises(ValueError, match="give t_end"):
        B.solve(u, 0.025, nu=0.01, nsteps=50)


def test_blow_up_names_the_step():
    u = np.sin(2 * np.pi * np.arange(64) / 64)
    with pytest.warns(RuntimeWarning):
        with pytest.raises(ValueError, match=r"NaN or inf by step \d+"):
            B.solve(u, 1 / 64, nu=1e-3, scheme="central", dt=0.5, nsteps=5000, unsafe=True, check_every=8)


def test_cli_solve_burgers_writes_errors(tmp_path, capsys):
    import json

    from fastdds.cli import main

    out = tmp_path / "out.json"
    assert main(["solve", "burgers", "--ic", "sin2pi", "--nu", "0.02", "--scheme", "muscl-rk3", "--nx", "201",
                 "--t", "0.1", "--json", str(out), "--quiet"]) == 0
    d = json.loads(out.read_text())
    assert len(d["x"]) == len(d["u"]) == 201 and d["steps"] > 0
    e = np.array(d["u"]) - burgers_sin2pi(np.array(d["x"]), d["t"], 0.02)
    assert d["errors"]["Linf"] == pytest.approx(np.abs(e).max(), rel=1e-12)
    assert d["errors"]["L2"] == pytest.approx(np.sqrt((e * e).mean()), rel=1e-12)
    assert d["errors"]["Linf"] < 1e-3
    assert "L1" in capsys.readouterr().out
    assert main(["solve", "burgers", "--ic", "riemann", "--nx", "101", "--cfl", "1.5", "--quiet"]) == 2


def test_chunks_callback_and_start_give_the_one_call_answer():
    nx = 201
    x = np.linspace(0.0, 1.0, nx)
    u0 = 1.3 * np.sin(2 * np.pi * x)
    one = B.solve(u0, x[1], 0.2, NU, "lf", boundary="dirichlet")
    seen = []
    many = B.solve(u0, x[1], 0.2, NU, "lf", boundary="dirichlet", chunks=7,
                   callback=lambda step, n, u: seen.append((step, n, u.copy())))
    assert np.array_equal(one.u, many.u) and [s for s, _, _ in seen][-1] == one.nsteps == seen[0][1]
    assert len(seen) == 7 and np.array_equal(seen[-1][2], one.u)
    step, _, u_mid = seen[2]
    rest = B.solve(u0, x[1], 0.2, NU, "lf", boundary="dirichlet", start=(step, u_mid))
    assert np.array_equal(rest.u, one.u)
    # alpha is fixed from u0: restarting solve from the middle state (alpha = its max|u|) differs
    fresh = B.solve(u_mid, x[1], nu=NU, scheme="lf", dt=one.dt, nsteps=one.nsteps - step, boundary="dirichlet")
    assert np.abs(fresh.u - one.u).max() > 1e-6
    assert B.dissipation_speed(u0) == pytest.approx(1.3, rel=1e-12)
    with pytest.raises(ValueError, match="start step"):
        B.solve(u0, x[1], 0.2, NU, "lf", start=(one.nsteps + 1, u_mid))
    with pytest.raises(ValueError, match="dissipation_speed"):
        B.step_layers("lf", nx, x[1], one.dt, NU)


@pytest.mark.parametrize("scheme", ["lf", "muscl-rk3"])
def test_cli_answer_does_not_depend_on_chunks(scheme, tmp_path):
    import json

    from fastdds.cli import main

    common = ["solve", "burgers", "--scheme", scheme, "--nx", "401", "--t", "0.3", "--quiet"]
    us = []
    for chunks in (1, 7):
        out = tmp_path / f"c{chunks}.json"
        assert main(common + ["--chunks", str(chunks), "--json", str(out)]) == 0
        us.append(np.array(json.loads(out.read_text())["u"]))
    assert np.array_equal(us[0], us[1])
    x = np.linspace(0.0, 1.0, 401)
    ref = B.solve(np.sin(2 * np.pi * x), x[1], 0.3, 0.01 / np.pi, scheme, boundary="dirichlet")
    assert np.array_equal(us[0], ref.u)


def test_cli_resume_after_interrupt_equals_uninterrupted_run(tmp_path, monkeypatch):
    import json

    from fastdds.cli import main
    from fastdds.io import load_checkpoint

    ck, out = tmp_path / "ck.npz", tmp_path / "out.json"
    common = ["solve", "burgers", "--scheme", "lf", "--nx", "201", "--t", "0.2", "--quiet", "--chunks", "5",
              "--checkpoint", str(ck), "--json", str(out)]
    real = B.solve

    def interrupted(*args, callback=None, **kw):
        def cb(step, nsteps, u):
            callback(step, nsteps, u)
            if step >= nsteps // 2:
                raise KeyboardInterrupt
        return real(*args, callback=cb, **kw)

    monkeypatch.setattr(B, "solve", interrupted)
    assert main(common) == 130 and not out.exists()
    monkeypatch.setattr(B, "solve", real)
    step = load_checkpoint(ck)[1]["step"]
    assert main(common + ["--resume"]) == 0
    resumed = np.array(json.loads(out.read_text())["u"])
    assert main(common[:-4] + ["--json", str(out)]) == 0
    assert 0 < step and np.array_equal(resumed, np.array(json.loads(out.read_text())["u"]))
    assert main(common + ["--resume", "--cfl", "0.5"]) == 2  # options differ from the checkpoint's


def test_compile_time_is_reported_apart_from_the_run():
    x = np.linspace(0.0, 1.0, 101)
    B.compile_kernel("muscl-rk3", np.float64)
    assert B.compile_kernel("muscl-rk3", np.float64) < 0.05  # compiled: a second call costs nothing
    r = B.solve(np.sin(2 * np.pi * x), x[1] - x[0], 0.05, nu=0.01, scheme="muscl-rk3", boundary="dirichlet")
    assert 0.0 <= r.compile < 0.05 and r.wall > 0.0


def test_any_number_of_kernel_calls_and_resume_mid_call():
    """chunks far above the step count (a CLI sizing calls by time on a huge grid) runs one step a
    call without holding a list of bounds; a resume from any step gives the one-call answer bit
    for bit."""
    x = np.linspace(-1, 1, 81)
    u0 = -np.sin(np.pi * x)
    one = B.solve(u0, x[1] - x[0], 0.2, 0.01, "lf", boundary="dirichlet")
    seen = []
    many = B.solve(u0, x[1] - x[0], 0.2, 0.01, "lf", boundary="dirichlet", chunks=10**15,
                         callback=lambda step, total, u: seen.append((step, u.copy())))
    assert [s for s, _ in seen] == list(range(1, one.nsteps + 1))
    assert np.array_equal(many.u, one.u)
    step, state = seen[one.nsteps // 3]
    resumed = B.solve(u0, x[1] - x[0], 0.2, 0.01, "lf", boundary="dirichlet", chunks=7, start=(step, state))
    assert np.array_equal(resumed.u, one.u)
