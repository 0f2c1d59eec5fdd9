"""Activations: values against NumPy formulas, derivatives against central differences; the
kernels' tanh to a few ulp."""

import numba
import numpy as np
import pytest

from fastdds.activations import get_activation, names
from fastdds.kernels.cpu.activations import tanh as kernel_tanh

REFERENCE = {
    "identity": lambda z: z,
    "tanh": np.tanh,
    "sin": np.sin,
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "softplus": lambda z: np.logaddexp(0.0, z),
    "silu": lambda z: z / (1.0 + np.exp(-z)),
    "square_half": lambda z: 0.5 * z * z,
    "relu_square_half": lambda z: 0.5 * np.maximum(z, 0.0) ** 2,
    "neg_square_half": lambda z: 0.5 * np.minimum(z, 0.0) ** 2,
    "abs": np.abs,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "lecun_tanh": lambda z: 1.7159 * np.tanh(0.666 * z),
    "cube": lambda z: z ** 3,
}


def test_every_activation_has_a_reference():
    assert sorted(REFERENCE) == names()


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_values_and_derivatives(name):
    act = get_activation(name)
    z = np.linspace(-3.0, 3.0, 61) + 0.0123  # avoid the kinks at 0
    d = act.derivatives(z, 3)
    np.testing.assert_allclose(d[0], REFERENCE[name](z), rtol=1e-14, atol=1e-14)
    eps = 1e-6
    for k in range(1, 4):
        hi = act.derivatives(z + eps, k - 1)[k - 1]
        lo = act.derivatives(z - eps, k - 1)[k - 1]
        np.testing.assert_allclose(d[k], (hi - lo) / (2 * eps), rtol=1e-6, atol=1e-8, err_msg=f"{name} order {k}")


def test_extreme_arguments_stay_finite():
    z = np.array([-800.0, -40.0, 40.0, 800.0])
    for name in names():
        assert np.isfinite(get_activation(name).derivatives(z, 3)).all(), name


def test_float32_and_shape_kept():
    z = np.ones((3, 4), np.float32)
    out = get_activation("silu").derivatives(z, 2)
    assert out.dtype == np.float32 and out.shape == (3, 3, 4)


def test_leaky_relu_parameter_and_errors():
    assert get_activation(("leaky_relu", 0.2))(np.array([-1.0]))[0] == pytest.approx(-0.2)
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        get_activation("gelu")
    with pytest.raises(ValueError, match="order 4"):
        get_activation("tanh").derivatives(np.ones(2), 4)


@numba.njit(error_model="numpy")
def _compiled_tanh(x, out):
    for i in range(x.size):
        out[i] = kernel_tanh(x[i])


@pytest.mark.parametrize("dtype, max_ulp", [(np.float64, 2.0), (np.float32, 5.0)])
def test_compiled_tanh_to_a_few_ulp(dtype, max_ulp):
    """The kernels' tanh (written out so that it vectorises) against float64 np.tanh, in ulps of
    the dtype, on 2e6 points over [-25, 25] and 1e5 down to 1e-30; NaN stays NaN, inf gives 1."""
    x = np.concatenate([np.linspace(-25.0, 25.0, 2_000_001), np.geomspace(1e-30, 1.0, 100_000),
                        -np.geomspace(1e-30, 1.0, 1_000), [0.0, -0.0]]).astype(dtype)
    out = np.empty_like(x)
    _compiled_tanh(x, out)
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    assert np.max(np.abs(out - exact) / ulp) <= max_ulp
    special = np.empty(3, dtype=dtype)
    _compiled_tanh(np.array([np.nan, np.inf, -np.inf], dtype=dtype), special)
    assert np.isnan(special[0])
    np.testing.assert_allclose(special[1:], [1.0, -1.0], rtol=max_ulp * np.finfo(dtype).eps)
