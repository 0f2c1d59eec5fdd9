"""``fastdds compare`` on the published viscous-Burgers PINNs and on small generated networks."""

import contextlib
import importlib.util
import json
import sys

import numpy as np
import pytest

from fastdds.cli import main
from fastdds.nn.mlp import MLP
from fastdds.operators import Banded

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


def test_outputs_are_written(published):
    out, res = published
    md = (out / "r.md").read_text()
    assert "| measure | W0 |" in md and "fd.P" in md and "corr matched" in md
    dyn = res["dynamics"]
    assert len(dyn["PINN"]["depth"]) == 10 and len(dyn["FD"]["depth"]) == res["setup"]["nsteps"] + 1


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
    text = capsys.readouterr().out
    assert "fd.Q0" in text and "fd.Q1" in text and "3 pairs" in text
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
    assert "no weight file" in capsys.readouterr().err


def test_bad_options(small_runs, capsys):
    assert main(["compare"] + small_runs + ["--nx", "2"]) == 2
    assert "--nx 2 is too small" in capsys.readouterr().err
    assert main(["compare"] + small_runs + ["--probes", "3"]) == 2
    assert "--probes 3" in capsys.readouterr().err


def test_plots_without_matplotlib_name_the_extra(small_runs, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["compare"] + small_runs + ["--nx", "21", "--plots", str(tmp_path / "p")]) == 2
    assert "pip install 'fastdds[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
