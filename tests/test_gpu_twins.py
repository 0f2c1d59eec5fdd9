"""The GPU twins (``fastdds.kernels.gpu``) against their CPU kernels, at small sizes.

These tests run in Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``: NumPy arrays, every
thread a Python thread, no GPU): the simulator must be on before ``numba.cuda`` is imported, so
`test_twins_in_simulator` reruns this file in a subprocess with it set, where every twin test
runs on NumPy arrays, together with tests/test_array_module.py (the callers - Banded, the fused
layer, Burgers' solve, MLP streams, CfC, NODE, the residual nets, Adam - on device arrays
dispatched to the twins). On a machine with CuPy and a CUDA device the same twin tests run in this
process on the device, with CuPy arrays; elsewhere they skip and say why. `test_ptx_compiles`
then compiles every kernel the simulator run launched, with the argument types it launched it
with (float32 and float64), for sm_90 with Numba's CUDA compiler: the simulator runs kernels as
Python, and this catches what the CUDA target would refuse. No GPU timing is made here.
"""

import importlib
import importlib.util
import os
import pickle
import re
import subprocess
import sys
import types
from pathlib import Path

import gpu_simulator
import numpy as np
import pytest

from fastdds import backend
from fastdds.kernels import ACTIVATION_CODES

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
HAVE_NUMBA_CUDA = importlib.util.find_spec("numba_cuda") is not None
GROUPS = ("banded", "activations", "layer", "optim", "fhn", "cfc", "burgers", "eikonal", "mlp")
RECORD = os.environ.get("FASTDDS_GPU_LAUNCH_RECORD")
DTYPES = (np.float64, np.float32)


def _device():
    """(to_device, to_host) for this process: NumPy in the simulator, CuPy on a device, else skip."""
    if SIM:
        return np.array, np.asarray
    if not HAVE_NUMBA_CUDA:
        pytest.skip("numba-cuda is not installed (pip install numba-cuda); the twins need it")
    ok, why = backend.gpu_available()
    if not ok:
        pytest.skip(f"no GPU here ({why}); the twins are verified by test_twins_in_simulator")
    import cupy

    return cupy.array, cupy.asnumpy


@pytest.fixture
def dev():
    return _device()


@pytest.fixture(autouse=True, scope="session")
def _record_launches():
    """In the simulator run with FASTDDS_GPU_LAUNCH_RECORD set: note every kernel launched and its
    argument types (for `test_ptx_compiles`)."""
    if not (SIM and RECORD):
        yield
        return
    import numba

    seen = set()
    patched = []
    for group in GROUPS:
        mod = importlib.import_module(f"fastdds.kernels.gpu.{group}")
        for name in ("launch", "launch_block"):
            real = getattr(mod, name, None)
            if real is None:
                continue

            def recording(kernel, *args, _real=real, _grid=name == "launch"):
                seen.add((kernel.__module__, kernel.__name__, tuple(numba.typeof(a) for a in args[_grid:])))
                _real(kernel, *args)

            patched.append((mod, name, real))
            setattr(mod, name, recording)
    yield
    for mod, name, real in patched:
        setattr(mod, name, real)
    Path(RECORD).write_bytes(pickle.dumps(sorted(seen, key=str)))


def _tol(dtype):
    return 1e-12 if dtype == np.float64 else 2e-5


def _close(got, want, dtype, scale=None):
    """|got - want| <= tol * max|want| (round-off: the twins sum in another order)."""
    want = np.asarray(want)
    scale = max(np.abs(want).max(), 1e-300) if scale is None else scale
    err = np.abs(np.asarray(got, dtype=np.float64) - want).max() / scale
    assert err <= _tol(dtype), f"relative error {err:.3g}"


def _gpu(group):
    return importlib.import_module(f"fastdds.kernels.gpu.{group}")


def _cpu(group):
    return importlib.import_module(f"fastdds.kernels.cpu.{group}")


# ---- banded -----------------------------------------------------------------------------------------------

def _banded_case(rng, dtype, const, n=9, batch=2):
    offs = np.array([-3, -1, 0, 2], np.int64)
    d = rng.standard_normal((offs.size, 1 if const else n)).astype(dtype)
    x = rng.standard_normal((batch, n)).astype(dtype)
    return offs, d, x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bc", [0, 1, 2])
@pytest.mark.parametrize("const", [True, False])
def test_banded(dev, rng, dtype, bc, const):
    to_dev, to_host = dev
    offs, d, x = _banded_case(rng, dtype, const)
    dy = rng.standard_normal(x.shape).astype(dtype)
    for name in ("apply", "apply_transpose"):
        want, got = np.empty_like(x), to_dev(np.empty_like(x))
        getattr(_cpu("banded"), name)(x, offs, d, bc, want)
        getattr(_gpu("banded"), name)(to_dev(x), to_dev(offs), to_dev(d), bc, got)
        _close(to_host(got), want, dtype)
    want, got = np.ones_like(d), to_dev(np.ones_like(d))
    _cpu("banded").diag_grad(x, dy, offs, bc, want)
    _gpu("banded").diag_grad(to_dev(x), to_dev(dy), to_dev(offs), bc, got)
    _close(to_host(got), want, dtype)


def test_banded_transpose_is_the_adjoint(dev, rng):
    """<A x, y> == <x, A^T y> for every boundary, with a 7-point variable stencil on n = 8."""
    to_dev, to_host = dev
    offs = np.array([-3, -2, -1, 0, 1, 2, 3], np.int64)
    for bc in (0, 1, 2):
        d = rng.standard_normal((7, 8))
        x, y = rng.standard_normal((1, 8)), rng.standard_normal((1, 8))
        ax, aty = to_dev(np.empty_like(x)), to_dev(np.empty_like(y))
        _gpu("banded").apply(to_dev(x), to_dev(offs), to_dev(d), bc, ax)
        _gpu("banded").apply_transpose(to_dev(y), to_dev(offs), to_dev(d), bc, aty)
        lhs, rhs = float((to_host(ax) * y).sum()), float((x * to_host(aty)).sum())
        assert abs(lhs - rhs) <= 1e-13 * (abs(lhs) + 1)


# ---- activations ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(ACTIVATION_CODES))
def test_activations(dev, rng, dtype, name):
    to_dev, to_host = dev
    z = np.concatenate([rng.standard_normal(13) * 3, [0.0, -0.0, 25.0, -25.0]]).astype(dtype)
    want, got = np.empty((4, z.size), dtype), to_dev(np.empty((4, z.size), dtype))
    _cpu("activations").evaluate(ACTIVATION_CODES[name], 0.1, z, want)
    _gpu("activations").evaluate(ACTIVATION_CODES[name], 0.1, to_dev(z), got)
    for d in range(4):  # each derivative on its own scale (tanh''' is tiny where tanh saturates)
        _close(to_host(got)[d], want[d], dtype, scale=max(np.abs(want[d]).max(), 1.0))


# ---- fused layer branch -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bc", [0, 1, 2])
def test_layer_branch(dev, rng, dtype, bc):
    to_dev, to_host = dev
    n, batch = 8, 3
    r_off, r_d, x = _banded_case(rng, dtype, False, n, batch)
    q_off = np.array([-1, 0, 1], np.int64)
    q_d = rng.standard_normal((3, 1)).astype(dtype)
    b = rng.standard_normal(n).astype(dtype)
    dy = rng.standard_normal((batch, n)).astype(dtype)
    code = ACTIVATION_CODES["tanh"]
    host = {k: rng.standard_normal((batch, n)).astype(dtype) for k in ("y", "dx")}
    host.update(a=np.empty((batch, n), dtype), s1=np.empty((batch, n), dtype), dz=np.empty((batch, n), dtype),
                g_r=np.ones_like(r_d), g_q=np.ones_like(q_d), g_b=np.ones(n, dtype))
    devs = {k: to_dev(v) for k, v in host.items()}
    _cpu("layer").banded_branch_forward(x, r_off, r_d, bc, b, code, 0.0, q_off, q_d, bc, host["a"], host["s1"],
                                        host["y"])
    _gpu("layer").banded_branch_forward(to_dev(x), to_dev(r_off), to_dev(r_d), bc, to_dev(b), code, 0.0,
                                        to_dev(q_off), to_dev(q_d), bc, devs["a"], devs["s1"], devs["y"])
    _cpu("layer").banded_branch_backward(x, dy, host["a"], host["s1"], r_off, r_d, bc, q_off, q_d, bc, host["dz"],
                                         host["dx"], host["g_r"], host["g_q"], host["g_b"])
    _gpu("layer").banded_branch_backward(to_dev(x), to_dev(dy), devs["a"], devs["s1"], to_dev(r_off), to_dev(r_d),
                                         bc, to_dev(q_off), to_dev(q_d), bc, devs["dz"], devs["dx"], devs["g_r"],
                                         devs["g_q"], devs["g_b"])
    for k in host:
        _close(to_host(devs[k]), host[k], dtype)


# ---- Adam ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_adam(dev, rng, dtype):
    to_dev, to_host = dev
    shapes = (7, 3)
    host = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(2)]
    host += [[rng.random(s).astype(dtype) * 0.1 for s in shapes] for _ in range(2)]  # m, v >= 0
    devs = [[to_dev(a) for a in arrs] for arrs in host]
    for step in (1, 2, 3):
        _cpu("optim").adam_update(*(tuple(a) for a in host), 1e-2, 0.9, 0.999, 1e-8, 0.01, step)
        _gpu("optim").adam_update(*(tuple(a) for a in devs), 1e-2, 0.9, 0.999, 1e-8, 0.01, step)
    for arrs, darrs in zip(host, devs):
        for a, d in zip(arrs, darrs):
            _close(to_host(d), a, dtype)


# ---- FHN -----------------------------------------------------------------------------------------------

def _fhn_case(rng, dtype, N=3, n=4):
    v0, w0, I = (rng.standard_normal((N, n)).astype(dtype) * 0.5 for _ in range(3))
    a = np.full(n, 0.7, dtype) + rng.random(n).astype(dtype) * 0.1
    b = np.full(n, 0.08, dtype)
    g = np.full(n, 0.8, dtype)
    dt = np.full(n, 0.1, dtype)
    return v0, w0, I, a, b, g, dt


@pytest.mark.parametrize("dtype", DTYPES)
def test_fhn(dev, rng, dtype):
    to_dev, to_host = dev
    K = 5
    args = _fhn_case(rng, dtype)
    dargs = tuple(to_dev(t) for t in args)
    N, n = args[0].shape
    want = [np.empty((N, n), dtype) for _ in range(2)]
    got = [to_dev(w) for w in want]
    _cpu("fhn").forward(*args, K, *want)
    _gpu("fhn").forward(*dargs, K, *got)
    for w, g_ in zip(want, got):
        _close(to_host(g_), w, dtype)
    tw = [np.empty((K + 1, N, n), dtype) for _ in range(2)]
    tg = [to_dev(t) for t in tw]
    _cpu("fhn").trajectory(*args, *tw)
    _gpu("fhn").trajectory(*dargs, *tg)
    for w, g_ in zip(tw, tg):
        _close(to_host(g_), w, dtype)
    dvK, dwK = (rng.standard_normal((N, n)).astype(dtype) for _ in range(2))
    outs = [np.empty((N, n), dtype) for _ in range(3)] + [np.empty(n, dtype) for _ in range(4)]
    douts = [to_dev(o) for o in outs]
    _cpu("fhn").backward(*args, K, dvK, dwK, *outs)
    _gpu("fhn").backward(*dargs, K, to_dev(dvK), to_dev(dwK), *douts)
    for w, g_ in zip(outs, douts):
        _close(to_host(g_), w, dtype)


# ---- CfC ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_cfc_cell_backward(dev, rng, dtype):
    to_dev, to_host = dev
    N, n = 3, 5
    dh, f1, f2 = (np.tanh(rng.standard_normal((N, n))).astype(dtype) for _ in range(3))
    gate = rng.random((N, n)).astype(dtype)
    want, got = np.empty((N, 4 * n), dtype), to_dev(np.empty((N, 4 * n), dtype))
    _cpu("cfc").cell_backward(dh, 0.7, f1, f2, gate, want)
    _gpu("cfc").cell_backward(to_dev(dh), 0.7, to_dev(f1), to_dev(f2), to_dev(gate), got)
    _close(to_host(got), want, dtype)


# ---- Burgers -----------------------------------------------------------------------------------------------

RK = {"euler": ((0.0,), (1.0,)), "ssprk3": ((0.0, 0.75, 1.0 / 3.0), (1.0, 0.25, 2.0 / 3.0))}


def _burgers(dev, rng, dtype, fcode, lcode, bc, rk, n=12, nsteps=3, dtdx=0.3, scale=1.0):
    """The final state and return value of the CPU kernel and of the twin, on one random start."""
    to_dev, to_host = dev
    u = (scale * np.sin(np.linspace(0, 2 * np.pi, n, endpoint=False)) + 0.3 * rng.standard_normal(n)).astype(dtype)
    alpha = float(np.abs(u).max())
    coefs = np.array([dtdx, 0.02, alpha, 0.5, 0.0, 0.4, -0.2, 2.0], dtype)
    rk_a, rk_b = (np.array(c, dtype) for c in RK[rk])
    want = np.empty_like(u)
    bad_cpu = _cpu("burgers").advance(u, want, nsteps, fcode, lcode, rk_a, rk_b, bc, coefs, 1,
                                      np.empty((3, n + 4), dtype))
    got = to_dev(np.empty_like(u))
    bad_gpu = _gpu("burgers").advance(to_dev(u), got, nsteps, fcode, lcode, to_dev(rk_a), to_dev(rk_b), bc,
                                      to_dev(coefs), 1, to_dev(np.empty((3, n + 4), dtype)))
    return want, to_host(got), bad_cpu, bad_gpu


@pytest.mark.parametrize("lcode", [0, 1, 2])
@pytest.mark.parametrize("fcode", [0, 1, 2, 3, 4])
def test_burgers_every_flux_and_limiter(dev, rng, fcode, lcode):
    """float64, every (flux, reconstruction) pair; the boundaries (periodic, Dirichlet, outflow)
    rotate over the pairs, so each meets every flux and every reconstruction; forward Euler
    for first order, SSP-RK3 for MUSCL."""
    bc = (fcode + lcode) % 3
    want, got, bad_cpu, bad_gpu = _burgers(dev, rng, np.float64, fcode, lcode, bc, "ssprk3" if lcode else "euler")
    assert bad_cpu == bad_gpu == -1
    _close(got, want, np.float64)


@pytest.mark.parametrize("fcode", [0, 1, 2, 3, 4])
def test_burgers_float32(dev, rng, fcode):
    """float32, every flux (the reconstruction and the boundary rotate), SSP-RK3."""
    want, got, bad_cpu, bad_gpu = _burgers(dev, rng, np.float32, fcode, fcode % 3, (fcode + 1) % 3, "ssprk3")
    assert bad_cpu == bad_gpu == -1
    _close(got, want, np.float32)


def test_burgers_scheme_kernel(dev, rng):
    """scheme_kernel(fcode, lcode) is advance with the codes bound; unknown codes are refused."""
    to_dev, to_host = dev
    u = rng.standard_normal(10)
    coefs = np.array([0.3, 0.02, 3.0, 0.5, 0.0, 0.0, 0.0, 2.0])
    rk = [to_dev(np.array(c)) for c in RK["ssprk3"]]
    outs = [to_dev(np.empty(10)) for _ in range(2)]
    _gpu("burgers").advance(to_dev(u), outs[0], 2, 1, 2, *rk, 2, to_dev(coefs), 1, to_dev(np.empty((3, 14))))
    _gpu("burgers").scheme_kernel(1, 2)(to_dev(u), outs[1], 2, *rk, 2, to_dev(coefs), 1, to_dev(np.empty((3, 14))))
    np.testing.assert_array_equal(to_host(outs[0]), to_host(outs[1]))
    with pytest.raises(ValueError, match="unknown"):
        _gpu("burgers").scheme_kernel(5, 0)
    assert _gpu("burgers").prepare(1, 2, np.float32) >= 0.0
    with pytest.raises(ValueError, match="unknown"):
        _gpu("burgers").prepare(0, 3, np.float64)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the simulator's NumPy scalars warn as they overflow
def test_burgers_reports_the_step_that_blew_up(dev, rng):
    """A central flux far past its CFL limit overflows; both backends name the same step."""
    want, got, bad_cpu, bad_gpu = _burgers(dev, rng, np.float64, 3, 0, 0, "euler", nsteps=200, dtdx=40.0, scale=50.0)
    assert 1 < bad_cpu < 200
    assert bad_gpu == bad_cpu
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))


# ---- fast sweeping ---------------------------------------------------------------------------------------

def _eikonal_case(rng, dtype, shape, periodic):
    """Padded u, state, side, f and the periodic wrap lists for |grad u| = f with two point
    sources and one obstacle cell; axis 0 periodic when `periodic`."""
    from fastdds.kernels.cpu.eikonal import FIXED
    from fastdds.pde.eikonal import _Grid

    grid = _Grid(shape, (0.1,) * len(shape), (periodic,) + (False,) * (len(shape) - 1))
    u = np.full(grid.pshape, np.inf, dtype)
    state = np.full(grid.pshape, FIXED, np.uint8)
    state[grid.inner] = 1
    side = np.ones(grid.pshape, np.int8)
    f = (1.0 + 0.5 * rng.random(grid.pshape)).astype(dtype)
    for src in ((2,) * len(shape), tuple(s // 2 + 2 for s in shape)):
        u[src] = 0.0
        state[src] = FIXED
    state[tuple(s // 2 + 3 for s in shape)] = FIXED  # an obstacle: fixed at inf
    u.reshape(-1)[grid.ghost] = u.reshape(-1)[grid.src]
    return u, state, side, f, (grid.ghost, grid.src, grid.reader)


SWEEP_CASES = [((7, 9), order, periodic, dtype) for order in (1, 2) for periodic in (False, True) for dtype in DTYPES]
SWEEP_CASES += [((3, 4, 5), order, periodic, np.float64) for order in (1, 2) for periodic in (False, True)]
SWEEP_CASES += [((3, 4, 5), 2, True, np.float32)]


@pytest.mark.parametrize("shape, order, periodic, dtype", SWEEP_CASES)
def test_fast_sweeping(dev, rng, shape, order, periodic, dtype):
    """The anti-diagonal ordering is the CPU's Gauss-Seidel sweep: same sweep count, same values
    to round-off, same cell states."""
    to_dev, to_host = dev
    u, state, side, f, wrap = _eikonal_case(rng, dtype, shape, periodic)
    ws = [1.0 / 0.1**2, 1.0 / 0.12**2, 1.0 / 0.09**2][:len(shape)]
    tol = 0.0 if order == 1 else 1e-9
    name = "sweep2d" if len(shape) == 2 else "sweep3d"
    du, dstate = to_dev(u), to_dev(state)
    got = getattr(_gpu("eikonal"), name)(du, dstate, to_dev(side), to_dev(f), *ws, order, tol, np.inf, 60,
                                         *(to_dev(w) for w in wrap))
    want = getattr(_cpu("eikonal"), name)(u, state, side, f, *ws, order, tol, np.inf, 60, *wrap)
    assert want[1] and tuple(got) == tuple(want)
    finite = np.isfinite(u)
    np.testing.assert_array_equal(np.isfinite(to_host(du)), finite)
    _close(to_host(du)[finite], u[finite], dtype)
    np.testing.assert_array_equal(to_host(dstate), state)




@pytest.mark.parametrize("dtype", DTYPES)
def test_eikonal_finish_and_hj1d(dev, rng, dtype):
    """`finish` (signs and the unreached count) and the explicit 1-D Hamilton-Jacobi steps, both
    schemes' coefficient forms, odd and even step counts."""
    to_dev, to_host = dev
    u = rng.random((1, 4, 5)).astype(dtype)
    u[0, 1, 2] = u[0, 3, 0] = np.inf
    side = rng.integers(-1, 2, u.shape).astype(np.int8)
    for signed in (False, True):
        want, got = np.empty_like(u), to_dev(np.empty_like(u))
        n_cpu = _cpu("eikonal").finish(u, side, signed, want)
        n_gpu = _gpu("eikonal").finish(to_dev(u), to_dev(side), signed, got)
        assert n_cpu == n_gpu == 2
        np.testing.assert_array_equal(to_host(got), want)
    n, h, dt = 11, 0.2, 0.05
    schemes = [(np.array([dt / h / 2, 1 - dt / h, dt / h / 2]), np.zeros(3)),
               (np.array([0.0, 1.0, 0.0]), np.array([-1 / (2 * h), 1 / h, -1 / (2 * h)]))]
    for (p, d), nsteps in zip(schemes, (3, 4)):
        p, d = p.astype(dtype), d.astype(dtype)
        u0 = rng.random(n).astype(dtype)
        want, got = u0.copy(), to_dev(u0)
        _cpu("eikonal").hj1d_steps(want, nsteps, p, 1 / (2 * h), d, dt, np.empty_like(u0))
        _gpu("eikonal").hj1d_steps(got, nsteps, to_dev(p), 1 / (2 * h), to_dev(d), dt, to_dev(np.empty_like(u0)))
        _close(to_host(got), want, dtype)


# ---- MLP Taylor streams ---------------------------------------------------------------------------------

def _mlp_run(monkeypatch, group_module, activation, dtype, X, derivs, dout):
    """streams + stream_backward + the input gradient of a small MLP with the "mlp" kernels taken
    from `group_module` (workers run one after another, so the simulator sees one host thread)."""
    from fastdds.nn import mlp

    real = backend.kernels
    monkeypatch.setattr(backend, "kernels", lambda group, like=None: group_module if group == "mlp"
                        else real(group, like=like))
    monkeypatch.setattr(mlp, "run_workers", lambda run, workers, blas: [run(w) for w in range(workers)])
    net = mlp.MLP([2, 6, 5, 2], activation=activation, seed=3, dtype=dtype)
    out, cache = net.streams(X, derivs)
    grads = net.stream_backward(cache, dout)
    y, c2 = net.forward(X)
    dx, _ = net.backward(c2, dout[()])
    monkeypatch.undo()
    return out, grads, dx


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_mlp_taylor_streams(dev, rng, monkeypatch, dtype, activation):
    """Forward streams u, u_x, u_y, u_xx, u_xy, their reverse pass (every weight and bias) and
    dL/dX, through the twins' forward_pass / backward_pass (products by the array module's
    matmul) against the CPU kernels; tanh keeps no derivatives, sin keeps them."""
    derivs = [(0,), (1,), (0, 0), (0, 1)]
    X = rng.uniform(-1, 1, (7, 2)).astype(dtype)
    keys = [()] + [tuple(d) for d in derivs]
    dout = {k: rng.standard_normal((7, 2)).astype(dtype) for k in keys}
    want = _mlp_run(monkeypatch, _cpu("mlp"), activation, dtype, X, derivs, dout)
    got = _mlp_run(monkeypatch, _gpu("mlp"), activation, dtype, X, derivs, dout)
    for k in keys:
        _close(got[0][k], want[0][k], dtype)
    for g, w in zip(got[1], want[1]):
        _close(g, w, dtype)
    _close(got[2], want[2], dtype)



# ---- the GPU bench script's table code (the timings themselves need a device) ----------------------------

def _bench_script():
    path = Path(__file__).resolve().parents[1] / "bench" / "gpu" / "run_all.py"
    spec = importlib.util.spec_from_file_location("fastdds_gpu_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_script_imports_without_cupy():
    cupy_before = "cupy" in sys.modules
    _bench_script()
    assert ("cupy" in sys.modules) == cupy_before


def test_bench_fraction_of_copy():
    b = _bench_script()
    assert b.fraction_of_copy(2e-3, 1e-3) == 0.5
    assert b.fraction_of_copy(1e-3, 1e-3, traffic=3.0) == 3.0
    with pytest.raises(ValueError):
        b.fraction_of_copy(0.0, 1e-3)


def test_bench_plan():
    """The full plan has the issue's goal cases at their sizes; quick mode shrinks every case;
    kernel and sweep cases fit in 8 GiB; repeats stay within the per-case budget."""
    b = _bench_script()
    full, quick = b.plan(b.FULL), b.plan(b.QUICK)
    goals = {(r["name"], r["dtype"]): r["size"] for r in full if r["goal"] == 0.8}
    assert goals == {("banded.apply 3-point periodic", "float64"): 10**8,
                     ("banded.apply 3-point periodic", "float32"): 10**8,
                     ("burgers.advance LF first order, Euler (per step)", "float64"): 10**8,
                     ("burgers.advance LF first order, Euler (per step)", "float32"): 10**8}
    pinn = {(r["width"], r["size"]) for r in full if r["kind"] == "pinn"}
    assert pinn == {(20, 10_000), (20, 1_000_000), (100, 10_000), (100, 1_000_000)}
    assert {r["group"] for r in full} == set(GROUPS)
    assert len(quick) == len([r for r in full if r["kind"] != "pinn"]) + 4
    assert all(q["size"] < f["size"] for q, f in zip(quick, full) if f["kind"] != "pinn")
    assert max(b.bytes_held(r) for r in full if r["kind"] != "pinn") <= 8 * 2**30
    assert b.repeats_within(0.001, 20) == 20 and b.repeats_within(4.0, 20) == 3 and b.repeats_within(0.5, 20) == 20
    assert b.repeats_within(1.0, 20) == 10
    with pytest.raises(ValueError):
        b.plan("everything")


def test_bench_table_is_strict_json(tmp_path):
    import json

    b = _bench_script()
    path = tmp_path / "t.json"
    b.write_table(path, {"device": "none"}, [{"name": "x", "time_ms": float("nan"), "ratio": [1.0, float("inf")]}])
    table = json.loads(path.read_text())
    assert table == {"meta": {"device": "none"}, "rows": [{"name": "x", "time_ms": None, "ratio": [1.0, None]}]}


def test_bench_main_refuses_without_gpu():
    ok, why = backend.gpu_available()
    if ok:
        pytest.skip("a GPU is present: main would run the benches")
    with pytest.raises(SystemExit, match="no usable GPU"):
        _bench_script().main(["--quick", "--out", os.devnull])


if not SIM:  # the script runs the simulator itself, in a subprocess of its own
    def _simulate_bench(tmp_path, *options):
        """Run bench/gpu/run_all.py --simulate with `options` in a subprocess; returns its table."""
        import json

        if not HAVE_NUMBA_CUDA:
            pytest.skip("numba-cuda is not installed (pip install numba-cuda): no CUDA simulator")
        out = tmp_path / "sim.json"
        script = Path(__file__).resolve().parents[1] / "bench" / "gpu" / "run_all.py"
        cmd = [sys.executable, str(script), "--simulate", "--out", str(out), *options]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                              env=dict(os.environ, NUMBA_ENABLE_CUDASIM="1"))
        assert proc.returncode == 0, (proc.stdout[-3000:] + proc.stderr[-3000:])
        return json.loads(out.read_text())


    def test_bench_script_simulated_kernels_and_sweeps(tmp_path):
        """Every kernel and sweep case of the GPU bench script runs on the twins in the simulator at
        tiny sizes, without an error, and fills its row (the times mean nothing there)."""
        b = _bench_script()
        table = _simulate_bench(tmp_path, "--only", "kernel", "--only", "sweep")
        assert table["meta"]["mode"] == "simulate" and "meaningless" in table["meta"]["timing"]
        rows = table["rows"]
        assert [r["name"] for r in rows] == [r["name"] for r in b.plan(b.SIMULATE) if r["kind"] != "pinn"]
        for r in rows:
            assert "error" not in r, r
            assert r["time_ms"] > 0 and r.get("meets_goal") is None, r
        assert all(r["fraction_of_copy"] > 0 for r in rows if r["kind"] == "kernel")
        assert all(r["sweeps"] >= 2 for r in rows if r["kind"] == "sweep")


    def test_bench_script_budget(tmp_path):
        """Cases not started within --budget seconds are listed as not run, and the table is written."""
        rows = _simulate_bench(tmp_path, "--budget", "0")["rows"]
        assert len(rows) == len(_bench_script().plan("simulate"))
        assert all(r["error"].startswith("not run: the run's budget of 0 s") for r in rows)

    @pytest.mark.slow
    def test_bench_script_simulated_pinn(tmp_path):
        """The PINN rows of the bench script: fastdds's step (CPU kernels under --simulate) and, when
        PyTorch is installed, PyTorch's on the CPU; their first gradients agree to round-off."""
        rows = _simulate_bench(tmp_path, "--only", "pinn")["rows"]
        assert {r["width"] for r in rows} == {20, 100}
        for r in rows:
            assert "ours_error" not in r and r["ours_ms"] > 0, r
            if importlib.util.find_spec("torch") is not None:
                assert "torch_error" not in r and r["grad_rel_diff"] < 1e-10, r


# ---- the simulator run, and the device compiler on what it launched ---------------------------------------

if not SIM:
    @pytest.fixture(scope="module")
    def simulator_run():
        """This file's twin tests in a subprocess under NUMBA_ENABLE_CUDASIM=1, with the callers
        of tests/test_array_module.py (started in the background when the tests were collected:
        ``gpu_simulator.SimulatorRun``); returns (returncode, stdout, stderr) of the finished process
        and the (module, kernel, argument types) of every launch it made."""
        if not HAVE_NUMBA_CUDA:
            pytest.skip("numba-cuda is not installed (pip install numba-cuda): no CUDA simulator")
        returncode, out, err, launches = gpu_simulator.simulator_run().result()
        return (returncode, out, err), launches

    def test_twins_in_simulator(simulator_run):
        """Every twin test passes in the simulator, none skipped, and so does every caller of
        tests/test_array_module.py on the twins (device arrays through the callers' own code)."""
        (returncode, out, err), _ = simulator_run
        tail = (out[-6000:] + err[-2000:]).strip()
        assert returncode == 0, tail
        summary = [line for line in out.splitlines() if re.search(r"\d+ passed", line)]
        assert summary, tail
        assert "skipped" not in summary[-1] and "failed" not in summary[-1], summary[-1]

    def _nvvm_problem():
        """None when Numba can compile a trivial kernel to PTX here, else why not."""
        from numba import cuda, float64

        def probe(x):
            x[0] = 1.0

        try:
            cuda.compile_ptx(probe, (float64[:],), cc=(9, 0))
        except Exception as exc:  # no CUDA compiler libraries (NVVM, NVRTC): say which
            return f"{type(exc).__name__}: {exc}".splitlines()[0]
        return None

    def test_ptx_compiles(simulator_run, monkeypatch):
        """Every kernel launched in the simulator compiles for sm_90 with the argument types it
        was launched with, without a device (Numba asks the device for a device function's
        compute capability: the test answers (9, 0))."""
        problem = _nvvm_problem()
        if problem:
            pytest.skip(f"CUDA compiler libraries not found ({problem}); pip install 'numba-cuda[cu13]'")
        import numba
        import numba.cuda.dispatcher as dispatcher
        from numba import cuda

        monkeypatch.setattr(dispatcher, "get_current_device", lambda: types.SimpleNamespace(compute_capability=(9, 0)))
        _, launches = simulator_run
        kernels = {(m, k) for m, k, _ in launches}
        assert {m.rsplit(".", 1)[-1] for m, _ in kernels} == set(GROUPS), "a group launched no kernel"
        first = {}  # one signature per kernel and float dtype (the others differ in layout or flags)
        for module, name, sig in launches:
            floats = [a.dtype for a in sig if isinstance(a, numba.types.Array) and isinstance(a.dtype, numba.types.Float)]
            first.setdefault((module, name, str(floats[:1])), sig)
        assert len({k[2] for k in first}) == 2, "float32 and float64 both launched"
        for (module, name, _), sig in sorted(first.items()):
            ptx, _ = cuda.compile_ptx(getattr(importlib.import_module(module), name).py_func, sig, cc=(9, 0))
            assert ".entry" in ptx, (module, name, sig)
