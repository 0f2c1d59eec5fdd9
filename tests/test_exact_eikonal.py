"""Exact Eikonal references: the 1-D time-dependent solution, distances to points and boxes."""

import numpy as np
import pytest

from fastdds.exact.eikonal import distance_to_box, distance_to_points, eikonal_time_1d, grid_coordinates


def test_time_1d_values_and_conditions():
    assert eikonal_time_1d(0.5, 0.2) == pytest.approx(0.5)
    assert eikonal_time_1d(-0.1, 0.7) == pytest.approx(0.3)
    x = np.linspace(-1, 1, 41)
    assert np.all(eikonal_time_1d(x, 1.0) == 0.0)  # final condition u(1, x) = 0
    t = np.linspace(0, 1, 17)
    assert np.all(eikonal_time_1d(1.0, t) == 0.0) and np.all(eikonal_time_1d(-1.0, t) == 0.0)
    assert eikonal_time_1d(x[:, None], t[None, :]).shape == (41, 17)


def test_time_1d_satisfies_the_pde_away_from_kinks(rng):
    x, t = rng.uniform(-0.95, 0.95, 400), rng.uniform(0.05, 0.95, 400)
    e = 1e-6
    smooth = np.abs((1 - np.abs(x)) - (1 - t)) > 10 * e
    smooth &= np.abs(x) > 10 * e
    ut = (eikonal_time_1d(x, t + e) - eikonal_time_1d(x, t - e)) / (2 * e)
    ux = (eikonal_time_1d(x + e, t) - eikonal_time_1d(x - e, t)) / (2 * e)
    residual = -ut + np.abs(ux) - 1
    assert np.abs(residual[smooth]).max() < 1e-8


def test_time_1d_keeps_float32():
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    assert eikonal_time_1d(x, np.float32(0.5)).dtype == np.float32
    assert eikonal_time_1d(x, 0.5).dtype == np.float64


def test_distance_to_points_and_box_by_hand():
    X = grid_coordinates((3, 4), dx=(0.5, 1.0), origin=(-0.5, 0.0))
    assert X[0][2, 0] == 0.5 and X[1][0, 3] == 3.0
    d = distance_to_points(X, [[0.0, 0.0], [0.5, 3.0]])
    assert d[0, 0] == pytest.approx(0.5)  # (-0.5, 0) to (0, 0)
    assert d[2, 2] == pytest.approx(1.0)  # (0.5, 2) to (0.5, 3)
    assert d[1, 1] == pytest.approx(1.0)
    pts = [np.array([3.0]), np.array([0.0])]
    assert distance_to_box(pts, [0, 0], [1, 1])[0] == pytest.approx(2.0)
    pts = [np.array([2.0, 0.5, 0.5]), np.array([2.0, 0.5, 0.9])]
    assert distance_to_box(pts, [0, 0], [1, 1]) == pytest.approx([np.sqrt(2), 0.0, 0.0])
    assert distance_to_box(pts, [0, 0], [1, 1], signed=True) == pytest.approx([np.sqrt(2), -0.5, -0.1])


def test_box_distance_has_unit_gradient_outside(rng):
    p = rng.uniform(-2, 2, (500, 2))
    e = 1e-6
    f = lambda q: distance_to_box([q[:, 0], q[:, 1]], [-0.5, -0.3], [0.4, 0.6])  # noqa: E731
    g = np.stack([(f(p + e * np.eye(2)[k]) - f(p - e * np.eye(2)[k])) / (2 * e) for k in range(2)], axis=1)
    out = f(p) > 1e-3
    assert np.abs(np.linalg.norm(g[out], axis=1) - 1).max() < 1e-6


def test_bad_input():
    X = grid_coordinates((3, 3))
    with pytest.raises(ValueError, match="coordinates"):
        distance_to_points(X, [[0, 0, 0]])
    with pytest.raises(ValueError, match="lower < upper"):
        distance_to_box(X, [1, 0], [0, 1])
