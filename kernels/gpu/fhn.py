"""FitzHugh-Nagumo neurons integrated by explicit Euler, and the discrete adjoint: GPU twins of
``fastdds.kernels.cpu.fhn`` (same formulas, same arguments).

One thread per (sample, neuron): the K steps of a neuron run in registers. The reverse pass
first stores the K + 1 states of every (sample, neuron) with `trajectory` (two (K + 1, N, n)
buffers of the array module; the CPU kernel recomputes one sample at a time instead, which a
thread per element cannot share), then each thread runs its adjoint backwards; the per-neuron
gradients are written per sample and summed over the batch by the array module. The step and
its adjoint are the CPU module's own (Numba compiles them for the device too).
"""

from numba import cuda

from ..cpu import fhn as _cpu
from .launch import array_module, device, launch

euler_step, adjoint_step = device(_cpu.euler_step), device(_cpu.adjoint_step)


@cuda.jit
def _trajectory(v0, w0, I, a, b, g, dt, tv, tw):
    t = cuda.grid(1)
    N, n = v0.shape
    if t < N * n:
        s, j = t // n, t % n
        v, w = v0[s, j], w0[s, j]
        tv[0, s, j] = v
        tw[0, s, j] = w
        for k in range(tv.shape[0] - 1):
            v, w = euler_step(v, w, I[s, j], a[j], b[j], g[j], dt[j])
            tv[k + 1, s, j] = v
            tw[k + 1, s, j] = w


@cuda.jit
def _forward(v0, w0, I, a, b, g, dt, K, vK, wK):
    t = cuda.grid(1)
    N, n = v0.shape
    if t < N * n:
        s, j = t // n, t % n
        v, w = v0[s, j], w0[s, j]
        for _ in range(K):
            v, w = euler_step(v, w, I[s, j], a[j], b[j], g[j], dt[j])
        vK[s, j] = v
        wK[s, j] = w


@cuda.jit
def _adjoint(tv, tw, I, a, b, g, dt, dvK, dwK, dv0, dw0, dI, ga, gb, gg, gdt):
    """Adjoint of one (sample, neuron) per thread; per-sample parameter gradients in ga..gdt."""
    t = cuda.grid(1)
    N, n = dvK.shape
    if t < N * n:
        s, j = t // n, t % n
        lv, lw = dvK[s, j], dwK[s, j]
        zero = lv - lv
        sI, sa, sb, sg, sdt = zero, zero, zero, zero, zero
        for k in range(tv.shape[0] - 2, -1, -1):
            lv, lw, eI, ea, eb, eg, edt = adjoint_step(tv[k, s, j], tw[k, s, j], I[s, j], a[j], b[j], g[j], dt[j],
                                                        lv, lw)
            sI += eI
            sa += ea
            sb += eb
            sg += eg
            sdt += edt
        dv0[s, j] = lv
        dw0[s, j] = lw
        dI[s, j] = sI
        ga[s, j] = sa
        gb[s, j] = sb
        gg[s, j] = sg
        gdt[s, j] = sdt


def trajectory(v0, w0, I, a, b, g, dt, tv, tw):
    """All Euler states: tv[k], tw[k] = state after k steps, k = 0..K.

    Parameters
    ----------
    v0, w0, I : device array, shape (N, n)
    a, b, g, dt : device array, shape (n,)
    tv, tw : device array, shape (K + 1, N, n), outputs (same dtype as v0)
    """
    launch(_trajectory, v0.size, v0, w0, I, a, b, g, dt, tv, tw)


def forward(v0, w0, I, a, b, g, dt, K, vK, wK):
    """K Euler steps from (v0, w0); final state only.

    Parameters
    ----------
    v0, w0, I : device array, shape (N, n)
    a, b, g, dt : device array, shape (n,)
    K : int
    vK, wK : device array, shape (N, n), outputs
    """
    launch(_forward, v0.size, v0, w0, I, a, b, g, dt, K, vK, wK)


def backward(v0, w0, I, a, b, g, dt, K, dvK, dwK, dv0, dw0, dI, da, db, dg, ddt):
    """Discrete adjoint of `forward`.

    Parameters
    ----------
    v0, w0, I, a, b, g, dt, K : as in `forward`
    dvK, dwK : device array, shape (N, n)
        Gradient of the loss with respect to the final state.
    dv0, dw0, dI : device array, shape (N, n), outputs
        Gradients with respect to the initial state and the per-sample drive.
    da, db, dg, ddt : device array, shape (n,), outputs (overwritten, summed over the batch)
    """
    xp = array_module(v0)
    tv = xp.empty((K + 1,) + v0.shape, dtype=v0.dtype)
    tw = xp.empty_like(tv)
    trajectory(v0, w0, I, a, b, g, dt, tv, tw)
    per_sample = xp.empty((4,) + v0.shape, dtype=v0.dtype)
    launch(_adjoint, v0.size, tv, tw, I, a, b, g, dt, dvK, dwK, dv0, dw0, dI, per_sample[0], per_sample[1],
           per_sample[2], per_sample[3])
    for out, part in zip((da, db, dg, ddt), per_sample):
        out[:] = part.sum(axis=0)
