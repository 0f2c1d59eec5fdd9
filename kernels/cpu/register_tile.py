"""Matrix products by register tiles, for the narrow products of a network's layers: C = alpha
op(A) B (`product`) and C = alpha A B^T + beta C (`dot_product`) (Numba, with LLVM intrinsics).

A layer's products are (fan_out, fan_in) @ (fan_in, S P): a small matrix times one whose S P
columns (streams times points) run to thousands. OpenBLAS packs both operands into panels first,
and at fan_in = 20 packing took as long as the arithmetic (perf on AVX2 code, OPENBLAS_CORETYPE=
Haswell: 21 % of a PINN step in sgemm_kernel, 21 % in its copy routines). Here B is read in place:
a tile of C, MR = 5 rows by two vector registers of columns (TILE_BYTES: 64 bytes with AVX2, 128
with AVX-512), is summed in registers over k, two vector loads of B's row k and MR broadcasts of
op(A)[j, k] a step, then stored once: 10 accumulators, enough independent chains to keep both
FMA pipes busy (5 zmm with 64-byte tiles left AVX-512 code at 0.65x OpenBLAS's SkylakeX kernel).
LLVM's vectoriser builds no such tile from a loop (a j-by-4 loop nest written in Numba stayed
scalar: 6 GFLOP/s), so `_tile` writes the vector code itself; `llvm.fmuladd` fuses where the CPU
has FMA. Each step also prefetches row k's piece of the next tile: a tile column reads B's k rows
as k separate streams, more than the hardware prefetchers follow ((100, 100) @ (100, 2000) with
B out of cache, two interleaved pairs: 92 -> 96 GFLOP/s with AVX2 code, 157 -> 184 with
AVX-512; no change measured in the AVX2 PINN step). The weight gradient g a^T sums over the
long axis instead: `_dot_tile` keeps DOT_ROWS x DOT_COLS vector partial sums along it (3 x 4 ymm,
4 x 4 zmm), covers a length that is no multiple of the vector by reading the last vector again
with the lanes already summed masked to zero, and adds each sum's lanes pairwise at the end (a
serial chain of 15 adds had cost 20 % at 16 lanes).
Columns of tiles take DOT_COLS rows of B at a time and run down all of A's rows, so those B rows
stay in L1 while A streams from L2.

Measured by bench/test_bench_register_tile.py (one thread, one run each) on an AMD EPYC (family
26 model 2, Zen 5), GFLOP/s of the tiles / of OpenBLAS (Numba's np.dot), float32 then float64:

=========================  ===========================  ===========================
product, shape              AVX2 code, Haswell kernel    AVX-512 code, SkylakeX kernel
=========================  ===========================  ===========================
op(A) B, 20 20 2000         120 / 65, 61 / 41            223 / 238, 117 / 122
op(A) B, 100 100 2000       126 / 112, 63 / 60           209 / 192, 110 / 97
A B^T, 20 1500 20           116 / 55, 60 / 36            191 / 194, 104 / 97
A B^T, 100 1500 100         127 / 107, 68 / 59           196 / 181, 103 / 81
=========================  ===========================  ===========================

AVX2 code is NUMBA_CPU_NAME=znver3 NUMBA_CPU_FEATURES= with OPENBLAS_CORETYPE=Haswell (what
OpenBLAS picks on Zen 3); the AVX-512 column is OpenBLAS's own choice on this CPU. Products wider
than NARROW = 128 (``blas.gemm``) stay on OpenBLAS, whose cache blocking the tiles do not have.
A left-over row runs MR times fewer chains (with the 64-byte tiles 25-42 GFLOP/s, against 4-7 for
OpenBLAS's gemm on a one-row product). Rows of B a multiple of 4096 bytes apart map to one L1 set
and evict each other ((100, 100) @ (100, 2048) float32: 50-53 GFLOP/s); ``fastdds.nn.mlp`` sizes
its chunks so that its rows never are.
"""

import numba as nb
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .llvm_vectors import VECTOR_BYTES, Vectors


TILE_BYTES = 2 * VECTOR_BYTES  # columns of a tile: two vector registers (10 accumulators with MR rows)
MR = 5  # rows of a tile: 20 and 100 are multiples; 5 beat 4 and 6 by 5-40 % (AVX2), tie 6 (AVX-512)


@intrinsic
def _tile(typingctx, rows, A, B, C, j0, i0, alpha):
    """C[j0:j0 + rows, i0:i0 + VL] = alpha A[j0:j0 + rows, :] @ B[:, i0:i0 + VL], VL =
    TILE_BYTES / itemsize; `rows` a literal, A of any strides, B and C with unit-stride rows."""
    if not isinstance(rows, types.IntegerLiteral):
        return None
    n_rows = rows.literal_value

    def codegen(context, builder, sig, args):
        v = Vectors(context, builder, sig.args, args, TILE_BYTES)
        j0, i0, alpha = args[4:]
        (a_rs, a_ks), (b_rs, _), (c_rs, _) = v.strides
        column = builder.mul(i0, v.const(v.item))
        acc = v.accumulators(n_rows)
        with cgutils.for_range(builder, v.columns(0)) as loop:
            k = loop.index
            row = builder.add(builder.mul(k, b_rs), column)
            bk = v.load(1, row)
            for line in range(TILE_BYTES // 64):  # the next tile's piece of row k
                v.prefetch(1, builder.add(row, v.const(TILE_BYTES + 64 * line)))
            for r in range(n_rows):
                offset = builder.add(builder.mul(builder.add(j0, v.const(r)), a_rs), builder.mul(k, a_ks))
                v.add_product(acc[r], v.broadcast(builder.load(v.pointer(0, offset, v.fty))), bk)
        scale = v.broadcast(alpha)
        for r in range(n_rows):
            offset = builder.add(builder.mul(builder.add(j0, v.const(r)), c_rs), column)
            builder.store(builder.fmul(scale, builder.load(acc[r])), v.pointer(2, offset, v.vty), align=v.item)
        return context.get_dummy_value()

    return types.void(rows, A, B, C, j0, i0, C.dtype), codegen


@nb.njit(cache=True, nogil=True)
def product(alpha, A, B, C):
    """C = alpha A @ B by register tiles.

    Parameters
    ----------
    alpha : float
    A : 2-D float32 or float64 array (m, k), of C's dtype, any strides (a transposed view
        ``W.T`` gives op(A) = W^T)
    B : 2-D array (k, n), as C, unit-stride rows, at least TILE_BYTES / itemsize columns
    C : 2-D array (m, n), unit-stride rows, overwritten (not read); must not overlap B
        The caller checks the shapes.
    """
    m, n = C.shape
    lanes = TILE_BYTES // C.itemsize
    scale = C.dtype.type(alpha)
    for block in range(0, n, lanes):
        i0 = min(block, n - lanes)  # the last tile overlaps the one before: same values again
        for j0 in range(0, m - m % MR, MR):
            _tile(MR, A, B, C, j0, i0, scale)
        for j0 in range(m - m % MR, m):  # left-over rows one at a time: two compiled tiles, not MR
            _tile(1, A, B, C, j0, i0, scale)




# The dot-product tiles: DOT_ROWS x DOT_COLS vectors of DOT_BYTES, plus DOT_ROWS + 1 for the loads: AVX2's
# 16 ymm registers with 3 rows, 21 of AVX-512's 32 zmm with 4 (4 rows beat 3 there by 5-10 %).
DOT_BYTES = VECTOR_BYTES
DOT_ROWS = 4 if DOT_BYTES == 64 else 3
DOT_COLS = 4
DOT_SPAN = 2048  # bytes of a row taken at a time: a tile column's DOT_COLS pieces stay in L1; A's, 256 KB
# at width 128, in half of a Zen 3 L2 (512 KB; 4096 timed the same with AVX2 code on a 1-MB-L2 Zen 5)


@intrinsic
def _dot_tile(typingctx, rows, cols, A, B, C, i0, j0, alpha):
    """C[i0 + r, j0 + s] += alpha sum_l A[i0 + r, l] B[j0 + s, l] for r < rows, s < cols (both
    literals); A and B unit-stride rows at least VL = DOT_BYTES / itemsize long, or a multiple
    of VL (a left-over part reads the row's last VL elements)."""
    if not (isinstance(rows, types.IntegerLiteral) and isinstance(cols, types.IntegerLiteral)):
        return None
    n_rows, n_cols = rows.literal_value, cols.literal_value

    def codegen(context, builder, sig, args):
        v = Vectors(context, builder, sig.args, args, DOT_BYTES)
        i0, j0, alpha = args[5:]
        (a_rs, _), (b_rs, _), (c_rs, c_cs) = v.strides
        a_rows = [builder.mul(builder.add(i0, v.const(r)), a_rs) for r in range(n_rows)]
        b_rows = [builder.mul(builder.add(j0, v.const(s)), b_rs) for s in range(n_cols)]
        acc = [v.accumulators(n_cols) for _ in range(n_rows)]

        def add_vectors(offset, keep=None):
            av = [v.load(0, builder.add(x, offset)) for x in a_rows]
            if keep is not None:
                av = [builder.select(keep, x, v.zero) for x in av]
            for s in range(n_cols):
                bv = v.load(1, builder.add(b_rows[s], offset))
                for r in range(n_rows):
                    v.add_product(acc[r][s], av[r], bv)

        length = v.columns(0)
        with cgutils.for_range(builder, builder.udiv(length, v.const(v.lanes))) as loop:
            add_vectors(builder.mul(loop.index, v.const(DOT_BYTES)))
        rest = builder.urem(length, v.const(v.lanes))
        with builder.if_then(builder.icmp_unsigned("!=", rest, v.const(0))):
            # the last VL elements again, with the lanes the loop summed already set to zero in A
            add_vectors(builder.mul(builder.sub(length, v.const(v.lanes)), v.const(v.item)), v.last_lanes(rest))
        for r in range(n_rows):
            for s in range(n_cols):
                total = v.lane_sum(builder.load(acc[r][s]))
                offset = builder.add(builder.mul(builder.add(i0, v.const(r)), c_rs),
                                     builder.mul(builder.add(j0, v.const(s)), c_cs))
                p = v.pointer(2, offset, v.fty)
                builder.store(builder.fadd(builder.load(p), builder.fmul(alpha, total)), p)
        return context.get_dummy_value()

    return types.void(rows, cols, A, B, C, i0, j0, C.dtype), codegen


@nb.njit(cache=True, inline="always")
def _dot_columns(cols, A, B, C, j0, scale):
    """`_dot_tile` over C's columns j0 .. j0 + cols: DOT_ROWS rows a tile, left-over rows one at
    a time (two compiled tiles a column count, not DOT_ROWS)."""
    m = C.shape[0]
    for i0 in range(0, m - m % DOT_ROWS, DOT_ROWS):
        _dot_tile(DOT_ROWS, cols, A, B, C, i0, j0, scale)
    for i0 in range(m - m % DOT_ROWS, m):
        _dot_tile(1, cols, A, B, C, i0, j0, scale)


@nb.njit(cache=True, nogil=True)
def dot_product(alpha, A, B, beta, C):
    """C = alpha A @ B.T + beta C by register tiles of dot products along the rows.

    Parameters
    ----------
    alpha, beta : float
    A : 2-D float32 or float64 array (m, k), of C's dtype, unit-stride rows
    B : 2-D array (n, k), as A
    C : 2-D array (m, n), any strides; read first when beta != 0
        The caller checks the shapes.
    """
    m, n = C.shape
    k = A.shape[1]
    scale = C.dtype.type(alpha)
    for i in range(m):
        for j in range(n):
            C[i, j] = 0.0 if beta == 0.0 else beta * C[i, j]
    lanes = DOT_BYTES // C.itemsize
    span = DOT_SPAN // C.itemsize
    if k < lanes:  # shorter than one vector: plain loops
        for i in range(m):
            for j in range(n):
                total = C.dtype.type(0.0)
                for l in range(k):
                    total += A[i, l] * B[j, l]
                C[i, j] += scale * total
        return
    lo = 0
    while lo < k:
        hi = k if k - lo < span + lanes else lo + span  # the last piece at least `lanes` long
        a, b = A[:, lo:hi], B[:, lo:hi]
        for j0 in range(0, n - n % DOT_COLS, DOT_COLS):  # a column of tiles reads its rows of b from L1
            _dot_columns(DOT_COLS, a, b, C, j0, scale)
        for j0 in range(n - n % DOT_COLS, n):
            _dot_columns(1, a, b, C, j0, scale)
        lo = hi
