"""FHN layer: Euler map against a plain loop, discrete-adjoint gradients, its layer form
(equal to the fused kernel, gradients mapped back to a, b, g, I, dt), the linearised steps at
the fixed points and their Euler radius (the horizon verdict is in test_fhn_stability.py)."""

import numpy as np
import pytest

from fastdds.layers import check_gradients
from fastdds.nn.fhn import FHN, euler_radius, jacobian_eigenvalues, max_stable_dt


def euler_loop(v, w, I, a, b, g, dt, K):
    for _ in range(K):
        v, w = v + dt * (I - v * (v - a) * (v - 1) - w), w + dt * b * (v - g * w)
    return v, w


def layer_of(mode, output="both", train=(), rng=None, dtype=np.float64):
    """Three neurons with distinct parameters, in a contracting regime (dt within Euler's limit)."""
    return FHN(3, mode, n_in=4 if mode == "drive" else None, a=[0.2, 0.3, 0.1], b=[0.05, 0.1, 0.02],
               g=[2.0, 3.0, 1.0], I=[0.1, 0.0, -0.2] if mode == "initial_state" else 0.0, dt=[0.3, 0.2, 0.4],
               steps=6, train=train, output=output, rng=rng, dtype=dtype)


def test_forward_matches_plain_euler(rng):
    layer = FHN(3, a=[0.2, 0.3, 0.1], b=0.05, g=2.0, I=[0.1, 0.0, -0.2], dt=0.3, steps=7)
    x = rng.standard_normal((5, 6)) * 0.5
    y, _ = layer.forward(x)
    v, w = euler_loop(x[:, :3], x[:, 3:], layer.I, layer.a, layer.b, layer.g, 0.3, 7)
    np.testing.assert_allclose(y, np.hstack([v, w]), rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(layer(x), y)
    np.testing.assert_array_equal(layer(x[0]), y[0])
    tv, tw = layer.trajectory(x)
    np.testing.assert_allclose(tv[-1], v, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(tw[2], euler_loop(x[:, :3], x[:, 3:], layer.I, layer.a, layer.b, layer.g, 0.3, 2)[1],
                               rtol=1e-13, atol=1e-14)


def test_drive_mode_uses_dense_layout(rng):
    layer = layer_of("drive", rng=np.random.default_rng(4))
    again = np.random.default_rng(4)
    W = again.uniform(-0.5, 0.5, (4, 3))  # drawn (n_in, n) as before, stored (n, n_in)
    np.testing.assert_array_equal(layer.W, W.T)
    np.testing.assert_array_equal(layer.c, again.uniform(-0.5, 0.5, 3))
    x = rng.standard_normal((5, 4))
    zero = np.zeros((5, 3))
    v, w = euler_loop(zero, zero, x @ W + layer.c, layer.a, layer.b, layer.g, layer.dt, 6)
    np.testing.assert_allclose(layer(x), np.hstack([v, w]), rtol=1e-13, atol=1e-15)


def test_float32_stays_float32(rng):
    layer = FHN(2, "drive", n_in=3, dt=0.5, steps=4, dtype=np.float32, rng=rng)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y, cache = layer.forward(x)
    dx, grads = layer.backward(cache, np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32 and all(gr.dtype == np.float32 for gr in grads)
    form = layer.layers()
    assert form.dtype == np.float32
    np.testing.assert_allclose(form(x), y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("output", ["both", "v", "w"])
def test_gradients_initial_state_mode(rng, output):
    layer = layer_of("initial_state", output, train=("a", "b", "g", "I", "dt"))
    errors = check_gradients(layer, rng.standard_normal((5, 6)) * 0.5)
    assert len(errors) == 6 and max(errors) < 1e-6, errors


def test_gradients_drive_mode(rng):
    layer = layer_of("drive", train=("a", "b", "g", "dt"), rng=rng)
    errors = check_gradients(layer, rng.standard_normal((5, 4)) * 0.5)
    assert len(errors) == 7 and max(errors) < 1e-6, errors  # W, c, a, b, g, dt, x


def test_config_rebuilds_the_layer(rng):
    layer = layer_of("drive", "v", train=("a", "dt"), rng=rng)
    again = FHN(**layer.config())
    assert [p.shape for p in again.params] == [p.shape for p in layer.params]
    for p, q in zip(again.params, layer.params):
        p[...] = q
    x = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(again(x), layer(x))


def _layer_form_grads(layer, grads):
    """Map the gradients of the layer form's coefficients back to the FHN parameters (chain rule
    through P's diagonals, c and the two branches' Q)."""
    n, drive = layer.n, layer.mode == "drive"
    a, b, g, I, dt = layer.a, layer.b, layer.g, layer.I, layer.dt
    gP = grads[2 if drive else 0]
    k = 3 if drive else 2  # index of the first branch's Q after P (and c)
    gq2, gq3 = grads[k][0, :n], grads[k + 1][0, :n]
    d0v, d0w, up, down = gP[0, :n], gP[0, n:2 * n], gP[1, :n], gP[2, n:2 * n]
    gI = gP[3, :n] if drive else grads[1][:n]
    out = {"a": -dt * d0v + 2 * dt * gq2, "b": -dt * g * d0w + dt * down, "g": -dt * b * d0w,
           "dt": -a * d0v - b * g * d0w - up + b * down + 2 * (1 + a) * gq2 - gq3 + (gI if drive else I * gI)}
    if drive:
        out["W"], out["c"] = grads[0][2 * n:], grads[1][2 * n:]
    else:
        out["I"] = dt * gI
    return out


@pytest.mark.parametrize("mode", ["initial_state", "drive"])
@pytest.mark.parametrize("output", ["both", "v", "w"])
def test_layer_form_equals_fused_kernel(rng, mode, output):
    train = ("a", "b", "g", "dt") + (("I",) if mode == "initial_state" else ())
    layer = layer_of(mode, output, train=train, rng=rng)
    form = layer.layers()
    n_step = 6 + (mode == "drive") + 1
    assert len(form.blocks) == n_step and form.blocks[-2] is form.blocks[1 if mode == "drive" else 0]
    x = rng.standard_normal((5, layer.n_in)) * 0.5
    y, cache = layer.forward(x)
    yf, cf = form.forward(x)
    assert np.abs(yf - y).max() <= 1e-12 * np.abs(y).max()
    dy = rng.standard_normal(y.shape)
    dx, grads = layer.backward(cache, dy)
    dxf, gradsf = form.backward(cf, dy)
    assert np.abs(dxf - dx).max() <= 1e-12 * np.abs(dx).max()
    mapped = _layer_form_grads(layer, gradsf)
    names = (["W", "c"] if mode == "drive" else []) + list(layer.train)
    for name, gr in zip(names, grads):
        assert np.abs(mapped[name] - gr).max() <= 1e-12 * np.abs(gr).max(), name


def test_layer_form_gradients_against_central_differences(rng):
    for layer in (layer_of("initial_state"), layer_of("drive", "w", rng=rng)):
        form = layer.layers()
        errors = check_gradients(form, rng.standard_normal((3, layer.n_in)) * 0.5)
        assert len(errors) == len(form.params) + 1 and max(errors) < 1e-6, errors


def test_euler_step_of_one_layer_is_the_formula(rng):
    layer = layer_of("initial_state")
    step = layer.euler_layer()
    x = rng.standard_normal((4, 6))
    v, w = euler_loop(x[:, :3], x[:, 3:], layer.I, layer.a, layer.b, layer.g, layer.dt, 1)
    np.testing.assert_allclose(step(x), np.hstack([v, w]), rtol=1e-14, atol=1e-15)
    assert list(step.P.offsets) == [0, 3, -3] and [br.act.name for br in step.branches] == ["square_half", "cube"]


def test_euler_step_at_fixed_points():
    layer = FHN(2, a=[0.2, 0.1], b=[0.02, 0.05], g=[3.0, 2.0], I=[0.0, 0.3], dt=[20.0, 0.5], steps=3)
    steps = layer.euler_step_at_fixed_points()
    fixed = layer.fixed_points()
    assert [s.neuron for s in steps] == [j for j, fp in enumerate(fixed) for _ in fp]
    for s in steps:
        j = s.neuron
        a, b, g, dt = layer.a[j], layer.b[j], layer.g[j], layer.dt[j]
        v, w = s.point
        rv, rw = euler_loop(v, w, layer.I[j], a, b, g, dt, 1)
        np.testing.assert_allclose([rv, rw], [v, w], atol=1e-12)  # a fixed point of the step
        eps = 1e-6  # the operator is the step's Jacobian (central differences)
        jac = np.column_stack([(np.array(euler_loop(v + e[0], w + e[1], layer.I[j], a, b, g, dt, 1))
                                - np.array(euler_loop(v - e[0], w - e[1], layer.I[j], a, b, g, dt, 1))) / (2 * eps)
                               for e in (np.array([eps, 0.0]), np.array([0.0, eps]))])
        np.testing.assert_allclose(s.step.to_dense(), jac, rtol=1e-8, atol=1e-9)
        lam = np.sort_complex(1.0 + dt * np.array(jacobian_eigenvalues(v, a, b, g)))
        np.testing.assert_allclose(np.sort_complex(s.step.spectrum()), lam, rtol=1e-12)
        assert np.abs(s.step.spectrum()).max() == pytest.approx(euler_radius(v, a, b, g, dt), rel=1e-12)
        A = s.step.to_dense()
        np.testing.assert_allclose(s.step.moments(kmax=1), [A.sum(axis=1), [A[0, 1], -A[1, 0]]], rtol=1e-15)
    # the published neuron's fixed point (0, 0) at dt = 20: eigenvalues of J -0.13 +- i sqrt(0.0151)
    radius = np.hypot(1 - 20 * 0.13, 20 * np.sqrt(0.032 - 0.13 ** 2))
    np.testing.assert_allclose(steps[0].point, [0.0, 0.0], atol=1e-14)
    assert np.abs(steps[0].step.spectrum()).max() == pytest.approx(radius, rel=1e-12)


def test_fixed_point_radius_known_answer():
    # I = 0, a = 0.2, b = 0.02, g = 3: fixed point (0, 0), J = [[-a, -1], [b, -b g]],
    # eigenvalues -0.13 +- i sqrt(0.032 - 0.0169); radius <= 1 iff dt <= -2 Re / |l|^2 = 0.26 / 0.032.
    lam_abs2 = 0.2 * 0.06 + 0.02
    dt_max = 0.26 / lam_abs2
    layer = FHN(1, dt=20.0, steps=25)
    (fp,) = layer.fixed_points()
    np.testing.assert_allclose(fp, [[0.0, 0.0]], atol=1e-14)
    re, im = -0.13, np.sqrt(lam_abs2 - 0.13 ** 2)
    radius = np.hypot(1 + 20 * re, 20 * im)
    np.testing.assert_allclose(euler_radius(0.0, 0.2, 0.02, 3.0, 20.0), radius, rtol=1e-12)
    np.testing.assert_allclose(euler_radius(0.0, 0.2, 0.02, 3.0, dt_max), 1.0, rtol=1e-12)
    np.testing.assert_allclose(max_stable_dt(np.array([0.0]), 0.2, 0.02, 3.0), [dt_max], rtol=1e-12)
    assert layer.fixed_point_note() == (f"fixed points (drive I): Euler radius up to {radius:.3g} where the flow "
                                        f"contracts (radius <= 1 for dt <= {dt_max:.3g}); 0 repelled by the flow "
                                        f"itself")


def test_bad_inputs():
    with pytest.raises(ValueError, match="mode"):
        FHN(2, mode="spiking")
    with pytest.raises(ValueError, match="cannot train"):
        FHN(2, "drive", n_in=3, train=("I",))
    with pytest.raises(ValueError, match="dt must be positive"):
        FHN(2, dt=-1.0)
    with pytest.raises(ValueError, match="expected"):
        FHN(2).forward(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="drive mode needs n_in"):
        FHN(2, "drive")


def test_repelling_fixed_point_is_data_not_a_verdict():
    # v* = 0.4 is a fixed point for I = v*(v* - a)(v* - 1) + v*/g; there J11 = 0.28 > b g, so the
    # flow itself repels (limit cycle) and no Euler step can contract: a line of data.
    I = 0.4 * 0.2 * -0.6 + 0.4 / 3.0
    layer = FHN(1, I=I, dt=0.1, steps=3)
    fps = layer.fixed_points()[0]
    assert np.isclose(fps[:, 0], 0.4).any()
    repelled = sum(int((max_stable_dt(fp[:, 0], 0.2, 0.02, 3.0) == 0).sum()) for fp in layer.fixed_points())
    assert repelled >= 1 and layer.fixed_point_note().endswith(f"; {repelled} repelled by the flow itself")
    np.testing.assert_array_equal(max_stable_dt(np.array([0.4]), 0.2, 0.02, 3.0), [0.0])
    rep = layer.stability(np.array([[0.4, 0.4 / 3.0], [0.41, 0.4 / 3.0]]), warn=False)
    assert rep.notes == (layer.fixed_point_note(),) and not rep.diverges


@pytest.mark.parametrize("name", ["a", "b", "g", "I", "dt"])
def test_non_finite_parameter_is_refused(name):
    with pytest.raises(ValueError, match=f"FHN parameter {name} is nan; it must be finite"):
        FHN(3, **{name: float("nan")})
