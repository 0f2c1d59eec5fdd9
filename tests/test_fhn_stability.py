"""What K explicit Euler steps do over their horizon (`fastdds.analysis.euler_horizon`,
`FHN.stability`): a linear ODE with closed-form Euler and flow, the FHN layer at small amplitude
(its linearisation, closed form through expm), the published dt = 20 divergence against an
independent RK45 reference, and a damped FHN case that tracks the flow."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from fastdds.analysis.euler_horizon import euler_horizon
from fastdds.linearize import jacobian
from fastdds.nn.dynpmnn import DynPMNN
from fastdds.nn.fhn import FHN, euler_step_jacobian

SILU_PLUS, SILU_MINUS = 1 / (1 + np.exp(-1.0)), -1 / (1 + np.exp(1.0))


def consistent(r):
    """The verdict's parts agree with each other and with the numbers."""
    assert r.within_tol == bool(np.all(r.error <= r.tol))
    if r.within_tol:
        assert r.steps_needed <= r.steps and "matches the flow's output" in r.message
    elif not r.diverges:
        assert (r.steps_needed is None or r.steps_needed > r.steps) and "misses the flow's output" in r.message
    if r.steps_needed is not None:
        np.testing.assert_allclose(r.dt_max, r.t_end / r.steps_needed, rtol=1e-15)
    assert r.message.endswith(".") and ". " not in r.message  # one sentence
    assert str(r).splitlines()[0] == r.message


def rotation(eps, om):
    """Linear ODE x' = A x per neuron, A = [[-eps, -om], [om, -eps]] (eigenvalues -eps +- i om):
    `advance` and `jacobian` in the form euler_horizon takes."""
    eps, om = np.asarray(eps, float), np.asarray(om, float)

    def advance(state, h, m):
        x, y = state
        for _ in range(m):
            x, y = x + h * (-eps * x - om * y), y + h * (om * x - eps * y)
        return x, y

    def jac(state, h):
        J = np.empty(state[0].shape + (2, 2))
        J[..., 0, 0] = J[..., 1, 1] = 1 - h * eps
        J[..., 0, 1], J[..., 1, 0] = -h * om, h * om
        return J

    return advance, jac


def test_linear_ode_errors_and_amplification_are_the_closed_form(rng):
    # lam = -eps + i om: K Euler steps give (1 + h lam)^K z0, the flow exp(lam t) z0, |z| decays,
    # so the error scale is |z0| and the relative error is |(1 + h lam)^K - exp(lam T)|.
    # Neuron 0 is the case: Euler radius |1 + h lam| > 1 at the fixed point, yet the
    # K = 100 steps stay within 1 % of the flow.
    eps, om, dt, K = np.array([1e-3, 0.5]), np.array([1.0, 0.5]), np.array([0.01, 0.01]), 100
    lam, T = -eps + 1j * om, K * dt
    assert np.abs(1 + dt * lam)[0] > 1
    advance, jac = rotation(eps, om)
    z0 = rng.standard_normal((5, 2)) + 1j * rng.standard_normal((5, 2))
    r = euler_horizon(advance, (z0.real, z0.imag), dt, K, jac, tol=1e-2)
    exact = np.abs((1 + dt * lam) ** K - np.exp(lam * T))
    np.testing.assert_allclose(r.error, exact, rtol=1e-4)
    k = np.arange(K + 1)[:, None]
    np.testing.assert_allclose(r.trajectory_error, np.abs((1 + dt * lam) ** k - np.exp(lam * k * dt)).max(axis=0),
                               rtol=1e-4)
    np.testing.assert_allclose(r.flow_output, np.exp(-eps * T), rtol=1e-6)
    np.testing.assert_allclose(r.amplification, np.abs(1 + dt * lam) ** K, rtol=1e-12)  # normal: ||J|| = |1 + h lam|
    np.testing.assert_allclose(r.sensitivity, np.abs(1 + dt * lam) ** K, rtol=1e-12)
    # the fewest steps over T within 1 % for both neurons, by brute force on the closed form
    m = np.arange(1, 400)[:, None]
    err = np.abs((1 + T * lam / m) ** m - np.exp(lam * T)).max(axis=1)
    assert np.all(np.diff(err) < 0)  # monotone: the search's assumption holds here
    want = int(m[np.argmax(err <= 1e-2), 0])
    assert r.steps_needed == want and r.dt_max[0] == pytest.approx(1.0 / want, rel=1e-15)
    assert r.within_tol and not r.diverges and r.reference_error < 1e-4
    consistent(r)
    assert r.message.startswith(f"Explicit Euler matches the flow's output at dt = 0.01 (100 steps to t = 1): "
                                f"error at most {100 * exact.max():.3g}% per neuron")
    assert f"dt <= {1.0 / want:.3g} ({want} steps)" in r.message


def test_fhn_at_small_amplitude_is_its_linearisation():
    # Near the fixed point (0, 0) with I = 0 the FHN step is I + h J, J = [[-a, -1], [b, -b g]]:
    # Euler gives (I + h J)^K x0, the flow expm(J t) x0; errors and amplification in closed form.
    a, b, g, dt, K = np.array([0.2, 0.3]), np.array([0.02, 0.1]), np.array([3.0, 1.0]), np.array([1.0, 0.5]), 30
    layer = FHN(2, a=a, b=b, g=g, I=0.0, dt=dt, steps=K)
    x = 1e-6 * np.array([[1.0, -0.5, 0.3, 0.2], [-0.4, 0.8, -0.1, 0.5], [0.6, 0.1, 0.9, -0.7]])
    r = layer.stability(x, warn=False)
    for j in range(2):
        J = np.array([[-a[j], -1.0], [b[j], -b[j] * g[j]]])
        X0 = x[:, [j, 2 + j]].T  # (2, samples)
        step = np.eye(2) + dt[j] * J
        scale = max(np.linalg.norm(expm(J * k * dt[j]) @ X0) for k in range(K + 1))
        err = np.linalg.norm(np.linalg.matrix_power(step, K) @ X0 - expm(J * K * dt[j]) @ X0) / scale
        assert r.error[j] == pytest.approx(err, rel=1e-4)
        assert r.amplification[j] == pytest.approx(np.linalg.norm(step, 2) ** K, rel=1e-5)
        assert r.sensitivity[j] == pytest.approx(np.linalg.norm(np.linalg.matrix_power(step, K), 2), rel=1e-5)
    # the fewest steps over each neuron's t_end = K dt that keep both within 1 %, brute force
    Js = [np.array([[-a[j], -1.0], [b[j], -b[j] * g[j]]]) for j in range(2)]

    def worst(m):
        out = []
        for j, J in enumerate(Js):
            X0, T = x[:, [j, 2 + j]].T, K * dt[j]
            scale = max(np.linalg.norm(expm(J * k * dt[j]) @ X0) for k in range(K + 1))
            E = np.linalg.matrix_power(np.eye(2) + T / m * J, m) @ X0
            out.append(np.linalg.norm(E - expm(J * T) @ X0) / scale)
        return max(out)

    n = r.steps_needed
    assert worst(n) <= 1e-2 < worst(n - 1)
    np.testing.assert_allclose(r.dt_max, K * dt / n, rtol=1e-15)
    consistent(r)


def test_published_dt_20_diverges():
    # The published block (a = 0.2, b = 0.02, g = 3, I = 0, dt = 20, 25 steps): its FHN inputs
    # are SiLU of a 2-feature LayerNorm, (v0, w0) = (silu(1), silu(-1)) or the reverse.
    model = DynPMNN(seed=0)
    inputs = model.blocks[2](model.blocks[1](model.blocks[0](np.random.default_rng(0).standard_normal((64, 8)))))
    np.testing.assert_allclose(np.sort(inputs, axis=1), np.tile([SILU_MINUS, SILU_PLUS], (64, 1)),
                               atol=1e-2)  # up to LayerNorm's eps
    X0 = np.array([[SILU_PLUS, SILU_MINUS], [SILU_MINUS, SILU_PLUS]])
    with pytest.warns(RuntimeWarning, match="diverges"):
        r = model.fhn.stability(X0)
    assert r.diverges and r.overflow_fraction == 1.0 and np.isinf(r.error).all() and np.isinf(r.amplification).all()
    assert r.message.startswith("Explicit Euler diverges at dt = 20 (25 steps to t = 500): inf/NaN on 100% of")
    # independent check: a NumPy Euler loop against an RK45 reference at rtol 1e-10
    a, b, g, T = 0.2, 0.02, 3.0, 500.0

    def rhs(t, y):
        v, w = y[:2], y[2:]
        return np.concatenate([-v * (v - a) * (v - 1) - w, b * (v - g * w)])

    sol = solve_ivp(rhs, (0, T), X0.T.ravel(), rtol=1e-10, atol=1e-14, t_eval=np.arange(26) * 20.0)
    scale = np.sqrt((sol.y ** 2).sum(axis=0)).max()

    def err(m):
        v, w, h = X0[:, 0].copy(), X0[:, 1].copy(), T / m
        with np.errstate(all="ignore"):
            for _ in range(m):
                v, w = v + h * (-v * (v - a) * (v - 1) - w), w + h * b * (v - g * w)
            e = np.sqrt(((v - sol.y[:2, -1]) ** 2 + (w - sol.y[2:, -1]) ** 2).sum()) / scale
        return e if np.isfinite(e) else np.inf

    n = r.steps_needed
    assert n == 371 and err(n) <= 1e-2 < err(n - 1)  # dt <= 500 / 371 = 1.35: beyond it Euler overflows
    assert f"dt <= 1.35 ({n} steps) keeps every neuron's output within 1% of the flow." in r.message
    assert "Euler radius up to 2.93" in r.notes[0] and "dt <= 8.12" in r.notes[0]  # the fixed point, as data
    consistent(r)


def test_damped_case_tracks_the_flow():
    # Two neurons resting at their fixed point with small kicks, dt well inside the damped
    # regime: the verdict says Euler tracks the flow, with errors checked against RK45.
    layer = FHN(2, a=[0.2, 0.5], b=[0.1, 0.2], g=[1.0, 2.0], I=0.0, dt=[0.05, 0.05], steps=20)
    x = np.array([[0.1, -0.05, 0.02, 0.03], [-0.08, 0.12, -0.01, 0.0], [0.05, 0.02, 0.04, -0.02]])
    r = layer.stability(x)
    T = 1.0
    for j in range(2):
        a, b, g = layer.a[j], layer.b[j], layer.g[j]

        def rhs(t, y):
            v, w = y[:3], y[3:]
            return np.concatenate([-v * (v - a) * (v - 1) - w, b * (v - g * w)])

        sol = solve_ivp(rhs, (0, T), np.concatenate([x[:, j], x[:, 2 + j]]), rtol=1e-12, atol=1e-15,
                        t_eval=np.linspace(0, T, 21))
        scale = np.linalg.norm(sol.y, axis=0).max()
        tv, tw = layer.trajectory(x)
        e = np.linalg.norm(np.concatenate([tv[-1, :, j], tw[-1, :, j]]) - sol.y[:, -1]) / scale
        assert r.error[j] == pytest.approx(e, rel=1e-5)
    assert r.within_tol and not r.diverges and r.error.max() < 1e-2
    assert r.message.startswith("Explicit Euler matches the flow's output at dt = 0.05 (20 steps to t = 1)")
    consistent(r)


def test_step_jacobian_is_the_layer_forms_linearisation(rng):
    layer = FHN(3, a=[0.2, 0.3, 0.1], b=[0.05, 0.1, 0.02], g=[2.0, 3.0, 1.0], I=[0.1, 0.0, -0.2],
                dt=[0.3, 0.2, 0.4], steps=4)
    state = rng.standard_normal(6)
    full = jacobian(layer.euler_layer(), state)
    mine = euler_step_jacobian(state[:3], layer.a, layer.b, layer.g, layer.dt)
    for j in range(3):
        np.testing.assert_allclose(mine[j], full[np.ix_([j, 3 + j], [j, 3 + j])], rtol=1e-14, atol=1e-15)
    off = full.copy()
    for j in range(3):
        off[np.ix_([j, 3 + j], [j, 3 + j])] = 0
    assert not off.any()  # neurons are independent


def test_float32_layer_and_drive_mode(rng):
    layer = FHN(4, "drive", n_in=3, dt=0.5, steps=10, rng=rng, dtype=np.float32)
    r = layer.stability(rng.standard_normal((16, 3)).astype(np.float32), warn=False)
    assert r.error.shape == (4,) and np.isfinite(r.error).all() and "drive c" in r.notes[0]
    consistent(r)
    d = r.to_dict()
    assert d["steps"] == 10 and len(d["error"]) == 4 and d["message"] == r.message


def test_bad_input():
    layer = FHN(1, dt=0.5, steps=4)
    for tol in (0.0, -1e-2, 2.0, float("nan")):
        with pytest.raises(ValueError, match="tol"):
            layer.stability(np.zeros((2, 2)), tol=tol)
    with pytest.raises(ValueError, match="expected"):
        layer.stability(np.zeros((2, 3)))


def test_linear_ode_growth_single_step_and_no_step():
    # x' = -lam x (om = 0): Euler multiplies by 1 - h lam per step, the flow by exp(-lam t).
    advance, jac = rotation([100.0], [0.0])
    x0 = (np.array([[1.0], [-2.0]]), np.array([[0.5], [0.0]]))
    r = euler_horizon(advance, x0, np.array([0.05]), 10, jac)  # |1 - 5| = 4 per step: finite but growing
    assert r.diverges and r.overflow_fraction == 0.0 and "grow past 100 times the flow's scale" in r.message
    np.testing.assert_allclose(r.amplification, 4.0 ** 10, rtol=1e-12)
    np.testing.assert_allclose(r.error, np.abs(4.0 ** 10 - np.exp(-50.0)), rtol=1e-9)
    m = np.arange(1, 2000)
    want = int(m[np.argmax(np.abs((1 - 50.0 / m) ** m - np.exp(-50.0)) <= 1e-2)])
    assert r.steps_needed == want and f"({want} steps)" in r.message
    consistent(r)
    advance, jac = rotation([1e-4], [0.0])
    r = euler_horizon(advance, x0, np.array([1.0]), 10, jac)  # |1 - 1e-3 - exp(-1e-3)| ~ 5e-7 in one step
    assert r.steps_needed == 1 and "a single step over the whole horizon keeps" in r.message
    consistent(r)
    advance, jac = rotation([1.0], [0.0])
    r = euler_horizon(advance, x0, np.array([1.0]), 1, jac, tol=1e-9)  # needs ~ 1e8 steps; the search stops at 4096
    assert r.steps_needed is None and r.dt_max is None and r.max_steps == 4096
    assert "no dt down to 0.000244 (4096 steps) brings every neuron's output within 1e-07% of the flow" in r.message
    consistent(r)
