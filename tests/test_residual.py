"""Residual nets as Chains of Layers, and the one linearisation shared with FD steps."""

import json

import numpy as np
import pytest

from fastdds.layers import Chain, Layer, check_gradients
from fastdds.linearize import jacobian, spectral_radius
from fastdds.nn.cfc import Gate
from fastdds.nn.residual import LayerNet, LMResNet, Leapfrog, ResNet
from fastdds.operators import Banded, Dense
from fastdds.pde import heat as H


def field_weights(step, d):
    """(h-scaled W2, W1, b1) of a step's field branch (the last branch), without the structural zeros."""
    br = step.branches[-1]
    return br.Q.matrix[:d], br.R.matrix[:, :d], br.b


def reference(m, x, method):
    """The net written out with plain NumPy."""
    d = m.config()["width"]
    W, b = m.blocks[0].params
    xn = x @ W.T + b
    xp = xn
    for step in m.steps:
        Q, W1, b1 = field_weights(step, d)
        f = np.tanh(xn @ W1.T + b1) @ Q.T
        if method == "euler":
            xn, xp = xn + f, xn
        elif method == "lm":
            k = step.branches[0].Q.diagonals[0, 0]
            xn, xp = (1 - k) * xn + k * xp + f, xn
        else:
            xn, xp = xp + f, xn
    Wr, br = m.blocks[-1].params
    return xn @ Wr.T + br


@pytest.mark.parametrize("cls, method, kw", [(ResNet, "euler", {}), (LMResNet, "lm", {"k": 0.3}),
                                             (Leapfrog, "leapfrog", {})])
def test_nets_follow_their_schemes(rng, cls, method, kw):
    m = cls(n_in=3, n_out=2, width=4, hidden=5, depth=3, h=0.4, seed=1, **kw)
    x = rng.standard_normal((6, 3))
    np.testing.assert_allclose(m(x), reference(m, x, method), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m.layers()(x), m(x), rtol=1e-12, atol=1e-14)
    assert all(isinstance(b, Layer) for b in m.layers().blocks)


def test_resnet_step_is_identity_plus_h_w2_sigma_w1(rng):
    m = ResNet(n_in=3, width=4, hidden=5, depth=2, h=0.25, seed=3)
    step = m.steps[0]
    assert step.P.to_dense().tolist() == np.eye(4).tolist()
    W1 = step.branches[0].R.matrix
    rng2 = np.random.default_rng(3)
    rng2.uniform(size=3 * 4 + 4)  # the lift
    np.testing.assert_array_equal(W1, rng2.uniform(-0.5, 0.5, (4, 5)).T)
    rng2.uniform(size=5)
    np.testing.assert_array_equal(step.branches[0].Q.matrix, 0.25 * rng2.uniform(-5 ** -0.5, 5 ** -0.5, (5, 4)).T)


@pytest.mark.parametrize("cls", [ResNet, LMResNet, Leapfrog])
def test_gradients_and_structural_entries(rng, cls):
    m = cls(n_in=3, n_out=2, width=3, hidden=2, depth=2, seed=4)
    x = rng.standard_normal((4, 3))
    assert max(check_gradients(Chain(m.blocks), x)) < 1e-6
    y, cache = m.forward(x)
    dy = rng.standard_normal(y.shape)
    _, g = m.backward(cache, dy)
    _, g_all = Chain(m.blocks).backward(Chain(m.blocks).forward(x)[1], dy)
    full = {id(p): gp for p, gp in zip(Chain(m.blocks).params, g_all)}
    assert len(g) == len(m.params)
    for p, gp, mask in zip(m.params, g, [m._masks[i] for i, keep in enumerate(m._keep) if keep]):
        want = full[id(p)] if mask is None else full[id(p)] * mask
        np.testing.assert_array_equal(gp, want)
    assert m.nparams == sum(p.size if mk is None else mk.sum() for p, mk in zip(m._all, m._masks)
                            if mk is None or mk.any())


def test_parameter_counts():
    # lift 3*4 + 4, per step W1 5*4 + b1 5 + W2 4*5, readout 4 + 1; LM adds one k per step
    assert ResNet(n_in=3, width=4, hidden=5, depth=3).nparams == 16 + 3 * 45 + 5
    assert LMResNet(n_in=3, width=4, hidden=5, depth=3).nparams == 16 + 3 * 46 + 5
    assert Leapfrog(n_in=3, width=4, hidden=5, depth=3).nparams == 16 + 3 * 45 + 5


@pytest.mark.parametrize("boundary", ["periodic", "zero"])
def test_ftcs_euler_radius_is_its_amplification_factor(rng, boundary):
    nx, r = 16, 0.3
    layer = H.ftcs_layer(nx, r, boundary=boundary)
    if boundary == "periodic":
        k_dx = 2 * np.pi * np.arange(nx) / nx
    else:  # interior nodes with zero ends: sine modes
        k_dx = np.pi * np.arange(1, nx + 1) / (nx + 1)
    want = np.abs(1 - 4 * r * np.sin(k_dx / 2) ** 2).max()
    assert abs(spectral_radius(layer, rng.standard_normal(nx)) - want) < 1e-13
    np.testing.assert_array_equal(jacobian(layer, np.zeros(nx)), layer.P.to_dense())


def test_an_fd_chain_and_a_residual_net_share_the_stability_code(rng):
    nx, r = 12, 0.45
    scheme = LayerNet([H.ftcs_layer(nx, r)] * 3)
    want = np.abs(1 - 4 * r * np.sin(np.pi * np.arange(nx) / nx) ** 2).max()
    np.testing.assert_allclose(scheme.stability(rng.standard_normal(nx)), [want] * 3, rtol=1e-13)
    assert scheme.params == scheme.blocks[0].params


def test_layer_jacobian_against_central_differences(rng):
    n = 5
    layer = Layer(Banded((-1, 0, 1), np.array([0.2, 0.5, 0.1]), "periodic", n=n),
                  [(Dense(rng.standard_normal((n, 3))), "tanh", Dense(rng.standard_normal((3, n))),
                    rng.standard_normal(3)),
                   (Banded((0, 1), np.array([0.3, -0.3]), "periodic", n=n), "square_half", None, None)])
    x, eps = rng.standard_normal(n), 1e-6
    num = np.column_stack([(layer(x + eps * e) - layer(x - eps * e)) / (2 * eps) for e in np.eye(n)])
    np.testing.assert_allclose(jacobian(layer, x), num, rtol=1e-8, atol=1e-9)
    chain = Chain([layer, layer])
    np.testing.assert_allclose(jacobian(chain, x), jacobian(layer, layer(x)) @ jacobian(layer, x), rtol=1e-13)
    gate = Gate(2, ts=0.5)  # a Block without a layer form: rows from its backward
    z = rng.standard_normal(8)
    num = np.column_stack([(gate(z + eps * e) - gate(z - eps * e)) / (2 * eps) for e in np.eye(8)])
    np.testing.assert_allclose(jacobian(gate, z), num, rtol=1e-8, atol=1e-9)


def test_stability_linearises_each_step_along_the_trajectory(rng):
    m = ResNet(n_in=3, width=4, hidden=5, depth=3, h=0.5, seed=2)
    x = rng.standard_normal(3)
    states = m.trajectory(x)[1:]
    for rho, step, s in zip(m.stability(x), m.steps, states):
        Q, W1, b1 = field_weights(step, 4)
        J = np.eye(4) + Q @ np.diag(1 - np.tanh(W1 @ s + b1) ** 2) @ W1
        assert abs(rho - np.abs(np.linalg.eigvals(J)).max()) < 1e-13
    lf = Leapfrog(n_in=3, width=4, depth=2, h=1e-9, seed=2)  # h -> 0: the swap [[0, I], [I, 0]], radius 1
    np.testing.assert_allclose(lf.stability(x), 1.0, atol=1e-8)
    with pytest.raises(ValueError, match="square step"):
        spectral_radius(m.blocks[0], x)


@pytest.mark.parametrize("cls, kw", [(ResNet, {}), (LMResNet, {"k": 0.1}), (Leapfrog, {"dtype": np.float32})])
def test_config_rebuilds_the_architecture(cls, kw):
    m = cls(n_in=3, n_out=2, width=4, hidden=5, depth=2, seed=7, **kw)
    clone = cls(**json.loads(json.dumps(m.config())))
    assert [p.shape for p in clone.params] == [p.shape for p in m.params]
    assert all(np.array_equal(p, q) for p, q in zip(clone.params, m.params)) and clone.dtype == m.dtype


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="must be >= 1"):
        ResNet(depth=0)
