"""fastdds.analysis: every statistic on matrices whose answer is known."""

import numpy as np
import pytest
from scipy import integrate

from fastdds.analysis import cross_run, dynamics, operator_stats, random_matrix
from fastdds.layers import Chain, Layer
from fastdds.operators import Banded, Dense, Identity


def tridiagonal(n, a, b, c):
    """Toeplitz tridiagonal: a on the diagonal, b above, c below (Dirichlet, not periodic)."""
    return Banded((-1, 0, 1), np.array([c, a, b]), "zero", n=n)


# ---- random-matrix laws -------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.1])
def test_mp_cdf_matches_adaptive_quadrature_of_the_density(ratio):
    a, b = 2.0 * (1 - np.sqrt(ratio)) ** 2, 2.0 * (1 + np.sqrt(ratio)) ** 2
    x = np.linspace(a, b, 9)
    ref = [integrate.quad(lambda t: random_matrix.mp_pdf(t, ratio, 2.0), a, xi, limit=200)[0] for xi in x]
    assert np.abs(random_matrix.mp_cdf(x, ratio, 2.0) - ref).max() < 1e-6
    assert random_matrix.mp_cdf(a - 1.0, ratio, 2.0) == 0.0 and random_matrix.mp_cdf(b + 1.0, ratio, 2.0) == 1.0


def test_gaussian_matrix_fits_marchenko_pastur(rng):
    a = 0.3 * rng.standard_normal((400, 200))
    fit = random_matrix.marchenko_pastur_fit(np.linalg.svd(a, compute_uv=False), a.shape)
    assert fit["ratio"] == 0.5
    assert fit["sigma2"] == pytest.approx(0.09, rel=0.02)
    assert fit["ks"] < 0.05
    assert 0.9 < fit["edge_ratio"] < 1.1


def test_structured_matrix_is_far_from_marchenko_pastur(rng):
    a = np.outer(rng.standard_normal(200), rng.standard_normal(100)) + 0.01 * rng.standard_normal((200, 100))
    fit = random_matrix.marchenko_pastur_fit(np.linalg.svd(a, compute_uv=False), a.shape)
    assert fit["ks"] > 0.5 and fit["edge_ratio"] > 10


def test_small_spectra_report_nan():
    fit = random_matrix.marchenko_pastur_fit(np.array([2.0, 1.0]), (100, 2))
    assert np.isnan(fit["ks"]) and fit["ratio"] == 0.02


def test_bad_marchenko_pastur_input():
    with pytest.raises(ValueError, match="singular values"):
        random_matrix.marchenko_pastur_fit(np.ones(5), (10, 20))
    with pytest.raises(ValueError, match="ratio"):
        random_matrix.mp_pdf(1.0, 1.5)


def test_gaussian_matrix_fits_circular_law(rng):
    a = rng.standard_normal((300, 300)) * 0.2
    fit = random_matrix.circular_law_fit(np.linalg.eigvals(a), a.std())
    assert fit["inside"] > 0.95
    assert 0.95 < fit["radius_ratio"] < 1.1
    assert fit["ks"] < 0.05


def test_tridiagonal_eigenvalues_are_far_from_the_circular_law():
    op = tridiagonal(100, 0.5, 0.25, 0.25)
    ev = op.spectrum("eig")
    fit = random_matrix.circular_law_fit(ev, operator_stats.as_matrix(op).std())
    assert fit["ks"] > 0.3


# ---- per-operator measures ----------------------------------------------------------------


def test_tridiagonal_toeplitz_moments_band_and_eigenvalues():
    n, a, b, c = 50, -1.0, 0.3, 0.7
    rep = operator_stats.operator_report(tridiagonal(n, a, b, c), kmax=4)
    prof = rep["moment_profile"]
    # interior rows: M0 = a + b + c, odd moments b - c, even moments b + c
    np.testing.assert_allclose(prof[:, 1:-1], np.array([[a + b + c], [b - c], [b + c], [b - c], [b + c]])
                               * np.ones((1, n - 2)), atol=1e-14)
    np.testing.assert_allclose(prof[:, 0], [a + b, b, b, b, b], atol=1e-14)
    assert rep["band_energy"] == 1.0 and rep["band_energy_rcm"] == 1.0
    k = np.arange(1, n + 1)
    exact = np.sort(a + 2 * np.sqrt(b * c) * np.cos(k * np.pi / (n + 1)))
    np.testing.assert_allclose(np.sort(rep["eigenvalues"].real), exact, atol=1e-10)
    assert np.abs(rep["eigenvalues"].imag).max() < 1e-10
    assert rep["nparams"] == 3 and rep["flops"] == 2 * 3 * n
    assert rep["circ_spectral_radius"] == pytest.approx(np.abs(exact).max(), rel=1e-10)


def test_moments_with_spacing_scale_as_h_to_the_k():
    op = Banded.stencil((1, -2, 1), 20, h=0.1, boundary="periodic", power=2)
    m = operator_stats.moment_stats(op, h=0.1, kmax=4)
    assert m["M0_mean"] == pytest.approx(0.0, abs=1e-10) and m["M1_mean"] == pytest.approx(0.0, abs=1e-10)
    assert m["M2_mean"] == pytest.approx(2.0, rel=1e-12) and m["M2_std"] < 1e-12
    assert m["M4_mean"] == pytest.approx(2.0 * 0.1**2, rel=1e-12)


def test_gaussian_entries(rng):
    s = operator_stats.entry_stats(rng.normal(0.5, 2.0, (100, 100)))
    assert s["mean"] == pytest.approx(0.5, abs=0.05)
    assert s["std"] == pytest.approx(2.0, rel=0.02)
    assert abs(s["skewness"]) < 0.1 and abs(s["excess_kurtosis"]) < 0.15
    assert s["ks_pvalue"] > 0.05


def test_heavy_tailed_entries_are_rejected(rng):
    s = operator_stats.entry_stats(rng.standard_t(3, (100, 100)))
    assert s["excess_kurtosis"] > 2 and s["ks_pvalue"] < 1e-3


def test_band_energy_counts_the_band():
    a = np.zeros((6, 6))
    a[0, 0] = 3.0
    a[2, 5] = 4.0
    assert operator_stats.band_energy(a, 1) == pytest.approx(9 / 25)
    assert operator_stats.band_energy(a, 3) == 1.0
    # rectangular: the diagonal runs corner to corner
    r = np.zeros((2, 10))
    r[0, 2], r[1, 7], r[0, 9] = 1.0, 1.0, 2.0
    assert operator_stats.band_energy(r, 0.5) == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match="band width"):
        operator_stats.band_energy(a, -1)


def test_rcm_recovers_a_hidden_band(rng):
    n = 60
    band = operator_stats.as_matrix(tridiagonal(n, 0.0, 1.0, -1.0))
    p = rng.permutation(n)
    shuffled = band[np.ix_(p, p)]
    assert operator_stats.band_energy(shuffled, 1) < 0.5
    rows, cols = operator_stats.rcm_order(shuffled, keep=1.0)
    assert operator_stats.band_energy(shuffled[np.ix_(rows, cols)], 1) == 1.0


def test_rcm_rectangular_returns_row_and_column_orders(rng):
    a = rng.standard_normal((8, 30))
    rows, cols = operator_stats.rcm_order(a, keep=0.2)
    assert sorted(rows) == list(range(8)) and sorted(cols) == list(range(30))


def test_effective_rank():
    er, sr = operator_stats.effective_rank(np.ones(7))
    assert er == pytest.approx(7.0) and sr == pytest.approx(7.0)
    er, sr = operator_stats.effective_rank(np.array([5.0, 0.0, 0.0]))
    assert er == pytest.approx(1.0) and sr == pytest.approx(1.0)


def test_report_on_identity_and_dense(rng):
    rep = operator_stats.operator_report(Identity(20, 2.0))
    assert rep["M0_mean"] == 2.0 and rep["M1_std"] == 0.0 and rep["band_energy"] == 1.0
    assert rep["nparams"] == 0 and rep["flops"] == 20
    dense = Dense(rng.standard_normal((100, 2)))
    rep = operator_stats.operator_report(dense)
    assert rep["shape"] == "100x2" and rep["nparams"] == 200 and rep["flops"] == 400
    assert np.isnan(rep["mp_ks"]) and np.isnan(rep["circ_inside"])
    with pytest.raises(ValueError, match="Operator"):
        operator_stats.operator_report(np.eye(3))


def test_layer_operators_names():
    D = Banded.stencil((1, -2, 1), 10)
    layer = Layer(Identity(10), [(D, "square_half", None, None), (Dense(np.eye(10)), "tanh", D, None)])
    names = [n for n, _ in operator_stats.layer_operators(layer, "lf.")]
    assert names == ["lf.P", "lf.Q0", "lf.Q1", "lf.R1"]


def test_form_operators_names_each_operator_once_and_lists_every_block(rng):
    from fastdds.layers import dense
    from fastdds.nn.norm import LayerNorm

    W, W2 = Dense(rng.standard_normal((4, 3))), Dense(np.eye(4))
    step = Layer(Identity(4), [(Dense(0.1 * rng.standard_normal((4, 4))), "tanh", W2, None)], c=np.arange(4.0))
    again = Layer(None, [(None, "tanh", W2, None)])  # shares W2 with step
    blocks = [dense(W.matrix, np.ones(4))] + LayerNorm(4).layers().blocks + [step] * 3 + [again]
    ops, listing = operator_stats.form_operators(blocks)
    assert [n for n, _ in ops] == ["W0", "L2.P", "L3.P", "L3.Q0", "L3.R0"]
    assert [r["position"] for r in listing] == ["0", "1", "2", "3-5, 3 times", "6"]
    assert [r["kind"] for r in listing] == ["Layer", "Standardize", "Layer", "Layer", "Layer"]
    assert listing[1]["operators"] == "none: not a Layer"
    assert listing[4]["operators"] == "L3.R0"  # the shared operator keeps its first name
    assert listing[0]["c"] == "n = 4, max |c| 1" and listing[3]["c"] == "n = 4, max |c| 3"
    assert listing[4]["c"] == "-" and listing[3]["activations"] == "tanh" and listing[2]["activations"] == "-"
    assert listing[0]["shape"] == "3 -> 4"
    fd_ops, _ = operator_stats.form_operators([step, again], "fd")
    assert [n for n, _ in fd_ops] == ["fd0.P", "fd0.Q0", "fd0.R0"]
    assert [n for n, _ in operator_stats.form_operators([step], "fd")[0]] == ["fd.P", "fd.Q0", "fd.R0"]


def test_fhn_fixed_point_operators_follow_the_jacobian():
    from fastdds.nn.dynpmnn import DynPMNN
    from fastdds.nn.fhn import FHN

    # neuron 0 has three fixed points (bistable: small g), neuron 1 one
    fhn = FHN(2, a=(0.1, 0.2), b=(0.01, 0.02), g=(8.0, 3.0), I=(0.0, 0.1), dt=(0.3, 0.5), steps=2)
    points = fhn.fixed_points()
    assert [len(p) for p in points] == [3, 1]
    ops = operator_stats.fhn_fixed_point_operators(fhn)
    assert [n for n, _ in ops] == ["fp0", "fp1", "fp2"]
    for k, (_, op) in enumerate(ops):
        A = op.to_dense()
        assert list(op.offsets) == [0, 2, -2] and A.shape == (4, 4)
        for j in range(2):
            v = points[j][min(k, len(points[j]) - 1), 0]
            a, b, g, dt = (float(getattr(fhn, name)[j]) for name in ("a", "b", "g", "dt"))
            J = np.array([[-(3 * v * v - 2 * (1 + a) * v + a), -1.0], [b, -b * g]])
            np.testing.assert_allclose(A[np.ix_([j, 2 + j], [j, 2 + j])], np.eye(2) + dt * J, rtol=1e-13, atol=1e-15)
        assert A[0, 1] == A[0, 3] == A[1, 0] == A[2, 3] == 0.0  # neurons do not couple
    found = operator_stats.model_fixed_point_operators(DynPMNN(n_in=3, neurons=1))
    assert [n for n, _ in found] == ["fhn0.fp0"]
    np.testing.assert_allclose(found[0][1].to_dense(), [[1 - 20 * 0.2, -20.0], [20 * 0.02, 1 - 20 * 0.06]], rtol=1e-14)
    assert operator_stats.model_fixed_point_operators(Layer(Identity(3))) == []


# ---- across runs ----------------------------------------------------------------------------


def test_independent_matrices_are_uncorrelated(rng):
    assert abs(cross_run.pearson(rng.standard_normal((100, 100)), rng.standard_normal((100, 100)))) < 0.03
    a = rng.standard_normal(50)
    assert cross_run.pearson(a, 3 * a + 1) == pytest.approx(1.0)


def mlp_layers(weights, act="tanh"):
    last = len(weights) - 1
    return [Layer(None, [(None, act if l < last else "identity", Dense(w.copy()), b.copy())])
            for l, (w, b) in enumerate(weights)]


def random_mlp(rng, sizes):
    """(W (fan_out, fan_in), b) per layer, drawn in the (fan_in, fan_out) order of the weight files."""
    return [(rng.standard_normal((i, o)).T / np.sqrt(i), 0.1 * rng.standard_normal(o))
            for i, o in zip(sizes, sizes[1:])]


@pytest.mark.parametrize("signs", [False, True])
def test_permuted_network_matches_perfectly(rng, signs):
    sizes = [2, 16, 16, 1]
    w = random_mlp(rng, sizes)
    perms = [rng.permutation(16) for _ in range(2)]
    flips = [np.where(rng.random(16) < 0.5, -1.0, 1.0) if signs else np.ones(16) for _ in range(2)]
    w_perm = cross_run.align_mlp(w, perms, flips)
    probes = rng.uniform(-1, 1, (300, 2))
    ya = cross_run.network_states(mlp_layers(w), probes)
    yb = cross_run.network_states(mlp_layers(w_perm), probes)
    np.testing.assert_allclose(ya[-1], yb[-1], rtol=1e-12, atol=1e-12)   # same function
    assert abs(cross_run.pearson(w[1][0], w_perm[1][0])) < 0.5             # not equal entry by entry
    res = cross_run.compare_runs([mlp_layers(w), mlp_layers(w_perm)], probes, signs=signs)
    for layer in res["layers"]:
        assert layer["matched_mean"] == pytest.approx(1.0, abs=1e-12)
        assert layer["weight_spread_matched"] == pytest.approx(0.0, abs=1e-12)
    assert res["layers"][1]["act_corr"] == pytest.approx(1.0, abs=1e-12)
    assert res["output_corr_mean"] == pytest.approx(1.0) and res["output_spread"] < 1e-12


def test_match_neurons_recovers_a_permutation(rng):
    acts = rng.standard_normal((200, 12))
    p = rng.permutation(12)
    perm, sign, corr = cross_run.match_neurons(acts, -acts[:, np.argsort(p)] * 2.0, signs=True)
    np.testing.assert_array_equal(np.argsort(p)[perm], np.arange(12))
    assert np.all(sign == -1.0) and np.allclose(corr, 1.0)
    with pytest.raises(ValueError, match="equal widths"):
        cross_run.match_neurons(acts, acts[:, :5])


def test_independent_networks_match_weakly(rng):
    sizes = [2, 20, 20, 1]
    nets = [mlp_layers(random_mlp(rng, sizes)) for _ in range(3)]
    res = cross_run.compare_runs(nets, rng.uniform(-1, 1, (400, 2)))
    assert res["pairs"] == 3 and res["signs"]
    for layer in res["layers"]:
        assert abs(layer["raw_mean"]) < 0.2
    assert res["weight_spread_raw"] == pytest.approx(np.sqrt(2 / 3), rel=0.15)


def test_compare_runs_bad_input(rng):
    w = random_mlp(rng, [2, 5, 1])
    with pytest.raises(ValueError, match="at least 2"):
        cross_run.compare_runs([mlp_layers(w)], rng.random((10, 2)))
    with pytest.raises(ValueError, match="architectures"):
        cross_run.compare_runs([mlp_layers(w), mlp_layers(random_mlp(rng, [2, 6, 1]))], rng.random((10, 2)))
    with pytest.raises(ValueError, match="MLP form"):
        cross_run.mlp_weights([Layer(Identity(3))])


# ---- layer-wise dynamics --------------------------------------------------------------------


def test_chain_trajectory_of_a_diffusion_step_decays_geometrically():
    n, r = 32, 0.25
    step = Layer(Banded.stencil((r, 1 - 2 * r, r), n, boundary="periodic"))
    u0 = np.sin(2 * np.pi * np.arange(n) / n)
    traj = dynamics.chain_trajectory(Chain([step] * 5), u0)
    g = 1 - 4 * r * np.sin(np.pi / n) ** 2           # amplification of the k = 1 mode
    steps = dynamics.step_sizes(traj)
    np.testing.assert_allclose(steps[1:] / steps[:-1], g, rtol=1e-12)
    stats = dynamics.depth_statistics([traj])
    np.testing.assert_allclose(stats["std"], np.sqrt(0.5) * g ** np.arange(6), rtol=1e-12)
    assert stats["depth"][-1] == 1.0 and np.isnan(stats["spread"]).all() and np.isnan(stats["step"][-1])


def test_depth_statistics_spread_and_matching(rng):
    sizes = [2, 16, 16, 1]
    w = random_mlp(rng, sizes)
    perms = [rng.permutation(16) for _ in range(2)]
    ones = [np.ones(16)] * 2
    probes = rng.uniform(-1, 1, (100, 2))
    runs = [cross_run.network_states(mlp_layers(v), probes) for v in (w, cross_run.align_mlp(w, perms, ones))]
    inverse = [np.argsort(p) for p in perms]
    stats = dynamics.depth_statistics(runs, [None, (inverse, ones)])
    assert stats["spread"][0] == 0.0 and stats["spread"][-1] < 1e-12
    assert stats["spread"][1] > 0.3
    np.testing.assert_allclose(stats["spread_matched"], 0.0, atol=1e-12)
    assert np.isnan(stats["step"][0]) and np.isfinite(stats["step"][1])


def test_relative_spread(rng):
    a = rng.standard_normal(1000)
    assert cross_run.relative_spread([a, a, a]) < 1e-15
    assert cross_run.relative_spread([np.zeros(3)] * 2) == 0.0
    runs = [rng.standard_normal(20000) for _ in range(4)]
    assert cross_run.relative_spread(runs) == pytest.approx(np.sqrt(3 / 4), rel=0.02)


def test_euler_radii_of_an_fd_step_and_a_residual_block(rng):
    from fastdds.pde.heat import ftcs_layer

    n, r = 16, 0.4
    step = ftcs_layer(n, r, boundary="periodic")
    (radius,) = dynamics.euler_radii([step] * 3, rng.standard_normal(n), [0])
    k = np.arange(n)
    assert radius == pytest.approx(np.abs(1 - 4 * r * np.sin(np.pi * k / n) ** 2).max(), rel=1e-12)  # von Neumann
    W1, W2 = rng.standard_normal((5, 5)), 0.1 * rng.standard_normal((5, 5))
    block = Layer(Identity(5), [(Dense(W2), "tanh", Dense(W1), None)])
    lift = Layer(Dense(rng.standard_normal((5, 3))))
    x0 = rng.standard_normal(3)
    radii = dynamics.euler_radii([lift, block], x0, [0, 1])
    z = W1 @ (lift.P.to_dense() @ x0)
    J = np.eye(5) + W2 @ np.diag(1 - np.tanh(z) ** 2) @ W1
    assert np.isnan(radii[0]) and radii[1] == pytest.approx(np.abs(np.linalg.eigvals(J)).max(), rel=1e-12)
