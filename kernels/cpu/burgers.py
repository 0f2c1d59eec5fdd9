"""Fused conservative Burgers solver (Numba): many time steps in one call.

The semi-discrete scheme on a uniform grid, for node i,

    du_i/dt = L(u)_i = -(F_{i+1/2} - F_{i-1/2}) / dx + nu (u_{i+1} - 2 u_i + u_{i-1}) / dx^2,

with the numerical flux F(a, b) of the reconstructed states a, b either side of the interface:

    flux 0  Lax-Friedrichs   (f(a) + f(b)) / 2 - alpha (b - a) / 2, alpha a constant >= max|u|
    flux 1  Rusanov          the same with alpha = max(|a|, |b|)
    flux 2  Engquist-Osher   max(a, 0)^2 / 2 + min(b, 0)^2 / 2
    flux 3  central          (f(a) + f(b)) / 2
    flux 4  upwind (Godunov) max(f(max(a, 0)), f(min(b, 0)))

and f(u) = u^2 / 2. Reconstruction (limiter) 0 is first order (a = u_i, b = u_{i+1}); 1 (minmod)
and 2 (van Leer) are MUSCL: a = u_i + phi(u_i - u_{i-1}, u_{i+1} - u_i) / 2, and b the mirror.
Time stepping is an explicit Runge-Kutta method in Shu-Osher form given as data,

    u^(0) = u^n,  u^(k+1) = a_k u^n + b_k (u^(k) + dt L(u^(k))),  u^{n+1} = u^(s),

(Euler: a = (0,), b = (1,); SSP-RK2: (0, 1/2), (1, 1/2); SSP-RK3: (0, 3/4, 1/3), (1, 1/4, 2/3)).

Buffers are extended by two ghost nodes per side; stage outputs ping-pong between two work rows
and swap with the step's start state, so nothing is allocated per step. Boundary codes
(``fastdds.kernels.BOUNDARY_CODES``): periodic (n nodes, x_n = x_0), dirichlet (end nodes hold
`left` and `right` and are not updated; the ghosts are their odd reflections), outflow (ghosts
copy the end node). A first-order stage is one pass in which each node is computed from its
three neighbours (`_node_loop`); a MUSCL stage runs in blocks of BLOCK nodes: the face fluxes
of a block go to a small buffer that stays in L1, then the nodes are updated. Every loop runs
over contiguous slices with no loop-carried value and vectorises (max and min are written as
selects; multiply-adds may contract to FMA). All constants arrive in `coefs`, an array of the
state's dtype, so float32 runs stay in float32 arithmetic.

Only the loops are inlined at Numba's IR level, where a pair's codes are constants. The scalar
helpers (`_flux`, `_limit`, `_node_update`, `_max`, `_min`) are ordinary compiled calls, built
once per code and dtype and shared by the pairs that use them; LLVM inlines them and folds the
code branches (each pair's assembly has as many vector instructions as with IR inlining). IR
inlining copies the callee's IR at each call site, and it was most of each pair's compile
(3.5-5.0 s a pair then, 1.3-2.0 s now, float64, fresh cache).
"""

import time

import numba as nb
import numpy as np

from .. import BOUNDARY_CODES
from .arraycopy import copy_into

GHOST = 2
PERIODIC, DIRICHLET, OUTFLOW = (BOUNDARY_CODES[b] for b in ("periodic", "dirichlet", "outflow"))
BLOCK = 512
# coefs layout
C_DTDX, C_DIFF, C_ALPHA, C_HALF, C_ZERO, C_LEFT, C_RIGHT, C_TWO = range(8)
N_FLUXES, N_LIMITERS = 5, 3


@nb.njit(cache=True)
def _max(x, y):
    """max(x, y) as one compare-and-select (the builtin's NaN handling keeps loops from vectorising)."""
    return x if x > y else y


@nb.njit(cache=True)
def _min(x, y):
    return x if x < y else y


@nb.njit(cache=True)
def _limit(code, p, q, zero, half):
    """Half the limited slope, phi(p, q) / 2, from backward difference p and forward difference q."""
    if code == 0:
        return zero
    if code == 1:  # minmod
        s = _min(abs(p), abs(q))
        return half * s if (p > zero and q > zero) else (-half * s if (p < zero and q < zero) else zero)
    pq = p * q  # van Leer: (2 p q / (p + q)) / 2 when p q > 0
    return pq / (p + q) if pq > zero else zero


@nb.njit(cache=True)
def _flux(code, a, b, alpha, half, zero):
    """Numerical flux F(a, b) of f(u) = u^2 / 2 (codes in the module docstring)."""
    if code == 0:
        return half * (half * (a * a + b * b) - alpha * (b - a))
    if code == 1:
        return half * (half * (a * a + b * b) - _max(abs(a), abs(b)) * (b - a))
    if code == 2:
        ap = _max(a, zero)
        bm = _min(b, zero)
        return half * (ap * ap + bm * bm)
    if code == 3:
        return half * half * (a * a + b * b)
    ap = _max(a, zero)
    bm = _min(b, zero)
    return half * _max(ap * ap, bm * bm)


@nb.njit(cache=True)
def _node_update(code, um, u0, up, dd, cc, h, q, zero):
    """u0 + dt L(u)_0 = u0 - c (F(u0, up) - F(um, u0)) + d (up - 2 u0 + um) for first-order
    reconstruction, c = dt/dx, d = nu dt/dx^2, with the terms the two faces share taken out
    (h = c/2, q = c/4; dd and cc = 1 - 2 dd as `_node_loop` sets them):

        lf, central  cc u0 + (up + um) (dd + q (um - up)),           dd = d + h alpha (central: d)
        rusanov      u0 - q (up - um)(up + um) + (h a+ + d)(up - u0) - (h a- + d)(u0 - um),
                     a+ = max(|u0|, |up|), a- = max(|um|, |u0|), dd = d
        eo           cc u0 + dd (up + um) + h ((p - m)(p + m) - u0 |u0|),
                     p = max(um, 0), m = min(up, 0), since max(u0, 0)^2 - min(u0, 0)^2 = u0 |u0|
        upwind       cc u0 + dd (up + um) - h (max(p0^2, m^2) - max(p^2, q0^2)),
                     p0 = max(u0, 0), q0 = min(u0, 0)
    """
    if code == 0 or code == 3:
        return cc * u0 + (up + um) * (dd + q * (um - up))
    if code == 1:
        a0 = abs(u0)
        ar, al = _max(a0, abs(up)), _max(abs(um), a0)
        return u0 - q * (up - um) * (up + um) + (h * ar + dd) * (up - u0) - (h * al + dd) * (u0 - um)
    p, m = _max(um, zero), _min(up, zero)
    if code == 2:
        return cc * u0 + dd * (up + um) + h * ((p - m) * (p + m) - u0 * abs(u0))
    p0, q0 = _max(u0, zero), _min(u0, zero)
    return cc * u0 + dd * (up + um) - h * (_max(p0 * p0, m * m) - _max(p * p, q0 * q0))


@nb.njit(inline="always", cache=True)
def _node_loop(out, v, base, ak, bk, coefs, fcode, plain):
    """out = ak base + bk (v + dt L(v)) on the interior for first-order reconstruction: one pass,
    each node from its three neighbours (`_node_update`: 5 to 15 operations a node). `plain` (a
    literal: ak = 0, bk = 1, as in forward Euler and every first stage) skips the combination
    with `base`."""
    m = v.size - 2 * GHOST
    c, d, two = coefs[C_DTDX], coefs[C_DIFF], coefs[C_TWO]
    alpha, half, zero = coefs[C_ALPHA], coefs[C_HALF], coefs[C_ZERO]
    h = half * c
    dd = d + h * alpha if fcode == 0 else d
    cc, q = two * half - two * dd, half * h
    vm1, v0, vp1 = v[GHOST - 1:GHOST - 1 + m], v[GHOST:GHOST + m], v[GHOST + 1:GHOST + 1 + m]
    o, u0 = out[GHOST:GHOST + m], base[GHOST:GHOST + m]
    for i in range(m):
        new = _node_update(fcode, vm1[i], v0[i], vp1[i], dd, cc, h, q, zero)
        o[i] = new if plain else ak * u0[i] + bk * new


@nb.njit(inline="always", cache=True)
def _loop(out, v, base, ak, bk, coefs, fb, fcode, lcode):
    """out = ak base + bk (v + dt L(v)) on the interior, in blocks of BLOCK nodes: first the
    BLOCK + 1 face fluxes into fb (each computed once, stays in L1), then the update. Inlined
    into the time loop of one pair, where fcode and lcode are constants; LLVM inlines the scalar
    helpers and folds their branches away, so both loops are branch-free and vectorise."""
    m = v.size - 2 * GHOST
    c, d, two = coefs[C_DTDX], coefs[C_DIFF], coefs[C_TWO]
    alpha, half, zero = coefs[C_ALPHA], coefs[C_HALF], coefs[C_ZERO]
    for b0 in range(0, m, BLOCK):
        b1 = min(b0 + BLOCK, m)
        w0, w1, w2, w3 = v[b0:b1 + 1], v[b0 + 1:b1 + 2], v[b0 + 2:b1 + 3], v[b0 + 3:b1 + 4]
        for j in range(b1 - b0 + 1):  # face between extended nodes b0 + j + 1 and b0 + j + 2
            a = w1[j] + _limit(lcode, w1[j] - w0[j], w2[j] - w1[j], zero, half)
            b = w2[j] - _limit(lcode, w2[j] - w1[j], w3[j] - w2[j], zero, half)
            fb[j] = _flux(fcode, a, b, alpha, half, zero)
        fl, fr = fb[0:b1 - b0], fb[1:b1 - b0 + 1]
        vm1, v0, vp1 = w1[0:b1 - b0], w2[0:b1 - b0], w3[0:b1 - b0]
        o, u0 = out[b0 + 2:b1 + 2], base[b0 + 2:b1 + 2]
        for i in range(b1 - b0):
            o[i] = ak * u0[i] + bk * (v0[i] - c * (fr[i] - fl[i]) + d * (vp1[i] - two * v0[i] + vm1[i]))


@nb.njit(inline="always", cache=True)
def _stage(out, v, base, ak, bk, coefs, fb, fcode, lcode):
    """out = ak base + bk (v + dt L(v)) on the interior of the extended arrays. Inlined where
    fcode and lcode are compile-time constants, so only that (flux, limiter) pair's loops are
    compiled: a first-order stage with and without the combination with `base`, or one MUSCL loop."""
    if lcode == 0:
        if ak == coefs[C_ZERO] and bk == coefs[C_TWO] * coefs[C_HALF]:
            _node_loop(out, v, base, ak, bk, coefs, fcode, True)
        else:
            _node_loop(out, v, base, ak, bk, coefs, fcode, False)
    else:
        _loop(out, v, base, ak, bk, coefs, fb, fcode, lcode)


@nb.njit(cache=True)
def _fill(w, bc, coefs):
    """Set ghost nodes (and Dirichlet end nodes) of the extended state w."""
    m = w.size - 2 * GHOST
    lo, hi = GHOST, GHOST + m - 1
    if bc == PERIODIC:
        for g in range(GHOST):
            w[g] = w[m + g]
            w[hi + 1 + g] = w[lo + g]
    elif bc == DIRICHLET:
        w[lo], w[hi] = coefs[C_LEFT], coefs[C_RIGHT]
        for g in range(1, GHOST + 1):
            w[lo - g] = coefs[C_TWO] * w[lo] - w[lo + g]
            w[hi + g] = coefs[C_TWO] * w[hi] - w[hi - g]
    else:
        for g in range(1, GHOST + 1):
            w[lo - g] = w[lo]
            w[hi + g] = w[hi]


@nb.njit(cache=True, fastmath={"reassoc"})
def _finite(w):
    """Whether every entry of w is finite: w_i - w_i is 0, or NaN for NaN and inf, and a NaN
    poisons the sum (reassociation lets the sum vectorise; it cannot turn a NaN finite)."""
    s = w[0] * 0
    for i in range(w.size):
        s += w[i] - w[i]
    return s == s


def _make_advance(fcode, lcode):
    """The compiled time loop of one (flux, limiter) pair: fcode and lcode are closure constants,
    so the stage inlines only their branch. Numba's on-disk cache keys a closure by its bytecode
    and the values of its closure variables, so each pair is cached apart and reused by later
    processes."""

    @nb.njit(cache=True, fastmath={"contract"})
    def advance_scheme(u, out, nsteps, rk_a, rk_b, bc, coefs, check_every, work):
        n = u.size
        cur, s0, s1 = work[0], work[1], work[2]
        copy_into(cur[GHOST:GHOST + n], u)
        _fill(cur, bc, coefs)
        fb = np.empty(BLOCK + 1, dtype=u.dtype)
        bad = -1
        for step in range(1, nsteps + 1):
            v = cur
            for k in range(rk_a.size):
                w = s0 if k % 2 == 0 else s1
                _stage(w, v, cur, rk_a[k], rk_b[k], coefs, fb, fcode, lcode)
                _fill(w, bc, coefs)
                v = w
            if rk_a.size % 2 == 1:
                cur, s0 = s0, cur
            else:
                cur, s1 = s1, cur
            if (step % check_every == 0 or step == nsteps) and not _finite(cur):
                bad = step
                break
        copy_into(out, cur[GHOST:GHOST + n])
        return bad

    return advance_scheme


_SCHEMES = {}


def scheme_kernel(fcode, lcode):
    """The compiled `advance` of one (flux, limiter) pair (built once a process; compiled on first
    use, or loaded from Numba's cache). Same arguments as `advance` less fcode and lcode."""
    key = (int(fcode), int(lcode))
    if key not in _SCHEMES:
        if key[0] not in range(N_FLUXES) or key[1] not in range(N_LIMITERS):
            raise ValueError(f"unknown (flux, limiter) codes {key}; fluxes are 0..{N_FLUXES - 1}, "
                             f"limiters 0..{N_LIMITERS - 1}")
        _SCHEMES[key] = _make_advance(*key)
    return _SCHEMES[key]


def prepare(fcode, lcode, dtype):
    """Compile the time loop of one (flux, limiter) pair for `dtype` (or load it from Numba's
    cache) by running it on 8 nodes, so that a caller can time the compile apart from the run.

    Returns
    -------
    float : seconds spent (about 0 when the pair was already compiled in this process).
    """
    t0 = time.perf_counter()
    dtype = np.dtype(dtype)
    u, out = np.zeros(8, dtype), np.empty(8, dtype)
    coefs = np.array([0.1, 0.01, 1.0, 0.5, 0.0, 0.0, 0.0, 2.0], dtype=dtype)
    scheme_kernel(fcode, lcode)(u, out, 1, np.zeros(1, dtype), np.ones(1, dtype), 0, coefs, 1,
                                np.empty((3, 12), dtype))
    return time.perf_counter() - t0


def advance(u, out, nsteps, fcode, lcode, rk_a, rk_b, bc, coefs, check_every, work):
    """Advance u by `nsteps` time steps of the scheme (fcode, lcode, rk_a, rk_b).

    Parameters
    ----------
    u : ndarray, shape (n,), float32 or float64
        Initial state (not modified unless it is `out`).
    out : ndarray, shape (n,), dtype of u
        Final state.
    nsteps : int
    fcode, lcode : int
        Flux and reconstruction codes (module docstring).
    rk_a, rk_b : ndarray, shape (s,), dtype of u
        Shu-Osher coefficients of the s-stage Runge-Kutta method.
    bc : int
        Boundary code of ``fastdds.kernels.BOUNDARY_CODES``: periodic, dirichlet or outflow.
    coefs : ndarray, shape (8,), dtype of u
        dt/dx, nu dt/dx^2, alpha, 0.5, 0, left value, right value, 2 (layout C_*).
    check_every : int
        Test the state for NaN/inf every this many steps (and after the last).
    work : ndarray, shape (3, n + 4), dtype of u
        Scratch space.

    Returns
    -------
    int : -1 when every check passed, else the step after which NaN/inf was first seen
    (`out` then holds that state).
    """
    return scheme_kernel(fcode, lcode)(u, out, nsteps, rk_a, rk_b, bc, coefs, check_every, work)
