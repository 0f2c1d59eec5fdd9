"""fastdds.norms: the one definition of L1 / L2 / Linf and relative L2."""

import numpy as np
import pytest

from fastdds.norms import error_norms, relative_l2


def test_error_norms_values():
    u, ex = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 1.0, 5.0, 4.0])
    assert error_norms(u, ex) == {"L1": 0.75, "L2": np.sqrt(5.0 / 4.0), "Linf": 2.0}
    assert relative_l2(u, ex) == pytest.approx(np.sqrt(5.0) / np.sqrt(43.0), rel=1e-15)


def test_float32_measured_in_float64():
    u = np.float32(1.0) + np.arange(3, dtype=np.float32) * np.float32(1e-7)
    n = error_norms(u, np.ones(3))
    assert n["Linf"] == float(u[2]) - 1.0 and isinstance(n["L1"], float)


def test_empty_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        error_norms(np.array([]), np.array([]))
