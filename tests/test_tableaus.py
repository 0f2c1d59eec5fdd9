"""Runge-Kutta tableaus: order conditions, stability polynomials, Shu-Osher forms, bad input."""

import math

import numpy as np
import pytest

from fastdds import tableaus as T
from fastdds.pde import burgers as B
from fastdds.pde import heat as H


@pytest.mark.parametrize("name", sorted(T.TABLEAUS))
def test_order_conditions_hold_up_to_the_order_and_fail_beyond(name):
    tab = T.TABLEAUS[name]
    for p in range(1, tab.order + 1):
        assert max(abs(float(r)) for r in tab.order_conditions(p)) < 1e-15, (name, p)
    if tab.order < 4:
        assert max(abs(float(r)) for r in tab.order_conditions(tab.order + 1)) > 1e-3, name


@pytest.mark.parametrize("name", sorted(T.TABLEAUS))
def test_stability_polynomial_is_the_truncated_exponential(name):
    tab = T.TABLEAUS[name]
    coeffs = tab.stability_polynomial()
    assert len(coeffs) == tab.stages + 1
    assert coeffs[:tab.order + 1] == tuple(1.0 / math.factorial(k) for k in range(tab.order + 1))
    # against one step of u' = lambda u run through the stages
    z = -0.37
    k = []
    for row in tab.a:
        k.append(z * (1.0 + sum(a * kj for a, kj in zip(row, k))))
    assert abs(1.0 + sum(b * kj for b, kj in zip(tab.b, k)) - np.polyval(coeffs[::-1], z)) < 1e-15


def test_classical_rk4_and_its_38_variant_are_different_methods():
    assert T.RK4.stability_polynomial() == T.RK4_38.stability_polynomial()
    assert T.RK4.a != T.RK4_38.a and T.RK4_38.c == (0.0, 1 / 3, 2 / 3, 1.0)


@pytest.mark.parametrize("name", sorted(T.SHU_OSHER))
def test_shu_osher_form_is_the_same_method_as_its_tableau(name):
    so = T.SHU_OSHER[name]
    assert so.stability_polynomial() == so.tableau.stability_polynomial()
    derived = so.butcher()
    np.testing.assert_allclose(np.array(derived.a), np.array(so.tableau.a), atol=1e-16)
    np.testing.assert_allclose(derived.b, so.tableau.b, atol=1e-16)
    np.testing.assert_allclose(derived.c, so.tableau.c, atol=1e-16)


def test_burgers_reads_the_same_shu_osher_floats():
    assert B.RK["ssp-rk3"].a == (0.0, 0.75, 1.0 / 3.0) and B.RK["ssp-rk3"].b == (1.0, 0.25, 2.0 / 3.0)
    assert B.RK["ssp-rk2"].a == (0.0, 0.5) and B.RK["ssp-rk2"].b == (1.0, 0.5)
    assert B.RK["euler"].a == (0.0,) and B.RK["euler"].b == (1.0,)
    assert [B.RK[k].order for k in ("euler", "ssp-rk2", "ssp-rk3")] == [1, 2, 3]


def test_heat_rk4_polynomial_and_kernel_constants_come_from_the_tableau():
    assert H._RK4 == (1.0, 1.0, 0.5, 1.0 / 6.0, 1.0 / 24.0)
    assert H._rk4_constants(T.RK4, np.float64).tolist() == [0.5, 0.5, 1.0, 1.0 / 6.0, 2.0]
    with pytest.raises(ValueError, match="classical RK4 shape"):
        H._rk4_constants(T.RK4_38, np.float64)


@pytest.mark.parametrize("kwargs, match", [
    (dict(a=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0], order=2), "c of length"),
    (dict(a=[[0, 1], [1, 0]], b=[0.5, 0.5], c=[1, 1], order=2), "explicit"),
    (dict(a=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 0.5], order=2), "row sum"),
    (dict(a=[[0, 0], [1, 0]], b=[0.5, 0.6], c=[0, 1], order=1), "sum to 1"),
    (dict(a=[[0, 0], [1, 0]], b=[0.5, 0.5], c=[0, 1], order=3), "not of order 3"),
    (dict(a=[[0]], b=[1], c=[0], order=5), "orders 1 to 4"),
])
def test_bad_tableaus_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        T.ButcherTableau(**kwargs)


def test_bad_shu_osher_forms_are_rejected():
    with pytest.raises(ValueError, match="a \\+ b = 1"):
        T.ShuOsher((0.0, 0.6), (1.0, 0.5), T.SSP_RK2)
    with pytest.raises(ValueError, match="one entry per stage"):
        T.ShuOsher((0.0,), (1.0,), T.SSP_RK2)
    with pytest.raises(ValueError, match="not the method"):
        T.ShuOsher((0.0, 0.75, 0.5), (1.0, 0.25, 0.5), T.SSP_RK3)
    with pytest.raises(ValueError, match="unknown Runge-Kutta method"):
        T.get("rk5")
    assert T.get("rk4-3/8") is T.RK4_38 and T.get(T.RK4) is T.RK4
