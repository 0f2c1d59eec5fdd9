"""fastdds.optim.Adam: PyTorch's update formula, for all parameters in one call, against NumPy
written out; and the inputs it refuses."""

import numpy as np
import pytest

from fastdds.optim import Adam


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-14), (np.float32, 1e-6)])
def test_adam_matches_the_formula(dtype, tol):
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=5).astype(dtype)]
    ref = [p.astype(np.float64) for p in params]
    m = [np.zeros_like(p) for p in ref]
    v = [np.zeros_like(p) for p in ref]
    lr, b1, b2, eps, wd = 1e-2, 0.9, 0.999, 1e-8, 1e-3
    opt = Adam(params, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    for step in range(1, 4):
        grads = [rng.normal(size=p.shape) for p in params]
        opt.step([g.astype(dtype) for g in grads])
        for k, g in enumerate(grads):
            g = g.astype(dtype).astype(np.float64) + wd * ref[k]
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            ref[k] = ref[k] - lr / (1 - b1**step) * m[k] / (np.sqrt(v[k] / (1 - b2**step)) + eps)
        for p, r in zip(params, ref):
            np.testing.assert_allclose(p, r, rtol=tol, atol=tol)


def test_adam_refuses_what_it_cannot_update_in_place():
    with pytest.raises(ValueError, match="C-contiguous"):
        Adam([np.zeros((4, 3)).T])
    with pytest.raises(ValueError, match="one dtype"):
        Adam([np.zeros(3), np.zeros(3, dtype=np.float32)])
    with pytest.raises(ValueError, match="gradient of shape"):
        Adam([np.zeros(3)]).step([np.zeros(4)])


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -1e-3])
def test_adam_refuses_a_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="learning rate is .*; it must be a finite number >= 0"):
        Adam([np.zeros(3)], lr=lr)


def test_adam_with_zero_learning_rate_leaves_the_parameters():
    """lr = 0 is what an L-BFGS-only schedule (raissi-burgers) builds its unused Adam with."""
    p = np.arange(3.0)
    Adam([p], lr=0.0).step([np.ones(3)])
    np.testing.assert_array_equal(p, np.arange(3.0))


def test_adam_compiles_once_per_dtype_whatever_the_parameter_count(rng):
    """The update kernel takes tuples of arrays, and a tuple of k arrays is a Numba type of its own;
    Adam calls it array by array, so models with 2, 5 or 9 parameters share one compiled form."""
    from fastdds.kernels.cpu import optim as kernel

    def step(count):
        params = [rng.standard_normal(3 + k) for k in range(count)]
        Adam(params, lr=1e-2).step([np.ones_like(p) for p in params])

    step(2)
    before = list(kernel.adam_update.signatures)
    step(5)
    step(9)
    assert kernel.adam_update.signatures == before
