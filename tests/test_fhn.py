"""FHN layer: Euler map against a plain loop, discrete-adjoint gradients, stability report."""

import numpy as np
import pytest

from fastdds.nn.fhn import FHN, euler_radius, max_stable_dt
from fastdds.nn.blocks import LayerNorm, Pointwise, check_gradients


def euler_loop(v, w, I, a, b, g, dt, K):
    for _ in range(K):
        v, w = v + dt * (I - v * (v - a) * (v - 1) - w), w + dt * b * (v - g * w)
    return v, w


def test_forward_matches_plain_euler(rng):
    layer = FHN(3, a=[0.2, 0.3, 0.1], b=0.05, g=2.0, I=[0.1, 0.0, -0.2], dt=0.3, steps=7)
    x = rng.standard_normal((5, 6)) * 0.5
    y, _ = layer.forward(x)
    v, w = euler_loop(x[:, :3], x[:, 3:], layer.I, layer.a, layer.b, layer.g, 0.3, 7)
    np.testing.assert_allclose(y, np.hstack([v, w]), rtol=1e-13, atol=1e-14)
    tv, tw = layer.trajectory(x)
    np.testing.assert_allclose(tv[-1], v, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(tw[2], euler_loop(x[:, :3], x[:, 3:], layer.I, layer.a, layer.b, layer.g, 0.3, 2)[1],
                               rtol=1e-13, atol=1e-14)


def test_float32_stays_float32(rng):
    layer = FHN(2, "drive", n_in=3, dt=0.5, steps=4, dtype=np.float32, rng=rng)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y, cache = layer.forward(x)
    dx, grads = layer.backward(cache, np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32 and all(gr.dtype == np.float32 for gr in grads)


@pytest.mark.parametrize("output", ["both", "v", "w"])
def test_gradients_initial_state_mode(rng, output):
    layer = FHN(3, "initial_state", a=[0.2, 0.3, 0.1], b=[0.05, 0.1, 0.02], g=[2.0, 3.0, 1.0], I=[0.1, 0.0, -0.2],
                dt=[0.3, 0.2, 0.4], steps=6, train=("a", "b", "g", "I", "dt"), output=output)
    errors = check_gradients(layer, rng.standard_normal((5, 6)) * 0.5)
    assert len(errors) == 6 and max(errors) < 1e-6, errors


def test_gradients_drive_mode(rng):
    layer = FHN(3, "drive", n_in=4, a=[0.2, 0.3, 0.1], b=0.05, g=2.0, dt=0.3, steps=6,
                train=("a", "b", "g", "dt"), rng=rng)
    errors = check_gradients(layer, rng.standard_normal((5, 4)) * 0.5)
    assert len(errors) == 7 and max(errors) < 1e-6, errors  # W, c, a, b, g, dt, x


def test_gradients_layernorm_and_silu(rng):
    ln = LayerNorm(5)
    ln.weight[:] = rng.standard_normal(5)
    ln.bias[:] = rng.standard_normal(5)
    assert max(check_gradients(ln, rng.standard_normal((4, 5)))) < 1e-6
    assert max(check_gradients(LayerNorm(2), rng.standard_normal((4, 2)))) < 1e-6
    assert max(check_gradients(Pointwise("silu"), rng.standard_normal((4, 5)) * 2)) < 1e-6


def test_layernorm_matches_definition(rng):
    ln = LayerNorm(6, eps=1e-5)
    ln.weight[:] = 2.0
    ln.bias[:] = 0.5
    x = rng.standard_normal((3, 6)) * 3 + 1
    y, _ = ln.forward(x)
    ref = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5) * 2.0 + 0.5
    np.testing.assert_allclose(y, ref, rtol=1e-13)


def test_stability_at_fixed_point_known_answer():
    # I = 0, a = 0.2, b = 0.02, g = 3: fixed point (0, 0), J = [[-a, -1], [b, -b g]],
    # eigenvalues -0.13 +- i sqrt(0.032 - 0.0169); Euler stable iff dt < -2 Re / |l|^2 = 0.26 / 0.032.
    lam_abs2 = 0.2 * 0.06 + 0.02
    dt_max = 0.26 / lam_abs2
    layer = FHN(1, dt=20.0, steps=25)
    (fp,) = layer.fixed_points()
    np.testing.assert_allclose(fp, [[0.0, 0.0]], atol=1e-14)
    with pytest.warns(RuntimeWarning, match="unstable"):
        rep = layer.stability()
    np.testing.assert_allclose(rep.dt_max_fixed, [dt_max], rtol=1e-12)
    re, im = -0.13, np.sqrt(lam_abs2 - 0.13 ** 2)
    np.testing.assert_allclose(rep.radius_fixed, [np.hypot(1 + 20 * re, 20 * im)], rtol=1e-12)
    assert not rep.stable
    np.testing.assert_allclose(euler_radius(0.0, 0.2, 0.02, 3.0, dt_max), 1.0, rtol=1e-12)
    np.testing.assert_allclose(max_stable_dt(np.array([0.0]), 0.2, 0.02, 3.0), [dt_max], rtol=1e-12)
    small = FHN(1, dt=0.99 * dt_max, steps=3).stability(np.array([[1e-3, 0.0]]), warn=False)
    assert small.stable and small.finite and small.radius_trajectory_max < 1.0


def test_published_dt_overflows():
    layer = FHN(1, dt=20.0, steps=25)
    with pytest.warns(RuntimeWarning, match="overflowed"):
        rep = layer.stability(np.array([[0.731, -0.269], [1e-3, 0.0]]))
    assert not rep.finite and rep.radius_trajectory_max == np.inf and rep.fraction_unstable > 0.1


def test_bad_inputs():
    with pytest.raises(ValueError, match="mode"):
        FHN(2, mode="spiking")
    with pytest.raises(ValueError, match="cannot train"):
        FHN(2, "drive", n_in=3, train=("I",))
    with pytest.raises(ValueError, match="dt must be positive"):
        FHN(2, dt=-1.0)
    with pytest.raises(ValueError, match="expected"):
        FHN(2).forward(np.zeros((3, 3)))


def test_repelling_fixed_point_is_reported_not_flagged():
    # v* = 0.4 is a fixed point for I = v*(v* - a)(v* - 1) + v*/g; there J11 = 0.28 > b g, so the
    # flow itself repels (limit cycle) and no Euler step can contract: reported, not a warning.
    I = 0.4 * 0.2 * -0.6 + 0.4 / 3.0
    layer = FHN(1, I=I, dt=0.1, steps=3)
    fps = layer.fixed_points()[0]
    assert np.isclose(fps[:, 0], 0.4).any()
    rep = layer.stability(warn=False)
    assert rep.repelling >= 1 and rep.stable and "repel" in rep.message
    np.testing.assert_array_equal(max_stable_dt(np.array([0.4]), 0.2, 0.02, 3.0), [0.0])
