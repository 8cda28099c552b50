"""Explicit SIMD vectors for numba, and the kernels written in them (imported
by `compiled` only when numba is).

numba's loop vectoriser decides on its own how many accumulators a loop gets
(interleaving can multiply them past the register file) and cannot place a
prefetch inside a vectorised loop. The kernels below therefore spell their
inner loops out in LLVM vectors through a few intrinsics:

- `dot_block(a, i0, bt, j0, kv, ahead, count, rows, cols, tree)`: the register-
  blocked micro-kernel. Rows i0 .. i0 + R - 1 of `a` (clamped to the last row)
  times rows j0 .. j0 + C - 1 of `bt` (b transposed) over columns [0, kv), kv
  a whole number of vectors: R x C vector accumulators, each loaded `a` vector
  serving C FMAs and each `bt` vector R, then the R x C lane sums: one
  horizontal sum per accumulator, or reduced together as a tree
  (`_tree_sums`: about three shuffles and adds per accumulator, where one
  horizontal sum each costs 2 log2(lanes)). R and C are compile-time constants carried by the *types* of
  `rows` and `cols` (tuples of R and C zeros), so each block shape is one
  compiled specialisation of the caller. With `ahead` >= 0 the loop also
  prefetches rows ahead .. ahead + count - 1 of `a` into L2, one cache line
  per loaded vector, so that a later block streams in while this one
  computes. The loop carries metadata that keeps LLVM from unrolling or
  interleaving it (either would multiply the live accumulators and spill).
- `broadcast_block(a, i0, count, w, bias, j0, dst, d0, relu, lead, rows,
  vectors)`: the other micro-kernel, with no lane sums at all. Rows
  i0 .. i0 + R - 1 of `a` times V vectors of columns of `w` from j0 on, plus
  bias (relu'd when asked), stored into rows d0 .. of `dst`: each step p
  loads V vectors of w's row p and broadcasts a[i0 + r, p] for each of the
  R rows, R x V FMAs into accumulators carried in registers (phi nodes, not
  memory: see `_carrying`). With `lead` >= 0 it prefetches the R rows from
  `lead` on, one contiguous span, at an even rate. It stores its own
  results: handing R x V vectors back as a tuple indexed by the caller kept
  them on the stack, and the loop ran at a third of its speed.
- `grouped_block(a, i0, count, wg, dst, d0, c0, lead, rows, cols, width)`:
  broadcast FMAs for n columns that fill no whole vector, with no padded
  lane: `column_group` picks the least depth g that fills whole vectors
  (10 columns in 8 lanes: 5 vectors of 2 columns x 4 k-values), each vector
  holds g consecutive k-values of its columns (`grouped_weights` lays them
  out), and one load broadcasts g consecutive elements of a row of `a` over
  all V vectors; at the end g neighbouring lanes are summed (log2 g shuffles
  and adds per accumulator, once per block). Rows run in sub-blocks and the
  vectors in passes that fit the registers (`grouped_passes`). The vectors
  may be narrower than the widest (`width`).
- `fma_chains(x, y, iterations, chains, width)`: the FMA-throughput
  microkernel of the compute roof (bench.suite.roofs): C independent
  accumulators in registers, nothing but FMAs in the loop.
- `lanes`, `vload`, `vsplat`, `vadd`, `vlane`: single vector operations,
  for the read kernel.
- the kernels `blocked` (c = a @ bt.T by dot blocks, parallel over blocks of
  rows), `broadcast` (c = a @ w by broadcast blocks, and grouped blocks for
  the columns past the last whole vector) and `forward` (an MLP's
  forward pass, fused per block of rows: broadcast blocks for every layer,
  grouped blocks for the first layer's outputs past its last whole vector), each
  also built for one thread (`blocked_serial`, `broadcast_serial`,
  `forward_serial`; `blocked_at` and `forward_at` run those on matrices
  given by their data pointers, `pointer_at`); and the
  roofs' microkernels `fma_peak` (one fma_chains loop per thread; also
  `fma_peak_serial`, which compiled times at two widths) and `read_sum` (a
  wide-load read, also `read_sum_serial`). `compiled`
  chooses their block shape and wraps them for torch.

The vector width and register count come from the target numba compiles for
(its CPU features, as numba reads them): 64-byte vectors and 32 registers
with AVX-512, 32 bytes and 16 registers with AVX, 16 bytes otherwise. On the
Intel parts LLVM tunes for 256-bit code, explicit 512-bit vectors still
compile to zmm instructions: only a function's "min-legal-vector-width"
attribute (clang sets it, numba does not) would narrow them.
"""
from __future__ import annotations

import math
import types as pytypes
from contextlib import contextmanager

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.core.codegen import get_host_cpu_features
from numba.extending import intrinsic, models, register_model

from .jit import cached_njit
from .prepared import LINE_BYTES


def _target_features() -> frozenset[str]:
    """The CPU features numba compiles for (NUMBA_CPU_FEATURES, else the host's)."""
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else get_host_cpu_features()
    return frozenset(f[1:] for f in features.split(",") if f.startswith("+"))


FEATURES = _target_features()
if "avx512f" in FEATURES:
    VECTOR_BYTES, VECTOR_REGISTERS = 64, 32
elif "avx" in FEATURES:
    VECTOR_BYTES, VECTOR_REGISTERS = 32, 16
else:  # SSE, or another architecture: 16-byte vectors (NEON has 32 registers)
    VECTOR_BYTES = 16
    VECTOR_REGISTERS = 32 if llvm.get_process_triple().startswith(("aarch64", "arm64")) else 16


class Vector(types.Type):
    """An LLVM vector of `lanes` values of a numba scalar type, held in one register."""

    def __init__(self, dtype: types.Type, lanes: int):
        self.dtype, self.lanes = dtype, lanes
        super().__init__(name=f"Vector({dtype} x {lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def vector_of(dtype: types.Type, lanes: int = 0) -> Vector:
    """A vector of `lanes` dtype values; 0: the widest numba compiles for."""
    return Vector(dtype, lanes or VECTOR_BYTES * 8 // dtype.bitwidth)


def _is_matrix(t) -> bool:
    return isinstance(t, types.Array) and t.ndim == 2 and t.layout == "C" and isinstance(
        t.dtype, (types.Float, types.Integer))


def _intp(context, builder, value, ty):
    return context.cast(builder, value, ty, types.intp)


def _pointer(context, builder, aryty, ary, row, col):
    return cgutils.get_item_pointer(context, builder, aryty, ary, [row, col])


def _load(context, builder, vec, aryty, ary, row, col):
    vty = context.get_value_type(vec)
    ptr = builder.bitcast(_pointer(context, builder, aryty, ary, row, col), vty.as_pointer())
    return builder.load(ptr, align=vec.dtype.bitwidth // 8)


def _vector_name(vec) -> str:
    """LLVM's name of the vector type in overloaded intrinsics' names: v16f32, v8i64, ..."""
    kind = "f" if isinstance(vec.dtype, types.Float) else "i"
    return f"v{vec.lanes}{kind}{vec.dtype.bitwidth}"


def _fma(builder, vec, x, y, acc):
    if isinstance(vec.dtype, types.Float):
        vty = x.type
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty] * 3),
            f"llvm.fma.{_vector_name(vec)}")
        return builder.call(fn, [x, y, acc])
    return builder.add(builder.mul(x, y), acc)  # integers wrap, as torch's do


def _add(builder, vec, x, y):
    return builder.fadd(x, y) if isinstance(vec.dtype, types.Float) else builder.add(x, y)


def _horizontal_sum(builder, vec, value):
    """The sum of a vector's lanes, halving it log2(lanes) times."""
    width = vec.lanes
    while width > 1:
        width //= 2
        mask = ir.VectorType(ir.IntType(32), width)
        halves = [ir.Constant(mask, list(range(start, start + width))) for start in (0, width)]
        low, high = [builder.shuffle_vector(value, value, half) for half in halves]
        value = _add(builder, Vector(vec.dtype, width), low, high)
    return builder.extract_element(value, ir.Constant(ir.IntType(32), 0))


def _tree_sums(builder, vec, values):
    """The lane sums of several vectors, reduced together: each step pairs two
    vectors holding G groups of W lanes into one of 2G groups of W/2 (two
    two-source shuffles and an add), so n accumulators of L lanes cost about
    3n shuffles and adds in all instead of 2 log2(L) each. Returns the sums
    in the order of `values`."""
    i32 = ir.IntType(32)
    zero = ir.Constant(values[0].type, None)
    # Each entry: (vector, owners): owners[g] is the value whose partial sum
    # group g holds (None: padding).
    level = [(value, [index]) for index, value in enumerate(values)]
    width = vec.lanes
    while width > 1:
        half = width // 2
        paired = []
        for start in range(0, len(level), 2):
            (x, x_owners), (y, y_owners) = level[start], (
                level[start + 1] if start + 1 < len(level) else (zero, [None] * len(level[start][1])))
            groups = len(x_owners)
            # New group q takes X's group q (q < G) or Y's group q - G; the
            # shuffle's lanes 0..L-1 are X's, L..2L-1 Y's.
            source = [g * width if q < groups else vec.lanes + g * width
                      for q, g in enumerate(list(range(groups)) * 2)]
            low = [base + i for base in source for i in range(half)]
            high = [base + half + i for base in source for i in range(half)]
            lo = builder.shuffle_vector(x, y, ir.Constant(ir.VectorType(i32, vec.lanes), low))
            hi = builder.shuffle_vector(x, y, ir.Constant(ir.VectorType(i32, vec.lanes), high))
            paired.append((_add(builder, vec, lo, hi), x_owners + y_owners))
        level, width = paired, half
    sums = [None] * len(values)
    for vector, owners in level:
        for lane, owner in enumerate(owners):
            if owner is not None:
                sums[owner] = builder.extract_element(vector, i32(lane))
    return sums


def _prefetch_l2(builder, pointer) -> None:
    i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
    # Named for llvmlite's pointer type (p0i8); LLVM renames it for opaque pointers.
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
        "llvm.prefetch." + i8p.intrinsic_name)
    # read, locality 2 (prefetcht1 on x86: into L2, not L1), data cache
    builder.call(fn, [builder.bitcast(pointer, i8p), i32(0), i32(2), i32(1)])


def _loop_id(module):
    """Loop metadata asking LLVM to leave the loop as written: no unrolling and
    no interleaving (either would multiply the live accumulators past the
    register file and spill them)."""
    i32 = ir.IntType(32)
    options = [
        module.add_metadata([ir.MetaDataString(module, "llvm.loop.unroll.disable")]),
        module.add_metadata([ir.MetaDataString(module, "llvm.loop.interleave.count"), i32(1)]),
        module.add_metadata([ir.MetaDataString(module, "llvm.loop.vectorize.width"), i32(1)]),
    ]
    # A loop ID is a node whose first operand is itself; add_metadata would
    # share one node between equal operand lists, so it is made here.
    node = ir.values.MDValue(module, options, name=str(len(module.metadata)))
    node.operands = (node, *options)
    return node


class _Carried:
    """The loop index and the values a _carrying loop carries from one step to
    the next: the body reads `values` and sets them to the next step's."""

    def __init__(self, index, values):
        self.index, self.values = index, values


@contextmanager
def _carrying(builder, start, stop, step, initial):
    """for (index = start; index < stop; index += step), kept as written (see
    _loop_id), with values carried from step to step in SSA registers (phi
    nodes), never through memory; on exit `values` are the final ones.
    (Accumulators kept in allocas are promoted to registers only where LLVM's
    passes manage it; inlined into some callers they stayed on the stack.)"""
    preheader = builder.basic_block
    cond = builder.append_basic_block("simd.cond")
    body = builder.append_basic_block("simd.body")
    end = builder.append_basic_block("simd.end")
    builder.branch(cond)
    builder.position_at_end(cond)
    index = builder.phi(start.type)
    index.add_incoming(start, preheader)
    phis = [builder.phi(value.type) for value in initial]
    for phi, value in zip(phis, initial):
        phi.add_incoming(value, preheader)
    builder.cbranch(builder.icmp_signed("<", index, stop), body, end)
    builder.position_at_end(body)
    state = _Carried(index, list(phis))
    yield state
    latch = builder.basic_block
    index.add_incoming(builder.add(index, step), latch)
    for phi, value in zip(phis, state.values):
        phi.add_incoming(value, latch)
    builder.branch(cond).set_metadata("llvm.loop", _loop_id(builder.module))
    builder.position_at_end(end)
    state.values = phis


@contextmanager
def _loop(builder, start, stop, step):
    """for (index = start; index < stop; index += step), kept as written (see _loop_id)."""
    with _carrying(builder, start, stop, step, []) as state:
        yield state.index


@intrinsic
def dot_block(typingctx, a, i0, bt, j0, kv, ahead, count, rows, cols, tree):
    """R x C dot products a[i0 + r, :kv] . bt[j0 + c, :kv] (see the module
    doc), as a tuple of R * C scalars in row-major order; with ahead >= 0 and
    count >= 1, also prefetching rows ahead .. ahead + count - 1 of a. The
    lane sums are reduced as a tree when `tree` is a non-empty tuple, one
    horizontal sum per accumulator when it is ()."""
    if not (_is_matrix(a) and _is_matrix(bt) and a.dtype == bt.dtype
            and isinstance(rows, types.UniTuple) and isinstance(cols, types.UniTuple)
            and isinstance(tree, types.BaseTuple)):
        return None
    n_rows, n_cols, as_tree = rows.count, cols.count, len(tree.types) > 0
    vec = vector_of(a.dtype)
    sig = types.UniTuple(a.dtype, n_rows * n_cols)(a, i0, bt, j0, kv, ahead, count, rows, cols,
                                                   tree)

    def codegen(context, builder, signature, args):
        a_ty, i0_ty, bt_ty, j0_ty, kv_ty, ahead_ty, count_ty = signature.args[:7]
        intp = context.get_value_type(types.intp)
        A = context.make_array(a_ty)(context, builder, args[0])
        B = context.make_array(bt_ty)(context, builder, args[2])
        i0_v, j0_v, kv_v, ahead_v, count_v = (
            _intp(context, builder, args[i], ty)
            for i, ty in [(1, i0_ty), (3, j0_ty), (4, kv_ty), (5, ahead_ty), (6, count_ty)])
        last = builder.sub(cgutils.unpack_tuple(builder, A.shape)[0], intp(1))

        def clamp(i):  # rows past the end read the last row (their sums are not stored)
            return builder.select(builder.icmp_signed("<", i, last), i, last)

        a_rows = [clamp(builder.add(i0_v, intp(r))) for r in range(n_rows)]
        # Prefetches past `count` repeat the last row's (a cache hit, no branch).
        ahead_rows = [clamp(builder.add(ahead_v, builder.select(
            builder.icmp_signed("<", intp(r), count_v), intp(r), builder.sub(count_v, intp(1)))))
            for r in range(n_rows)]
        b_rows = [builder.add(j0_v, intp(c)) for c in range(n_cols)]
        zero = ir.Constant(context.get_value_type(vec), None)
        accs = [cgutils.alloca_once_value(builder, zero) for _ in range(n_rows * n_cols)]

        def loop(prefetch):
            with _loop(builder, intp(0), kv_v, intp(vec.lanes)) as p:
                bs = [_load(context, builder, vec, bt_ty, B, row, p) for row in b_rows]
                for r, row in enumerate(a_rows):
                    x = _load(context, builder, vec, a_ty, A, row, p)
                    for c in range(n_cols):
                        acc = accs[r * n_cols + c]
                        builder.store(_fma(builder, vec, x, bs[c], builder.load(acc)), acc)
                if prefetch:
                    for row in ahead_rows:
                        _prefetch_l2(builder, _pointer(context, builder, a_ty, A, row, p))

        prefetching = builder.and_(builder.icmp_signed(">=", ahead_v, intp(0)),
                                   builder.icmp_signed(">", count_v, intp(0)))
        with builder.if_else(prefetching) as (then, otherwise):
            with then:
                loop(prefetch=True)
            with otherwise:
                loop(prefetch=False)
        if as_tree:
            sums = _tree_sums(builder, vec, [builder.load(acc) for acc in accs])
        else:
            sums = [_horizontal_sum(builder, vec, builder.load(acc)) for acc in accs]
        return context.make_tuple(builder, signature.return_type, sums)

    return sig, codegen


@intrinsic
def fma_chains(typingctx, x, y, iterations, chains, width):
    """The FMA-throughput microkernel: C vector accumulators (C carried by the
    type of `chains`, a tuple of C zeros), each run `iterations` times through
    acc = acc * x + y, all in registers; returns the sum of every lane of every
    accumulator. The chains are independent, so with C at least the FMA
    latency times the FMA units, the loop runs at the core's FMA throughput.
    With x = 1 and y a power of two the sum is exact: C * lanes * iterations * y.
    The vectors have as many lanes as `width` has zeros; () for the widest."""
    if not (isinstance(x, types.Float) and x == y and isinstance(iterations, types.Integer)
            and isinstance(chains, types.UniTuple) and isinstance(width, types.BaseTuple)):
        return None
    vec = vector_of(x, len(width.types))
    count = chains.count

    def codegen(context, builder, signature, args):
        intp = context.get_value_type(types.intp)
        vty = context.get_value_type(vec)
        n = _intp(context, builder, args[2], signature.args[2])
        xv, yv = (_splat(builder, vty, vec.lanes, value) for value in args[:2])
        accs = [cgutils.alloca_once_value(builder, ir.Constant(vty, None)) for _ in range(count)]
        with _loop(builder, intp(0), n, intp(1)):
            for acc in accs:
                builder.store(_fma(builder, vec, builder.load(acc), xv, yv), acc)
        total = builder.load(accs[0])
        for acc in accs[1:]:
            total = _add(builder, vec, total, builder.load(acc))
        return _horizontal_sum(builder, vec, total)

    return x(x, y, iterations, chains, width), codegen


def _relu(builder, vec, value):
    zero = ir.Constant(value.type, None)
    if isinstance(vec.dtype, types.Float):
        negative = builder.fcmp_ordered("<", value, zero)
    else:
        negative = builder.icmp_signed("<", value, zero)
    return builder.select(negative, zero, value)  # NaN kept


def _store_columns(context, builder, vec, dst_ty, dst, row, col, value, limit=None):
    """dst[row, col : col + lanes] = value, the lanes past dst's last column
    dropped, and those from lane `limit` on (a Python int) when given."""
    intp = context.get_value_type(types.intp)
    width = cgutils.unpack_tuple(builder, dst.shape)[1]
    ptr = builder.bitcast(_pointer(context, builder, dst_ty, dst, row, col), value.type.as_pointer())
    if limit is not None and limit < vec.lanes:
        whole = ir.Constant(ir.IntType(1), 0)
        end = builder.add(col, intp(limit))
        width = builder.select(builder.icmp_signed("<", end, width), end, width)
    else:
        whole = builder.icmp_signed("<=", builder.add(col, intp(vec.lanes)), width)
    with builder.if_else(whole, likely=True) as (then, otherwise):
        with then:
            builder.store(value, ptr, align=vec.dtype.bitwidth // 8)
        with otherwise:
            # One masked store: a loop of lane extracts at a run-time index
            # went through the stack a lane at a time (the fused pass's last
            # layer, 8 rows of 10 logits, on an Intel Xeon: 186 ns a block
            # with the loop, 117 with this store, 121 for whole vectors).
            left = _splat(builder, ir.VectorType(intp, vec.lanes), vec.lanes,
                          builder.sub(width, col))
            mask = builder.icmp_signed("<", ir.Constant(left.type, list(range(vec.lanes))), left)
            i32 = ir.IntType(32)
            # Named for a typed pointer to the vector, as _prefetch_l2's; LLVM
            # remangles it for the pointer it gets (run with llvmlite 0.43,
            # LLVM 14, typed pointers, and 0.50, LLVM 22, opaque ones).
            vector = _vector_name(vec)
            fn = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(ir.VoidType(), [value.type, ptr.type, i32, mask.type]),
                f"llvm.masked.store.{vector}.p0{vector}")
            builder.call(fn, [value, ptr, i32(vec.dtype.bitwidth // 8), mask])


@intrinsic
def broadcast_block(typingctx, a, i0, count, w, bias, j0, dst, d0, relu, lead, rows, vectors):
    """One block of a layer by broadcast FMAs, for r < count and v < V:
    dst[d0 + r, c : c + lanes] = a[i0 + r, :K] @ w[:, c : c + lanes] + bias[0, c : c + lanes],
    c = j0 + v * lanes, K = w's rows; relu'd when `relu`; the lanes past dst's
    last column dropped. R (>= count) and V are carried by the types of
    `rows` and `vectors` (tuples of R and V zeros); rows past the end of a
    read its last row. Each step p loads V vectors of w's row p and
    broadcasts one element of each of the R rows: R x V FMAs into
    accumulators carried in registers, no lane sums. With lead >= 0 the loop
    also prefetches (into L2) the R rows of a from row `lead` on, one cache
    line per LINE_BYTES of that span, spread over the steps, so that the
    next block streams in while this one computes. The stores happen here,
    not in the caller: a tuple of vectors handed back and indexed there made
    LLVM keep the accumulators on the stack."""
    if not (_is_matrix(a) and _is_matrix(w) and _is_matrix(bias) and _is_matrix(dst)
            and a.dtype == w.dtype == bias.dtype == dst.dtype
            and isinstance(rows, types.BaseTuple) and isinstance(vectors, types.BaseTuple)
            and isinstance(relu, types.Boolean)
            and all(isinstance(t, types.Integer) for t in (i0, count, j0, d0, lead))):
        return None
    n_rows, n_vectors = len(rows.types), len(vectors.types)
    vec = vector_of(a.dtype)
    sig = types.void(a, i0, count, w, bias, j0, dst, d0, relu, lead, rows, vectors)

    def codegen(context, builder, signature, args):
        a_ty, i0_ty, count_ty, w_ty, bias_ty, j0_ty, dst_ty, d0_ty, _, lead_ty = signature.args[:10]
        intp = context.get_value_type(types.intp)
        vty = context.get_value_type(vec)
        A, W, B, D = (context.make_array(ty)(context, builder, args[i])
                      for i, ty in [(0, a_ty), (3, w_ty), (4, bias_ty), (6, dst_ty)])
        i0_v, count_v, j0_v, d0_v, lead_v = (
            _intp(context, builder, args[i], ty)
            for i, ty in [(1, i0_ty), (2, count_ty), (5, j0_ty), (7, d0_ty), (9, lead_ty)])
        k_v = cgutils.unpack_tuple(builder, W.shape)[0]
        last = builder.sub(cgutils.unpack_tuple(builder, A.shape)[0], intp(1))
        a_rows = []
        for r in range(n_rows):
            i = builder.add(i0_v, intp(r))
            a_rows.append(builder.select(builder.icmp_signed("<", i, last), i, last))
        cols = [builder.add(j0_v, intp(v * vec.lanes)) for v in range(n_vectors)]
        # The R rows from `lead` on are one contiguous span of R * K elements
        # (a is C-contiguous): step p prefetches its p-th R-element stretch.
        prefetching = builder.icmp_signed(">=", lead_v, intp(0))
        span = builder.bitcast(
            _pointer(context, builder, a_ty, A, builder.select(prefetching, lead_v, intp(0)),
                     intp(0)), ir.IntType(8).as_pointer())
        stride_bytes = n_rows * vec.dtype.bitwidth // 8
        stride = intp(stride_bytes)
        zero = ir.Constant(vty, None)

        def fmas(p, accs):
            # One step over k: V vectors of w's row p, R broadcasts, R x V FMAs.
            ws = [_load(context, builder, vec, w_ty, W, p, col) for col in cols]
            for r, row in enumerate(a_rows):
                x = _splat(builder, vty, vec.lanes,
                           builder.load(_pointer(context, builder, a_ty, A, row, p)))
                for v in range(n_vectors):
                    accs[r * n_vectors + v] = _fma(builder, vec, x, ws[v], accs[r * n_vectors + v])
            return accs

        # Two steps an iteration, so the loop's own work (the rows' indices,
        # the prefetch and its test) is shared by twice the FMAs, and the
        # prefetches of an iteration cover its 2 R-element stretches of the
        # span at one per cache line (a step of its own prefetched every line
        # twice for R = 8 floats). An odd K's last step follows on its own.
        pairs = builder.sub(k_v, builder.srem(k_v, intp(2)))
        with _carrying(builder, intp(0), pairs, intp(2), [zero] * (n_rows * n_vectors)) as step:
            p = step.index
            with builder.if_then(prefetching, likely=True):
                start = builder.mul(p, stride)
                for line in range(-(-2 * stride_bytes // LINE_BYTES)):
                    _prefetch_l2(builder, builder.gep(
                        span, [builder.add(start, intp(LINE_BYTES * line))]))
            step.values = fmas(builder.add(p, intp(1)), fmas(p, list(step.values)))
        with _carrying(builder, pairs, k_v, intp(1), step.values) as last:
            last.values = fmas(last.index, list(last.values))
        relu_v = args[8]
        biases = [_load(context, builder, vec, bias_ty, B, intp(0), col) for col in cols]
        for r in range(n_rows):
            with builder.if_then(builder.icmp_signed("<", intp(r), count_v)):
                row = builder.add(d0_v, intp(r))
                for v, col in enumerate(cols):
                    value = _add(builder, vec, last.values[r * n_vectors + v], biases[v])
                    value = builder.select(relu_v, _relu(builder, vec, value), value)
                    _store_columns(context, builder, vec, dst_ty, D, row, col, value)
        return context.get_dummy_value()

    return sig, codegen


def column_group(columns: int, lanes: int) -> tuple[int, int]:
    """How grouped_block lays `columns` outputs into vectors of `lanes` lanes:
    (g, V). Every vector holds g consecutive k-values of lanes // g columns,
    g = lanes / gcd(columns, lanes) the least that fills whole vectors, so no
    lane is padding and all V = columns * g / lanes vectors share one
    broadcast of g elements of a row: 10 columns in 8 lanes are 5 vectors of
    2 columns x 4 k-values. (Groups of different g, the binary digits of the
    columns, need as many FMAs but a broadcast for each: on the Zen 4 VM of
    round 3, stop 41, the skinny layer in cache ran at 77 % of the FMA peak
    that way and at 92 % this way, one thread, 8 lanes.)"""
    if columns <= 0:
        return 1, 0
    g = lanes // math.gcd(columns, lanes)
    return g, columns * g // lanes


def grouped_weights(w: np.ndarray, lanes: int, out: np.ndarray) -> np.ndarray:
    """w (K x n) laid out for grouped_block, written into `out` (of
    grouped_shape) and returned: one row per step of g k-values holding the
    V vectors of column_group(n, lanes); lane l of vector v of step s is
    w[s * g + l % g, v * (lanes // g) + l // g]. The K % g last k-values are
    left out (the caller adds them). Written through views, with no
    temporary copy of w."""
    k, n = w.shape
    g, vectors = column_group(n, lanes)
    steps = k // g
    # out as (step, vector, column in the vector, k-value in the vector)
    out.reshape(steps, vectors, lanes // g, g)[...] = w[:steps * g].reshape(
        steps, g, vectors, lanes // g).transpose(0, 2, 3, 1)
    return out


def grouped_shape(k: int, n: int, lanes: int) -> tuple[int, int]:
    """The shape of grouped_weights' array for a K x n w: K // g rows of V
    vectors (n * g lanes)."""
    g = column_group(n, lanes)[0]
    return k // g, n * g


def grouped_passes(vectors: int, rows: int, registers: int) -> tuple[int, int]:
    """How grouped_block runs V vectors for a block of R rows with this many
    vector registers: (vectors a pass, rows a sub-block). A pass keeps
    r x v accumulators, its v vectors of wg and one broadcast in registers,
    with one register in sixteen to spare, as the broadcast blocks; each step
    of a pass loads v vectors and r broadcasts for r x v FMAs. Chosen: the
    split that loads least a FMA over the whole block, P / V + 1 / r for P
    passes (ties: fewer passes)."""
    spare = 1 + registers // 16
    best = None
    for passes in range(1, max(vectors, 1) + 1):
        v = -(-max(vectors, 1) // passes)
        r = min(rows, (registers - spare - v) // v)
        if r < 1:
            continue
        cost = passes / max(vectors, 1) + 1 / r
        if best is None or cost < best[0] - 1e-12:
            best = cost, v, r
    if best is None:  # more vectors than registers: one at a time
        return 1, 1
    return best[1], best[2]


@intrinsic
def grouped_block(typingctx, a, i0, count, wg, dst, d0, c0, lead, rows, cols, width):
    """One block of a product's columns that fill no whole vector, by broadcast
    FMAs with no padded lanes: for r < count,
    dst[d0 + r, c0 : c0 + n] = a[i0 + r, :steps * g] @ (w's n columns),
    with wg = grouped_weights(w, lanes) (steps rows), n the zeros of `cols`,
    lanes the zeros of `width` (the vectors' lanes; they may be narrower than
    the widest) and R (>= count) the zeros of `rows`. Each step loads one
    broadcast of g consecutive elements of a row (column_group) and
    multiplies it by each of the V vectors of wg's row: lanes // g columns x
    g k-values a FMA, all lanes useful. The block runs as sub-blocks of rows
    and passes of vectors that fit the registers (grouped_passes); the first
    pass of each sub-block prefetches (into L2) its rows of the block from
    `lead` on when lead >= 0, at an even rate, as broadcast_block does. At
    the end each accumulator's g neighbouring lanes are summed (log2 g
    shuffles and adds) and its columns stored."""
    if not (_is_matrix(a) and _is_matrix(wg) and _is_matrix(dst)
            and a.dtype == wg.dtype == dst.dtype
            and all(isinstance(t, types.BaseTuple) for t in (rows, cols, width))
            and all(isinstance(t, types.Integer) for t in (i0, count, d0, c0, lead))):
        return None
    n_rows = len(rows.types)
    vec = vector_of(a.dtype, len(width.types))
    lanes_ = vec.lanes
    g, n_vectors = column_group(len(cols.types), lanes_)
    per_pass, sub_rows = grouped_passes(n_vectors, n_rows, VECTOR_REGISTERS)
    subs = -(-n_rows // sub_rows)
    sub_rows = -(-n_rows // subs)  # the rows shared evenly
    passes = -(-n_vectors // per_pass) if n_vectors else 0
    sig = types.void(a, i0, count, wg, dst, d0, c0, lead, rows, cols, width)

    def codegen(context, builder, signature, args):
        if not n_vectors:
            return context.get_dummy_value()
        a_ty, i0_ty, count_ty, wg_ty, dst_ty, d0_ty, c0_ty, lead_ty = signature.args[:8]
        intp = context.get_value_type(types.intp)
        i32 = ir.IntType(32)
        vty = context.get_value_type(vec)
        element = context.get_value_type(vec.dtype)
        A, W, D = (context.make_array(ty)(context, builder, args[i])
                   for i, ty in [(0, a_ty), (3, wg_ty), (4, dst_ty)])
        i0_v, count_v, d0_v, c0_v, lead_v = (
            _intp(context, builder, args[i], ty)
            for i, ty in [(1, i0_ty), (2, count_ty), (5, d0_ty), (6, c0_ty), (7, lead_ty)])
        steps = cgutils.unpack_tuple(builder, W.shape)[0]
        last = builder.sub(cgutils.unpack_tuple(builder, A.shape)[0], intp(1))
        prefetching = builder.icmp_signed(">=", lead_v, intp(0))
        zero = ir.Constant(vty, None)
        gather = ir.Constant(ir.VectorType(i32, lanes_), [lane % g for lane in range(lanes_)])

        def splat_of(row, col):
            # g elements of a from (row, col), repeated over the lanes: one
            # broadcasting load (vbroadcastss/sd, vbroadcastf128, ... on x86).
            ptr = _pointer(context, builder, a_ty, A, row, col)
            small = ir.VectorType(element, g)
            value = builder.load(builder.bitcast(ptr, small.as_pointer()),
                                 align=vec.dtype.bitwidth // 8)
            return builder.shuffle_vector(value, value, gather)

        def sub_block(first, height):
            # Rows first .. first + height - 1 of the block, in passes.
            a_rows = []
            for r in range(first, first + height):
                i = builder.add(i0_v, intp(r))
                a_rows.append(builder.select(builder.icmp_signed("<", i, last), i, last))
            span = builder.bitcast(_pointer(
                context, builder, a_ty, A,
                builder.select(prefetching, builder.add(lead_v, intp(first)), intp(0)), intp(0)),
                ir.IntType(8).as_pointer())
            stride_bytes = height * g * vec.dtype.bitwidth // 8  # of the span, a step
            for index in range(passes):
                chosen = range(index * n_vectors // passes, (index + 1) * n_vectors // passes)
                with _carrying(builder, intp(0), steps, intp(1),
                               [zero] * (height * len(chosen))) as step:
                    s = step.index
                    if index == 0:
                        with builder.if_then(prefetching, likely=True):
                            offset = builder.mul(s, intp(stride_bytes))
                            for line in range(-(-stride_bytes // LINE_BYTES)):
                                _prefetch_l2(builder, builder.gep(
                                    span, [builder.add(offset, intp(LINE_BYTES * line))]))
                    ws = [_load(context, builder, vec, wg_ty, W, s, intp(v * lanes_))
                          for v in chosen]
                    accs, col = list(step.values), builder.mul(s, intp(g))
                    for r, row in enumerate(a_rows):
                        x = splat_of(row, col)
                        for slot, wv in enumerate(ws):
                            at = r * len(chosen) + slot
                            accs[at] = _fma(builder, vec, x, wv, accs[at])
                    step.values = accs
                for r in range(height):
                    with builder.if_then(builder.icmp_signed("<", intp(first + r), count_v)):
                        row = builder.add(d0_v, intp(first + r))
                        for slot, v in enumerate(chosen):
                            _store_columns(context, builder, vec, dst_ty, D, row,
                                           builder.add(c0_v, intp(v * (lanes_ // g))),
                                           _group_sums(builder, vec, g,
                                                       step.values[r * len(chosen) + slot]),
                                           limit=lanes_ // g)

        for sub in range(subs):
            first = sub * sub_rows
            height = min(sub_rows, n_rows - first)
            if sub == 0:
                sub_block(first, height)
            else:  # a last block's rows may end before this sub-block
                with builder.if_then(builder.icmp_signed("<", intp(first), count_v)):
                    sub_block(first, height)
        return context.get_dummy_value()

    return sig, codegen


def _group_sums(builder, vec, g, acc):
    """acc's sums of g neighbouring lanes, column j's (lanes j * g ..) in lane j."""
    i32 = ir.IntType(32)
    half = 1
    while half < g:  # each lane's sum with its neighbours' in groups of g
        acc = _add(builder, vec, acc, builder.shuffle_vector(acc, acc, ir.Constant(
            ir.VectorType(i32, vec.lanes), [lane ^ half for lane in range(vec.lanes)])))
        half *= 2
    if g > 1:  # column j's sum is in lane j * g: to lane j
        acc = builder.shuffle_vector(acc, acc, ir.Constant(
            ir.VectorType(i32, vec.lanes), [j * g % vec.lanes for j in range(vec.lanes)]))
    return acc


def _splat(builder, vty, count, value):
    one = builder.insert_element(ir.Constant(vty, ir.Undefined), value,
                                 ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(one, one, ir.Constant(ir.VectorType(ir.IntType(32), count),
                                                        [0] * count))


@intrinsic
def lanes(typingctx, a):
    """Lanes of one vector of a's dtype (a compile-time constant)."""
    if not isinstance(a, types.Array):
        return None
    count = vector_of(a.dtype).lanes

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, count)

    return types.intp(a), codegen


@intrinsic
def vload(typingctx, a, i, j):
    """The vector a[i, j : j + lanes] (a C-contiguous matrix)."""
    if not _is_matrix(a):
        return None
    vec = vector_of(a.dtype)

    def codegen(context, builder, signature, args):
        a_ty, i_ty, j_ty = signature.args
        ary = context.make_array(a_ty)(context, builder, args[0])
        return _load(context, builder, vec, a_ty, ary,
                     _intp(context, builder, args[1], i_ty), _intp(context, builder, args[2], j_ty))

    return vec(a, i, j), codegen


@intrinsic
def vsplat(typingctx, a, x):
    """A vector of a's dtype with every lane x (converted to that dtype)."""
    if not (isinstance(a, types.Array) and isinstance(x, types.Number)):
        return None
    vec = vector_of(a.dtype)

    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[1], signature.args[1], vec.dtype)
        return _splat(builder, context.get_value_type(vec), vec.lanes, value)

    return vec(a, x), codegen


@intrinsic
def vadd(typingctx, x, y):
    """x + y, lane by lane."""
    if not (isinstance(x, Vector) and x == y):
        return None

    def codegen(context, builder, signature, args):
        return _add(builder, x, *args)

    return x(x, y), codegen


@intrinsic
def vlane(typingctx, x, i):
    """Lane i of x."""
    if not (isinstance(x, Vector) and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        return builder.extract_element(args[0], args[1])

    return x.dtype(x, i), codegen


# -- the kernels ------------------------------------------------------------------
#
# They live here, beside the intrinsics they use, because numba's disk cache is
# keyed by the source file of the jitted function: an edit to an intrinsic must
# invalidate the kernels compiled from it.
#
# Floating-point sums may be reassociated and fused into FMAs: any summation
# order keeps the dot-product bound |error| <= γ_K |A||B|. No "fast"
# nnan/ninf: NaN and inf still propagate. Integers are exact whatever the flags.
FLOAT_REASSOCIATION = frozenset({"reassoc", "contract"})


def _jit(**options):
    """numba.njit(cache=True, fastmath=FLOAT_REASSOCIATION, **options)."""

    return lambda fn: cached_njit(fn, fastmath=set(FLOAT_REASSOCIATION), **options)


@cached_njit
def _tail_dot(s, a, i, bt, j, start, stop):
    # s + a[i, start:stop] . bt[j, start:stop], added in order: compiled
    # without the kernels' reassociation, so that the serial and the parallel
    # build (which LLVM would vectorise differently) give the same bits.
    for p in range(start, stop):
        s += a[i, p] * bt[j, p]
    return s


@cached_njit
def _tail_column(s, a, i, tail, j, start):
    # s + a[i, start:] . tail[:, j], added in order, as _tail_dot.
    for p in range(tail.shape[0]):
        s += a[i, start + p] * tail[p, j]
    return s


@_jit()
def _share(part, parts, rows):
    # Rows [lo, hi) of `rows` that pass `part` of `parts` prefetches.
    return part * rows // parts, (part + 1) * rows // parts


@_jit(parallel=True)
def blocked(a, bt, c, ahead, rows, cols):
    # c = a @ bt[:n].T by blocks of R neighbouring rows; bt's rows are padded
    # with zeros to whole passes of C.
    m, k = a.shape
    n = c.shape[1]
    n_rows, n_cols = len(rows), len(cols)
    kv = k - k % lanes(a)  # whole vectors; the rest is the scalar tail
    passes = bt.shape[0] // n_cols
    for block in numba.prange((m + n_rows - 1) // n_rows):
        i0 = block * n_rows
        for j in range(0, bt.shape[0], n_cols):
            # Each pass over the block prefetches its share of the rows of the
            # block `ahead` on, so that memory is asked for at an even rate.
            lo, hi = _share(j // n_cols, passes, n_rows)
            lead = i0 + ahead * n_rows + lo if ahead > 0 else -1
            # One horizontal sum per accumulator: the tree's lane extracts
            # made this loop slower in some processes (stack placement).
            sums = dot_block(a, i0, bt, j, kv, lead, hi - lo, rows, cols, ())
            for r in range(min(n_rows, m - i0)):
                for jj in range(min(n_cols, n - j)):
                    c[i0 + r, j + jj] = _tail_dot(sums[r * n_cols + jj], a, i0 + r, bt, j + jj,
                                                  kv, k)


@_jit()
def _broadcast_layer(src, s0, count, w, bias, dst, d0, relu, lead, rows, vectors):
    # dst[d0 + r, :n] = src[s0 + r, :fan_in] @ w + bias (relu'd) for r < count,
    # w fan_in x n with n a whole number of vectors (bias 1 x n or wider): by
    # broadcast_block, V vectors of columns at a time, then one at a time.
    step = lanes(src)
    n = w.shape[1]
    width = len(vectors) * step
    j = 0
    while j + width <= n:
        broadcast_block(src, s0, count, w, bias, j, dst, d0, relu, lead, rows, vectors)
        lead = -1  # the next block is on its way
        j += width
    while j < n:
        broadcast_block(src, s0, count, w, bias, j, dst, d0, relu, lead, rows, (0,))
        lead = -1
        j += step


@_jit(parallel=True)
def broadcast(a, w, bias, wg, tail, c, threads, ahead, rows, vectors, rest, width):
    # c = a @ b per block of R rows: b's whole vectors of columns (w, and a
    # bias as wide) by _broadcast_layer, its other len(rest) columns by
    # grouped_block (wg: grouped_weights of them in vectors of len(width)
    # lanes) and their last k-values, those wg leaves out (tail: k - kg x
    # len(rest)), added here in order.
    m, k = a.shape
    n_rows, nv = len(rows), w.shape[1]
    kg = k - tail.shape[0]
    blocks = (m + n_rows - 1) // n_rows
    chunks = min(blocks, threads)  # one contiguous run of blocks per thread
    for chunk in numba.prange(chunks):
        for block in range(chunk * blocks // chunks, (chunk + 1) * blocks // chunks):
            i0 = block * n_rows
            count = min(n_rows, m - i0)
            lead = i0 + ahead * n_rows  # `ahead` blocks on, while whole
            if ahead <= 0 or lead + n_rows > m:
                lead = -1
            if nv > 0:
                _broadcast_layer(a, i0, count, w, bias, c, i0, False, lead, rows, vectors)
                lead = -1  # the next block is on its way
            grouped_block(a, i0, count, wg, c, i0, nv, lead, rows, rest, width)
            for r in range(count if kg < k else 0):
                for j in range(len(rest)):
                    c[i0 + r, nv + j] = _tail_column(c[i0 + r, nv + j], a, i0 + r, tail, j, kg)


@_jit()
def _aligned_copy(a):
    # A copy of the C-contiguous a that starts on a cache line, as
    # prepared.aligned_zeros makes outside numba (numba's own arrays start on
    # 32 bytes: half of them would split every 64-byte load in two).
    step = LINE_BYTES // a.itemsize
    buf = np.empty(a.size + step, a.dtype)
    start = (LINE_BYTES - buf.ctypes.data % LINE_BYTES) % LINE_BYTES // a.itemsize
    copy = buf[start:start + a.size].reshape(a.shape)
    copy[:] = a
    return copy


@_jit(parallel=True)
def forward(x, w1, wg1, tail1, bias1, padded, out, threads, ahead, rows, vectors, rest, width):
    # out = the MLP's logits for x, per block of R rows. Layer 1: its first
    # nv outputs (w1: k x nv, nv whole vectors) by _broadcast_layer, its other
    # len(rest) outputs by grouped_block (wg1, tail1: as simd.broadcast's wg
    # and tail), bias1 (1 x nv + len(rest)) holding both's biases; relu.
    # Layers 2.. (`padded`: (w, bias) pairs, the outputs padded to whole
    # vectors) follow by _broadcast_layer, so the hidden activations never
    # leave the cache.
    m, k = x.shape
    n_rows = len(rows)
    # A list made here: the parallel loop cannot take a tuple of arrays argument.
    later = [padded[layer] for layer in range(len(padded))]
    nv = w1.shape[1]
    kg = k - tail1.shape[0]
    widest = nv + len(rest)
    for w, _ in later:
        widest = max(widest, w.shape[1])
    blocks = (m + n_rows - 1) // n_rows
    chunks = min(blocks, threads)  # one contiguous run of blocks per thread
    for chunk in numba.prange(chunks):
        # Each thread takes the later layers' arrays out of the list once per
        # block, and numba counts references as it does: two threads counting
        # the same arrays fought over their cache lines (2-7 % of the pass
        # on 2 threads of an Intel Xeon), so each has its own copies.
        mine = later if chunks == 1 else [(_aligned_copy(w), _aligned_copy(b)) for w, b in later]
        # Zeros: rows past `count` of a last block are computed (not stored).
        h = np.zeros((n_rows, widest), x.dtype)
        g = np.zeros((n_rows, widest), x.dtype)
        for block in range(chunk * blocks // chunks, (chunk + 1) * blocks // chunks):
            i0 = block * n_rows
            count = min(n_rows, m - i0)
            lead = i0 + ahead * n_rows  # `ahead` blocks on, while whole
            if ahead <= 0 or lead + n_rows > m:
                lead = -1
            if nv > 0:
                _broadcast_layer(x, i0, count, w1, bias1, h, 0, True, lead, rows, vectors)
                lead = -1  # the next block is on its way
            grouped_block(x, i0, count, wg1, h, 0, nv, lead, rows, rest, width)
            for r in range(count):
                for j in range(len(rest)):
                    s = h[r, nv + j]
                    if kg < k:
                        s = _tail_column(s, x, i0 + r, tail1, j, kg)
                    s += bias1[0, nv + j]
                    h[r, nv + j] = 0 if s < 0 else s  # relu; NaN stays NaN
            src, dst = h, g
            for layer in range(len(mine)):
                w, bias = mine[layer]
                if layer == len(mine) - 1:
                    _broadcast_layer(src, 0, count, w, bias, out, i0, False, -1, rows, vectors)
                else:
                    _broadcast_layer(src, 0, count, w, bias, dst, 0, True, -1, rows, vectors)
                    src, dst = dst, src


@_jit(parallel=True)
def fma_peak(x, y, iterations, out, chains, width):
    # The compute roof: one fma_chains loop per entry of out, one entry per thread.
    for part in numba.prange(out.shape[0]):
        out[part] = fma_chains(x, y, iterations, chains, width)


# Vectors (of v's rows) summed in float32 before their sum joins a float64
# total: each lane's float32 sum then has at most 256 terms.
READ_BLOCK = 1024


@_jit(parallel=True)
def read_sum(v, tail, out, repeats):
    # The memory roof's wide-load read: v is the data as whole vectors (one a
    # row), tail the elements past them. Each entry of out (float64) sums its
    # share of v's rows, `repeats` times over (so that a call on a small,
    # cache-resident slice reads at the cache's speed rather than the call's),
    # READ_BLOCK rows at a time in four vector accumulators, so loads never
    # wait on an add.
    m = v.shape[0]
    parts = out.shape[0]
    for part in numba.prange(parts):
        lo, hi = _share(part, parts, m)
        total = 0.0
        for _ in range(repeats):
            i = lo
            while i < hi:
                end = min(i + READ_BLOCK, hi)
                acc0 = acc1 = acc2 = acc3 = vsplat(v, 0)
                while i + 4 <= end:
                    acc0 = vadd(acc0, vload(v, i, 0))
                    acc1 = vadd(acc1, vload(v, i + 1, 0))
                    acc2 = vadd(acc2, vload(v, i + 2, 0))
                    acc3 = vadd(acc3, vload(v, i + 3, 0))
                    i += 4
                while i < end:
                    acc0 = vadd(acc0, vload(v, i, 0))
                    i += 1
                acc = vadd(vadd(acc0, acc1), vadd(acc2, acc3))
                for lane in range(lanes(v)):
                    total += vlane(acc, lane)
            if part == 0:
                for p in range(tail.shape[0]):
                    total += tail[p]
        out[part] = total


# The same loops on one thread, for products too small to pay for waking the
# thread pool.
def _renamed(fn, name):
    # A copy under its own name: numba's disk cache is keyed by the function's
    # name and line, so the serial and parallel builds must not share one.
    copy = pytypes.FunctionType(fn.__code__, fn.__globals__, name)
    copy.__qualname__ = name
    return copy


blocked_serial = _jit()(_renamed(blocked.py_func, "blocked_serial"))
broadcast_serial = _jit()(_renamed(broadcast.py_func, "broadcast_serial"))
forward_serial = _jit()(_renamed(forward.py_func, "forward_serial"))
read_sum_serial = _jit()(_renamed(read_sum.py_func, "read_sum_serial"))
fma_peak_serial = _jit()(_renamed(fma_peak.py_func, "fma_peak_serial"))


# The serial builds on matrices given by their data pointers.
@intrinsic
def pointer_at(typingctx, address, like):
    """The integer `address` as a pointer to elements of like's type (a number)."""
    if not (isinstance(address, types.Integer) and isinstance(like, types.Number)):
        return None
    pointer = types.CPointer(like)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(pointer))

    return pointer(address, like), codegen


@_jit()
def blocked_at(a, bt, c, m, k, bt_rows, n, like, ahead, rows, cols):
    # blocked_serial on the C-contiguous matrices at addresses a (m x k), bt
    # (bt_rows x k) and c (m x n), elements of like's type: a small call then
    # passes torch's data pointers instead of converting tensors to numpy
    # arrays and back (about 1.3 us of a 5-row product on the Xeon of round 3).
    blocked_serial(numba.carray(pointer_at(a, like), (m, k)),
                   numba.carray(pointer_at(bt, like), (bt_rows, k)),
                   numba.carray(pointer_at(c, like), (m, n)), ahead, rows, cols)


@_jit()
def forward_at(x, m, k, w1, wg1, tail1, bias1, padded, out, n, like, ahead, rows, vectors, rest,
               width):
    # forward_serial with x (m x k) and out (m x n) given by their data
    # pointers, elements of like's type, as blocked_at above.
    forward_serial(numba.carray(pointer_at(x, like), (m, k)), w1, wg1, tail1, bias1, padded,
                   numba.carray(pointer_at(out, like), (m, n)), 1, ahead, rows, vectors, rest,
                   width)


__all__ = ["FEATURES", "VECTOR_BYTES", "VECTOR_REGISTERS", "Vector", "blocked", "blocked_at",
           "blocked_serial", "broadcast", "broadcast_block", "broadcast_serial", "column_group",
           "dot_block", "fma_chains", "fma_peak", "fma_peak_serial", "forward", "grouped_block",
           "grouped_passes", "grouped_shape", "grouped_weights", "forward_at", "forward_serial",
           "lanes", "pointer_at", "read_sum", "read_sum_serial", "vadd", "vector_of", "vlane", "vload",
           "vsplat"]
