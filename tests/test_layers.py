"""Layer and Chain: forward against the formula, backward against central finite differences."""

import numpy as np
import pytest

from fastdds import Banded, Chain, Dense, Identity, Layer
from fastdds.layers import check_gradients, dense, linear, pointwise
from fastdds.nn.norm import LayerNorm
from fastdds.activations import names

SMOOTH_AWAY_FROM_ZERO = names()


def numeric_check(params_and_inputs, loss, grads, rng, eps=1e-6, samples=6):
    """Compare analytic grads with central differences at a few random entries of each array."""
    for arr, g in zip(params_and_inputs, grads):
        for _ in range(samples):
            idx = tuple(rng.integers(s) for s in arr.shape)
            old = arr[idx]
            arr[idx] = old + eps
            fp = loss()
            arr[idx] = old - eps
            fm = loss()
            arr[idx] = old
            num = (fp - fm) / (2 * eps)
            assert abs(g[idx] - num) <= 1e-6 * max(1.0, abs(num)), (arr.shape, idx, g[idx], num)


def make_layer(kind, act, n, rng):
    if kind == "dense":
        return Layer(Dense(rng.standard_normal((n, n)) * 0.3),
                     [(Dense(rng.standard_normal((n, 5)) * 0.5), act, Dense(rng.standard_normal((5, n))),
                       rng.standard_normal(5))])
    if kind == "banded":
        return Layer(Banded.stencil([1.0, -2.0, 1.0], n, boundary="periodic"),
                     [(Banded([-1, 0, 1], rng.standard_normal((3, n)), "neumann"), act,
                       Banded([0, 1], rng.standard_normal((2, n)), "zero"), rng.standard_normal(n)),
                      (Banded.stencil([0.3, -0.4], n, boundary="periodic", offsets=[-1, 0]), act, None, None)])
    return Layer(Identity(n, 0.9), [(Identity(n, 0.5), act, Banded.stencil([1.0, -1.0], n), None)])


@pytest.mark.parametrize("act", SMOOTH_AWAY_FROM_ZERO)
@pytest.mark.parametrize("kind", ["dense", "banded", "identity"])
def test_layer_backward_matches_finite_differences(act, kind, rng):
    n = 7
    layer = make_layer(kind, act, n, rng)
    x = rng.standard_normal((3, n))
    w = rng.standard_normal((3, n))

    def loss():
        return float(np.sum(layer(x) * w))

    y, cache = layer.forward(x)
    np.testing.assert_array_equal(y, layer(x))
    dx, grads = layer.backward(cache, w)
    assert len(grads) == len(layer.params)
    numeric_check(layer.params + [x], loss, grads + [dx], rng)


def test_layer_forward_formula(rng):
    n = 6
    P, Q, R = (Dense(rng.standard_normal((n, n))) for _ in range(3))
    b = rng.standard_normal(n)
    x = rng.standard_normal(n)
    c = rng.standard_normal(n)
    y = Layer(P, [(Q, "tanh", R, b)], c=c)(x)
    np.testing.assert_allclose(y, P.matrix @ x + c + Q.matrix @ np.tanh(R.matrix @ x + b), rtol=1e-13)


def test_constant_term_gradient(rng):
    n = 5
    layer = Layer(Dense(rng.standard_normal((3, n))), [(None, "sin", Dense(rng.standard_normal((3, n))), None)],
                  c=rng.standard_normal(3))
    x = rng.standard_normal((4, n))
    assert max(check_gradients(layer, x)) < 1e-7
    assert layer.params[1] is layer.c


def test_dense_and_pointwise_layers(rng):
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    x = rng.standard_normal((6, 4))
    layer = dense(W, b)
    np.testing.assert_allclose(layer(x), x @ W.T + b, rtol=1e-14)
    assert layer.params[0] is W and layer.params[1] is b
    act = pointwise(3, "tanh")
    np.testing.assert_allclose(act(layer(x)), np.tanh(x @ W.T + b), rtol=1e-14)
    assert act.params == [] and act.n_in == act.n_out == 3
    net = Chain([layer, act, linear(3, 2, rng)])
    assert max(check_gradients(net, x)) < 1e-7


def test_layernorm_fused_equals_its_layer_form(rng):
    norm = LayerNorm(5)
    norm.weight[...] = rng.uniform(0.5, 1.5, 5)
    norm.bias[...] = rng.standard_normal(5)
    x = rng.standard_normal((7, 5)) * 3 + 1
    xc = x - x.mean(axis=1, keepdims=True)
    expected = xc / np.sqrt((xc**2).mean(axis=1, keepdims=True) + 1e-5) * norm.weight + norm.bias
    np.testing.assert_allclose(norm(x), expected, rtol=1e-13)
    form = norm.layers()
    np.testing.assert_allclose(form(x), norm(x), rtol=1e-14, atol=1e-14)
    assert max(check_gradients(norm, x)) < 1e-7
    assert max(check_gradients(form, x)) < 1e-7
    assert np.shares_memory(form.params[0], norm.weight) and form.params[1] is norm.bias


def test_burgers_lax_friedrichs_step_as_layer():
    """The DESIGN table's LF Burgers layer equals the flux-difference update."""
    n, h, dt, nu, alpha = 64, 1.0 / 64, 0.004, 0.01, 1.0
    x = np.arange(n) * h
    u = np.sin(2 * np.pi * x)
    D2 = Banded.stencil([1.0, -2.0, 1.0], n, boundary="periodic")
    D1 = Banded.stencil([-1.0, 0.0, 1.0], n, boundary="periodic")
    c = nu * dt / h**2 + alpha * dt / (2 * h)
    layer = Layer(Banded([-1, 0, 1], np.array([c, 1 - 2 * c, c]), "periodic", n=n),
                  [(Banded([-1, 0, 1], -(dt / (2 * h)) * D1.diagonals[:, 0], "periodic", n=n), "square_half",
                    None, None)])
    f = 0.5 * u**2
    up, um = np.roll(u, -1), np.roll(u, 1)
    flux_r = 0.5 * (f + 0.5 * up**2) - 0.5 * alpha * (up - u)
    flux_l = 0.5 * (0.5 * um**2 + f) - 0.5 * alpha * (u - um)
    expected = u - dt / h * (flux_r - flux_l) + nu * dt / h**2 * (up - 2 * u + um)
    np.testing.assert_allclose(layer(u), expected, rtol=1e-13, atol=1e-15)
    assert D2.shape == (n, n)


def test_chain_backward_with_repeated_layer(rng):
    n = 5
    a = make_layer("dense", "tanh", n, rng)
    b = make_layer("banded", "silu", n, rng)
    chain = Chain([a, b, a])
    x = rng.standard_normal((2, n))
    w = rng.standard_normal((2, n))
    traj = chain.trajectory(x)
    assert len(traj) == 4
    np.testing.assert_allclose(traj[-1], a(b(a(x))), rtol=1e-13)
    np.testing.assert_array_equal(chain(x), traj[-1])

    def loss():
        return float(np.sum(chain(x) * w))

    y, cache = chain.forward(x)
    dx, grads = chain.backward(cache, w)
    assert len(grads) == len(chain.params) == len(a.params) + len(b.params)
    numeric_check(chain.params + [x], loss, grads + [dx], rng)
    assert len(chain.layers().blocks) == 3


def test_float32_stays_float32(rng):
    layer = Layer(Banded.stencil([1.0, -2.0, 1.0], 8, dtype=np.float32),
                  [(Dense(rng.standard_normal((8, 3)), np.float32), "tanh",
                    Dense(rng.standard_normal((3, 8)), np.float32), np.zeros(3, np.float32))])
    y, cache = layer.forward(np.ones((2, 8), np.float32))
    dx, grads = layer.backward(cache, np.ones((2, 8), np.float32))
    assert y.dtype == dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_layer_bad_input(rng):
    with pytest.raises(ValueError, match="R gives 4 values but Q takes 3"):
        Layer(None, [(Dense(np.ones((5, 3))), "tanh", Dense(np.ones((4, 5))), None)])
    with pytest.raises(ValueError, match="share a dtype"):
        Layer(Identity(3), [(Dense(np.ones((3, 3)), np.float32), "tanh", None, None)])
    with pytest.raises(ValueError, match="bias has shape"):
        Layer(None, [(None, "tanh", Dense(np.ones((4, 5))), np.zeros(3))])
    with pytest.raises(ValueError, match="unknown activation"):
        Layer(None, [(None, "swish2", Dense(np.ones((4, 5))), None)])
    with pytest.raises(ValueError, match="constant term c has shape"):
        Layer(Identity(3), c=np.zeros(4))
    with pytest.raises(ValueError, match="c is float32"):
        Layer(Identity(3), c=np.zeros(3, np.float32))
    layer = Layer(Identity(3))
    with pytest.raises(ValueError, match="expected \\(3,\\)"):
        layer.forward(np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        layer(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="block 0 gives 3 values but block 1 takes 4"):
        Chain([Layer(Identity(3)), Layer(Identity(4))])
    with pytest.raises(ValueError, match="not a fastdds Block"):
        Chain([Layer(Identity(3)), np.tanh])


@pytest.mark.parametrize("boundary", ["periodic", "zero", "neumann"])
def test_fused_banded_branch_matches_dense_path(boundary, rng):
    """The one-kernel banded branch agrees with the same layer on Dense operators to round-off."""
    n = 40
    R = Banded([-1, 0, 2], rng.standard_normal((3, n)), boundary)
    Q = Banded.stencil([0.5, -1.0, 0.25], n, boundary=boundary)
    b = rng.standard_normal(n)
    fused = Layer(R, [(Q, "silu", R, b)])
    dense = Layer(Dense.from_operator(R), [(Dense.from_operator(Q), "silu", Dense.from_operator(R), b)])
    assert fused.branches[0].fused and not dense.branches[0].fused
    x, w = rng.standard_normal((3, n)), rng.standard_normal((3, n))
    (y_f, c_f), (y_d, c_d) = fused.forward(x), dense.forward(x)
    np.testing.assert_allclose(y_f, y_d, rtol=1e-13, atol=1e-13)
    dx_f, g_f = fused.backward(c_f, w)
    dx_d, g_d = dense.backward(c_d, w)
    np.testing.assert_allclose(dx_f, dx_d, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g_f[-1], g_d[-1], rtol=1e-12, atol=1e-12)  # bias
    for g_band, op, g_full in ((g_f[1], Q, g_d[1]), (g_f[2], R, g_d[2])):  # diagonals vs dense entries
        rows, cols, ks = op._columns()
        expected = np.zeros_like(g_band)
        np.add.at(expected, (ks, 0 if op.constant else rows), g_full[rows, cols])
        np.testing.assert_allclose(g_band, expected, rtol=1e-12, atol=1e-12)



def test_fused_layer_compiles_one_row_product_per_flag_type():
    """The fused banded layer passes its overwrite/accumulate flags as NumPy bools, so each row
    product is compiled once for both (a Python True/False would compile one Literal[bool]
    specialisation each, 4-5 s apiece on a fresh cache). The layer kernels are compiled afresh
    here (uncached), so that their calls are typed in this process."""
    import numba as nb
    from numba.core import types

    from fastdds.kernels.cpu import banded, layer

    x, off, diags, b = np.ones((1, 8)), np.array([-1, 0, 1]), np.ones((3, 8)), np.zeros(8)
    a, s1, y, dz, dx = (np.zeros_like(x) for _ in range(5))
    nb.njit(layer.banded_branch_forward.py_func)(x, off, diags, 0, b, 1, 0.0, off, diags, 0, a, s1, y)
    nb.njit(layer.banded_branch_backward.py_func)(x, y, a, s1, off, diags, 0, off, diags, 0, dz, dx,
                                                  np.zeros_like(diags), np.zeros_like(diags), np.zeros(8))
    for fn in (banded.apply_row, banded.apply_transpose_row):
        flags = [sig[-1] for sig in fn.signatures if sig[0].dtype == types.float64]
        assert flags == [types.boolean], (fn.__name__, flags)
