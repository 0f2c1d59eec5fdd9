"""The callers run on device arrays with no change: allocation through ``backend.array_module``,
dispatch through ``backend.kernels(group, like=x)``, nothing else.

No GPU is needed. `DeviceArray` plays a CuPy array: a NumPy array that ``backend.is_gpu_array``
calls a GPU array, whose array module (`FAKE`) is NumPy with every array it returns made a
DeviceArray, and which refuses, as CuPy does, a ufunc that mixes it with a plain NumPy array.
The "gpu" kernel modules are the real kernels behind a guard that refuses a NumPy (host) array
argument, so a caller that allocated a NumPy buffer for a GPU array fails here, naming the
kernel and the argument. Out of the simulator the guarded kernels are the CPU ones and each
result equals the NumPy run bit for bit (the dispatch and the allocations are all that differ);
in the simulator run (``tests/test_gpu_twins.py::test_twins_in_simulator`` runs this file with
NUMBA_ENABLE_CUDASIM=1) they are the GPU twins, and results agree to round-off. With CuPy and a
CUDA device the same tests also run on real CuPy arrays (the "cupy" cases; they skip elsewhere).
"""

import importlib
import inspect
import os
import sys
import types

import numpy as np
import pytest

from fastdds import backend
from fastdds.pde import burgers, heat

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
# host sequences of ints by the twins' contract
HOST_ARGS = {("mlp", "chunks"), ("mlp", "offsets"), ("mlp", "sizes"), ("mlp", "layout")}


class DeviceArray(np.ndarray):
    """A NumPy array that plays a CuPy array (see the module docstring)."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        for a in inputs + (out or ()):
            if type(a) is np.ndarray and a.ndim:
                raise TypeError(f"{ufunc.__name__}: a NumPy array met a device array (CuPy refuses this)")
        args = [_host_view(a) for a in inputs]
        if out is not None:
            kwargs["out"] = tuple(_host_view(o) for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _to_device(result)

    @property
    def device(self):
        return types.SimpleNamespace(id=0)

    def get(self):
        """A NumPy copy (as cupy.ndarray.get)."""
        return np.array(self.view(np.ndarray))


def _host_view(a):
    return a.view(np.ndarray) if isinstance(a, DeviceArray) else a


def _to_device(x, copy=False):
    if isinstance(x, tuple):
        return tuple(_to_device(v, copy) for v in x)
    if isinstance(x, np.ndarray) and not isinstance(x, DeviceArray):
        return (x.copy() if copy else x).view(DeviceArray)
    return x


class _FakeModule(types.ModuleType):
    """NumPy whose functions return DeviceArrays; an array made from a host array is a copy."""

    def __getattr__(self, name):
        obj = getattr(np, name)
        if not callable(obj) or isinstance(obj, (type, np.ufunc)):
            return obj  # a ufunc given a DeviceArray dispatches to DeviceArray.__array_ufunc__

        def call(*args, **kwargs):
            from_host = any(type(a) is np.ndarray or isinstance(a, (list, tuple)) for a in args)
            return _to_device(obj(*(_host_view(a) for a in args), **kwargs), copy=from_host)

        return call


FAKE = _FakeModule("fakecupy")


def _guard(module, group):
    """`module`'s functions behind a check that no argument is a host array; device arrays are
    passed on as NumPy views (the CPU kernels and the simulator take NumPy arrays)."""
    guarded = types.SimpleNamespace()
    for name, fn in vars(module).items():
        if name.startswith("_") or not callable(fn) or isinstance(fn, (type, types.ModuleType)):
            continue
        try:
            params = list(inspect.signature(getattr(fn, "py_func", fn)).parameters)
        except (TypeError, ValueError):
            params = []

        def call(*args, _fn=fn, _name=name, _params=params, **kwargs):
            for i, a in enumerate(args):
                arg = _params[i] if i < len(_params) else str(i)
                items = a if isinstance(a, (tuple, list)) else (a,)
                if (group, arg) not in HOST_ARGS and any(type(v) is np.ndarray for v in items):
                    raise AssertionError(f"{group}.{_name} got a NumPy (host) array for {arg!r} of device arrays")
            unwrap = [tuple(_host_view(v) for v in a) if isinstance(a, tuple) else _host_view(a) for a in args]
            return _to_device(_fn(*unwrap, **kwargs))

        setattr(guarded, name, call)
    return guarded


@pytest.fixture(params=["fake"] if SIM else ["fake", pytest.param("cupy", marks=pytest.mark.gpu)])
def device(request, monkeypatch):
    """(to_device, exact): host -> device arrays with the gpu backend active; `exact` when the
    device run must equal the NumPy run bit for bit. "cupy" skips without CuPy, numba-cuda and a
    device; in the simulator only "fake" is made (the twins there take NumPy arrays)."""
    if request.param == "cupy":
        ok, why = backend.gpu_available()
        if not ok:
            pytest.skip(f"no GPU here ({why}); the fake device runs these paths")
        import cupy

        monkeypatch.setitem(backend._state, "name", "gpu")
        return cupy.asarray, False
    monkeypatch.setattr(backend, "is_gpu_array", lambda x: isinstance(x, DeviceArray))
    monkeypatch.setattr(backend, "array_module", lambda x: FAKE if isinstance(x, DeviceArray) else np)
    monkeypatch.setattr(backend, "xp", lambda: FAKE if backend.get_backend() == "gpu" else np)
    where = "gpu" if SIM else "cpu"
    guarded = {("gpu", g): _guard(importlib.import_module(f"fastdds.kernels.{where}.{g}"), g)
               for g in backend.gpu_groups()}
    monkeypatch.setattr(backend, "_KERNELS", guarded)
    monkeypatch.setitem(backend._state, "name", "gpu")
    return (lambda a: _to_device(np.asarray(a), copy=True)), not SIM


def _same(got, want, exact):
    """got (a device array) equals want (NumPy): bit for bit when `exact`, else to round-off."""
    assert backend.is_gpu_array(got), type(got)
    got = backend.to_numpy(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        tol = 1e-12 if want.dtype == np.float64 else 2e-5
        np.testing.assert_allclose(got, want, rtol=0, atol=tol * max(np.abs(want).max(), 1.0))


def _same_pass(host, dev, x, dy, device):
    """host (NumPy) and dev (on the device) give the same forward and backward on x, dy."""
    to_dev, exact = device
    y, c = host.forward(x)
    yd, cd = dev.forward(to_dev(x))
    _same(yd, y, exact)
    (dx, grads), (dxd, gradsd) = host.backward(c, dy), dev.backward(cd, to_dev(dy))
    _same(dxd, dx, exact)
    for g, gd in zip(grads, gradsd):
        _same(gd, g, exact)


def _on_host(fn):
    """fn() with the cpu backend active (the reference run)."""
    name = backend._state["name"]
    backend._state["name"] = "cpu"
    try:
        return fn()
    finally:
        backend._state["name"] = name


def test_fake_device_refuses_host_arrays(device):
    """The test's own guard: mixing a host array into a device ufunc or a kernel is an error."""
    to_dev, _ = device
    if backend.array_module(to_dev(np.ones(2))) is not FAKE:
        pytest.skip("the guard is the fake device's")
    with pytest.raises(TypeError, match="NumPy array met a device array"):
        to_dev(np.ones(3)) + np.ones(3)
    x = to_dev(np.ones((1, 4)))
    with pytest.raises(AssertionError, match="host"):
        backend.kernels("banded", like=x).apply(x, np.zeros(1, np.int64), to_dev(np.ones((1, 1))), 0,
                                                to_dev(np.empty((1, 4))))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_banded(device, rng, dtype):
    """apply, apply_transpose and grad of a variable periodic stencil; the offsets go to the
    device once (one copy per device, kept by the operator)."""
    from fastdds.operators import Banded

    to_dev, exact = device
    d = rng.standard_normal((3, 9)).astype(dtype)
    x, dy = (rng.standard_normal((2, 9)).astype(dtype) for _ in range(2))
    host = Banded([-1, 0, 2], d, "periodic")
    op = Banded([-1, 0, 2], to_dev(d), "periodic")
    xd = to_dev(x)
    _same(op.apply(xd), host.apply(x), exact)
    _same(op.apply_transpose(to_dev(dy)), host.apply_transpose(dy), exact)
    _same(op.grad(xd, to_dev(dy))[0], host.grad(x, dy)[0], exact)
    _same(op.apply(xd[0]), host.apply(x[0]), exact)
    assert op._offsets_on(xd) is op._offsets_on(to_dev(x)) and backend.is_gpu_array(op._offsets_on(xd))
    assert host._offsets_on(x) is host.offsets


def test_fused_layer_branch(device, rng):
    """A Layer whose branch has Banded Q and R runs the fused layer kernels forward and back."""
    from fastdds.layers import Layer
    from fastdds.operators import Banded

    to_dev, _ = device
    R, Q, b = rng.standard_normal((3, 8)), rng.standard_normal(3), rng.standard_normal(8)
    x, dy = rng.standard_normal((3, 8)), rng.standard_normal((3, 8))

    def layer(arr):
        return Layer(None, [(Banded([-1, 0, 1], arr(Q), "zero", n=8), "tanh", Banded([-1, 0, 1], arr(R), "periodic"),
                             arr(b))])

    _same_pass(layer(np.asarray), layer(to_dev), x, dy, device)


@pytest.mark.parametrize("scheme, boundary", [("lf", "periodic"), ("muscl-rk3", "dirichlet")])
def test_burgers_solve(device, scheme, boundary):
    """solve on a device state: dispatch, coefficients and scratch on the device, resumed runs."""
    to_dev, exact = device
    x = np.linspace(0, 1, 24, endpoint=False)
    u0 = np.sin(2 * np.pi * x) + 0.5
    kw = dict(scheme=scheme, boundary=boundary, left=0.5, right=0.5, nsteps=6, dt=0.01)
    want = burgers.solve(u0, 1 / 24, **kw)
    got = burgers.solve(to_dev(u0), 1 / 24, **kw)
    _same(got.u, want.u, exact)
    saved = []
    burgers.solve(to_dev(u0), 1 / 24, chunks=2, callback=lambda step, n, u: saved.append((step, u.copy())), **kw)
    _same(burgers.solve(to_dev(u0), 1 / 24, start=saved[0], **kw).u, want.u, exact)
    _same(burgers.solve(to_dev(u0.astype(np.float32)), 1 / 24, **kw).u,
          burgers.solve(u0.astype(np.float32), 1 / 24, **kw).u, exact)


def _mlp_case(rng, lower=None, upper=None):
    from fastdds.nn.mlp import MLP

    derivs = [(0,), (1,), (0, 0), (0, 1)]
    X = rng.uniform(-1, 1, (9, 2))
    dout = {k: rng.standard_normal((9, 2)) for k in [()] + derivs}
    return lambda: MLP([2, 6, 5, 2], activation="sin", seed=3, lower=lower, upper=upper), X, derivs, dout


@pytest.mark.parametrize("scaled", [False, True])
def test_mlp_streams(device, rng, scaled):
    """An MLP built on the gpu backend holds device weights; its Taylor streams, their reverse
    pass and the Block's input gradient run in a device workspace (one worker)."""
    to_dev, exact = device
    make, X, derivs, dout = _mlp_case(rng, *(([-1.0, 0.0], [1.0, 2.0]) if scaled else ()))
    host, net = _on_host(make), make()
    assert all(backend.is_gpu_array(p) for p in net.params)
    np.testing.assert_array_equal(net.get_flat(), host.get_flat())
    out, cache = host.streams(X, derivs)
    outd, cached = net.streams(to_dev(X), derivs)
    for k in out:
        _same(outd[k], out[k], exact)
    grads = host.stream_backward(cache, dout)
    gradsd = net.stream_backward(cached, {k: to_dev(v) for k, v in dout.items()})
    for g, gd in zip(grads, gradsd):
        _same(gd, g, exact)
    y, c = host.forward(X)
    yd, cd = net.forward(to_dev(X))
    _same(yd, y, exact)
    _same(net.backward(cd, to_dev(dout[()]))[0], host.backward(c, dout[()])[0], exact)
    net.set_flat(host.get_flat() * 0.5)
    _same(net.params[0], host.params[0] * 0.5, True)


def test_mlp_from_host_weights(device, rng):
    """from_weights copies host weights into a network on the gpu backend."""
    from fastdds.nn.mlp import MLP

    weights = [(rng.standard_normal((4, 2)), rng.standard_normal(4)), (rng.standard_normal((1, 4)), np.zeros(1))]
    net = MLP.from_weights(weights)
    for p, w in zip(net.params, [a for pair in weights for a in pair]):
        _same(p, w, True)


def test_cfc(device, rng):
    """CfC forward and backward on device weights and inputs."""
    from fastdds.nn.cfc import CfC

    x, dy = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    _same_pass(_on_host(lambda: CfC(3, units=4, backbone=6, seed=1)), CfC(3, units=4, backbone=6, seed=1), x, dy,
               device)


def test_node(device, rng):
    """The neural ODE (dense layers, LayerNorm, tanh, RK4 and its adjoint) on the device."""
    from fastdds.nn.node import NODE

    to_dev, exact = device
    x, dy = rng.standard_normal((4, 3)), rng.standard_normal((4, 1))
    host, net = _on_host(lambda: NODE(3, hidden=5, steps=2, seed=2)), NODE(3, hidden=5, steps=2, seed=2)
    _same_pass(host, net, x, dy, device)
    _same(net.layers()(to_dev(x)), host.layers()(x), exact)  # the layer form, on the model's device


def test_adam(device, rng):
    from fastdds.optim import Adam

    to_dev, exact = device
    p = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    g = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    pd = [to_dev(a) for a in p]
    host, dev = Adam(p, lr=0.01, weight_decay=0.1), Adam(pd, lr=0.01, weight_decay=0.1)
    for _ in range(3):
        host.step(g)
        dev.step([to_dev(a) for a in g])
    for a, ad in zip(p + host.m + host.v, pd + dev.m + dev.v):
        _same(ad, a, exact)


def test_a_group_without_a_twin_is_refused_by_the_backend(device):
    """heat's tridiagonal kernels have no GPU twin: the backend says so, once, for every caller."""
    to_dev, _ = device
    u = to_dev(np.sin(np.linspace(0, 6, 16)))
    for run in (lambda: heat.ftcs(u, 0.1, 1e-3, 2, 1.0), lambda: heat.crank_nicolson(u, 0.1, 1e-3, 2, 1.0),
                lambda: backend.kernels("tridiag", like=u)):
        with pytest.raises(NotImplementedError, match="'tridiag' kernels have no GPU twin .*banded.*cpu backend"):
            run()
    with pytest.raises(ValueError, match="unknown kernel group 'nope'"):
        backend.kernels("nope", like=u)


def test_gpu_problem_names_what_is_missing(monkeypatch):
    """CuPy missing, numba-cuda missing (with the pip command), no device: one sentence each."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    assert "CuPy is not installed" in backend._gpu_problem()
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 0)
    monkeypatch.setitem(sys.modules, "cupy", types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime)))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numba_cuda"
                        else real_find_spec(name, *a))
    problem = backend._gpu_problem()
    assert "numba-cuda is not installed" in problem and "pip install 'numba-cuda[cu12]'" in problem
    assert not backend.gpu_available()[0]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "numba_cuda"
                        else real_find_spec(name, *a))
    assert "no CUDA device is visible" in backend._gpu_problem()


def test_mlp_device_points_are_one_chunk(device):
    """On a device the points go as one chunk and one batch (no lanes: one product per layer)."""
    from fastdds.nn.mlp import MLP, _Workspace

    to_dev, _ = device
    xp = backend.array_module(to_dev(np.ones(1)))
    derivs = ((0,), (1,), (0, 0))
    host, net = _on_host(lambda: MLP([2, 20, 20, 1])), MLP([2, 20, 20, 1])
    spec = net._spec(derivs)
    assert _Workspace(net.sizes, net.dtype, 4096, spec, True, True, xp).C == 1
    assert _Workspace(net.sizes, net.dtype, 4096, spec, True, True, np).C == 8
    assert net.batches(10**6, derivs) == [slice(0, 10**6)] and len(host.batches(10**6, derivs)) > 1


@pytest.mark.parametrize("name", ["ResNet", "LMResNet", "Leapfrog"])
def test_residual_nets(device, rng, name):
    """The residual nets built on the gpu backend (weights, structure blocks and masks on the
    device) train through the same forward and masked backward."""
    from fastdds.nn import residual

    x, dy = rng.standard_normal((3, 4)), rng.standard_normal((3, 1))
    make = getattr(residual, name)
    host, net = _on_host(lambda: make(4, 1, width=3, depth=2, seed=5)), make(4, 1, width=3, depth=2, seed=5)
    assert all(backend.is_gpu_array(p) for p in net.params) and net.nparams == host.nparams
    _same_pass(host, net, x, dy, device)


@pytest.mark.parametrize("mode", ["initial_state", "drive"])
def test_fhn(device, rng, mode):
    """The FHN layer (fused Euler forward and discrete adjoint, trained a, b, dt) on the device."""
    from fastdds.nn.fhn import FHN

    n_in = 6 if mode == "initial_state" else 3
    kw = dict(mode=mode, n_in=None if mode == "initial_state" else n_in, dt=0.5, steps=4,
              train=("a", "b", "dt"))
    x = 0.5 * rng.standard_normal((5, n_in))
    host = _on_host(lambda: FHN(3, rng=np.random.default_rng(2), **kw))
    layer = FHN(3, rng=np.random.default_rng(2), **kw)
    _same_pass(host, layer, x, rng.standard_normal((5, host.n_out)), device)


@pytest.mark.parametrize("shape, periodic", [((9, 7), True), ((4, 5, 6), False), ((15,), False)])
def test_eikonal(device, shape, periodic):
    """Fast sweeping on a device phi: the sweeps run on the device (the band and the finish on the
    host) and the result comes back there; travel times with a speed field and arrival times too."""
    from fastdds.pde import eikonal as ek

    to_dev, exact = device
    X = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    phi = np.sqrt(sum(x * x for x in X)) - 0.4
    speed = 1.0 + 0.5 * np.cos(X[0])
    src = np.zeros(shape, bool)
    src[tuple(n // 3 for n in shape)] = True
    for run in (lambda p, s, m: ek.distance(p, 0.1, periodic=periodic),
                lambda p, s, m: ek.travel_time(p, s, 0.1, order=1),
                lambda p, s, m: ek.arrival_time(m, s, 0.1)):
        want = run(phi, speed, src)
        _same(run(to_dev(phi), to_dev(speed), to_dev(src)), want, exact)


def test_eikonal_nd_has_no_twin_and_masked_results_stay_numpy(device):
    """4-D fast sweeping has no GPU twin: the backend refuses it; a result with hidden cells is a
    NumPy masked array (CuPy has none)."""
    from fastdds.pde import eikonal as ek

    to_dev, _ = device
    phi = np.ones((3, 3, 3, 3))
    phi[1, 1, 1, 1] = -1.0
    with pytest.raises(NotImplementedError, match="'eikonal_nd' kernels have no GPU twin"):
        ek.distance(to_dev(phi))
    d = ek.distance(to_dev(np.array([-1.0, 1.0, 1.0, 1.0])), narrow=1.0)
    assert np.ma.isMaskedArray(d) and d.mask.tolist() == [False, False, True, True]


def test_solve_eikonal_command_on_the_gpu_backend(device, monkeypatch):
    """`fastdds solve eikonal --backend gpu` moves phi to the device: the same distances come back."""
    from fastdds.commands.solve_eikonal import solve_grid
    from fastdds.pde import eikonal as ek

    _, exact = device
    given, distance = [], ek.distance
    monkeypatch.setattr(ek, "distance", lambda phi, *a, **k: given.append(backend.is_gpu_array(phi)) or
                        distance(phi, *a, **k))
    _, u, _, info, _ = solve_grid("point", 11, 2, 2, np.float64)
    assert given == [True, True]  # the compile run and the solve
    _, want, _, want_info, _ = _on_host(lambda: solve_grid("point", 11, 2, 2, np.float64))
    assert type(u) is np.ndarray and info == want_info
    if exact:
        np.testing.assert_array_equal(u, want)
    else:
        np.testing.assert_allclose(u, want, rtol=0, atol=1e-12)
