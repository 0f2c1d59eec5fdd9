"""Residual partials against central finite differences, and the residuals on exact solutions."""

import numpy as np
import pytest

from fastdds.pinn import residuals as res


class KdV(res.Residual):
    """User-defined residual (the README's recipe): u_t + 6 u u_x + u_xxx."""

    streams = ((), (0,), (1,), (0, 0, 0))

    def evaluate(self, s, X):
        u, u_x = s[()], s[(0,)]
        return s[(1,)] + 6 * u * u_x + s[(0, 0, 0)], {(): 6 * u_x, (0,): 6 * u, (1,): 1.0, (0, 0, 0): 1.0}


CASES = [res.Burgers(0.01 / np.pi), res.Burgers(0.0), res.EikonalTime(1e-8), res.Heat(0.3),
         res.AllenCahn(1e-4), res.Eikonal2D(lambda X: 1.0 + X[:, 0] ** 2), res.Eikonal2D(2.0), KdV()]


@pytest.mark.parametrize("residual", CASES, ids=lambda r: type(r).__name__)
def test_partials_match_central_differences(residual, rng):
    n = 50
    X = rng.uniform(-1, 1, (n, 2))
    s = {k: rng.normal(size=(n, 1)) for k in residual.streams}
    _, partials = residual.evaluate(s, X)
    assert set(partials) == set(residual.streams)
    h = 1e-4  # truncation O(h^2) ~ 1e-8; round-off 1e-16 |r| / h stays below 1e-6 of the smallest partial (1e-4)
    for key in residual.streams:
        # r is pointwise in the points, so perturbing a whole stream gives every dr_i/ds_i at once
        up = {**s, key: s[key] + h}
        dn = {**s, key: s[key] - h}
        fd = (residual(up, X) - residual(dn, X)) / (2 * h)
        an = np.broadcast_to(partials[key], fd.shape)
        err = np.abs(an - fd).max() / max(np.abs(fd).max(), 1e-12)
        assert err < 1e-6, (type(residual).__name__, key, err)


def test_zero_on_exact_heat_solution():
    D = 0.2
    x, t = np.linspace(0, 1, 11)[:, None], np.linspace(0, 1, 11)[:, None]
    u = np.exp(-D * np.pi ** 2 * t) * np.sin(np.pi * x)
    s = {(1,): -D * np.pi ** 2 * u, (0, 0): -np.pi ** 2 * u}
    assert np.abs(res.Heat(D)(s, None)).max() < 1e-14


def test_eikonal_time_zero_on_exact_away_from_kinks():
    # u = min(1 - |x|, 1 - t): where 1 - |x| < 1 - t, u_x = -sign(x), u_t = 0; else u_x = 0, u_t = -1
    s1 = {(0,): np.array([[1.0], [-1.0]]), (1,): np.zeros((2, 1))}
    s2 = {(0,): np.zeros((2, 1)), (1,): -np.ones((2, 1))}
    r = res.EikonalTime(1e-8)
    assert np.abs(r(s1, None)).max() < 1e-8
    assert np.abs(r(s2, None)).max() < 1e-4  # sqrt(1e-8) smoothing at u_x = 0


def test_float32_stays_float32(rng):
    s = {k: rng.normal(size=(8, 1)).astype(np.float32) for k in res.Burgers(0.1).streams}
    r, partials = res.Burgers(0.1).evaluate(s, None)
    assert r.dtype == np.float32
    assert all(np.asarray(p).dtype == np.float32 for p in partials.values() if hasattr(p, "dtype"))


def test_inviscid_burgers_reads_no_second_derivative():
    assert (0, 0) not in res.Burgers(0.0).streams
    assert (0, 0) in res.Burgers(0.1).streams


@pytest.mark.parametrize("make", [lambda: res.Burgers(-1.0), lambda: res.Heat(0.0), lambda: res.AllenCahn(-1.0)])
def test_bad_coefficients_raise(make):
    with pytest.raises(ValueError, match="must be"):
        make()
