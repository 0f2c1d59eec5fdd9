"""Matrix products by register tiles, for the narrow products of a network's layers: C = alpha
op(A) B (`product`) and C = alpha A B^T + beta C (`dot_product`) (Numba, with LLVM intrinsics).

A layer's products are (fan_out, fan_in) @ (fan_in, S P): a small matrix times one whose S P
columns (streams times points) run to thousands. OpenBLAS packs both operands into panels first,
and at fan_in = 20 packing took as long as the arithmetic (perf on AVX2 code, OPENBLAS_CORETYPE=
Haswell: 21 % of a PINN step in sgemm_kernel, 21 % in its copy routines). Here B is read in place:
a tile of C, MR = 5 rows by 64 bytes of columns (16 float32 or 8 float64), is summed in registers
over k, one vector load of B's row k and MR broadcasts of op(A)[j, k] a step, then stored once.
With AVX2 the tile is 10 of the 16 ymm registers; with AVX-512, 5 of the 32 zmm. LLVM's
vectoriser builds no such tile from a loop (a j-by-4 loop nest written in Numba stayed scalar:
6 GFLOP/s), so `_tile` writes the vector code itself; `llvm.fmuladd` fuses where the CPU has FMA.
The weight gradient g a^T sums over the long axis instead: `_dot_tile` keeps 2 x 4 vector
partial sums of DOT_BYTES along it and adds each one's lanes up at the end.

Measured on one thread of an AMD EPYC (family 26 model 2, Zen 5) running AVX2 code
(NUMBA_CPU_NAME=znver3 NUMBA_CPU_FEATURES=, OPENBLAS_CORETYPE=Haswell), GFLOP/s of OpenBLAS
(Numba's np.dot) / of the tiles: op(A) B at (20, 20) @ (20, 2000) float32 44.6 / 104.9, float64
34.4 / 52.3; (100, 100) @ (100, 2000) 96.6 / 104.9 and 50.8 / 53.1 (AVX-512 code: 93.2 / 122.9 and
46.8 / 62.4). A B^T at (20, 1500) @ (1500, 20) 41.1 / 84.7 and 32.3 / 43.4, but at (100, 1500) @
(1500, 100) 89.8 / 83.5 and 49.3 / 42.2, so ``blas.gemm`` keeps OpenBLAS for A B^T with both sides
above NARROW = 64. A single output row runs one accumulator chain, 25-42 GFLOP/s, against 4-7 for
OpenBLAS's gemm on that shape. Rows of B a multiple of 4096 bytes apart map to one L1 set and evict
each other ((100, 100) @ (100, 2048) float32: 50-53 GFLOP/s); ``fastdds.nn.mlp`` sizes its chunks
so that its rows never are.
"""

import numba as nb
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

TILE_BYTES = 64  # columns of a tile: one AVX-512 register, two AVX2 ones
MR = 5  # rows of a tile: 20 and 100 are multiples; 5 beat 4 and 6 (AVX2 and AVX-512, 5-40 %)


@intrinsic
def _tile(typingctx, rows, A, B, C, j0, i0, alpha):
    """C[j0:j0 + rows, i0:i0 + VL] = alpha A[j0:j0 + rows, :] @ B[:, i0:i0 + VL], VL =
    TILE_BYTES / itemsize; `rows` a literal, A of any strides, B and C with unit-stride rows."""
    if not isinstance(rows, types.IntegerLiteral):
        return None
    n_rows = rows.literal_value

    def codegen(context, builder, sig, args):
        _, a, b, c, j0, i0, alpha = args
        fty = context.get_value_type(sig.args[3].dtype)
        item = context.get_abi_sizeof(fty)
        lanes = TILE_BYTES // item
        vty = ir.VectorType(fty, lanes)
        intp = context.get_value_type(types.intp)
        arrays = [context.make_array(t)(context, builder, v) for t, v in zip(sig.args[1:4], (a, b, c))]
        (a_rs, a_ks), (b_rs, _), (c_rs, _) = (cgutils.unpack_tuple(builder, x.strides, 2) for x in arrays)
        k_count = cgutils.unpack_tuple(builder, arrays[0].shape, 2)[1]
        byte = ir.IntType(8).as_pointer()

        def at(base, offset, ty):
            return builder.bitcast(builder.gep(builder.bitcast(base, byte), [offset]), ty.as_pointer())

        column = builder.mul(i0, ir.Constant(intp, item))
        a_row = [builder.mul(builder.add(j0, ir.Constant(intp, r)), a_rs) for r in range(n_rows)]
        fmuladd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                                 "llvm.fmuladd.v%d%s" % (lanes, "f32" if item == 4 else "f64"))
        splat = ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes)

        def broadcast(x):
            v = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
            return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined), splat)

        acc = [cgutils.alloca_once_value(builder, ir.Constant(vty, [ir.Constant(fty, 0.0)] * lanes))
               for _ in range(n_rows)]
        with cgutils.for_range(builder, k_count) as loop:
            k = loop.index
            bk = builder.load(at(arrays[1].data, builder.add(builder.mul(k, b_rs), column), vty), align=item)
            a_k = builder.mul(k, a_ks)
            for r in range(n_rows):
                ajk = builder.load(at(arrays[0].data, builder.add(a_row[r], a_k), fty))
                builder.store(builder.call(fmuladd, [broadcast(ajk), bk, builder.load(acc[r])]), acc[r])
        scale = broadcast(alpha)
        for r in range(n_rows):
            row = builder.mul(builder.add(j0, ir.Constant(intp, r)), c_rs)
            builder.store(builder.fmul(scale, builder.load(acc[r])), at(arrays[2].data, builder.add(row, column), vty),
                          align=item)
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
        for j0 in range(m - m % MR, m):  # left-over rows one at a time: two compiled tiles, not four
            _tile(1, A, B, C, j0, i0, scale)


DOT_BYTES = 32  # vector of the dot-product tiles: 2 x 4 of them, with 2 + 1 loads, fit AVX2's 16 registers
DOT_SPAN = 8192  # bytes of a row taken at a time: m + n such pieces stay in L2 while every tile reads them


@intrinsic
def _dot_tile(typingctx, rows, cols, A, B, C, i0, j0, alpha):
    """C[i0 + r, j0 + s] += alpha sum_l A[i0 + r, l] B[j0 + s, l] for r < rows, s < cols (both
    literals), over l < (length // VL) VL, VL = DOT_BYTES / itemsize; A and B unit-stride rows."""
    if not (isinstance(rows, types.IntegerLiteral) and isinstance(cols, types.IntegerLiteral)):
        return None
    n_rows, n_cols = rows.literal_value, cols.literal_value

    def codegen(context, builder, sig, args):
        _, _, a, b, c, i0, j0, alpha = args
        fty = context.get_value_type(sig.args[4].dtype)
        item = context.get_abi_sizeof(fty)
        lanes = DOT_BYTES // item
        vty = ir.VectorType(fty, lanes)
        intp = context.get_value_type(types.intp)
        arrays = [context.make_array(t)(context, builder, v) for t, v in zip(sig.args[2:5], (a, b, c))]
        (a_rs, _), (b_rs, _), (c_rs, c_cs) = (cgutils.unpack_tuple(builder, x.strides, 2) for x in arrays)
        length = cgutils.unpack_tuple(builder, arrays[0].shape, 2)[1]
        steps = builder.udiv(length, ir.Constant(intp, lanes))
        byte = ir.IntType(8).as_pointer()

        def at(base, offset, ty):
            return builder.bitcast(builder.gep(builder.bitcast(base, byte), [offset]), ty.as_pointer())

        def row(start, r, stride):
            return builder.mul(builder.add(start, ir.Constant(intp, r)), stride)

        a_rows = [row(i0, r, a_rs) for r in range(n_rows)]
        b_rows = [row(j0, s, b_rs) for s in range(n_cols)]
        fmuladd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                                 "llvm.fmuladd.v%d%s" % (lanes, "f32" if item == 4 else "f64"))
        acc = [[cgutils.alloca_once_value(builder, ir.Constant(vty, [ir.Constant(fty, 0.0)] * lanes))
                for _ in range(n_cols)] for _ in range(n_rows)]
        with cgutils.for_range(builder, steps) as loop:
            offset = builder.mul(loop.index, ir.Constant(intp, DOT_BYTES))
            av = [builder.load(at(arrays[0].data, builder.add(x, offset), vty), align=item) for x in a_rows]
            for s in range(n_cols):
                bv = builder.load(at(arrays[1].data, builder.add(b_rows[s], offset), vty), align=item)
                for r in range(n_rows):
                    builder.store(builder.call(fmuladd, [av[r], bv, builder.load(acc[r][s])]), acc[r][s])
        for r in range(n_rows):
            for s in range(n_cols):
                v = builder.load(acc[r][s])
                total = builder.extract_element(v, ir.Constant(ir.IntType(32), 0))
                for lane in range(1, lanes):
                    total = builder.fadd(total, builder.extract_element(v, ir.Constant(ir.IntType(32), lane)))
                p = at(arrays[2].data, builder.add(row(i0, r, c_rs), row(j0, s, c_cs)), fty)
                builder.store(builder.fadd(builder.load(p), builder.fmul(alpha, total)), p)
        return context.get_dummy_value()

    return types.void(rows, cols, A, B, C, i0, j0, C.dtype), codegen


@nb.njit(cache=True, inline="always")
def _dot_rows(rows, A, B, C, i0, scale):
    """`_dot_tile` over C's rows i0 .. i0 + rows: 4 columns a tile, left-over columns one at a
    time (two compiled tiles a row count, not four)."""
    n = C.shape[1]
    for j0 in range(0, n - n % 4, 4):
        _dot_tile(rows, 4, A, B, C, i0, j0, scale)
    for j0 in range(n - n % 4, n):
        _dot_tile(rows, 1, A, B, C, i0, j0, scale)


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
    span = DOT_SPAN // C.itemsize
    tail = k - k % (DOT_BYTES // C.itemsize)
    for lo in range(0, tail, span):
        a, b = A[:, lo:min(lo + span, tail)], B[:, lo:min(lo + span, tail)]
        for i0 in range(0, m - m % 2, 2):
            _dot_rows(2, a, b, C, i0, scale)
        if m % 2:
            _dot_rows(1, a, b, C, m - 1, scale)
    for i in range(m):
        for j in range(n):
            s = C.dtype.type(0.0)
            for l in range(tail, k):
                s += A[i, l] * B[j, l]
            C[i, j] += scale * s
