"""fastdds.nn.products: the weight-gradient product in pieces equals the one product, on strided
views, in both dtypes; and the MLP's gradients do not change with the pieces."""

import numpy as np
import pytest

from fastdds.nn import products
from fastdds.nn.mlp import MLP


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 2e-6)])
@pytest.mark.parametrize("m, n", [(20, 20), (2, 20), (20, 1), (100, 100)])
def test_pieces_equal_one_product(m, n, dtype, tol):
    rng = np.random.default_rng(0)
    k = 10_007  # a ragged last piece
    streams = rng.normal(size=(m, 3, k)).astype(dtype)
    A = streams[:, :2].reshape(m, 2 * k)  # rows strided, as the MLP's streams
    B = rng.normal(size=(n, 2 * k)).astype(dtype)
    out = np.ones((m, n), dtype=dtype)
    products.add_matmul_t(A, B, out, np.empty_like(out))
    exact = 1.0 + A.astype(np.float64) @ B.astype(np.float64).T
    assert np.abs(out - exact).max() <= tol * np.abs(exact).max()


def test_width_20_is_cut_and_width_100_is_not():
    assert products._piece(20, 20, 10_000) == 2_500
    assert products._piece(20, 20, 1_000) == 1_000
    assert products._piece(100, 100, 10_000) == 10_000


def test_mlp_gradients_do_not_depend_on_the_pieces(monkeypatch):
    X = np.random.default_rng(1).uniform(-1.0, 1.0, (600, 2))
    derivs = ((0,), (1,), (0, 0))
    results = []
    for small in (products.SMALL_GEMM, 0, 8 * 8 * 97):  # as shipped, never cut, pieces of 97
        monkeypatch.setattr(products, "SMALL_GEMM", small)
        monkeypatch.setattr(products, "MIN_PIECE", 1)
        net = MLP([2, 8, 8, 1], "tanh", seed=2)
        out = net.forward(X, derivs)
        rng = np.random.default_rng(3)
        grads = net.grads_to_flat(net.backward({key: rng.normal(size=v.shape) for key, v in out.items()}))
        results.append((out, grads))
    (out0, g0), *others = results
    for out, g in others:
        for key in out0:
            np.testing.assert_allclose(out[key], out0[key], rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-12)
