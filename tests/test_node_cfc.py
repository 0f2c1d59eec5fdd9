"""NODE and CfC baselines as Blocks: weights as before, formulas, gradients, layer forms, configs."""

import numpy as np
import pytest

from fastdds.layers import Block, Chain, check_gradients
from fastdds.nn.cfc import CfC, Gate
from fastdds.nn.node import NODE


def torch_draw(rng, fan_in, fan_out):
    """The old (fan_in, fan_out)-layout draw of a PyTorch nn.Linear: W then b."""
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-bound, bound, fan_out)


def test_parameter_counts():
    assert NODE(hidden=128).nparams == 51203
    assert CfC(units=64, backbone=128).nparams == 42433


def test_node_weights_are_the_draws_of_before():
    m = NODE(n_in=3, hidden=5, seed=4)
    rng = np.random.default_rng(4)
    expected = [torch_draw(rng, 3, 5), torch_draw(rng, 6, 5), torch_draw(rng, 5, 5), torch_draw(rng, 5, 5),
                torch_draw(rng, 5, 1)]
    W = [p for p in m.params if p.ndim == 2]
    b = [m.params[i + 1] for i, p in enumerate(m.params) if p.ndim == 2]
    for (We, be), Wm, bm in zip(expected, W, b):
        np.testing.assert_array_equal(Wm, We.T)
        np.testing.assert_array_equal(bm, be)
    np.testing.assert_array_equal(m.params[2], np.ones(6))  # LayerNorm weight, bias
    np.testing.assert_array_equal(m.params[3], np.zeros(6))


def test_cfc_weights_are_the_draws_of_before():
    m = CfC(n_in=3, units=4, backbone=5, seed=2)
    rng = np.random.default_rng(2)
    lim = np.sqrt(6 / (7 + 5))
    Wb = rng.uniform(-lim, lim, (7, 5))
    bb = rng.uniform(-1 / np.sqrt(7), 1 / np.sqrt(7), 5)
    _, ch = torch_draw(rng, 5, 16)  # the heads' PyTorch W is then replaced by ncps' Glorot draw
    Wh = rng.uniform(-np.sqrt(6 / (5 + 4)), np.sqrt(6 / (5 + 4)), (5, 16))
    Wr, br = torch_draw(rng, 4, 1)
    for got, want in zip(m.params, (Wb.T, bb, Wh.T, ch, Wr.T, br)):
        np.testing.assert_array_equal(got, want)


def node_reference(m, x):
    """The NODE map written out with plain NumPy (classical RK4 or any tableau), float64."""
    We, be, lw, lb, W1, b1, W2, b2, W3, b3, Wr, br = m.params

    def f(h, t):
        z = np.hstack([h, np.full((h.shape[0], 1), t)])
        zh = (z - z.mean(1, keepdims=True)) / np.sqrt(z.var(1, keepdims=True) + 1e-5) * lw + lb
        return np.tanh(np.tanh(zh @ W1.T + b1) @ W2.T + b2) @ W3.T + b3

    h, dt, tab = x @ We.T + be, 1 / m.steps, m.tableau
    for n in range(m.steps):
        k = []
        for i in range(tab.stages):
            k.append(f(h + dt * sum(tab.a[i][j] * k[j] for j in range(i)), (n + tab.c[i]) * dt))
        h = h + dt * sum(bi * ki for bi, ki in zip(tab.b, k))
    return h @ Wr.T + br


@pytest.mark.parametrize("tableau", ["rk4", "rk4-3/8", "euler"])
def test_node_matches_plain_numpy(rng, tableau):
    m = NODE(n_in=3, hidden=6, steps=3, tableau=tableau, seed=5)
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(m(x), node_reference(m, x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("tableau", ["rk4", "rk4-3/8"])
def test_node_converges_at_fourth_order(rng, tableau):
    x = rng.standard_normal((4, 3))
    y_ref = NODE(n_in=3, hidden=5, steps=64, tableau=tableau, seed=2)(x)
    errs = [np.abs(NODE(n_in=3, hidden=5, steps=s, tableau=tableau, seed=2)(x) - y_ref).max() for s in (4, 8)]
    assert 3.7 < np.log2(errs[0] / errs[1]) < 4.3, errs


@pytest.mark.parametrize("model", [NODE(n_in=3, hidden=4, steps=2, seed=1),
                                   NODE(n_in=3, hidden=4, steps=2, tableau="rk4-3/8", seed=1),
                                   NODE(n_in=3, hidden=4, steps=3, tableau="euler", seed=1),
                                   CfC(n_in=3, units=4, backbone=5, ts=0.7, seed=1)],
                         ids=["node-rk4", "node-rk4-38", "node-euler", "cfc"])
def test_gradients_against_central_differences(rng, model):
    assert isinstance(model, Block)
    errors = check_gradients(model, rng.standard_normal((5, 3)))
    assert len(errors) == len(model.params) + 1 and max(errors) < 1e-6, errors


def test_cfc_matches_formula(rng):
    m = CfC(n_in=3, units=4, backbone=5, ts=0.7, seed=2)
    x = rng.standard_normal((6, 3))
    Wb, bb, Wh, ch, Wr, br = m.params
    u = 1.7159 * np.tanh(0.666 * (np.hstack([x, np.zeros((6, 4))]) @ Wb.T + bb))
    z = u @ Wh.T + ch
    f1, f2 = np.tanh(z[:, :4]), np.tanh(z[:, 4:8])
    gate = 1 / (1 + np.exp(-(z[:, 8:12] * 0.7 + z[:, 12:])))
    np.testing.assert_allclose(m(x), (f1 * (1 - gate) + gate * f2) @ Wr.T + br, rtol=1e-12)
    assert m.backward(m.forward(x)[1], np.ones((6, 1)))[1][0][:, 3:].max() == 0  # h0 = 0 columns


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_cfc_fused_equals_its_layer_form(rng, dtype, tol):
    m = CfC(n_in=3, units=4, backbone=6, ts=0.7, seed=3, dtype=dtype)
    chain = m.layers()
    assert isinstance(chain, Chain) and [type(b).__name__ for b in chain.blocks] == ["Layer", "Layer", "Gate",
                                                                                      "Layer"]
    assert chain.blocks[0].branches[0].R.matrix.base is m.params[0]  # the model's own arrays
    x = rng.standard_normal((7, 3)).astype(dtype)
    (y, c), (yl, cl) = m.forward(x), chain.forward(x)
    assert y.dtype == yl.dtype == dtype
    np.testing.assert_allclose(yl, y, rtol=tol, atol=tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    (dx, g), (dxl, gl) = m.backward(c, dy), chain.backward(cl, dy)
    np.testing.assert_allclose(dxl, dx, rtol=tol, atol=tol)
    np.testing.assert_allclose(gl[0], g[0][:, :3], rtol=tol, atol=tol)
    for a, b in zip(gl[1:], g[1:]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_cfc_gate_block_gradients(rng):
    assert max(check_gradients(Gate(3, ts=0.4), rng.standard_normal((4, 12)))) < 1e-6


@pytest.mark.parametrize("tableau, dtype, tol", [("rk4", np.float64, 1e-12), ("rk4-3/8", np.float64, 1e-12),
                                                 ("ssp-rk3", np.float64, 1e-12), ("euler", np.float32, 1e-5)])
def test_node_equals_its_layer_form(rng, tableau, dtype, tol):
    m = NODE(n_in=3, hidden=4, steps=3, tableau=tableau, seed=6, dtype=dtype)
    chain = m.layers()
    assert chain.blocks[0] is m.encoder and chain.blocks[-1] is m.readout
    kinds = {type(b).__name__ for b in chain.blocks}
    assert kinds == {"Layer", "_OnSlice"}  # _OnSlice: LayerNorm's normalisation on the work slot
    assert chain.blocks[1].n_out == (m.tableau.stages + 1) * 4 + 5
    x = rng.standard_normal((5, 3)).astype(dtype)
    (y, c), (yl, cl) = m.forward(x), chain.forward(x)
    np.testing.assert_allclose(yl, y, rtol=tol, atol=tol)
    dy = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_allclose(chain.backward(cl, dy)[0], m.backward(c, dy)[0], rtol=10 * tol, atol=10 * tol)


def test_node_layer_form_gradients(rng):
    chain = NODE(n_in=2, hidden=2, steps=1, tableau="ssp-rk2", seed=3).layers()
    assert max(check_gradients(chain, rng.standard_normal((3, 2)))) < 1e-6


@pytest.mark.parametrize("model", [NODE(n_in=3, hidden=4, steps=2, tableau="rk4-3/8", seed=1, dtype=np.float32),
                                   CfC(n_in=3, units=4, backbone=5, ts=0.7, seed=1)])
def test_config_rebuilds_the_architecture(model):
    import json

    clone = type(model)(**json.loads(json.dumps(model.config())))
    assert [p.shape for p in clone.params] == [p.shape for p in model.params]
    assert clone.dtype == model.dtype and all(np.array_equal(p, q) for p, q in zip(clone.params, model.params))


def test_float32_stays_float32(rng):
    x = rng.standard_normal((4, 8)).astype(np.float32)
    for m in (NODE(hidden=8, seed=0, dtype=np.float32), CfC(units=4, backbone=8, dtype=np.float32)):
        y, c = m.forward(x)
        dx, g = m.backward(c, np.ones_like(y))
        assert y.dtype == dx.dtype == np.float32 and all(gi.dtype == np.float32 for gi in g)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="unknown Runge-Kutta method"):
        NODE(tableau="dopri5")
    with pytest.raises(ValueError, match="steps"):
        NODE(steps=0)
