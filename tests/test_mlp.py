"""fastdds.nn.mlp: Taylor-stream input derivatives and the hand-written reverse pass against central
finite differences (float64), published weight files, weight I/O errors, and the Layer view."""

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

from fastdds.layers import Chain
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
        z = a @ W + b
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
    out = net.forward(X, tuple((i,) for i in range(d)) + seconds, keep=False)
    h = 1e-6
    for i in range(d):
        e = np.zeros(d)
        e[i] = h
        fd_u = (net(X + e) - net(X - e)) / (2 * h)
        assert rel_err(out[(i,)], fd_u) < 1e-6
        for j in range(d):
            # d/dx_i of the u_xj stream: an independent check of every second derivative
            p = net.forward(X + e, ((j,),), keep=False)[(j,)]
            m = net.forward(X - e, ((j,),), keep=False)[(j,)]
            fd = (p - m) / (2 * h)
            if act[0] == "leaky_relu":
                assert np.abs(out[(i, j)]).max() == 0.0 and np.abs(fd).max() < 1e-8
            else:
                assert rel_err(out[(i, j)], fd) < 1e-6
    # the same value as without derivative streams, up to the GEMM's blocking (a few ulps)
    u = net(X)
    np.testing.assert_allclose(out[()], u, rtol=0, atol=8 * np.finfo(u.dtype).eps * np.abs(u).max())


def loss_and_seeds(net, X, derivs, seed=7):
    out = net.forward(X, derivs, keep=True)
    rng = np.random.default_rng(seed)
    seeds = {k: rng.normal(size=v.shape) for k, v in out.items() if k in ((),) + tuple(derivs)}
    return seeds


def fd_param_grad(net, X, derivs, seeds, h=1e-6):
    v0 = net.get_flat()
    g = np.empty_like(v0)

    def loss(v):
        net.set_flat(v)
        out = net.forward(X, derivs, keep=False)
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
    net.forward(X, derivs, keep=True)
    grads = net.backward(seeds)
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
    out = net.forward(X, derivs, keep=True)
    seeds = {k: np.random.default_rng(5).normal(size=v.shape) for k, v in out.items()}
    grads = net.grads_to_flat(net.backward(seeds))
    total = np.zeros_like(grads)
    for i in range(0, 301, 4):
        part = net.forward(X[i:i + 4], derivs, keep=True)
        for k in out:
            np.testing.assert_allclose(part[k], out[k][i:i + 4], rtol=1e-12, atol=1e-14)
        total += net.grads_to_flat(net.backward({k: v[i:i + 4] for k, v in seeds.items()}))
    assert rel_err(grads, total) < 1e-12
    free = net.forward(X, derivs, keep=False)
    for k in out:
        np.testing.assert_array_equal(free[k], out[k])


def test_kept_memory():
    """tanh keeps only the streams (a', z); other activations also sigma', sigma'', sigma'''."""
    X = points(1000, 2)
    derivs = ((0,), (1,), (0, 0))
    streams = 4 * 1000 * 8 * (2 + 20 + 20 + 20 + 20 + 1)  # a: 2, 20, 20; z: 20, 20, 1 wide
    derivatives = 3 * 1000 * 8 * (20 + 20)
    tanh, sin = MLP([2, 20, 20, 1], "tanh"), MLP([2, 20, 20, 1], "sin")
    assert tanh.kept_nbytes == 0
    tanh.forward(X, derivs)
    sin.forward(X, derivs)
    assert sin.kept_nbytes == streams + derivatives
    assert streams < tanh.kept_nbytes < streams + 0.2 * derivatives  # block scratch only
    tanh.release()
    assert tanh.kept_nbytes == 0


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
    net.forward(X, derivs)
    assert net.kept_nbytes <= 1.02 * mlp.BATCH_BYTES  # the budget counts streams, not tanh's block scratch
    assert net.batches(1000, derivs) == [slice(0, 1000)]  # fewer points than a batch holds
    wide = MLP([2] + [100] * 8 + [1], act, dtype=dtype)  # a batch within budget could not fill the lanes
    assert wide.batches(N, derivs) == [slice(0, N)]


def test_backward_reverses_the_last_kept_forward():
    net = make_net([2, 6, 6, 1], "tanh")
    X1, X2 = points(9, 2, seed=1), points(4, 2, seed=2)
    derivs = ((0,), (1,), (0, 0))
    out = net.forward(X2, derivs, keep=True)
    seeds = {k: np.ones_like(v) for k, v in out.items()}
    ref = net.backward(seeds)
    net.forward(X1, derivs, keep=True)
    net.forward(X2, derivs, keep=True)
    net(X2)  # a forward that keeps nothing must not disturb the kept state
    net.forward(X2, ((1,),), keep=False)
    for g, r in zip(net.backward(seeds), ref):
        np.testing.assert_array_equal(g, r)
    with pytest.raises(ValueError, match=r"\(1, 1\)"):
        net.backward({(1, 1): np.ones((4, 1))})
    with pytest.raises(ValueError, match="shape"):
        net.backward({(): np.ones((5, 1))})


def test_mixed_key_order_and_duplicate_seeds():
    net = make_net([2, 5, 1], "silu")
    X = points(4, 2)
    out = net.forward(X, ((0, 1), (1, 0)), keep=True)
    np.testing.assert_array_equal(out[(0, 1)], out[(1, 0)])
    assert list(net.forward(X, ((), [1]), keep=False)) == [(), (1,)]
    c = np.random.default_rng(0).normal(size=(4, 1))
    both = net.grads_to_flat(net.backward({(0, 1): c, (1, 0): c}))
    one = net.grads_to_flat(net.backward({(0, 1): 2 * c}))
    np.testing.assert_allclose(both, one, rtol=1e-14, atol=0)


def test_float32_stays_float32_and_agrees_with_float64():
    net64 = make_net([2, 16, 16, 1], "tanh")
    net32 = MLP.from_weights(net64.weights, "tanh", dtype=np.float32)
    X = points(50, 2)
    derivs = ((0,), (1,), (0, 0))
    o64 = net64.forward(X, derivs)
    o32 = net32.forward(X.astype(np.float32), derivs)
    seeds = {k: np.ones_like(v) for k, v in o64.items()}
    g64 = net64.backward(seeds)
    g32 = net32.backward({k: v.astype(np.float32) for k, v in seeds.items()})
    for k in o64:
        assert o32[k].dtype == np.float32
        assert rel_err(o32[k], o64[k]) < 1e-5
    for a, b in zip(g32, g64):
        assert a.dtype == np.float32
        assert rel_err(a, b) < 1e-4
    assert all(p.dtype == np.float32 for p in net32.params)
    with pytest.raises(ValueError, match="float64 but the network is float32"):
        net32(X)


def test_layers_view_reproduces_the_network_and_its_gradient():
    net = make_net([3, 7, 5, 2], "softplus")
    X = points(11, 3)
    chain = Chain(net.layers)
    y = chain.forward(X)[-1]
    np.testing.assert_allclose(y, net(X), rtol=1e-13, atol=1e-13)
    dy = np.random.default_rng(1).normal(size=y.shape)
    _, chain_grads = chain.backward(dy)
    net.forward(X, (), keep=True)
    grads = net.backward({(): dy})
    for l in range(len(net.sizes) - 1):  # Layer stores Dense(W.T): its gradient is dW.T
        np.testing.assert_allclose(chain_grads[2 * l], grads[2 * l].T, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(chain_grads[2 * l + 1], grads[2 * l + 1], rtol=1e-12, atol=1e-14)
    net.params[0][0, 0] += 1.0  # shared, not copied
    assert net.layers[0].branches[0].R.matrix[0, 0] == net.params[0][0, 0]


def test_burgers_published_weights(shared_data):
    path = shared_data / "pinn_weights" / "burgers_viscous_run1.npz"
    net = MLP.load(path, activation="tanh")
    assert net.dtype == np.float32 and net.sizes == [2] + [100] * 8 + [1] and net.nparams == 71101
    u32 = net(np.array([[0.6, 0.3]], dtype=np.float32))
    u64 = MLP.load(path, activation="tanh", dtype=np.float64)(np.array([[0.6, 0.3]]))
    assert u32.dtype == np.float32
    assert abs(u64[0, 0] - (-0.81456)) < 1e-5
    assert abs(u32[0, 0] - (-0.81456)) < 1e-5


def test_eikonal_published_weights_match_exact_solution(shared_data):
    net = MLP.load(shared_data / "pinn_weights" / "eikonal_run1.npz", activation=("leaky_relu", 0.01),
                   dtype=np.float64)
    assert net.sizes == [2, 20, 20, 1] and net.nparams == 501
    x = np.linspace(-1.0, 1.0, 201)
    out = net.forward(np.column_stack([x, np.full_like(x, 0.3)]), ((1,),), keep=False)
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
        assert data["W0"].shape == (2, 3)


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
    with pytest.raises(ValueError, match="do not chain"):
        save_weights(tmp_path / "x.npz", [(np.ones((2, 3)), np.zeros(3)), (np.ones((2, 1)), np.zeros(1))])


def test_flat_parameter_vector():
    net = make_net([2, 4, 1], "tanh")
    v = net.get_flat()
    assert v.dtype == np.float64 and v.shape == (net.nparams,) and net.nparams == 2 * 4 + 4 + 4 + 1
    net.set_flat(2 * v)
    np.testing.assert_array_equal(net.get_flat(), 2 * v)
    np.testing.assert_array_equal(net.params[0].ravel(), 2 * v[:8])
    with pytest.raises(ValueError, match="expected"):
        net.set_flat(v[:-1])


@pytest.mark.parametrize("init, std", [("glorot_uniform", np.sqrt(2 / 800)), ("glorot_normal", np.sqrt(2 / 800)),
                                       ("he_uniform", np.sqrt(2 / 400)), ("he_normal", np.sqrt(2 / 400))])
def test_initialisation(init, std):
    a = MLP([400, 400, 1], init=init, seed=11)
    b = MLP([400, 400, 1], init=init, seed=11, dtype=np.float32)
    W = a.params[0]
    assert abs(W.std() / std - 1.0) < 0.01
    if init.endswith("uniform"):
        assert np.abs(W).max() <= np.sqrt(3.0) * std
    assert not np.any(a.params[1])
    np.testing.assert_array_equal(b.params[0], W.astype(np.float32))
    assert not np.array_equal(MLP([400, 400, 1], init=init, seed=12).params[0], W)


def test_bad_arguments():
    net = MLP([2, 3, 1])
    with pytest.raises(ValueError, match="expected \\(N, 2\\)"):
        net(np.ones((4, 3)))
    with pytest.raises(ValueError, match="order 3"):
        net.forward(np.ones((4, 2)), ((0, 0, 1),))
    with pytest.raises(ValueError, match="outside 0..1"):
        net.forward(np.ones((4, 2)), ((2,),))
    with pytest.raises(ValueError, match="NaN"):
        net(np.full((4, 2), np.nan))
    with pytest.raises(RuntimeError, match="keep=True"):
        MLP([2, 3, 1]).backward({(): np.ones((4, 1))})
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
        out = net.forward(X, derivs)
        rng = np.random.default_rng(3)
        grads = net.backward({k: rng.normal(size=v.shape) for k, v in out.items()})
        results.append((out, grads, net._tape[0].C))
    (out1, g1, c1), (out8, g8, c8) = results
    assert (c1, c8) == (1, 8)
    for key in out1:
        np.testing.assert_allclose(out8[key], out1[key], rtol=1e-13, atol=1e-13)
    for a, b in zip(g8, g1):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 Numba threads (2 cores)")
def test_threads_change_nothing(monkeypatch):
    """The chunks run on 2 threads give bit-for-bit the streams and gradients of 1 thread, and
    BLAS gets its thread count back afterwards."""
    X = points(50, 2)
    monkeypatch.setattr(mlp, "CHUNK_POINTS", 7)
    blas_before = blas_threads()
    results = []
    previous = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            net = make_net([2, 6, 6, 1], "tanh")
            out = net.forward(X, ((0,), (1,), (0, 0)))
            rng = np.random.default_rng(3)
            grads = net.backward({k: rng.normal(size=v.shape) for k, v in out.items()})
            results.append((out, grads, net(X), net._tape[0].workers))
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
            out = net.forward(X, ((0,), (1,), (0, 0)))
            g = net.backward({k: np.ones_like(v) for k, v in out.items()})
        return g

    alone = [grads(seed, 1) for seed in (3, 4)]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(grads, (3, 4)))
    assert all(np.array_equal(a, b) for ga, gb in zip(alone, together) for a, b in zip(ga, gb))
    assert blas_threads(blas_before) == blas_before
