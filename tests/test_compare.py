"""``fastdds compare`` on the published viscous-Burgers PINNs, small generated networks, a DynPMNN
checkpoint and residual nets, against every registered scheme."""

import contextlib
import importlib.util
import json
import re
import sys

import numpy as np
import pytest
from test_models import BUILDERS, build

from fastdds import schemes
from fastdds.analysis.operator_stats import layer_operators
from fastdds.cli import main
from fastdds.nn.mlp import MLP
from fastdds.operators import Banded
from fastdds.schemes import SCHEMES

NU = 0.01 / np.pi


def one_blas_thread():
    """Small GEMMs run fastest on one BLAS thread on a shared, loaded CI machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, "blas")


@pytest.fixture(scope="module")
def published(shared_data, tmp_path_factory):
    """One full compare of the ten viscous-Burgers runs against Lax-Friedrichs, every output on."""
    files = [shared_data / "pinn_weights" / f"burgers_viscous_run{k}.npz" for k in range(1, 11)]
    out = tmp_path_factory.mktemp("compare")
    plots = ["--plots", str(out / "plots")] if importlib.util.find_spec("matplotlib") else []
    with one_blas_thread():
        status = main(["compare"] + [str(f) for f in files]
                      + ["--scheme", "burgers-lf", "--nx", "101", "--json", str(out / "r.json"),
                         "--markdown", str(out / "r.md")] + plots)
    assert status == 0
    return out, json.loads((out / "r.json").read_text())


def test_fd_operators_match_the_lax_friedrichs_table(published):
    _, res = published
    setup, ops = res["setup"], res["operators"]
    dx, dt = setup["dx"], setup["dt"]
    assert dx == pytest.approx(0.01) and dt <= 0.5 * dx / (1 + 2 * NU / dx) * (1 + 1e-12)
    # DESIGN.md: P = I + (nu dt/h^2 + alpha dt/(2h)) D2, Q = -(dt/(2h)) D1, alpha = 1
    c = NU * dt / dx**2 + dt / (2 * dx)
    p_ref = Banded.stencil((c, 1 - 2 * c, c), 101)
    m = p_ref.moments(1.0, 2)[:, 1:-1]
    assert ops["fd.P"]["band_energy"] == 1.0 and ops["fd.Q0"]["band_energy"] == 1.0
    assert ops["fd.P"]["M0_mean"] == pytest.approx(1.0, rel=1e-12)           # every row conserves
    assert ops["fd.P"]["M2_mean"] == pytest.approx(m[2].mean() * 99 / 101, rel=1e-12)  # end rows are identity
    assert ops["fd.Q0"]["M1_mean"] == pytest.approx(-dt / dx * 99 / 101, rel=1e-12)
    assert ops["fd.P"]["shape"] == "101x101" and ops["fd.P"]["nparams"] == 303


def test_published_pinns_look_like_the_study_says(published):
    _, res = published
    ops, cross = res["operators"], res["cross_run"]
    assert sum(ops[f"W{l}"]["nparams"] for l in range(9)) == 200 + 7 * 100 * 100 + 100
    for l in range(1, 8):
        w = ops[f"W{l}"]
        assert w["band_energy"] < 0.05 and w["band_energy_rcm"] < 0.05       # no hidden band
        assert abs(w["entry_skewness"]) < 0.1 and w["circ_inside"] > 0.9     # random-looking entries/eigenvalues
        assert abs(cross["layers"][l]["raw_mean"]) < 0.01                     # runs uncorrelated entry by entry
        assert cross["layers"][l]["matched_mean"] > res["baseline"]["layers"][l]["matched_mean"]
    assert cross["pairs"] == 45 and cross["output_corr_mean"] > 0.999 and cross["output_spread"] < 0.01
    act = [cross["layers"][l]["act_corr"] for l in range(8)]
    assert act[0] > act[-1]                                                   # matched activations drift apart


def test_readme_abridged_output(published):
    """The numbers of the README's abridged output (3 significant digits, as printed)."""
    from fastdds.analysis.report import fmt

    _, res = published
    ops, cross, base = res["operators"], res["cross_run"], res["baseline"]
    readme = {  # measure: W1, W4, W7, init.W4, fd.P, fd.Q0
        "M0_std": ["0.956", "0.999", "1.15", "0.958", "0", "0"],
        "entry_excess_kurtosis": ["-0.854", "-0.0559", "-1.03", "-1.19", "55.8", "48.5"],
        "entry_ks_pvalue": ["2.08e-18", "2.72e-12", "2.68e-24", "5.74e-30", "0", "0"],
        "mp_ks": ["0.0603", "0.0757", "0.0257", "0.0252", "0.0937", "0.176"],
        "mp_edge_ratio": ["3.42", "2.81", "1.44", "0.935", "0.709", "0.51"],
        "circ_inside": ["0.96", "1", "0.98", "0.94", "0.564", "0.505"],
        "band_energy": ["0.0314", "0.027", "0.0292", "0.0309", "1", "1"],
        "band_energy_rcm": ["0.0312", "0.0305", "0.0291", "0.0305", "1", "1"],
        "stable_rank": ["7.31", "8.88", "17.4", "26.7", "35.6", "49.5"],
    }
    for key, cells in readme.items():
        assert [fmt(ops[name][key]) for name in ("W1", "W4", "W7", "init.W4", "fd.P", "fd.Q0")] == cells, key
    assert [fmt(cross["layers"][l]["matched_mean"]) for l in (1, 4, 7)] == ["0.0932", "0.14", "0.0593"]
    assert [fmt(cross["layers"][l]["act_corr"]) for l in (1, 4, 7)] == ["0.975", "0.889", "0.823"]
    assert [fmt(base["layers"][l]["matched_mean"]) for l in (1, 4, 7)] == ["0.0164", "0.015", "0.0162"]
    assert fmt(1 - cross["output_corr_mean"]) == "4.18e-06" and fmt(1 - base["output_corr_mean"]) == "1.09"


def test_outputs_are_written(published):
    out, res = published
    md = (out / "r.md").read_text()
    assert "| measure | W0 |" in md and "fd.P" in md and "corr matched" in md
    dyn = res["dynamics"]
    assert len(dyn["MLP"]["depth"]) == 10 and len(dyn["FD"]["depth"]) == res["setup"]["nsteps"] + 1


def test_plots_are_written(published):
    pytest.importorskip("matplotlib")
    out, _ = published
    names = sorted(p.name for p in (out / "plots").iterdir())
    assert names == ["dynamics.png", "eigenvalues.png", "moments.png", "singular_values.png", "weights.png"]
    assert all((out / "plots" / n).stat().st_size > 10_000 for n in names)


@pytest.fixture
def small_runs(tmp_path):
    paths = []
    for k in range(3):
        net = MLP([2, 12, 12, 1], "tanh", seed=k)
        path = tmp_path / f"run{k}.npz"
        net.save(path)
        paths.append(str(path))
    return paths


def test_compare_small_runs_eo_scheme(small_runs, tmp_path, capsys):
    assert main(["compare"] + small_runs + ["--scheme", "burgers-eo", "--nx", "21", "--probes", "64", "--no-baseline",
                              "--json", str(tmp_path / "eo.json")]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "fd.Q0" in text and "fd.Q1" in text and "3 pairs" in text
    assert f"compare: loading {len(small_runs)} model file(s)" in captured.err
    assert re.search(rf"compare: measuring \d+ layer\(s\) of {len(small_runs)} MLP run\(s\), 64 probes, against "
                     r"burgers-eo \(nx = 21, \d+ steps; memory about 43.1 KiB of [0-9.]+ [KMGT]?i?B available\)", captured.err)
    assert 0 <= float(re.search(r"compare: measured in ([0-9.]+) s", captured.err).group(1)) < 60
    res = json.loads((tmp_path / "eo.json").read_text())
    assert res["baseline"] is None and res["operators"]["fd.Q1"]["band_energy"] == 1.0


def test_single_run_skips_the_cross_run_table(small_runs, capsys):
    assert main(["compare"] + small_runs[:1] + ["--nx", "21", "--probes", "64"]) == 0
    assert "needs at least 2 weight files" in capsys.readouterr().out


def test_ftcs_heat_scheme(small_runs, tmp_path, capsys):
    pytest.importorskip("fastdds.pde.heat")
    r, n = 0.25, 21
    assert main(["compare"] + small_runs + ["--scheme", "ftcs-heat", "--nx", str(n), "--probes", "64",
                                            "--no-baseline", "--boundary", "periodic", "--r", str(r),
                                            "--json", str(tmp_path / "h.json")]) == 0
    assert "ftcs-heat" in capsys.readouterr().out
    p = json.loads((tmp_path / "h.json").read_text())["operators"]["fd.P"]
    assert p["M0_mean"] == pytest.approx(1.0, rel=1e-14) and p["M2_mean"] == pytest.approx(2 * r, rel=1e-14)
    assert p["M1_std"] == pytest.approx(0.0, abs=1e-14)
    # periodic wrap: the two corner entries r lie outside the band
    assert p["band_energy"] == pytest.approx(1 - 2 * r**2 / (n * ((1 - 2 * r) ** 2 + 2 * r**2)), rel=1e-12)
    assert p["circ_spectral_radius"] == pytest.approx(1.0, rel=1e-12)   # the k = 0 mode is kept


def test_table_cells():
    from fastdds.analysis.report import fmt, render_markdown, render_text

    assert [fmt(v) for v in (3, np.nan, 0.0, 0.123456, 1.5e-7, "x")] == ["3", "-", "0", "0.123", "1.50e-07", "x"]
    assert render_markdown(["a", "b"], [["1", "2"]]) == "| a | b |\n|---|---|\n| 1 | 2 |\n"
    assert render_text(["a", "bb"], [["xyz", "1"]]).splitlines() == ["a    bb", "---  --", "xyz   1"]


def test_missing_weight_file(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "nope.npz"), "--nx", "21"]) == 2
    assert "no model file" in capsys.readouterr().err


def test_bad_options(small_runs, capsys):
    assert main(["compare"] + small_runs + ["--nx", "2"]) == 2
    assert "nx = 2 is too small" in capsys.readouterr().err
    assert main(["compare"] + small_runs + ["--probes", "3"]) == 2
    assert "--probes 3" in capsys.readouterr().err
    assert main(["compare"] + small_runs + ["--cfl", "1.5"]) == 2
    assert "cfl = 1.5 must be in (0, 1]" in capsys.readouterr().err
    assert main(["compare"] + small_runs + ["--scheme", "burgers-central", "--nu", "0"]) == 2
    assert "burgers-central has no numerical dissipation and needs nu > 0" in capsys.readouterr().err
    assert main(["compare"] + small_runs + ["--scheme", "rk4-heat", "--nu", "0"]) == 2
    assert "nu = 0.0 must be positive" in capsys.readouterr().err


def test_plots_without_matplotlib_name_the_extra(small_runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["compare"] + small_runs + ["--nx", "21", "--plots", str(tmp_path / "p")]) == 2
    assert "pip install 'fastdds[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def _small_mlp_files(tmp_path, runs=2):
    paths = []
    for k in range(runs):
        path = tmp_path / f"mlp{k}.npz"
        MLP([2, 6, 1], "tanh", seed=k).save(path)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_registered_scheme_compares(scheme, tmp_path):
    out = tmp_path / "s.json"
    assert main(["compare"] + _small_mlp_files(tmp_path) + ["--scheme", scheme, "--nx", "21", "--probes", "32",
                                                           "--no-baseline", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    fd = [name for name in res["operators"] if name.startswith("fd")]
    step = schemes.build(scheme, nx=21)
    assert len(fd) == sum(len(layer_operators(b)) for b in step.blocks) > 0
    assert len(res["dynamics"]["FD"]["depth"]) == len(step.blocks) * step.nsteps + 1


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_registered_chain_equals_the_library_solver(scheme):
    """The registry's step, chained, gives what the scheme's own solver gives (one alpha for lf)."""
    from fastdds.layers import Chain
    from fastdds.pde import burgers as B
    from fastdds.pde import eikonal, heat

    nx = 41
    step = schemes.build(scheme, nx=nx, boundary="periodic" if "heat" in scheme else "dirichlet")
    y = Chain(step.blocks * step.nsteps)(step.u0)[:nx]
    info = step.info
    if scheme.startswith("burgers"):
        parts = scheme.split("-", 2)
        rk = parts[2] if len(parts) > 2 else "euler"
        assert ("alpha" in info) == (parts[1] == "lf")
        ref = B.solve(step.u0[:nx], info["dx"], nu=info["nu"], scheme=B.Scheme(parts[1], rk=rk), dt=info["dt"],
                      nsteps=step.nsteps, boundary="dirichlet", left=step.u0[0], right=step.u0[nx - 1]).u
    elif scheme.endswith("heat"):
        ref = getattr(heat, scheme.split("-")[0])(step.u0, info["dx"], info["dt"], step.nsteps, info["nu"])
    else:
        name = {"hj1d-lf": "lax_friedrichs", "hj1d-godunov": "godunov"}[scheme]
        ref = eikonal.hj1d_solve(nx, name, dt=info["dt"], t_end=info["dt"] * step.nsteps)[1]
    assert np.abs(y - ref).max() <= 1e-12 * max(np.abs(ref).max(), 1.0)
    assert np.abs(y - step.u0[:nx]).max() > 1e-3  # the state really moved


def test_lax_friedrichs_alpha_is_the_dissipation_speed_of_u0():
    from fastdds.pde import burgers as B

    for nx in (101, 22):  # sin(2 pi x) reaches 1 on the 101-node grid only
        step = schemes.build("burgers-lf", nx=nx)
        info = step.info
        assert info["alpha"] == B.dissipation_speed(step.u0) == np.abs(np.sin(2 * np.pi * np.linspace(0, 1, nx))).max()
        c = info["nu"] * info["dt"] / info["dx"] ** 2 + info["alpha"] * info["dt"] / (2 * info["dx"])
        assert step.blocks[0].P.to_dense()[5, 4] == pytest.approx(c, rel=1e-14)
    with pytest.raises(ValueError, match="unknown scheme 'weno'"):
        schemes.build("weno")


@pytest.fixture
def dynpmnn_checkpoint(tmp_path):
    """A trained DynPMNN (two neurons, a stable Euler step) saved by save_model."""
    from fastdds.models import save_model
    from fastdds.nn.dynpmnn import DynPMNN
    from fastdds.nn.train import fit

    model = DynPMNN(n_in=4, neurons=2, a=(0.2, 0.1), b=0.02, g=3.0, I=(0.0, 0.05), dt=0.5, steps=6, seed=2)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (64, 4))
    Y = X[:, :1] - 0.5 * X[:, 1:2]
    fit(model, (X, Y), (X[:16], Y[:16]), epochs=2, patience=0, progress=False)
    path = tmp_path / "dynpmnn.npz"
    save_model(path, model)
    return path, model


def test_dynpmnn_checkpoint_with_fhn_fixed_points(dynpmnn_checkpoint, tmp_path, capsys):
    path, model = dynpmnn_checkpoint
    out = tmp_path / "d.json"
    assert main(["compare", str(path), "--scheme", "ftcs-heat", "--nx", "21", "--probes", "32",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Standardize" in text and "none: not a Layer" in text and "needs at least 2 weight files" in text
    res = json.loads(out.read_text())
    kinds = [row["kind"] for row in res["layer_form"]]
    assert kinds == ["Layer", "Standardize", "Layer", "Layer", "Layer", "Layer", "Layer"]
    assert res["layer_form"][4]["position"] == "4-9, 6 times"  # the one Euler-step Layer, K = 6 times
    assert res["layer_form"][4]["activations"] == "square_half cube"
    # FTCS tridiag(r, 1 - 2r, r) on 21 nodes with zero ghosts, r = 1/4: radius 1 - 4 r sin^2(pi / 44)
    assert res["fd_layer_form"][0]["radius"] == pytest.approx(np.cos(np.pi / 44) ** 2, rel=1e-12)
    ops = res["operators"]
    # Euler step I + dt J at the fixed points; J = [[-(3v^2 - 2(1 + a)v + a), -1], [b, -b g]]
    fhn = model.fhn
    points = fhn.fixed_points()
    assert [len(p) for p in points] == [1, 1]
    steps = []
    for j, ((v, _),) in enumerate(points):
        a, b, g, dt = (float(getattr(fhn, k)[j]) for k in ("a", "b", "g", "dt"))
        steps.append(np.eye(2) + dt * np.array([[-(3 * v * v - 2 * (1 + a) * v + a), -1.0], [b, -b * g]]))
    fp = ops["fhn0.fp0"]
    assert set(n for n in ops if n.startswith("fhn")) == {"fhn0.fp0"} and fp["shape"] == "4x4"
    assert fp["M0_mean"] == pytest.approx(np.mean([s.sum(axis=1) for s in steps]), rel=1e-12)
    radius = max(np.abs(np.linalg.eigvals(s)).max() for s in steps)
    assert fp["circ_spectral_radius"] == pytest.approx(radius, rel=1e-12)
    assert fp["M1_mean"] == pytest.approx(np.mean([2 * s[0, 1] - 2 * s[1, 0] for s in steps]) / 2, rel=1e-12)


def test_two_residual_nets(tmp_path, capsys):
    from fastdds.models import save_model
    from fastdds.nn.residual import ResNet

    paths = []
    for k in range(2):
        net = ResNet(n_in=3, width=5, depth=3, h=0.25, seed=k)
        paths.append(tmp_path / f"res{k}.npz")
        save_model(paths[-1], net)
    out = tmp_path / "r.json"
    assert main(["compare"] + [str(p) for p in paths] + ["--scheme", "burgers-eo", "--nx", "21", "--probes", "32",
                                                           "--json", str(out)]) == 0
    assert "Across runs: needs at least 2 weight files of one MLP architecture" in capsys.readouterr().out
    res = json.loads(out.read_text())
    ops = res["operators"]
    assert [row["operators"] for row in res["layer_form"]] == (
        ["W0"] + [f"L{l}.P L{l}.Q0 L{l}.R0" for l in (1, 2, 3)] + ["W4"])
    first = ResNet(n_in=3, width=5, depth=3, h=0.25, seed=0).layers().blocks[1].branches[0]
    assert ops["L1.P"]["kind"] == "Identity" and ops["L1.P"]["M0_mean"] == 1.0       # P = I
    assert ops["L1.P"]["circ_spectral_radius"] == pytest.approx(1.0, rel=1e-14)
    Q, R = first.Q.to_dense(), first.R.to_dense()                                     # Q = h W2, R = W1
    s = np.linalg.svd(Q, compute_uv=False)
    assert ops["L1.Q0"]["stable_rank"] == pytest.approx(np.sum(s**2) / s[0] ** 2, rel=1e-12)
    assert ops["L1.R0"]["entry_std"] == pytest.approx(R.std(), rel=1e-12)
    assert ops["L1.Q0"]["M0_mean"] == pytest.approx(Q.sum(axis=1).mean(), rel=1e-12)
    assert res["cross_run"] is None and len(res["dynamics"]["ResNet"]["depth"]) == 6


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_registered_model_compares(name, tmp_path):
    from fastdds.analysis.operator_stats import form_operators, model_fixed_point_operators
    from fastdds.models import save_model

    model = build(name)
    path, out = tmp_path / "m.npz", tmp_path / "m.json"
    save_model(path, model)
    assert main(["compare", str(path), "--scheme", "burgers-lf-ssp-rk3", "--nx", "11", "--probes", "16",
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    blocks = model.layers().blocks
    ops, listing = form_operators(blocks)
    fixed = model_fixed_point_operators(model)
    assert [row["kind"] for row in res["layer_form"]] == [row["kind"] for row in listing]
    assert [n for n in res["operators"] if not n.startswith("fd")] == [n for n, _ in ops + fixed]
    assert bool(fixed) == (name in ("FHN", "DynPMNN", "FHNNet"))
    assert len(res["dynamics"][name]["depth"]) == len(blocks) + 1
    assert sum(n.startswith("fd") for n in res["operators"]) == 3 * 2  # three stages of P and Q0


def test_input_scaled_mlps_compare_across_runs(tmp_path):
    """MLPs with an input scaling (a leading Layer(P = diag(a), c)) are compared as the plain MLPs
    they are on the scaled probes: the same numbers as unscaled runs probed on [-1, 1]^2."""
    from fastdds.models import save_model

    lower, upper = [-1.0, 0.0], [1.0, 2.0]
    scaled, plain = [], []
    for k in range(3):
        a = MLP([2, 8, 8, 1], "tanh", seed=k, lower=lower, upper=upper)
        b = MLP([2, 8, 8, 1], "tanh", seed=k)
        assert all(np.array_equal(p, q) for p, q in zip(a.params, b.params))
        scaled.append(tmp_path / f"s{k}.npz")
        plain.append(tmp_path / f"p{k}.npz")
        save_model(scaled[-1], a)
        b.save(plain[-1])
    common = ["--nx", "21", "--probes", "64"]
    assert main(["compare"] + [str(p) for p in scaled] + common + ["--box", "-1", "1", "0", "2",
                                                                   "--json", str(tmp_path / "s.json")]) == 0
    assert main(["compare"] + [str(p) for p in plain] + common + ["--box", "-1", "1", "-1", "1",
                                                                  "--json", str(tmp_path / "p.json")]) == 0
    s, p = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "sp")
    assert s["layer_form"][0]["operators"] == "L0.P" and s["layer_form"][0]["c"].startswith("n = 2")
    assert s["cross_run"]["pairs"] == p["cross_run"]["pairs"] == 3
    for key in ("output_corr_mean", "weight_spread_matched"):
        assert s["cross_run"][key] == pytest.approx(p["cross_run"][key], rel=1e-9)
    for ls, lp in zip(s["cross_run"]["layers"], p["cross_run"]["layers"]):
        assert ls["raw_mean"] == lp["raw_mean"] and ls["matched_mean"] == pytest.approx(lp["matched_mean"], rel=1e-9)
    assert s["baseline"]["pairs"] == 3
