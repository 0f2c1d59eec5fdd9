"""Banded (stencil) operator kernels (Numba).

A banded operator stores ``diags`` of shape (m, n) or (m, 1) (constant coefficients) and
integer ``offsets`` of shape (m,), so that

    (A x)_i = sum_k diags[k, i] * x[col(i + offsets[k])]

with ``col`` the boundary map (codes of ``fastdds.kernels.BOUNDARY_CODES``): periodic wraps, zero
drops the term, neumann mirrors (-1 -> 1, n -> n - 2). Inputs are C-contiguous 2-D (batch, n); offsets satisfy |o| < n.
A constant stencil of up to five points is one pass over the rows (from SWEEP_FROM bytes of
output in 32-byte vectors written as IR, `_terms`); longer or variable
stencils go in blocks of 512 rows, several diagonals per pass, so the inner loop runs over
contiguous slices, vectorises, and the output block never leaves L1 (a plain loop over rows with
a runtime-length inner loop over diagonals measured 5x slower than copy). The public `apply` and
`apply_transpose` test for NaN/inf in the same pass, on the values they write (a NaN or inf
read makes the value it enters NaN or inf) and on the input entries no row reads, and pick one
compiled form per (transpose, constant diagonals, stencil class: at most 3 points, at most 5,
longer), its row sweep a closure constant, so a first call types and compiles only its own
loops (the call of a first 3-point `Banded.apply` in a fresh process: 5.3 s with one form for
all classes, 1.6-1.8 s with a form per class). Only the loops are
inlined into their callers at Numba's IR level (copying IR is most of Numba's compile time);
the scalar helpers and the 3-point loop `_const3` are ordinary compiled calls.
"""

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .. import BOUNDARY_CODES
from .llvm_vectors import PURE_PYTHON, Vectors

BLOCK = 512
# The `acc` flags compiled callers pass to `apply_row` and `apply_transpose_row`: NumPy bools,
# which Numba types as plain bool. A Python False or True at a call site is typed
# Literal[bool] and compiles a specialisation of its own (two compiles of 4.4-5.5 s each
# instead of one, measured on a fresh cache).
OVERWRITE, ACCUMULATE = np.bool_(False), np.bool_(True)
PERIODIC, ZERO = BOUNDARY_CODES["periodic"], BOUNDARY_CODES["zero"]
SWEEP_BYTES = 32  # vectors of the constant-stencil sweeps from memory (see `_terms`)
UNROLL = 4  # vectors a step of their loop
SWEEP_FROM = 6 * 2**20  # bytes of output from which `_terms` sweeps; below, LLVM's loop (in cache)


@nb.njit(cache=True)
def _col(j, n, bc):
    """Column that index j refers to under boundary code bc; -1 when the term is dropped."""
    if 0 <= j < n:
        return j
    if bc == PERIODIC:
        return j % n
    if bc == ZERO:
        return -1
    return -j if j < 0 else 2 * (n - 1) - j


@intrinsic
def _terms(typingctx, ob, xs, cs, first):
    """ob[i] (=|+=) cs[0] xs[0][i] + cs[1] xs[1][i] + ... for i < len(ob) - len(ob) % VL, VL =
    SWEEP_BYTES / itemsize, in vectors of SWEEP_BYTES; returns True when a value written is NaN
    or inf (as the scalar loops of `_const5` test it).

    The same operations in the same order as those loops (a multiply, then adds; no fused
    multiply-add), so the vector part and a scalar remainder round alike. Written as vector IR
    because LLVM's vectoriser picks 64-byte vectors on AVX-512 CPUs, and the shifted slices of a
    stencil then split a cache line at every load: at n = 1e7 a 3- and 5-point sweep ran at
    0.57-0.87 of np.copyto with AVX-512 code against 0.92-1.05 with AVX2 code, on the same CPU
    (Zen 5, interleaved runs), and at 0.93-1.19 by this. In cache the 64-byte loop is ahead
    (n = 1e5 float64: 0.62-0.66 against 0.56), so `_const5` and `_const3` call this from
    SWEEP_FROM bytes of output, between 4 MB (n = 1e6 float32: 0.84-0.90 against 0.85-0.87)
    and 8 MB (1e6 float64: 0.57-0.68 against 0.76-0.83), where it wins. ob and the xs: 1-D,
    unit stride; cs: the xs' count of scalars."""
    if not (isinstance(xs, types.UniTuple) and isinstance(cs, types.UniTuple) and xs.count == cs.count):
        return None

    def codegen(context, builder, sig, args):
        arrays = [sig.args[0]] + [sig.args[1].dtype] * sig.args[1].count
        v = Vectors(context, builder, arrays, [args[0]] + cgutils.unpack_tuple(builder, args[1]), SWEEP_BYTES)
        coeffs = [v.broadcast(c) for c in cgutils.unpack_tuple(builder, args[2])]
        mask_ty = ir.VectorType(ir.IntType(1), v.lanes)
        bad = cgutils.alloca_once_value(builder, ir.Constant(mask_ty, [0] * v.lanes))
        length = cgutils.unpack_tuple(builder, v.arrays[0].shape, 1)[0]

        def step(offset, first):
            y = builder.fmul(coeffs[0], v.load(1, offset))
            for k in range(1, len(coeffs)):
                y = builder.fadd(y, builder.fmul(coeffs[k], v.load(1 + k, offset)))
            if not first:
                y = builder.fadd(v.load(0, offset), y)
            v.store(0, offset, y)
            builder.store(builder.or_(builder.load(bad), builder.fcmp_unordered("!=", builder.fsub(y, y), v.zero)), bad)

        vectors = builder.udiv(length, v.const(v.lanes))
        done = builder.sub(vectors, builder.urem(vectors, v.const(UNROLL)))
        with builder.if_else(args[3]) as branches:  # one loop nest for each: overwrite, accumulate
            for first, branch in zip((True, False), branches):
                with branch:
                    with cgutils.for_range(builder, builder.udiv(vectors, v.const(UNROLL))) as loop:
                        base = builder.mul(loop.index, v.const(UNROLL))
                        for u in range(UNROLL):
                            step(builder.mul(builder.add(base, v.const(u)), v.const(SWEEP_BYTES)), first)
                    with cgutils.for_range(builder, builder.sub(vectors, done)) as loop:
                        step(builder.mul(builder.add(done, loop.index), v.const(SWEEP_BYTES)), first)
        flags = builder.bitcast(builder.load(bad), ir.IntType(v.lanes))
        return builder.icmp_unsigned("!=", flags, ir.Constant(ir.IntType(v.lanes), 0))

    return types.boolean(ob, xs, cs, first), codegen


@nb.njit(cache=True)
def _vector_part(ob, x):
    """Length of the part of ob that `_terms` sweeps: its whole vectors when ob holds SWEEP_FROM
    bytes or more and both ob and x have unit stride, else 0 (LLVM's loop does it all)."""
    if PURE_PYTHON or ob.nbytes < SWEEP_FROM or ob.strides[0] != ob.itemsize or x.strides[0] != x.itemsize:
        return 0
    return ob.size - ob.size % (SWEEP_BYTES // ob.itemsize)


@nb.njit(inline="always", cache=True)
def _const5(ob, x, b0, b1, offsets, diags, sign, k0, first, check):
    """ob (=|+=) sum_{k = k0}^{k0 + 4} diags[k, 0] x[b0 + sign o_k : b1 + sign o_k] (constant stencil).

    Five terms per pass; terms past the last diagonal get weight 0 and alias the last slice, so
    a 3- or 5-point stencil is one pass that streams x once. With `check`, each value written is
    tested for NaN/inf in the same loop (an integer OR of (y - y) != 0, which vectorises with no
    fast-math flag and measured 3-5 % at n = 1e5, against 25-50 % for a
    separate summing pass).

    Returns
    -------
    bool : True when a value written is NaN or inf; False without `check`.
    """
    m = offsets.size
    zero = diags[0, 0] - diags[0, 0]
    k1, k2, k3, k4 = min(k0 + 1, m - 1), min(k0 + 2, m - 1), min(k0 + 3, m - 1), min(k0 + 4, m - 1)
    c0 = diags[k0, 0]
    c1 = diags[k1, 0] if k0 + 1 < m else zero
    c2 = diags[k2, 0] if k0 + 2 < m else zero
    c3 = diags[k3, 0] if k0 + 3 < m else zero
    c4 = diags[k4, 0] if k0 + 4 < m else zero
    o0, o1, o2 = sign * offsets[k0], sign * offsets[k1], sign * offsets[k2]
    o3, o4 = sign * offsets[k3], sign * offsets[k4]
    x0, x1, x2 = x[b0 + o0:b1 + o0], x[b0 + o1:b1 + o1], x[b0 + o2:b1 + o2]
    x3, x4 = x[b0 + o3:b1 + o3], x[b0 + o4:b1 + o4]
    whole = _vector_part(ob, x)
    bad = whole > 0 and _terms(ob[:whole], (x0, x1, x2, x3, x4), (c0, c1, c2, c3, c4), first) and check
    ob, x0, x1, x2, x3, x4 = ob[whole:], x0[whole:], x1[whole:], x2[whole:], x3[whole:], x4[whole:]
    for i in range(ob.size):  # the rest from 0: indices Numba knows are not negative vectorise
        y = c0 * x0[i] + c1 * x1[i] + c2 * x2[i] + c3 * x3[i] + c4 * x4[i]
        y = y if first else ob[i] + y
        ob[i] = y
        if check:
            bad |= (y - y) != zero
    return bad


@nb.njit(cache=True)
def _const3(ob, x, b0, b1, offsets, diags, sign, first, check):
    """As `_const5` with three terms: a stencil of at most three points pays no zero-weight
    terms. An ordinary compiled call, not IR-inlined: the 8 product forms and 4 row products
    of both dtypes compiled in 42-44 s instead of 47-52 s (one process, fresh cache), with
    3-point times unchanged within noise. `_const5` stays inlined: as a call it saved 15 s more
    but made 7- and 9-point stencils 7-16 % slower (it runs once per 512-row block there)."""
    m = offsets.size
    zero = diags[0, 0] - diags[0, 0]
    k1, k2 = min(1, m - 1), min(2, m - 1)
    c0 = diags[0, 0]
    c1 = diags[k1, 0] if m > 1 else zero
    c2 = diags[k2, 0] if m > 2 else zero
    o0, o1, o2 = sign * offsets[0], sign * offsets[k1], sign * offsets[k2]
    x0, x1, x2 = x[b0 + o0:b1 + o0], x[b0 + o1:b1 + o1], x[b0 + o2:b1 + o2]
    whole = _vector_part(ob, x)
    bad = whole > 0 and _terms(ob[:whole], (x0, x1, x2), (c0, c1, c2), first) and check
    ob, x0, x1, x2 = ob[whole:], x0[whole:], x1[whole:], x2[whole:]
    for i in range(ob.size):
        y = c0 * x0[i] + c1 * x1[i] + c2 * x2[i]
        y = y if first else ob[i] + y
        ob[i] = y
        if check:
            bad |= (y - y) != zero
    return bad


@nb.njit(inline="always", cache=True)
def _axpy2_diag(out, d0, x0, d1, x1, pair, first):
    """out (=|+=) d0 * x0 + d1 * x1 elementwise, or d0 * x0 alone when not `pair`."""
    if first:
        for i in range(out.size):
            out[i] = d0[i] * x0[i] + d1[i] * x1[i] if pair else d0[i] * x0[i]
    else:
        for i in range(out.size):
            out[i] += d0[i] * x0[i] + d1[i] * x1[i] if pair else d0[i] * x0[i]


@nb.njit(cache=True, fastmath={"reassoc"})
def _maybe_nonfinite(v):
    """False when every entry of v is finite: their sum is then finite too, unless it overflows
    (True then, a false alarm the caller's exact test clears). Reassociation lets the sum
    vectorise; it cannot make a NaN or inf sum finite. Not inlined, so the fast-math flag stays
    on this loop."""
    s = v[0] - v[0]
    for i in range(v.size):
        s += v[i]
    return s - s != s - s


@nb.njit(inline="always", cache=True)
def _sweep3(out, lo, hi, x, offsets, diags, sign, acc, const, check):
    """`_sweep` of a constant stencil of at most three points: one pass (`_const3`). Takes
    `_sweep`'s arguments (const unused), so that a product form can hold either."""
    return _const3(out[lo:hi], x, lo, hi, offsets, diags, sign, not acc, check)


@nb.njit(inline="always", cache=True)
def _sweep5(out, lo, hi, x, offsets, diags, sign, acc, const, check):
    """`_sweep` of a constant stencil of four or five points: one pass (`_const5`); arguments as
    `_sweep3`."""
    return _const5(out[lo:hi], x, lo, hi, offsets, diags, sign, 0, not acc, check)


@nb.njit(inline="always", cache=True)
def _sweep(out, lo, hi, x, offsets, diags, sign, acc, const, check):
    """Sweep over rows [lo, hi) that need no boundary map.

    sign = 1: out[i] = sum_k diags[k, i] x[i + o_k]  (A x).
    sign = -1: out[j] = sum_k diags[k, j - o_k] x[j - o_k]  (gather form of A^T x).
    acc: add to out instead of overwriting it. const: diags is (m, 1).
    A constant stencil of at most five points is one pass over all the rows (`_const3`, or
    `_const5`: a 3-point stencil measured 1.2-1.4x faster without two zero terms). Longer
    constant stencils go five diagonals per pass, variable diagonals two per pass (a lone last
    one on its own), in blocks of BLOCK rows, so that the output block stays in L1 between
    passes. Slices keep every index non-negative, so Numba emits no wraparound checks and the
    loops vectorise. With `check`, every value written is tested for NaN/inf: in the loop of a
    one-pass stencil, else the block after its last pass, while it is in L1.

    Returns
    -------
    bool : True when a value written may be NaN or inf (`_maybe_nonfinite`); False without
    `check`.
    """
    m = offsets.size
    if const and m <= 3:
        return _sweep3(out, lo, hi, x, offsets, diags, sign, acc, const, check)
    if const and m <= 5:
        return _sweep5(out, lo, hi, x, offsets, diags, sign, acc, const, check)
    bad = False
    for b0 in range(lo, hi, BLOCK):
        b1 = min(b0 + BLOCK, hi)
        ob = out[b0:b1]
        if const:
            for k0 in range(0, m, 5):
                _const5(ob, x, b0, b1, offsets, diags, sign, k0, k0 == 0 and not acc, False)
        else:
            for k in range(0, m, 2):
                k1 = min(k + 1, m - 1)
                o0, o1 = sign * offsets[k], sign * offsets[k1]
                e0 = b0 if sign == 1 else b0 + o0
                e1 = b0 if sign == 1 else b0 + o1
                _axpy2_diag(ob, diags[k, e0:e0 + b1 - b0], x[b0 + o0:b1 + o0], diags[k1, e1:e1 + b1 - b0],
                            x[b0 + o1:b1 + o1], k1 > k, k == 0 and not acc)
        if check:
            bad |= _maybe_nonfinite(ob)
    return bad


@nb.njit(cache=True)
def _unread_nonfinite(x, lo, hi, omin, omax):
    """Test the entries of x that no row of the sweep over [lo, hi) reads (`_maybe_nonfinite`).

    Row i reads x[i + o] for o in [omin, omax] (a sign-adjusted offset range), and any NaN or
    inf it reads makes its value NaN or inf (IEEE: 0 * inf is NaN, a sum holding inf is not
    finite), so testing the rows' values tests every entry they read. When the sweep is at
    least as long as the stencil's span, the rows read x[lo + omin : hi + omax] and this tests
    what lies outside; else (n below about twice the span) it tests all of x.
    """
    n = x.size
    a, b = max(0, lo + omin), min(n, hi + omax)
    if hi - lo < omax - omin or a >= b:
        a, b = 0, 0
    bad = a > 0 and _maybe_nonfinite(x[:a])
    return bad or (b < n and _maybe_nonfinite(x[b:]))


@nb.njit(cache=True)
def _offset_range(offsets):
    """(min, max) of the offsets (a plain loop: NumPy's reductions cost more to compile than to run)."""
    lo, hi = offsets[0], offsets[0]
    for k in range(1, offsets.size):
        lo, hi = min(lo, offsets[k]), max(hi, offsets[k])
    return lo, hi


@nb.njit(cache=True)
def _interior(n, offsets):
    """Rows [lo, hi) whose every term i + o_k lies inside [0, n)."""
    omin, omax = _offset_range(offsets)
    lo = min(n, max(0, -omin))
    hi = max(lo, min(n, n - omax))
    return lo, hi


@nb.njit(cache=True)
def _edge_row(i, n, x, offsets, diags, bc):
    cs = 0 if diags.shape[1] == 1 else i
    acc = 0.0 * x[0]
    for k in range(offsets.size):
        j = _col(i + offsets[k], n, bc)
        if j >= 0:
            acc += diags[k, cs] * x[j]
    return acc


@nb.njit(cache=True)
def _transpose_edge(j, n, y, offsets, diags):
    """(A^T y)_j from the rows i = j - o_k that reach column j without the boundary map."""
    const = diags.shape[1] == 1
    acc = 0.0 * y[0]
    for k in range(offsets.size):
        i = j - offsets[k]
        if 0 <= i < n:
            acc += diags[k, 0 if const else i] * y[i]
    return acc


@nb.njit(cache=True)
def _scatter_mapped(i, n, y, offsets, diags, bc, out):
    """Add row i's terms that reach their column through the boundary map to A^T y."""
    const = diags.shape[1] == 1
    for k in range(offsets.size):
        jj = i + offsets[k]
        if jj < 0 or jj >= n:
            j = _col(jj, n, bc)
            if j >= 0:
                out[j] += diags[k, 0 if const else i] * y[i]


@nb.njit(inline="always", cache=True)
def _apply_row(x, offsets, diags, bc, out, acc, const, check, sweep):
    """out = A x (acc False) or out += A x (acc True) for one state x of shape (n,); with
    `check`, returns True when x may hold NaN or inf (`_sweep`, `_unread_nonfinite`)."""
    n = x.size
    lo, hi = _interior(n, offsets)
    bad = sweep(out, lo, hi, x, offsets, diags, 1, acc, const, check)
    for e in range(lo + n - hi):
        i = e if e < lo else hi + e - lo
        v = _edge_row(i, n, x, offsets, diags, bc)
        out[i] = out[i] + v if acc else v
    if check:
        omin, omax = _offset_range(offsets)
        bad |= _unread_nonfinite(x, lo, hi, omin, omax)
    return bad


@nb.njit(inline="always", cache=True)
def _apply_transpose_row(y, offsets, diags, bc, out, acc, const, check, sweep):
    """out = A^T y (acc False) or out += A^T y (acc True) for one y of shape (n,); with
    `check`, returns True when y may hold NaN or inf (`_sweep`, `_unread_nonfinite`)."""
    n = y.size
    lo, hi = _interior(n, offsets)
    omin, omax = _offset_range(offsets)
    tlo = min(n, max(0, omax))
    thi = max(tlo, min(n, n + omin))
    bad = sweep(out, tlo, thi, y, offsets, diags, -1, acc, const, check)
    for e in range(tlo + n - thi):
        j = e if e < tlo else thi + e - tlo
        v = _transpose_edge(j, n, y, offsets, diags)
        out[j] = out[j] + v if acc else v
    for e in range(lo + n - hi):
        i = e if e < lo else hi + e - lo
        _scatter_mapped(i, n, y, offsets, diags, bc, out)
    if check:
        bad |= _unread_nonfinite(y, tlo, thi, -omax, -omin)
    return bad


@nb.njit(cache=True)
def apply_row(x, offsets, diags, bc, out, acc):
    """out = A x (acc False) or out += A x (acc True) for one state x of shape (n,); compiled
    callers pass acc as `OVERWRITE` or `ACCUMULATE`.

    An ordinary compiled call, not inlined into its callers (the fused layer kernels call it
    once per row): inlining its loops took 5-6 s of each caller's 8 s compile."""
    _apply_row(x, offsets, diags, bc, out, acc, diags.shape[1] == 1, False, _sweep)


@nb.njit(cache=True)
def apply_transpose_row(y, offsets, diags, bc, out, acc):
    """out = A^T y (acc False) or out += A^T y (acc True) for one y of shape (n,); compiled
    apart, as `apply_row`."""
    _apply_transpose_row(y, offsets, diags, bc, out, acc, diags.shape[1] == 1, False, _sweep)


def _make_product(transpose, const, sweep):
    """The compiled batch product of one form: A x or A^T y, constant or variable diagonals, and
    the sweep of the interior rows (`_sweep3`, `_sweep5` or the general `_sweep`), with the
    NaN/inf test fused into it (`_unread_nonfinite` for the entries no row reads). The form is
    closure constants, so a first call types and compiles only its own loops (each form is
    cached on disk apart)."""

    @nb.njit(cache=True)
    def product(x, offsets, diags, bc, out):
        bad = False
        for b in range(x.shape[0]):
            if transpose:
                bad |= _apply_transpose_row(x[b], offsets, diags, bc, out[b], False, const, True, sweep)
            else:
                bad |= _apply_row(x[b], offsets, diags, bc, out[b], False, const, True, sweep)
        return not bad

    return product


_FORMS = ((False, 0, _sweep), (True, 3, _sweep3), (True, 5, _sweep5), (True, 0, _sweep))  # (const, class, sweep)
_PRODUCTS = {(transpose, const, points): _make_product(transpose, const, sweep) for transpose in (False, True)
             for const, points, sweep in _FORMS}


def _form(diags):
    """The key of a product form past the transpose: constant diagonals and the stencil class."""
    if diags.shape[1] != 1:
        return False, 0
    m = diags.shape[0]
    return True, 3 if m <= 3 else (5 if m <= 5 else 0)


def apply(x, offsets, diags, bc, out):
    """out = A x for each row of x.

    Parameters
    ----------
    x : ndarray, shape (batch, n), float32 or float64, C-contiguous
    offsets : ndarray of int64, shape (m,)
    diags : ndarray, shape (m, n) or (m, 1), dtype of x
    bc : int
        Boundary code of ``fastdds.kernels.BOUNDARY_CODES``: periodic, zero or neumann.
    out : ndarray, shape (batch, n), dtype of x; overwritten (must not overlap x)

    Returns
    -------
    bool : True when every entry of x is finite, tested in the same pass on the values written
    and the entries no row reads. False when one is NaN or inf, or (a false alarm) when a value
    written overflows to inf or a tested block's sum overflows: the caller then tests x
    exactly. out is written either way.
    """
    return product(False, diags)(x, offsets, diags, bc, out)


def apply_transpose(y, offsets, diags, bc, out):
    """out = A^T y for each row of y; same arguments and return value as `apply`."""
    return product(True, diags)(y, offsets, diags, bc, out)


def product(transpose, diags):
    """The compiled product of the form of `diags` (shape (m, n) or (m, 1)): a function of
    (x, offsets, diags, bc, out) that does what `apply_transpose` (transpose True) or `apply`
    does, for callers that look it up once and call it many times."""
    return _PRODUCTS[(transpose,) + _form(diags)]


@nb.njit(cache=True)
def diag_grad(x, dy, offsets, bc, out):
    """Accumulate the gradient of sum(dy * (A x)) with respect to the diagonals into out.

    Parameters
    ----------
    x, dy : ndarray, shape (batch, n)
    offsets : ndarray of int64, shape (m,)
    bc : int
    out : ndarray, shape (m, n) or (m, 1); accumulated into (summed over rows when (m, 1))
    """
    batch, n = x.shape
    const = out.shape[1] == 1
    for b in range(batch):
        xb, gb = x[b], dy[b]
        for k in range(offsets.size):
            o = offsets[k]
            for i in range(n):
                j = _col(i + o, n, bc)
                if j >= 0:
                    out[k, 0 if const else i] += gb[i] * xb[j]
