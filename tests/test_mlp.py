"""fastdds.nn.mlp: Taylor-stream input derivatives and the hand-written reverse pass against central
finite differences (float64), the MLP as a Block (value, input gradient, its layer form), the input
scaling, the workspace pool, published weight files, weight I/O errors."""

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

from fastdds import initializers
from fastdds.layers import Layer, check_gradients
from fastdds.nn import mlp
from fastdds.nn.mlp import MLP, load_weights, save_weights

ACTIVATIONS = ["tanh", "sin", "softplus", "silu", ("leaky_relu", 0.1)]
SHAPES = [[1, 6, 1], [2, 5, 4, 2], [3, 4, 5, 3, 1]]
FIRST = {1: ((0,),), 2: ((0,), (1,)), 3: ((0,), (2,))}
PURE = {1: ((0, 0),), 2: ((0, 0), (1, 1)), 3: ((1, 1), (2, 2))}
MIXED = {1: ((0, 0),), 2: ((0, 1),), 3: ((0, 2), (2, 1))}


def rel_err(a, b):
    return np.linalg.norm(np.ravel(a) - np.ravel(b)) / np.linalg.norm(np.ravel(b))


def points(n, d, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (n, d)).astype(dtype)


def kink_margin(net, X):
    """Smallest |pre-activation| of the hidden layers (plain NumPy, independent of the kernels)."""
    a, margin = X, np.inf
    for W, b in net.weights[:-1]:
        z = a @ W.T + b
        margin = min(margin, np.abs(z).min())
        a = net.activation(z)
    return margin


def blas_threads(paths=None):
    """Thread count of each BLAS library loaded so far (or of those in `paths`), by path."""
    return {p["filepath"]: p["num_threads"] for p in threadpool_info()
            if p["user_api"] == "blas" and (paths is None or p["filepath"] in paths)}


def make_net(sizes, act, seed=3):
    net = MLP(sizes, act, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for b in net.params[1::2]:
        b[...] = rng.normal(0.0, 0.3, b.shape)  # nonzero biases so they are tested too
    return net


@pytest.mark.parametrize("act", ACTIVATIONS, ids=str)
@pytest.mark.parametrize("sizes", SHAPES, ids=str)
def test_input_derivatives_match_finite_differences(act, sizes):
    d = sizes[0]
    net = make_net(sizes, act)
    X = points(6, d)
    if act[0] == "leaky_relu":
        assert kink_margin(net, X) > 1e-4
    seconds = tuple((i, j) for i in range(d) for j in range(d))
    out = net.streams(X, tuple((i,) for i in range(d)) + seconds, keep=False)[0]
    h = 1e-6
    for i in range(d):
        e = np.zeros(d)
        e[i] = h
        fd_u = (net(X + e) - net(X - e)) / (2 * h)
        assert rel_err(out[(i,)], fd_u) < 1e-6
        for j in range(d):
            # d/dx_i of the u_xj stream: an independent check of every second derivative
            p = net.streams(X + e, ((j,),), keep=False)[0][(j,)]
            m = net.streams(X - e, ((j,),), keep=False)[0][(j,)]
            fd = (p - m) / (2 * h)
            if act[0] == "leaky_relu":
                assert np.abs(out[(i, j)]).max() == 0.0 and np.abs(fd).max() < 1e-8
            else:
                assert rel_err(out[(i, j)], fd) < 1e-6
    # the same value as without derivative streams, up to the GEMM's blocking (a few ulps)
    u = net(X)
    np.testing.assert_allclose(out[()], u, rtol=0, atol=8 * np.finfo(u.dtype).eps * np.abs(u).max())


def loss_and_seeds(net, X, derivs, seed=7):
    out = net.streams(X, derivs, keep=False)[0]
    rng = np.random.default_rng(seed)
    seeds = {k: rng.normal(size=v.shape) for k, v in out.items() if k in ((),) + tuple(derivs)}
    return seeds


def fd_param_grad(net, X, derivs, seeds, h=1e-6):
    v0 = net.get_flat()
    g = np.empty_like(v0)

    def loss(v):
        net.set_flat(v)
        out = net.streams(X, derivs, keep=False)[0]
        return sum(float((c * out[k]).sum()) for k, c in seeds.items())

    for i in range(v0.size):
        e = np.zeros_like(v0)
        e[i] = h
        g[i] = (loss(v0 + e) - loss(v0 - e)) / (2 * h)
    net.set_flat(v0)
    return g


@pytest.mark.parametrize("act", ACTIVATIONS, ids=str)
@pytest.mark.parametrize("streams", ["u", "first", "pure", "mixed", "all"])
@pytest.mark.parametrize("sizes", SHAPES, ids=str)
def test_parameter_gradients_match_finite_differences(act, streams, sizes):
    d = sizes[0]
    net = make_net(sizes, act)
    X = points(5, d, seed=2)
    if act[0] == "leaky_relu":
        assert kink_margin(net, X) > 1e-4
    derivs = {"u": (), "first": FIRST[d], "pure": PURE[d], "mixed": MIXED[d],
              "all": FIRST[d] + PURE[d] + MIXED[d]}[streams]
    seeds = loss_and_seeds(net, X, derivs)
    if streams != "u":
        seeds.pop(())  # the derivative streams alone
    _, cache = net.streams(X, derivs)
    grads = net.stream_backward(cache, seeds)
    assert [g.shape for g in grads] == [p.shape for p in net.params]
    fd = fd_param_grad(net, X, derivs, seeds)
    if not np.any(fd) and act[0] == "leaky_relu":  # piecewise linear: second streams vanish
        assert not np.any(net.grads_to_flat(grads))
    else:
        assert rel_err(net.grads_to_flat(grads), fd) < 1e-6


@pytest.mark.parametrize("act", ["tanh", "sin"])
def test_many_points_equal_the_sum_of_small_batches(act):
    """N spanning several kernel blocks (kept or scratch) gives what batches of 4 points give."""
    net = make_net([2, 20, 20, 1], act)
    X = points(301, 2, seed=4)
    derivs = ((0,), (1,), (0, 0), (0, 1))
    out, cache = net.streams(X, derivs)
    seeds = {k: np.random.default_rng(5).normal(size=v.shape) for k, v in out.items()}
    grads = net.grads_to_flat(net.stream_backward(cache, seeds))
    total = np.zeros_like(grads)
    for i in range(0, 301, 4):
        part, cache = net.streams(X[i:i + 4], derivs)
        for k in out:
            np.testing.assert_allclose(part[k], out[k][i:i + 4], rtol=1e-12, atol=1e-14)
        total += net.grads_to_flat(net.stream_backward(cache, {k: v[i:i + 4] for k, v in seeds.items()}))
    assert rel_err(grads, total) < 1e-12
    free = net.streams(X, derivs, keep=False)[0]
    for k in out:
        np.testing.assert_array_equal(free[k], out[k])


def test_kept_memory():
    """tanh keeps only the streams (a', z); other activations also sigma', sigma'', sigma'''."""
    X = points(1000, 2)
    derivs = ((0,), (1,), (0, 0))
    streams = 4 * 1000 * 8 * (2 + 20 + 20 + 20 + 20 + 1)  # a: 2, 20, 20; z: 20, 20, 1 wide
    derivatives = 3 * 1000 * 8 * (20 + 20)
    tanh, sin = MLP([2, 20, 20, 1], "tanh"), MLP([2, 20, 20, 1], "sin")
    c_tanh, c_sin = tanh.streams(X, derivs)[1], sin.streams(X, derivs)[1]
    assert c_sin.nbytes == streams + derivatives
    assert streams < c_tanh.nbytes < streams + 0.2 * derivatives  # block scratch only
    tanh.stream_backward(c_tanh, {(): np.ones((1000, 1))})
    assert c_tanh.nbytes == 0  # the workspace went back to the network's pool


@pytest.mark.parametrize("act", ["tanh", "sin"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batches_cover_the_points_and_keep_within_budget(act, dtype):
    derivs = ((0,), (1,), (0, 0))
    net = MLP([2] + [12] * 8 + [1], act, dtype=dtype)
    N = 10_000
    batches = net.batches(N, derivs)
    assert len(batches) > 1
    assert batches[0].start == 0 and batches[-1].stop == N
    assert all(b.stop == c.start for b, c in zip(batches, batches[1:]))
    sizes = {b.stop - b.start for b in batches}
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= mlp.LANES * mlp.MIN_CHUNK_POINTS
    X = points(max(sizes), 2).astype(dtype)
    # the budget counts streams, not tanh's block scratch
    assert net.streams(X, derivs)[1].nbytes <= 1.02 * mlp.BATCH_BYTES
    assert net.batches(1000, derivs) == [slice(0, 1000)]  # fewer points than a batch holds
    wide = MLP([2] + [100] * 8 + [1], act, dtype=dtype)  # a batch within budget could not fill the lanes
    assert wide.batches(N, derivs) == [slice(0, N)]


def test_each_cache_reverses_its_own_forward():
    """Caches are independent: several may be outstanding, reversed in any order, and give what
    each gives alone; a spent cache, a foreign key or a wrong shape is refused."""
    net = make_net([2, 6, 6, 1], "tanh")
    X1, X2 = points(9, 2, seed=1), points(4, 2, seed=2)
    derivs = ((0,), (1,), (0, 0))
    out, cache = net.streams(X2, derivs)
    seeds = {k: np.ones_like(v) for k, v in out.items()}
    ref = net.stream_backward(cache, seeds)
    _, c1 = net.streams(X1, derivs)
    _, c2 = net.streams(X2, derivs)
    _, c3 = net.streams(X2, derivs)  # same shape as c2: its own workspace, not c2's
    assert c2.ws is not c3.ws
    net(X2)  # forwards that keep nothing must not disturb the kept state
    net.streams(X2, ((1,),), keep=False)
    with pytest.raises(ValueError, match=r"\(1, 1\)"):
        net.stream_backward(c2, {(1, 1): np.ones((4, 1))})
    with pytest.raises(ValueError, match="shape"):
        net.stream_backward(c2, {(): np.ones((5, 1))})
    for cache in (c2, c3):  # a refused dout leaves the cache usable
        for g, r in zip(net.stream_backward(cache, seeds), ref):
            np.testing.assert_array_equal(g, r)
    with pytest.raises(RuntimeError, match="already reversed"):
        net.stream_backward(c2, seeds)
    del c1  # never reversed: garbage collected with its workspace


def test_workspaces_are_reused_from_the_pool():
    """A forward / reverse loop allocates its buffers once; `release` empties the pool."""
    net = make_net([2, 6, 1], "sin")
    X = points(20, 2)
    _, c = net.streams(X, ((0,),))
    ws = c.ws
    net.stream_backward(c, {(): np.ones((20, 1))})
    _, c = net.streams(X, ((0,),))
    assert c.ws is ws
    net.stream_backward(c, {(): np.ones((20, 1))})
    net.release()
    assert net.streams(X, ((0,),))[1].ws is not ws


def test_mixed_key_order_and_duplicate_seeds():
    net = make_net([2, 5, 1], "silu")
    X = points(4, 2)
    out, cache = net.streams(X, ((0, 1), (1, 0)))
    np.testing.assert_array_equal(out[(0, 1)], out[(1, 0)])
    assert list(net.streams(X, ((), [1]), keep=False)[0]) == [(), (1,)]
    c = np.random.default_rng(0).normal(size=(4, 1))
    both = net.grads_to_flat(net.stream_backward(cache, {(0, 1): c, (1, 0): c}))
    one = net.grads_to_flat(net.stream_backward(net.streams(X, ((0, 1),))[1], {(0, 1): 2 * c}))
    np.testing.assert_allclose(both, one, rtol=1e-14, atol=0)


def test_float32_stays_float32_and_agrees_with_float64():
    net64 = make_net([2, 16, 16, 1], "tanh")
    net32 = MLP.from_weights(net64.weights, "tanh", dtype=np.float32)
    X = points(50, 2)
    derivs = ((0,), (1,), (0, 0))
    o64, c64 = net64.streams(X, derivs)
    o32, c32 = net32.streams(X.astype(np.float32), derivs)
    seeds = {k: np.ones_like(v) for k, v in o64.items()}
    g64 = net64.stream_backward(c64, seeds)
    g32 = net32.stream_backward(c32, {k: v.astype(np.float32) for k, v in seeds.items()})
    for k in o64:
        assert o32[k].dtype == np.float32
        assert rel_err(o32[k], o64[k]) < 1e-5
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        assert rel_err(a, b) < 1e-4
    assert all(p.dtype == np.float32 for p in net32.params)
    with pytest.raises(ValueError, match="float64 but the network is float32"):
        net32.streams(X)
    with pytest.raises(ValueError, match="float64 but the operator is float32"):
        net32(X)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("act", ["tanh", "softplus"])
def test_layer_form_is_the_network(act, dtype, tol):
    """net(x) == net.layers()(x), and the chain's gradients are the network's; the Dense
    operators are the very arrays the network trains."""
    net = make_net([3, 7, 5, 2], act)
    net = MLP.from_weights(net.weights, act, dtype=dtype)
    X = points(11, 3).astype(dtype)
    chain = net.layers()
    assert len(chain.blocks) == 3 and all(isinstance(b, Layer) for b in chain.blocks)
    assert [b.branches[0].act.name for b in chain.blocks] == [act, act, "identity"]
    y, cache = chain.forward(X)
    assert y.dtype == dtype
    assert rel_err(net(X), y) < tol
    dy = np.random.default_rng(1).normal(size=y.shape).astype(dtype)
    dx_chain, chain_grads = chain.backward(cache, dy)
    y2, c2 = net.forward(X)
    dx, grads = net.backward(c2, dy)
    assert rel_err(y2, y) < tol and rel_err(dx, dx_chain) < tol
    assert len(chain_grads) == len(grads) == len(net.params)
    for g, h in zip(chain_grads, grads):
        assert g.shape == h.shape and rel_err(h, g) < 10 * tol
    assert all(np.shares_memory(p, q) and p.shape == q.shape for p, q in zip(chain.params, net.params))
    net.params[0][0, 0] += 1.0  # shared, not copied
    assert chain.blocks[0].branches[0].R.matrix[0, 0] == net.params[0][0, 0]


@pytest.mark.parametrize("act", ["tanh", "sin"])
def test_block_gradients_match_finite_differences(act):
    """The Block's backward: parameter gradients and the input gradient dx (float64)."""
    for sizes in ([3, 7, 5, 2], [1, 6, 1]):
        net = make_net(sizes, act)
        errors = check_gradients(net, points(6, sizes[0], seed=3))
        assert len(errors) == len(net.params) + 1
        assert max(errors) < 1e-6


def test_block_input_gradient_is_the_jacobian():
    """dx of the Block's backward is dy . du/dx, the first-derivative streams."""
    net = make_net([2, 8, 8, 3], "tanh")
    X = points(700, 2, seed=5)  # several chunks
    y, cache = net.forward(X)
    dy = np.random.default_rng(2).normal(size=y.shape)
    dx, _ = net.backward(cache, dy)
    # du_o/dx_i for every output o: the streams of a 1-output net per output
    for i in range(2):
        jac = np.stack([MLP.from_weights(net.weights[:-1] + [(net.params[-2][o:o + 1], net.params[-1][o:o + 1])],
                                         "tanh").streams(X, ((i,),), keep=False)[0][(i,)][:, 0]
                        for o in range(3)], axis=1)
        assert rel_err(dx[:, i], np.sum(dy * jac, axis=1)) < 1e-12
    x1 = X[0]
    y1, c1 = net.forward(x1)  # a single state (n_in,)
    assert y1.shape == (3,) and net.backward(c1, dy[0])[0].shape == (2,)


def test_input_scaling_is_part_of_the_network():
    """MLP(..., lower, upper) sees xi = 2 (X - lower) / (upper - lower) - 1: its streams are the
    chain rule on the unscaled network's, derivatives in X; its layer form and Block agree."""
    lower, upper = [-1.0, 0.0], [1.0, 0.99]
    plain = make_net([2, 7, 6, 1], "tanh")
    net = MLP.from_weights(plain.weights, "tanh", lower=lower, upper=upper)
    X = np.random.default_rng(0).uniform(lower, upper, (40, 2))
    a = 2.0 / (np.array(upper) - np.array(lower))
    xi = (X - lower) * a - 1
    derivs = ((0,), (1,), (0, 0), (0, 1))
    s, cache = net.streams(X, derivs)
    ref, ref_cache = plain.streams(xi, derivs)
    for k in s:
        np.testing.assert_allclose(s[k], ref[k] * np.prod(a[list(k)]), rtol=1e-14, atol=0)
    h = 1e-6
    e = np.array([0.0, h])
    fd = (net.streams(X + e, ((0,),), keep=False)[0][(0,)] - net.streams(X - e, ((0,),), keep=False)[0][(0,)]) / (2 * h)
    assert rel_err(s[(0, 1)], fd) < 1e-6
    seeds = {k: np.random.default_rng(1).normal(size=v.shape) for k, v in s.items()}
    g = net.stream_backward(cache, seeds)
    g_ref = plain.stream_backward(ref_cache, {k: v * np.prod(a[list(k)]) for k, v in seeds.items()})
    assert all(np.allclose(p, q, rtol=1e-14, atol=0) for p, q in zip(g, g_ref))
    chain = net.layers()
    assert len(chain.blocks) == 4 and chain.blocks[0].P.shape == (2, 2)
    assert rel_err(chain(X), net(X)) < 1e-12
    assert max(check_gradients(net, X[:5])) < 1e-6
    assert net.config()["lower"] == lower and MLP(**net.config()).upper.tolist() == upper
    with pytest.raises(ValueError, match="both lower and upper"):
        MLP([2, 3, 1], lower=lower)
    with pytest.raises(ValueError, match="upper > lower"):
        MLP([2, 3, 1], lower=lower, upper=[1.0, 0.0])
    with pytest.raises(ValueError, match="one per input"):
        MLP([3, 3, 1], lower=lower, upper=upper)


@pytest.mark.parametrize("act", ["tanh", ("leaky_relu", 0.2)])
def test_config_rebuilds_the_architecture(act):
    net = MLP([3, 5, 4, 2], act, init="he_normal", seed=7, dtype=np.float32)
    again = MLP(**net.config())
    assert [p.shape for p in again.params] == [p.shape for p in net.params]
    assert again.activation == net.activation and again.dtype == net.dtype
    assert all(np.array_equal(p, q) for p, q in zip(again.params, net.params))  # same seed, same draws
    import json

    assert json.loads(json.dumps(net.config())) == net.config()


def test_burgers_published_weights(shared_data):
    path = shared_data / "pinn_weights" / "burgers_viscous_run1.npz"
    net = MLP.load(path, activation="tanh")
    assert net.dtype == np.float32 and net.sizes == [2] + [100] * 8 + [1] and net.nparams == 71101
    with np.load(path) as data:  # the file stores (fan_in, fan_out); the network (fan_out, fan_in)
        assert data["W0"].shape == (2, 100) and np.array_equal(net.params[0], data["W0"].T)
    u32 = net(np.array([[0.6, 0.3]], dtype=np.float32))
    u64 = MLP.load(path, activation="tanh", dtype=np.float64)(np.array([[0.6, 0.3]]))
    assert u32.dtype == np.float32
    assert abs(u64[0, 0] - (-0.814563)) < 5e-7  # the README's figure
    assert abs(u32[0, 0] - (-0.814563)) < 2e-6
    assert abs(net.layers()(np.array([[0.6, 0.3]], dtype=np.float32))[0, 0] - u32[0, 0]) < 1e-6


def test_eikonal_published_weights_match_exact_solution(shared_data):
    net = MLP.load(shared_data / "pinn_weights" / "eikonal_run1.npz", activation=("leaky_relu", 0.01),
                   dtype=np.float64)
    assert net.sizes == [2, 20, 20, 1] and net.nparams == 501
    x = np.linspace(-1.0, 1.0, 201)
    out = net.streams(np.column_stack([x, np.full_like(x, 0.3)]), ((1,),), keep=False)[0]
    exact = np.minimum(1.0 - np.abs(x), 0.7)
    rms = np.sqrt(np.mean((out[()][:, 0] - exact) ** 2))
    assert rms < 1e-4
    # in the region where u = 1 - t the learned u_t is -1
    flat = np.abs(x) < 0.25
    assert np.abs(out[(1,)][flat, 0] + 1.0).max() < 1e-2


def test_save_load_round_trip(tmp_path):
    net = make_net([2, 4, 3, 1], "tanh")
    path = tmp_path / "w.npz"
    net.save(path)
    back = MLP.load(path, activation="tanh")
    assert back.dtype == np.float64 and back.sizes == net.sizes
    for a, b in zip(back.params, net.params):
        np.testing.assert_array_equal(a, b)
    net32 = MLP([2, 3, 1], dtype=np.float32, seed=5)
    save_weights(path, net32.weights)
    assert MLP.load(path).dtype == np.float32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz", "w.npz.bak"]
    with np.load(path) as data:
        assert sorted(data.files) == ["W0", "W1", "b0", "b1"]
        assert data["W0"].shape == (2, 3) and data["W0"].flags.c_contiguous  # (fan_in, fan_out), C order
        np.testing.assert_array_equal(data["W0"], net32.params[0].T)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_are_independent_networks(how):
    import copy
    import pickle
    net = MLP([2, 5, 1], seed=3, lower=[0.0, -1.0], upper=[1.0, 1.0])
    X = np.random.default_rng(0).uniform(0.0, 1.0, (7, 2))
    u, _ = net.streams(X, derivs=[(0,)], keep=False)
    twin = copy.deepcopy(net) if how == "deepcopy" else pickle.loads(pickle.dumps(net))
    v, _ = twin.streams(X, derivs=[(0,)], keep=False)
    assert u.keys() == v.keys() == {(), (0,)}
    for key in u:
        np.testing.assert_array_equal(u[key], v[key])
    twin.params[0][...] += 1.0  # the copy's kernels see its edit, the original is untouched
    w, _ = twin.streams(X, keep=False)
    assert np.abs(w[()] - u[()]).max() > 1e-3
    np.testing.assert_array_equal(net.streams(X, keep=False)[0][()], u[()])


def test_bad_weight_files(tmp_path):
    ok = {"W0": np.ones((2, 3)), "b0": np.zeros(3), "W1": np.ones((3, 1)), "b1": np.zeros(1)}
    with pytest.raises(FileNotFoundError, match="no weight file"):
        load_weights(tmp_path / "missing.npz")
    np.savez(tmp_path / "chain.npz", **{**ok, "W1": np.ones((4, 1))})
    with pytest.raises(ValueError, match="W1 takes 4 inputs but W0 gives 3"):
        MLP.load(tmp_path / "chain.npz")
    np.savez(tmp_path / "bias.npz", **{**ok, "b0": np.zeros(2)})
    with pytest.raises(ValueError, match="b0 has shape"):
        load_weights(tmp_path / "bias.npz")
    bad = np.ones((3, 1))
    bad[1, 0] = np.nan
    np.savez(tmp_path / "nan.npz", **{**ok, "W1": bad})
    with pytest.raises(ValueError, match="W1 contains NaN"):
        load_weights(tmp_path / "nan.npz")
    np.savez(tmp_path / "missing_b.npz", W0=ok["W0"], W1=ok["W1"], b0=ok["b0"])
    with pytest.raises(ValueError, match="expected arrays W0..W1 and b0..b1"):
        load_weights(tmp_path / "missing_b.npz")
    with pytest.raises(ValueError, match="do not chain"):  # weights in memory are (fan_out, fan_in)
        save_weights(tmp_path / "x.npz", [(np.ones((3, 2)), np.zeros(3)), (np.ones((1, 2)), np.zeros(1))])


def test_flat_parameter_vector():
    net = make_net([2, 4, 1], "tanh")
    v = net.get_flat()
    assert v.dtype == np.float64 and v.shape == (net.nparams,) and net.nparams == 2 * 4 + 4 + 4 + 1
    net.set_flat(2 * v)
    np.testing.assert_array_equal(net.get_flat(), 2 * v)
    # each weight matrix in the order of the weight files, (fan_in, fan_out) row by row
    np.testing.assert_array_equal(net.params[0].T.ravel(), 2 * v[:8])
    np.testing.assert_array_equal(net.params[2].ravel(), 2 * v[12:16])
    grads = [np.arange(p.size, dtype=float).reshape(p.shape) for p in net.params]
    np.testing.assert_array_equal(net.grads_to_flat(grads)[:8], grads[0].T.ravel())
    with pytest.raises(ValueError, match="expected"):
        net.set_flat(v[:-1])


def _after_first(init, fan_in, fan_out, seed):
    """The generator of `seed` after the draw of a first (fan_in, fan_out) layer."""
    rng = np.random.default_rng(seed)
    initializers.weight(init, fan_in, fan_out, rng)
    return rng


@pytest.mark.parametrize("init, std", [("glorot_uniform", np.sqrt(2 / 800)), ("glorot_normal", np.sqrt(2 / 800)),
                                       ("he_uniform", np.sqrt(2 / 400)), ("he_normal", np.sqrt(2 / 400))])
def test_initialisation(init, std):
    a = MLP([400, 400, 1], init=init, seed=11)
    b = MLP([400, 400, 1], init=init, seed=11, dtype=np.float32)
    W = a.params[0]
    assert W.flags.c_contiguous and W.shape == (400, 400)
    # drawn in the (fan_in, fan_out) order of earlier versions, then transposed: same seed, same network
    np.testing.assert_array_equal(W, initializers.weight(init, 400, 400, np.random.default_rng(11)))
    lim = np.sqrt(6.0 / 800)
    if init == "glorot_uniform":
        np.testing.assert_array_equal(W, np.random.default_rng(11).uniform(-lim, lim, (400, 400)).T)
    wide = MLP([3, 5, 1], init=init, seed=2)
    np.testing.assert_array_equal(wide.params[2], initializers.weight(init, 5, 1, _after_first(init, 3, 5, 2)))
    assert abs(W.std() / std - 1.0) < 0.01
    if init.endswith("uniform"):
        assert np.abs(W).max() <= np.sqrt(3.0) * std
    assert not np.any(a.params[1])
    np.testing.assert_array_equal(b.params[0], W.astype(np.float32))
    assert not np.array_equal(MLP([400, 400, 1], init=init, seed=12).params[0], W)


def test_bad_arguments():
    net = MLP([2, 3, 1])
    with pytest.raises(ValueError, match="expected \\(N, 2\\)"):
        net.streams(np.ones((4, 3)))
    with pytest.raises(ValueError, match="expected \\(2,\\) or \\(batch, 2\\)"):
        net(np.ones((4, 3)))
    with pytest.raises(ValueError, match="order 3"):
        net.streams(np.ones((4, 2)), ((0, 0, 1),))
    with pytest.raises(ValueError, match="outside 0..1"):
        net.streams(np.ones((4, 2)), ((2,),))
    with pytest.raises(ValueError, match="NaN"):
        net(np.full((4, 2), np.nan))
    with pytest.raises(ValueError, match="keep=True"):
        net.stream_backward(net.streams(np.ones((4, 2)), keep=False)[1], {(): np.ones((4, 1))})
    with pytest.raises(ValueError, match="unknown init"):
        MLP([2, 3, 1], init="xavier")
    with pytest.raises(ValueError, match="unknown activation"):
        MLP([2, 3, 1], activation="gelu")
    with pytest.raises(ValueError, match="at least two"):
        MLP([2])


@pytest.mark.parametrize("act", ["tanh", "sin"])
def test_chunks_of_points_change_nothing(act, monkeypatch):
    """Forward streams and gradients do not depend on how the points are cut into chunks
    (8 chunks of 7 with 6 padding points against one chunk of 50)."""
    X = points(50, 2)
    derivs = ((0,), (1,), (0, 0))
    results = []
    for chunk_points in (1000, 7):
        monkeypatch.setattr(mlp, "CHUNK_POINTS", chunk_points)
        net = make_net([2, 6, 6, 1], act)
        out, cache = net.streams(X, derivs)
        chunks = cache.ws.C
        rng = np.random.default_rng(3)
        grads = net.stream_backward(cache, {k: rng.normal(size=v.shape) for k, v in out.items()})
        results.append((out, grads, chunks))
    (out1, g1, c1), (out8, g8, c8) = results
    assert (c1, c8) == (1, 8)
    for key in out1:
        np.testing.assert_allclose(out8[key], out1[key], rtol=1e-13, atol=1e-13)
    for a, b in zip(g8, g1):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("dtype, padded", [(np.float32, 528), (np.float64, 520)])
def test_chunk_rows_avoid_l1_set_conflicts(dtype, padded):
    """8,192 points (16 chunks of 512) would put the 4-stream rows 4096 bytes apart (multiples),
    where a register tile's reads evict each other: the chunks get 64 bytes more, so every
    stream matrix's row stride has a gcd with 4096 of at most 256, and the streams are those of
    the same points run in two halves. 10,000 points keep chunks of 500."""
    derivs = ((0,), (1,), (0, 0))
    net = MLP([2, 20, 20, 1], "tanh", seed=0, dtype=dtype)
    X = points(8192, 2, dtype=dtype)
    out, cache = net.streams(X, derivs)
    P = cache.ws.P
    assert P == padded
    for count in (4, 3, 1):  # S, R and n_ch of these derivatives
        assert np.gcd(count * P * np.dtype(dtype).itemsize, 4096) <= 256
    halves = [net.streams(X[i:i + 4096], derivs, keep=False)[0] for i in (0, 4096)]
    for key in out:
        np.testing.assert_allclose(out[key], np.concatenate([h[key] for h in halves]), rtol=1e-6, atol=1e-6)
    assert net.streams(points(10_000, 2, dtype=dtype), derivs)[1].ws.P == 500


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads (2 cores)")
@pytest.mark.parametrize("width, blas", [(6, False), (130, True)], ids=["register-tiles", "blas"])
def test_threads_change_nothing(monkeypatch, width, blas):
    """The chunks run on 2 threads give bit-for-bit the streams and gradients of 1 thread, and
    BLAS gets its thread count back afterwards: with every product on register tiles (width 6)
    and with the wide layers on BLAS, held to one thread while the workers run (width 130)."""
    X = points(50, 2)
    monkeypatch.setattr(mlp, "CHUNK_POINTS", 7)
    blas_before = blas_threads()
    results = []
    previous = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            net = make_net([2, width, width, 1], "tanh")
            assert net._blas == blas
            out, cache = net.streams(X, ((0,), (1,), (0, 0)))
            workers = cache.ws.workers
            rng = np.random.default_rng(3)
            grads = net.stream_backward(cache, {k: rng.normal(size=v.shape) for k, v in out.items()})
            y, c = net.forward(X)
            dx = net.backward(c, np.ones_like(y))[0]
            results.append((out, grads + [dx], net(X), workers))
    finally:
        numba.set_num_threads(previous)
    (out1, g1, u1, w1), (out2, g2, u2, w2) = results
    assert (w1, w2) == (1, 2)
    assert all(np.array_equal(out1[k], out2[k]) for k in out1)
    assert all(np.array_equal(a, b) for a, b in zip(g1, g2))
    assert np.array_equal(u1, u2)
    assert blas_threads(blas_before) == blas_before


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads (2 cores)")
def test_networks_used_from_several_threads(monkeypatch):
    """Two user threads stepping their own networks at once get what each gets alone, and BLAS
    gets its thread count back when both are done."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(mlp, "CHUNK_POINTS", 7)
    X = points(50, 2)
    blas_before = blas_threads()

    def grads(seed, repeats=20):
        net = make_net([2, 6, 6, 1], "tanh", seed=seed)
        for _ in range(repeats):
            out, cache = net.streams(X, ((0,), (1,), (0, 0)))
            g = net.stream_backward(cache, {k: np.ones_like(v) for k, v in out.items()})
        return g

    alone = [grads(seed, 1) for seed in (3, 4)]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(grads, (3, 4)))
    assert all(np.array_equal(a, b) for ga, gb in zip(alone, together) for a, b in zip(ga, gb))
    assert blas_threads(blas_before) == blas_before


def test_one_compiled_form_serves_every_depth(rng):
    """The passes take the parameters and the workspace packed in 1-D buffers with tables, not
    tuples of per-layer arrays (a tuple of L arrays is a Numba type of its own): networks of
    depth 2, 4 and 7 share one compiled forward and one reverse pass."""
    from fastdds.kernels.cpu import mlp as kernel

    def step(depth):
        net = MLP([2] + [6] * (depth - 1) + [1], seed=depth)
        out, cache = net.streams(rng.uniform(-1, 1, (40, 2)), [(0,), (0, 0)])
        net.stream_backward(cache, {k: np.ones_like(v) for k, v in out.items()})

    step(2)
    before = [list(kernel.forward_pass.signatures), list(kernel.backward_pass.signatures)]
    step(4)
    step(7)
    assert [kernel.forward_pass.signatures, kernel.backward_pass.signatures] == before


def test_a_parameter_array_replaced_in_params_is_the_one_used(rng):
    """The passes read `params` packed in one buffer; an entry replaced by another array (not
    written in place) is still what the network computes with."""
    net = MLP([2, 8, 1], seed=1)
    X = rng.uniform(-1, 1, (50, 2))
    W1 = net.params[2].copy()
    net.params[2] = 2.0 * W1
    hidden = np.tanh(X @ net.params[0].T + net.params[1])
    np.testing.assert_allclose(net.streams(X, keep=False)[0][()], hidden @ (2.0 * W1).T + net.params[3], rtol=1e-13)
