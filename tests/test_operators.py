"""Operators: kernels against dense matrices, transposes, moments, Fornberg weights, spectra, bad input."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fastdds import Banded, Dense, Identity
from fastdds.fornberg import fornberg_weights, stencil_offsets

BOUNDARIES = ["periodic", "zero", "neumann"]
DTYPES = [np.float64, np.float32]
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def dense_reference(offsets, diags, boundary, n):
    """The matrix of a banded operator built entry by entry from its definition."""
    a = np.zeros((n, n))
    for k, o in enumerate(offsets):
        for i in range(n):
            j = i + o
            if not 0 <= j < n:
                if boundary == "zero":
                    continue
                j = j % n if boundary == "periodic" else (-j if j < 0 else 2 * (n - 1) - j)
            a[i, j] += diags[k, 0 if diags.shape[1] == 1 else i]
    return a


def operators(rng, n, dtype):
    """One operator of every kind and boundary, square n x n, plus a rectangular Dense."""
    ops = [Identity(n, 0.7, dtype), Dense(rng.standard_normal((n, n)), dtype),
           Dense(rng.standard_normal((n + 3, n)), dtype)]
    for bc in BOUNDARIES:
        ops.append(Banded.stencil([1.0, -2.0, 1.0], n, 0.1, bc, power=2, dtype=dtype))
        ops.append(Banded([-2, 0, 1], rng.standard_normal((3, n)), bc, dtype=dtype))
    return ops


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [3, 8, 1031])
def test_transpose_consistency(rng, n, dtype):
    for op in operators(rng, n, dtype):
        x = rng.standard_normal((4, op.shape[1])).astype(dtype)
        y = rng.standard_normal((4, op.shape[0])).astype(dtype)
        lhs = np.sum(op.apply(x).astype(np.float64) * y)
        rhs = np.sum(x.astype(np.float64) * op.apply_transpose(y))
        scale = np.abs(op.apply(x)).sum() * np.abs(y).max() + 1.0
        assert abs(lhs - rhs) <= TOL[dtype] * scale, op


@pytest.mark.parametrize("boundary", BOUNDARIES)
@pytest.mark.parametrize("const", [True, False])
def test_banded_kernel_matches_definition(xp, rng, boundary, const):
    # every compiled form: constant stencils of <= 3, <= 5 and more points, variable diagonals
    for n, offsets in [(1, [0]), (2, [-1, 0, 1]), (5, [-2, -1, 0, 1, 2]), (600, [-3, 0, 2]), (9, [4, -8]),
                       (50, [-1, 0, 1, 2]), (7, [-3, -2, -1, 0, 1, 2, 3]), (600, [-4, -2, -1, 0, 1, 3, 4, 5])]:
        diags = rng.standard_normal((len(offsets), 1 if const else n))
        a = dense_reference(offsets, diags, boundary, n)
        op = Banded(offsets, xp.asarray(diags[:, 0] if const else diags), boundary, n=n)
        x = rng.standard_normal((3, n))
        y = op.apply(xp.asarray(x))
        np.testing.assert_allclose(xp.asnumpy(y) if xp is not np else y, x @ a.T, rtol=1e-12, atol=1e-12)
        yt = op.apply_transpose(xp.asarray(x))
        np.testing.assert_allclose(xp.asnumpy(yt) if xp is not np else yt, x @ a, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(op.to_sparse().toarray(), a, rtol=0, atol=0)


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_diagonal_gradient_matches_dense(rng, boundary):
    n, offsets = 11, [-1, 0, 2]
    for const in (True, False):
        diags = rng.standard_normal((3, 1 if const else n))
        op = Banded(offsets, diags[:, 0] if const else diags, boundary, n=n)
        x, dy = rng.standard_normal((5, n)), rng.standard_normal((5, n))
        (g,) = op.grad(x, dy)
        expected = np.zeros_like(diags)
        for k in range(3):
            e = np.zeros_like(diags)
            e[k] = 1.0
            expected[k] = np.sum(dy * (x @ dense_reference(offsets, e, boundary, n).T)) if const else [
                np.sum(dy[:, i] * (x @ dense_reference(offsets, e, boundary, n)[i])) for i in range(n)]
        np.testing.assert_allclose(g, expected, rtol=1e-12, atol=1e-12)


def test_laplacian_moments():
    h = 0.01
    op = Banded.stencil([1.0, -2.0, 1.0], 50, h, "zero", power=2)
    m = op.moments(h, kmax=3)
    np.testing.assert_allclose(m[:, 1:-1], np.array([[0.0], [0.0], [2.0], [0.0]]) * np.ones((1, 48)), atol=1e-9)
    assert m[0, 0] == pytest.approx(-1.0 / h**2)  # the dirichlet edge row lost a neighbour: decay rate


def test_periodic_moments_use_stencil_offsets():
    op = Banded.derivative(1, 2, 20, h=0.5, boundary="periodic")
    np.testing.assert_allclose(op.moments(0.5, kmax=2), [[0.0] * 20, [1.0] * 20, [0.0] * 20], atol=1e-12)


def test_dense_moments_match_banded():
    op = Banded.derivative(2, 4, 30, h=0.2)
    np.testing.assert_allclose(Dense.from_operator(op).moments(0.2, 4), op.moments(0.2, 4), atol=1e-9)


@pytest.mark.parametrize("order,accuracy,kind", [(1, 2, "central"), (1, 4, "central"), (2, 2, "central"),
                                                 (2, 6, "central"), (3, 2, "central"), (1, 1, "forward"),
                                                 (1, 3, "backward"), (2, 2, "forward"), (4, 2, "central")])
def test_fornberg_reproduces_polynomials(order, accuracy, kind):
    offs = stencil_offsets(order, accuracy, kind)
    w = fornberg_weights(offs, order)
    h, x0 = 0.37, 1.3
    for q in range(offs.size):  # exact up to degree p - 1
        vals = (x0 + offs * h) ** q
        exact = np.prod(np.arange(q, q - order, -1)) * x0 ** (q - order) if q >= order else 0.0
        assert np.dot(w, vals) / h**order == pytest.approx(exact, rel=1e-9, abs=1e-7)


@pytest.mark.parametrize("order,accuracy", [(1, 2), (1, 4), (2, 2), (2, 4)])
def test_derivative_convergence_order(order, accuracy):
    errs, hs = [], []
    for n in (32, 64, 128):
        h = 2 * np.pi / n
        x = np.arange(n) * h
        op = Banded.derivative(order, accuracy, n, h, boundary="periodic")
        exact = np.sin(x + order * np.pi / 2)
        errs.append(np.abs(op.apply(np.sin(x)) - exact).max())
        hs.append(h)
    observed = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert observed == pytest.approx(accuracy, abs=0.15)


def test_circulant_spectrum_matches_dense():
    op = Banded.stencil([1.0, -2.0, 1.0], 64, boundary="periodic")
    fft = np.sort_complex(np.round(op.spectrum(), 12))
    dense = np.sort_complex(np.round(np.linalg.eigvals(op.to_dense()), 12))
    np.testing.assert_allclose(fft, dense, atol=1e-10)
    assert np.abs(fft).max() == pytest.approx(4.0)


def test_singular_values_of_rectangular(rng):
    m = rng.standard_normal((7, 4))
    np.testing.assert_allclose(Dense(m).spectrum(), np.linalg.svd(m, compute_uv=False))
    with pytest.raises(ValueError, match="square"):
        Dense(m).spectrum("eig")


def test_conversions_roundtrip(rng):
    op = Banded([-1, 0, 3], rng.standard_normal((3, 12)), "periodic")
    back = Banded.from_sparse(op.to_sparse())
    np.testing.assert_array_equal(back.to_dense(), op.to_dense())
    np.testing.assert_array_equal(Banded.from_dense(op.to_dense()).to_dense(), op.to_dense())
    np.testing.assert_array_equal(Dense.from_sparse(sp.csr_matrix(op.to_dense())).matrix, op.to_dense())
    x = rng.standard_normal(12)
    np.testing.assert_allclose(back.apply(x), op.apply(x), rtol=1e-13)


def test_counts():
    op = Banded.stencil([1.0, -2.0, 1.0], 100)
    assert (op.nparams, op.flops(2)) == (3, 1200)
    assert Dense(np.ones((3, 5))).flops(4) == 120 and Dense(np.ones((3, 5))).nparams == 15
    assert Identity(4).nparams == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_is_kept(rng, dtype):
    for op in operators(rng, 6, dtype):
        x = rng.standard_normal((2, op.shape[1])).astype(dtype)
        assert op.apply(x).dtype == dtype and op.apply_transpose(op.apply(x)).dtype == dtype
        assert op.astype(np.float64).dtype == np.float64


def test_bad_input_is_named(rng):
    op = Banded.stencil([1.0, -2.0, 1.0], 8)
    with pytest.raises(ValueError, match=r"shape \(7,\)"):
        op.apply(np.ones(7))
    with pytest.raises(ValueError, match="NaN"):
        op.apply(np.full(8, np.nan))
    with pytest.raises(ValueError, match="float32 but the operator is float64"):
        op.apply(np.ones(8, np.float32))
    with pytest.raises(ValueError, match="unknown boundary"):
        Banded.stencil([1.0], 8, boundary="wrap")
    with pytest.raises(ValueError, match="empty operator"):
        Banded.stencil([1.0], 0)
    with pytest.raises(ValueError, match="empty operator"):
        Identity(0)
    with pytest.raises(ValueError, match="non-empty 2-D"):
        Dense(np.ones((0, 3)))
    with pytest.raises(ValueError, match="does not fit"):
        Banded([-9, 0], np.ones(2), n=8)
    with pytest.raises(ValueError, match="distinct"):
        Banded([1, 1], np.ones(2), n=8)
    with pytest.raises(ValueError, match="NaN"):
        Dense(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="float16"):
        Dense(np.ones((2, 2)), dtype=np.float16)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), width=st.integers(1, 5), batch=st.integers(1, 3),
       boundary=st.sampled_from(BOUNDARIES), const=st.booleans(), seed=st.integers(0, 2**31))
def test_random_stencils_match_dense(n, width, batch, boundary, const, seed):
    rng = np.random.default_rng(seed)
    offsets = sorted(rng.choice(np.arange(-(n - 1), n), size=min(width, 2 * n - 1), replace=False).tolist())
    diags = rng.standard_normal((len(offsets), 1 if const else n))
    op = Banded(offsets, diags[:, 0] if const else diags, boundary, n=n)
    a = dense_reference(offsets, diags, boundary, n)
    x = rng.standard_normal((batch, n))
    np.testing.assert_allclose(op.apply(x), x @ a.T, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(op.apply_transpose(x), x @ a, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_is_written_and_returned(rng, dtype):
    for op in operators(rng, 9, dtype):
        for shape in [(op.shape[1],), (3, op.shape[1])]:
            x = rng.standard_normal(shape).astype(dtype)
            out = np.full(shape[:-1] + (op.shape[0],), np.nan, dtype)
            assert op.apply(x, out=out) is out
            np.testing.assert_array_equal(out, op.apply(x))
            y = rng.standard_normal(shape[:-1] + (op.shape[0],)).astype(dtype)
            out_t = np.full(shape, np.nan, dtype)
            assert op.apply_transpose(y, out=out_t) is out_t
            np.testing.assert_array_equal(out_t, op.apply_transpose(y))
            np.testing.assert_allclose(out_t, y @ op.to_dense(), rtol=TOL[dtype], atol=TOL[dtype] * 10)


@pytest.mark.parametrize("copy_of", ["deepcopy", "pickle"])
def test_copies_of_a_used_operator_are_independent(rng, copy_of):
    """A Banded keeps its compiled products by device; a copy of one in use leaves them behind
    and finds them again, and it owns its diagonals."""
    import copy
    import pickle

    for op in (Banded.stencil([-1 / 12, 4 / 3, -5 / 2, 4 / 3, -1 / 12], 40, boundary="periodic"),
               Banded([-1, 0, 2], rng.standard_normal((3, 40)), "neumann")):
        x, y = rng.standard_normal(40), rng.standard_normal(40)
        before = op.apply(x), op.apply_transpose(y)
        twin = copy.deepcopy(op) if copy_of == "deepcopy" else pickle.loads(pickle.dumps(op))
        assert twin._products == {}
        np.testing.assert_array_equal(twin.apply(x), before[0])
        np.testing.assert_array_equal(twin.apply_transpose(y), before[1])
        twin.diagonals *= 2.0
        np.testing.assert_array_equal(twin.apply(x), 2.0 * before[0])
        np.testing.assert_array_equal(op.apply(x), before[0])


def test_out_may_alias_the_input_of_elementwise_and_dense_products(rng):
    for op in (Identity(6, -1.5), Dense(rng.standard_normal((6, 6)))):
        x = rng.standard_normal((2, 6))
        expected = x @ op.to_dense().T
        assert op.apply(x, out=x) is x
        np.testing.assert_allclose(x, expected, rtol=1e-14, atol=1e-14)


def test_bad_out_is_refused(rng):
    op = Banded.stencil([1.0, -2.0, 1.0], 8)
    x = rng.standard_normal(8)
    with pytest.raises(ValueError, match=r"out has shape \(2, 8\); the result has shape \(8,\)"):
        op.apply(x, out=np.empty((2, 8)))
    with pytest.raises(ValueError, match=r"out has shape \(5,\); the result has shape \(5, 4\)"):
        Dense(np.ones((4, 3))).apply(np.ones((5, 3)), out=np.empty(5))
    with pytest.raises(ValueError, match="out is float32 but the result is float64"):
        op.apply(x, out=np.empty(8, np.float32))
    with pytest.raises(ValueError, match="out is float64 but the result is float32"):
        Identity(8, dtype=np.float32).apply_transpose(x.astype(np.float32), out=np.empty(8))
    with pytest.raises(ValueError, match="not C-contiguous"):
        op.apply(x, out=np.empty(16)[::2])
    with pytest.raises(ValueError, match="must be a NumPy array"):
        op.apply(x, out=[0.0] * 8)
    buf = rng.standard_normal(9)
    for a, b in [(buf[:8], buf[:8]), (buf[:8], buf[1:])]:
        with pytest.raises(ValueError, match="overlaps the input"):
            op.apply(a, out=b)
        with pytest.raises(ValueError, match="overlaps the input"):
            op.apply_transpose(a, out=b)


def test_strided_states_and_array_subclass_outputs_give_the_contiguous_result(rng):
    """The validation's fast paths (exact type tests) must not change what is accepted: a strided
    1-D or 2-D state is copied to a contiguous one, and an out of an ndarray subclass is checked
    and written like an ndarray."""
    op = Banded.stencil([1.0, -2.0, 1.0], 8, boundary="periodic")
    Sub = type("Sub", (np.ndarray,), {})
    buf = rng.standard_normal((3, 16))
    for x in (buf[0, ::2], buf[:, ::2]):
        expected = np.ascontiguousarray(x) @ op.to_dense().T
        np.testing.assert_allclose(op.apply(x), expected, rtol=1e-14, atol=1e-14)
        out = np.empty(expected.shape).view(Sub)
        assert op.apply(x, out=out) is out
        np.testing.assert_array_equal(np.asarray(out), op.apply(x))
    with pytest.raises(ValueError, match="overlaps the input"):
        sub = buf[0, :8].copy().view(Sub)
        op.apply(sub, out=sub)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("const", [True, False])
@pytest.mark.parametrize("offsets", [[-2, 0, 1], [1, 2], [-3, -1], [-2, -1, 0, 1, 2], [-3, -2, -1, 0, 1, 2, 3]],
                         ids=["3pt", "right", "left", "5pt", "7pt"])
@pytest.mark.parametrize("n", [1200, 37, 9, 4])
def test_fused_finite_check_names_every_index(rng, dtype, const, offsets, n):
    """NaN or inf anywhere (interior blocks, block borders, edge rows, entries no row reads,
    any row of a batch; stencils of one pass and of several, and n below the stencil's span) is
    found by the kernel's own pass and named, in the vector part of a sweep and in its scalar
    remainder (every index at n = 37); finite input takes the fast path."""
    from fastdds.kernels.cpu import banded as kernels

    m = len(offsets)
    where = (0, 1, 2, 511, 512, 1023, 1024, n - 2, n - 1) if n > 1024 else range(n)
    for boundary in BOUNDARIES:
        diags = rng.standard_normal((m, 1 if const else n))
        op = Banded(offsets, diags[:, 0] if const else diags, boundary, n=n, dtype=dtype)
        x = rng.standard_normal((2, n)).astype(dtype)
        out = np.empty_like(x)
        for fn in (kernels.apply, kernels.apply_transpose):
            assert fn(x, op.offsets, op.diagonals, op.code, out) is True
        for i in where:
            for bad in (np.nan, np.inf, -np.inf):
                xb = x.copy()
                xb[1, i] = bad
                for fn in (kernels.apply, kernels.apply_transpose):
                    assert fn(xb, op.offsets, op.diagonals, op.code, out) is False, (boundary, i, bad)
                with pytest.raises(ValueError, match=rf"x contains NaN or inf \(first at index \(1, {i}\)\)"):
                    op.apply(xb)
                with pytest.raises(ValueError, match=rf"y contains NaN or inf \(first at index {i}\)"):
                    op.apply_transpose(xb[1], out=np.empty(n, dtype))


def _stencil_sizes(regime, dtype, width):
    """Sizes n of a constant stencil's state: in cache (LLVM's loop), every remainder length; from
    memory (`banded._terms` from SWEEP_FROM bytes of output, then a scalar remainder), lengths
    around its unrolled steps of UNROLL vectors."""
    from fastdds.kernels.cpu import banded as kernels

    if regime == "in-cache":
        return range(3 * width, 3 * width + 20)
    base = kernels.SWEEP_FROM // np.dtype(dtype).itemsize + width
    return [base + r for r in (0, 1, 7, 9, 31, 33)]


@pytest.mark.parametrize("regime", ["in-cache", "from-memory"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [3, 5, 7])
def test_constant_stencil_sweep_rounds_as_the_scalar_loop(rng, regime, dtype, width):
    """The interior rows of a constant stencil (a 7-point stencil adds a second pass of 2 terms
    and 3 zero-weight ones) equal, bit for bit, the same multiplies and adds done left to right
    by NumPy, in cache and from memory, at every remainder length."""
    half = width // 2
    for n in _stencil_sizes(regime, dtype, width):
        op = Banded.stencil(rng.standard_normal(width), n, boundary="periodic", dtype=dtype)
        x = rng.standard_normal(n).astype(dtype)
        c = op.diagonals[:, 0]

        def xs(k):  # the slice of x that term k multiplies, over the interior rows
            return x[half + op.offsets[k]:n - half + op.offsets[k]]

        y = c[0] * xs(0)
        for k in range(1, min(width, 5)):
            y = y + c[k] * xs(k)
        if width > 5:
            zero = c.dtype.type(0.0)
            y = y + (c[5] * xs(5) + c[6] * xs(6) + zero * xs(6) + zero * xs(6) + zero * xs(6))
        np.testing.assert_array_equal(op.apply(x)[half:n - half], y, err_msg=f"n = {n}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [3, 5])
def test_sweeps_from_memory_accumulate_and_find_nan(rng, dtype, width):
    """The sweeps from memory (`banded._terms`): out += A x (a fused layer's accumulating row
    product) adds the same values bit for bit, a strided state gives the same product, and a
    NaN in the unrolled steps, the left-over vectors or the scalar remainder is found by the
    kernel's pass."""
    from fastdds.kernels.cpu import banded as kernels

    half = width // 2
    for n in _stencil_sizes("from-memory", dtype, width)[:3]:
        op = Banded.stencil(rng.standard_normal(width), n, boundary="periodic", dtype=dtype)
        x = rng.standard_normal(n).astype(dtype)
        y = op.apply(x)
        out = rng.standard_normal(n).astype(dtype)
        expected = out + y
        kernels.apply_row(x, op.offsets, op.diagonals, op.code, out, kernels.ACCUMULATE)
        np.testing.assert_array_equal(out[half:n - half], expected[half:n - half])
        strided = np.empty(2 * n, dtype)[::2]  # a state with stride 2 takes LLVM's loop
        strided[:] = x
        kernels.apply_row(strided, op.offsets, op.diagonals, op.code, out, kernels.OVERWRITE)
        np.testing.assert_array_equal(out, y)
        for i in (half + 3, n // 2) + tuple(n - half - 1 - k for k in (0, 1, 5, 9, 17, 33)):
            xb = x.copy()
            xb[i] = np.nan
            assert kernels.apply(xb[None], op.offsets, op.diagonals, op.code, np.empty((1, n), dtype)) is False, (n, i)


def test_finite_check_false_alarm_still_returns_the_product():
    """A value that overflows to inf (one-pass stencil) or a block whose sum overflows
    (7-point variable stencil) alarms the fused test; the exact test of the input clears it and
    the product is returned."""
    from fastdds.kernels.cpu import banded as kernels

    x = np.full(600, 1e308)
    one_pass = Banded.stencil([1.0, 0.0, 1.0], 600, boundary="periodic")
    assert kernels.apply(x.reshape(1, -1), one_pass.offsets, one_pass.diagonals, 0, np.empty((1, 600))) is False
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(one_pass.apply(x), np.full(600, np.inf))
    blocked = Banded(np.arange(-3, 4), np.full((7, 600), 1 / 7), "periodic")
    assert kernels.apply(x.reshape(1, -1), blocked.offsets, blocked.diagonals, 0, np.empty((1, 600))) is False
    np.testing.assert_allclose(blocked.apply(x), x, rtol=1e-15)


def test_nan_is_named_by_identity_and_dense():
    x = np.ones((2, 4))
    x[1, 3] = np.nan
    for op in (Identity(4), Dense(np.eye(4))):
        with pytest.raises(ValueError, match=r"x contains NaN or inf \(first at index \(1, 3\)\)"):
            op.apply(x, out=np.empty((2, 4)))
        with pytest.raises(ValueError, match=r"y contains NaN or inf \(first at index 3\)"):
            op.apply_transpose(x[1])
