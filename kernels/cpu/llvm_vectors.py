"""LLVM vector IR for the codegen of Numba intrinsics: the vector width of Numba's target and a
helper that emits vector loads, stores, broadcasts and fused multiply-adds on array data.

Used where LLVM's own vectoriser does not produce the code wanted: the register tiles of the
layer products (`register_tile`), and the constant-stencil sweeps of `banded`, whose 64-byte
AVX-512 vectors split a cache line at every unaligned load.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.core.registry import cpu_target

PURE_PYTHON = config.DISABLE_JIT  # NUMBA_DISABLE_JIT=1 (Numba's debug switch): no intrinsic can run


def _vector_bytes():
    """Bytes of the widest vector register of Numba's target: 64 with AVX-512, else 32 (AVX2,
    or an AVX-512 CPU whose features are not spelled out in NUMBA_CPU_FEATURES)."""
    features = cpu_target.target_context.codegen().magic_tuple()[2].split(",")
    return 64 if "+avx512f" in features else 32


VECTOR_BYTES = _vector_bytes()


class Vectors:
    """The LLVM IR an intrinsic's codegen needs: vectors of `nbytes` of the arrays' dtype, byte
    addressing into arrays (their data pointer and byte strides) and fused multiply-adds.

    `types_` and `values` are an intrinsic's argument types and LLVM values (its signature's
    ``args`` and codegen's ``args``, or a selection); the arrays among them, in their order, are
    the arrays 0, 1, ... of the methods."""

    def __init__(self, context, builder, types_, values, nbytes):
        self.builder = builder
        arrays = [(t, v) for t, v in zip(types_, values) if isinstance(t, types.Array)]
        self.fty = context.get_value_type(arrays[0][0].dtype)
        self.item = context.get_abi_sizeof(self.fty)
        self.lanes = nbytes // self.item
        self.vty = ir.VectorType(self.fty, self.lanes)
        self.intp = context.get_value_type(types.intp)
        self.arrays = [context.make_array(t)(context, builder, v) for t, v in arrays]
        self.strides = [cgutils.unpack_tuple(builder, x.strides, t.ndim) for (t, _), x in zip(arrays, self.arrays)]
        self.fmuladd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(self.vty, [self.vty] * 3),
            "llvm.fmuladd.v%d%s" % (self.lanes, "f32" if self.item == 4 else "f64"))

    def const(self, n):
        return ir.Constant(self.intp, n)

    def columns(self, a):
        """Number of columns of array a (its shape[1])."""
        return cgutils.unpack_tuple(self.builder, self.arrays[a].shape, 2)[1]

    def pointer(self, a, offset, ty):
        """A pointer of type ty* to `offset` bytes into array a."""
        b = self.builder
        return b.bitcast(b.gep(b.bitcast(self.arrays[a].data, ir.IntType(8).as_pointer()), [offset]), ty.as_pointer())

    def load(self, a, offset):
        """The (unaligned) vector at `offset` bytes into array a."""
        return self.builder.load(self.pointer(a, offset, self.vty), align=self.item)

    def store(self, a, offset, x):
        """Store vector x (unaligned) at `offset` bytes into array a."""
        self.builder.store(x, self.pointer(a, offset, self.vty), align=self.item)

    def prefetch(self, a, offset):
        """Hint the cache line at `offset` bytes into array a towards L1, for reading (a
        prefetch does not fault, so the offset may run past the array)."""
        b, i8, i32 = self.builder, ir.IntType(8), ir.IntType(32)
        fn = cgutils.get_or_insert_function(b.module, ir.FunctionType(ir.VoidType(), [i8.as_pointer(), i32, i32, i32]),
                                            "llvm.prefetch.p0")
        b.call(fn, [self.pointer(a, offset, i8), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])

    def broadcast(self, x):
        b, undef = self.builder, ir.Constant(self.vty, ir.Undefined)
        v = b.insert_element(undef, x, ir.Constant(ir.IntType(32), 0))
        return b.shuffle_vector(v, undef, ir.Constant(ir.VectorType(ir.IntType(32), self.lanes), [0] * self.lanes))

    @property
    def zero(self):
        return ir.Constant(self.vty, [ir.Constant(self.fty, 0.0)] * self.lanes)

    def last_lanes(self, count):
        """The lane mask (vector of i1) that is true on the last `count` (an intp) lanes."""
        b, i32 = self.builder, ir.IntType(32)
        mty = ir.VectorType(i32, self.lanes)
        first = b.trunc(b.sub(self.const(self.lanes), count), i32)
        v = b.insert_element(ir.Constant(mty, ir.Undefined), first, ir.Constant(i32, 0))
        first = b.shuffle_vector(v, ir.Constant(mty, ir.Undefined), ir.Constant(mty, [0] * self.lanes))
        return b.icmp_unsigned(">=", ir.Constant(mty, list(range(self.lanes))), first)

    def lane_sum(self, x):
        """The sum of vector x's lanes, pairwise: halves added, log2(lanes) steps."""
        b, i32, n = self.builder, ir.IntType(32), self.lanes
        while n > 1:
            n //= 2
            halves = [b.shuffle_vector(x, x, ir.Constant(ir.VectorType(i32, n), list(range(lo, lo + n)))) for lo in (0, n)]
            x = b.fadd(*halves)
        return b.extract_element(x, ir.Constant(i32, 0))

    def accumulators(self, count):
        """`count` zeroed vector accumulators (allocas, promoted to registers by LLVM)."""
        return [cgutils.alloca_once_value(self.builder, self.zero) for _ in range(count)]

    def add_product(self, acc, x, y):
        """acc += x y, fused where the CPU has FMA."""
        b = self.builder
        b.store(b.call(self.fmuladd, [x, y, b.load(acc)]), acc)
