"""Kernels compiled by numba: the lesson's loops without the interpreter.

- `numba_three_loops`: the i, j, k loops of `lesson.three_loops`, compiled
  (`@njit`, one thread). Against the Python version it shows how much of the
  time was interpreter overhead.
- `numba_tuned`: a kernel for the skinny MNIST layer (50 000 x 784 @ 784 x 10).
  x is 157 MB, the weights 31 KB; each float of x takes part in 10 multiply-
  adds (5 flops per byte), so depending on the machine's ratio of FMA rate to
  memory bandwidth either roof can bind: the kernel has to run its FMAs at
  full rate *while* x streams in. See `simd`: `blocked` and `dot_block`.
- `numba_fused`: the other way round: broadcast FMAs over the outputs (one
  element of a row of a times a vector of a row of b), no horizontal sums;
  registered with `fused_forward`, the whole MLP forward pass in one parallel
  loop over blocks of rows, built the same way. See `simd`: `broadcast` and
  `broadcast_block`.

numba is an optional extra (`pip install 'matmul-bench[numba]'`). Without it
(or with a numba that fails to import) this module still imports,
`NUMBA_MISSING` says why, and `matmul/__init__.py` leaves these kernels out of
the registry, listed in `UNAVAILABLE` with that reason.

Dtypes: numba computes in float32, float64, int32 and int64; integers
accumulate in their own type, so they are exact and wrap on overflow like
torch's. numpy has no bfloat16 and numba no float16 arithmetic, so both are
computed in float32 and rounded once at the end (as BLAS's half GEMM does);
narrower integer types go through int64 and wrap back. The fused forward pass
computes float32 and float64; other dtypes run layer by layer.

Compilation is lazy (one machine-code version per dtype, block shape and
serial/parallel build actually used) and cached on disk (`cache=True`: in
`__pycache__` next to this file, or numba's per-user cache directory when that
is read-only; with neither, each process compiles), so only a first run pays.
CPU only: `.numpy()` needs host memory, so the registry declares devices={"cpu"}.
"""
from __future__ import annotations

import functools
import time

import numpy as np
import torch

from .jit import cached_njit
from .optional import import_extra
from .prepared import PreparedWeights, aligned_zeros
from .registry import Workspace
from .serial_or_parallel import BuildChoice

(numba, simd), NUMBA_MISSING = import_extra("numba", "numba", ".simd", package=__package__)
if numba is not None:
    import os

    # OpenMP first: with one thread a parallel region runs inline on the
    # calling thread, and with more the calling thread takes a share. The
    # workqueue layer hands every region to worker threads, which the
    # scheduler places apart from the caller's warm caches: slower and more
    # variable from process to process. numba's OpenMP runtime also serves
    # torch when matmul is imported before torch (matmul.openmp). A user's
    # own choice in the environment wins.
    if "NUMBA_THREADING_LAYER" not in os.environ and "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
    from .entries import launch, threads

# What numba computes in, for every dtype torch hands us (other dtypes: int64
# for integers, float32 for floating point).
_NATIVE = (torch.float32, torch.float64, torch.int32, torch.int64)
_NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.int32: np.int32,
          torch.int64: np.int64}


def _njit(**options):
    """numba.njit(cache=True, **options), or, without numba, a stub that raises."""

    def decorate(fn):
        if numba is None:
            def missing(*args):
                raise ImportError(NUMBA_MISSING)
            return missing
        return cached_njit(fn, **options)

    return decorate


# -- the compiled loops (numpy arrays in, c filled in place) ------------------

@_njit()
def _three_loops(a, b, c):
    # Exactly lesson.three_loops: one scalar multiply-add per step, in order.
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            for p in range(a.shape[1]):
                c[i, j] += a[i, p] * b[p, j]


# -- numba_tuned: dot products along k ---------------------------------------------
#
# simd's dot blocks: ROWS rows of a x COLUMNS rows of bt (b transposed) in
# vector registers along k, prefetching the rows of a block AHEAD blocks on.

# Columns per pass: the MNIST layers (10 outputs; 50 hidden units in the
# forward pass) are whole passes, so no FMA is spent on padding.
COLUMNS = 5
# Rows per block: as many as the vector registers hold, ROWS x COLUMNS
# accumulators plus ROWS loaded vectors of a, with two registers to spare.
ROWS = max(1, ((simd.VECTOR_REGISTERS if simd else 16) - 2) // (COLUMNS + 1))
# Prefetch lead, in blocks: the block after the next, so that a block's lines
# have a whole block's compute time of slack to arrive. The prefetches go to
# L2 (into L1 they would evict the block being computed) and are spread over
# the passes of a block, so that memory is asked for at an even rate.
AHEAD = 2

# -- numba_fused: broadcast FMAs over the outputs -------------------------------------
#
# simd's broadcast blocks: BROADCAST_ROWS rows x BROADCAST_VECTORS vectors of
# outputs, R x V accumulators plus V loaded vectors and one broadcast, with
# at least one register in sixteen to spare (8 x 3 with AVX-512's 32 registers, 6 x 2
# with 16). Four spare, as AVX-512's 8 x 3 leave, gave 5 x 2 with 16: the
# fused forward pass on one thread of an AMD EPYC Zen 3 (AVX2) ran at 71-73 %
# of the FMA peak with 5 rows against 77-78 % with 6 (5 000 rows, two
# interleaved rounds of 15 calls each), and the product 8 % faster.
_REGISTERS = simd.VECTOR_REGISTERS if simd else 16
BROADCAST_VECTORS = 3 if _REGISTERS >= 32 else 2
BROADCAST_ROWS = (_REGISTERS - BROADCAST_VECTORS - 1 - _REGISTERS // 16) // BROADCAST_VECTORS
# Prefetch lead, in blocks: a block's rows are one contiguous span, asked for
# (into L2) at an even rate while the block before it computes.
BROADCAST_AHEAD = 1
# The columns past a layer's last whole vector (all 10 of the skinny MNIST
# layer's with AVX-512's 16 float lanes, 2 of the fused forward pass's 50
# hidden units) run as simd.grouped_block: each
# vector holds g consecutive k-values of lanes / g columns, so no lane is
# padding. Its vectors are half the widest where that loses no FMA
# throughput: on a core whose FMA units are half as wide as its widest
# vectors (AMD Zen 4 issues a 512-bit FMA as two 256-bit halves) half-width
# FMAs issue twice as often, and their broadcasting loads are the cheaper
# ones (on the Zen 4 VM of round 3, stop 41, one thread in cache, the skinny
# layer's 10 columns: 92 % of the FMA peak in 256-bit vectors, 90 % in
# 512-bit ones). Which kind of core this is, is measured once per
# process (narrow_vectors_pay): the FMA microkernel at both widths; half-width
# vectors are chosen when their flops a second reach NARROW_SHARE of the
# widest's: 1.0 on such a core, 0.5 where the units are as wide as the vectors.
NARROW_SHARE = 0.75
NARROW_TRIALS = 5  # alternating calls of each width; the fastest counts
NARROW_ITERATIONS = 16_384  # steps of every chain a call: about 0.1 ms


def _broadcast_shape(rows: int = BROADCAST_ROWS, vectors: int = BROADCAST_VECTORS,
                     ahead: int = BROADCAST_AHEAD):
    """The arguments that fix a broadcast block's shape and prefetch lead
    (see simd.broadcast)."""
    return ahead, (0,) * rows, (0,) * vectors


# Serial or parallel build, per size class of call: timed on the first calls
# (waking the thread pool can cost more than a small product).
BUILDS = BuildChoice()


# -- torch in, torch out -------------------------------------------------------

def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype in _NATIVE:
        return dtype
    if dtype.is_complex or dtype == torch.bool:
        raise TypeError(f"numba kernels do not support {dtype}")
    return torch.float32 if dtype.is_floating_point else torch.int64


def _host_array(t: torch.Tensor, dtype: torch.dtype):
    """A C-contiguous numpy array of t's values in `dtype`: t itself when it
    already is one (read only here), else a copy; t is never modified."""
    if t.dtype is dtype and not t.requires_grad and t.is_contiguous():
        return t.numpy()  # the common case, without three no-op conversions
    return t.detach().to(dtype).contiguous().numpy()


# Weights transposed and padded for the kernels, kept between calls while the
# tensors are unchanged (see prepared: version counter, data pointer, identity).
PREPARED = PreparedWeights()


def numba_three_loops(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """lesson.three_loops compiled by numba: same i, j, k loops, no interpreter.

    Model: one scalar multiply-add per step, each waiting for the previous one
    (a dependency chain along k), with b read down a column (strided).
    """
    dtype = _compute_dtype(a.dtype)
    c = torch.zeros(a.shape[0], b.shape[1], dtype=dtype)
    _three_loops(_host_array(a, dtype), _host_array(b, dtype), c.numpy())
    return c.to(a.dtype)


def _block_shape(rows: int = ROWS, columns: int = COLUMNS, ahead: int = AHEAD):
    """The arguments that fix a block's shape and prefetch lead (see simd.blocked)."""
    return ahead, (0,) * rows, (0,) * columns


_BLOCK = _block_shape()  # numba_tuned's, made once: a 5-row product is a few microseconds


def _transposed(b: torch.Tensor, dtype: torch.dtype, multiple: int) -> np.ndarray:
    """b.T in `dtype` as a new C-contiguous array, with zero rows appended to a
    whole multiple: each column of b a contiguous row."""
    bt = aligned_zeros((-(-b.shape[1] // multiple) * multiple, b.shape[0]), _NUMPY[dtype])
    bt[: b.shape[1]] = b.detach().to(dtype).numpy().T
    return bt


# What numba_tuned allocates beyond its output: b transposed,
# its n columns padded with zero rows to whole passes of COLUMNS (on a call
# that does not find it prepared already).
PADDED_WEIGHTS = Workspace(f"output + k·n (b transposed, n padded to a multiple of {COLUMNS}, "
                           "unless already prepared)",
                           lambda m, k, n: k * -(-n // COLUMNS) * COLUMNS)


# What numba_fused's product allocates beyond its output (on a call that does
# not find it prepared already): b's columns in whole vectors and a zero bias
# row as wide, b's other columns grouped (simd.grouped_weights) and their last
# k-values: k·n + n elements at most.
GROUPED_COLUMNS = Workspace("output + k·n + n (b's whole vectors of columns and a zero bias for them, "
                           "its other columns grouped, unless already prepared)",
                           lambda m, k, n: k * n + n)


def _product(a: torch.Tensor, b: torch.Tensor, run) -> torch.Tensor:
    """a @ b by run(a, b, dtype, out): what numba_tuned and numba_fused share
    around their kernels (the compute dtype, empty products, the output
    allocated by numpy and shared with torch, cheaper than the other way
    round, and the cast back)."""
    if simd is None:
        raise ImportError(NUMBA_MISSING)
    dtype = _compute_dtype(a.dtype)
    m, n = a.shape[0], b.shape[1]
    if m * n == 0:
        return torch.empty(m, n, dtype=a.dtype)
    out = np.empty((m, n), _NUMPY[dtype])  # every entry is written (0 when k = 0)
    run(a, b, dtype, out)
    c = torch.from_numpy(out)
    return c if dtype is a.dtype else c.to(a.dtype)


# One element of each dtype the kernels read in place by address (see
# simd.blocked_at): it carries the dtype into the compiled call.
_ELEMENT = {dtype: _NUMPY[dtype](0) for dtype in _NATIVE}


class _TunedCall:
    """What numba_tuned's calls share for one input dtype and block shape
    (`block` = _block_shape()'s (ahead, rows, cols)), made once: a 5-row
    product takes a few microseconds, and finding these by (dtype, block)
    on every call cost a third of them on the Xeon of round 3."""

    def __init__(self, dtype: torch.dtype, block):
        if simd is None:
            raise ImportError(NUMBA_MISSING)
        self.block, self.dtype = block, _compute_dtype(dtype)
        self.native = dtype is self.dtype  # a read in place, without a conversion
        self.element = _ELEMENT[self.dtype]
        self.multiple = len(block[-1])
        self.tag = ("bt", self.dtype, self.multiple)
        # (dtype, block) fixes the arguments' types: see entries
        self.builds = launch(BUILDS, simd.blocked_serial, simd.blocked, (self.dtype, block),
                             len(block[1]), simd.blocked_at)

    def prepare(self, b: torch.Tensor) -> tuple[np.ndarray, int, int]:
        """b transposed, so each column of b is a contiguous row streamed with
        a's rows, padded with zero rows to whole passes; its address and its
        rows. It is small, and prepared (PREPARED) once per state of b."""
        bt = _transposed(b, self.dtype, self.multiple)
        return bt, bt.ctypes.data, bt.shape[0]

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        (m, k), n = a.shape, b.shape[1]
        builds = self.builds
        if (m * n and self.native and a.is_cpu and a.is_contiguous()
                and (m <= builds.part_rows or builds.runs_serially(m, k * n))):
            # A call on one thread passes data pointers: for a small product the
            # conversions to numpy and back cost more than the arithmetic.
            # bt is held here while the compiled call reads its address (an
            # uncached build, or an entry evicted meanwhile, has no other owner).
            bt, address, rows = PREPARED.get_one(b, self.tag, self.prepare)
            out = a.new_empty(m, n)
            builds.run_at(a.data_ptr(), address, out.data_ptr(), m, k, rows, n, self.element,
                          *self.block)
            del bt
            return out

        def run(a, b, dtype, out):
            builds.run(m, k * n, threads(), _host_array(a, dtype),
                       PREPARED.get_one(b, self.tag, self.prepare)[0], out, *self.block)

        return _product(a, b, run)


_TUNED_CALLS: dict[torch.dtype, _TunedCall] = {}  # numba_tuned's, by input dtype


def numba_tuned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Register-blocked in SIMD vectors, prefetching a ahead, parallel over rows.

    Blocks of ROWS rows (as many as the vector registers hold: 5 with
    AVX-512) x 5 columns of c per pass, for the skinny MNIST layer; correct for
    every shape (n pads to whole passes of 5).

    Model: FMA-bound (ROWS * 5 vector FMAs per ROWS + 5 vector loads, one
    horizontal sum per output) while the L2 prefetches keep x streaming in
    from memory at that rate; with x on 4 KB pages, page walks come on top.
    A small call (one thread) is overhead-bound: about 4 us of Python and
    torch calls around 0.65 us of arithmetic on 5 rows (README, "Small batches").
    """
    call = _TUNED_CALLS.get(a.dtype)
    if call is None:
        call = _TUNED_CALLS[a.dtype] = _TunedCall(a.dtype, _BLOCK)
    return call(a, b)


def numba_fused(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Broadcast FMAs over the outputs, no lane sums; the MLP forward pass fused per block.

    Blocks of BROADCAST_ROWS rows (8 with AVX-512) x BROADCAST_VECTORS
    vectors of c's columns; correct for every shape. Model: each step over k
    loads those vectors of one row of b and broadcasts one element of each
    row of the block: R x V FMAs and no horizontal sums, so FMA-bound. The
    columns past the last whole vector (all 10 of the skinny MNIST layer's)
    run as grouped blocks (simd.grouped_block): each vector holds g
    consecutive k-values of lanes / g columns, one broadcasting load of g
    elements of a row serves it, so no lane is padding; in half-width vectors
    where those lose no FMA throughput (narrow_vectors_pay). For the skinny
    layer that is the least FMA work there is, 10 lanes of k per row (whole
    vectors padded the 10 columns to 16), while the block's rows, one
    contiguous span, stream in (prefetched a block ahead): memory- or
    FMA-bound by the machine's roofs. forward.MLP runs fused_forward.
    """
    return _broadcast(a, b, _broadcast_shape())


def _broadcast(a: torch.Tensor, b: torch.Tensor, block) -> torch.Tensor:
    """a @ b by simd.broadcast with `block` = _broadcast_shape()'s (ahead, rows, vectors)."""

    def run(a, b, dtype, out):
        (m, k), n = a.shape, b.shape[1]
        lanes = group_lanes(dtype)
        weights = PREPARED.get((b,), ("columns", dtype, lanes), lambda: _columns(b, dtype, lanes))
        count = threads()
        # (dtype, block, weights' shapes) fix the arguments' types: see entries
        launch(BUILDS, simd.broadcast_serial, simd.broadcast, (dtype, block, *weights[-2:]),
               len(block[1])).run(m, k * n, count, _host_array(a, dtype), *weights[:4], out,
                                  count, *block, *weights[-2:])

    return _product(a, b, run)


def _split(w: np.ndarray, lanes: int) -> tuple:
    """w (k x n) as simd's kernels take it: its whole vectors of columns; its
    other r columns grouped in vectors of `lanes` lanes (simd.grouped_weights)
    and the last k-values that leaves out (k % G x r); then the
    type-carrying tuples of r and of `lanes` zeros. Each array starts on a
    cache line."""
    (k, n), dtype = w.shape, w.dtype
    nv = n - n % (simd.VECTOR_BYTES // dtype.itemsize)
    whole = aligned_zeros((k, nv), dtype)
    whole[:] = w[:, :nv]
    rest = w[:, nv:]
    grouped = simd.grouped_weights(rest, lanes,
                                   aligned_zeros(simd.grouped_shape(k, n - nv, lanes), dtype))
    kg = k - k % simd.column_group(n - nv, lanes)[0]
    tail = aligned_zeros((k - kg, n - nv), dtype)
    tail[:] = rest[kg:]
    return whole, grouped, tail, (0,) * (n - nv), (0,) * lanes


def _columns(b: torch.Tensor, dtype: torch.dtype, lanes: int) -> tuple:
    """What simd.broadcast takes of b: _split's arrays with a zero bias for
    the whole vectors, then its tuples."""
    whole, grouped, tail, rest, width = _split(b.detach().to(dtype).numpy(), lanes)
    return whole, aligned_zeros((1, whole.shape[1]), _NUMPY[dtype]), grouped, tail, rest, width


def narrow_pays(wide_rate: float, narrow_rate: float) -> bool:
    """Whether half-width vectors lose no FMA throughput, by the FMA rates
    (flops a second) measured at both widths: see NARROW_SHARE."""
    return narrow_rate >= NARROW_SHARE * wide_rate


def fma_rates(lanes: int, clock=time.perf_counter) -> tuple[float, float]:
    """The FMA microkernel's best rate on this thread, in flops a second, in
    vectors of `lanes` float32 lanes and of half as many: (wide, narrow); 0
    for a width whose every reading of `clock` failed to advance."""
    chains = (0,) * max(1, simd.VECTOR_REGISTERS - 2)
    out = np.zeros(1, np.float32)
    one, addend = np.float32(1.0), np.float32(1.0 / 1024)
    widths = ((0,) * lanes, (0,) * (lanes // 2))
    for width in widths:  # compiled (or loaded) and warmed, untimed
        simd.fma_peak_serial(one, addend, 1, out, chains, width)
    best = [0.0, 0.0]
    for _ in range(NARROW_TRIALS):
        for index, width in enumerate(widths):
            start = clock()
            simd.fma_peak_serial(one, addend, NARROW_ITERATIONS, out, chains, width)
            seconds = clock() - start
            if seconds > 0:  # a clock that did not advance says nothing
                flops = 2 * len(chains) * len(width) * NARROW_ITERATIONS
                best[index] = max(best[index], flops / seconds)
    return best[0], best[1]


@functools.cache
def narrow_vectors_pay() -> bool:
    """Whether numba_fused's grouped columns run in half-width vectors here:
    measured once per process (fma_rates, NARROW_SHARE); the widest where
    nothing could be measured, or where vectors are 16 bytes already."""
    lanes = simd.VECTOR_BYTES // 4
    if lanes < 8:
        return False
    wide, narrow = fma_rates(lanes)
    return wide > 0 and narrow_pays(wide, narrow)


def group_lanes(dtype: torch.dtype) -> int:
    """Lanes of the vectors numba_fused's grouped columns run in, for `dtype`."""
    lanes = _lanes(dtype)
    return lanes // 2 if narrow_vectors_pay() else lanes


def fused_forward(x: torch.Tensor, layers) -> torch.Tensor:
    """An MLP's logits in one pass over x, per block of BROADCAST_ROWS rows:
    layer 1 broadcast-FMA over its outputs (BROADCAST_VECTORS vectors of
    them at a time; the outputs past the last whole vector as grouped blocks,
    as numba_fused's product) into a cache-resident buffer (+ bias, relu),
    then each later layer the same way. NotImplemented unless x and every weight and bias
    share float32 or float64 on the CPU, x is dense (strided), and there are at least two layers
    (forward.MLP then runs one kernel call per layer).

    Model: layer 1 is FMA-bound: each step loads BROADCAST_VECTORS vectors of
    a row of its weights (which stay in L2) and broadcasts one element of
    each row of the block (prefetched one block ahead), R x V FMAs and no
    lane sums, and the other 2 of 784 -> 50's outputs a sum of 8 lanes per
    row and block (4 in half-width vectors). The later layers are a sliver of the flops (500
    of 39 700 multiply-adds a row for 784 -> 50 -> 10), R independent chains
    each, from each thread's own copies of their weights; x is read once and
    the hidden activations never reach memory. A pass on fewer rows than a
    block runs a block of just those rows (_part_block), so a 5-row pass
    spends no FMAs on 3 rows of padding.
    """
    if numba is None:
        raise ImportError(NUMBA_MISSING)
    dtype = x.dtype
    # is_cpu, a flag, where device.type builds a device object (0.3 us each
    # on the Xeon of round 3, stop 35: 1.4 us of a 19 us 5-row pass).
    if (len(layers) < 2 or dtype not in (torch.float32, torch.float64)
            or not x.is_cpu or x.dim() != 2 or x.layout is not torch.strided):
        return NotImplemented
    for layer in layers:
        if (layer.w.dtype is not dtype or layer.b.dtype is not dtype or not layer.w.is_cpu
                or not layer.b.is_cpu or 0 in layer.w.shape):
            return NotImplemented
    (m, k), n = x.shape, layers[-1].out_features
    if m == 0:
        return torch.empty(0, n, dtype=dtype)
    block = _FORWARD_BLOCK
    lanes = group_lanes(dtype)
    tensors = tuple(t for layer in layers for t in (layer.w, layer.b))
    (*weights, rest, width), macs_per_row = PREPARED.get(
        tensors, ("forward", dtype, lanes), lambda: _forward_weights(layers, dtype, lanes))
    # (dtype, depth, block, rest, width) fixes the arguments' types: see entries
    build = launch(BUILDS, simd.forward_serial, simd.forward,
                   (dtype, len(layers), block, rest, width), len(block[1]), simd.forward_at)
    if x.is_contiguous() and (m <= build.part_rows or build.runs_serially(m, macs_per_row)):
        # One thread: x and the logits by their data pointers (see _TunedCall).
        if m < build.part_rows:
            block, build = _part_block(dtype, len(layers), m, rest, width)
        out = x.new_empty(m, n)
        build.run_at(x.data_ptr(), m, k, *weights, out.data_ptr(), n, _ELEMENT[dtype], *block,
                     rest, width)
        return out
    out = np.empty((m, n), _NUMPY[dtype])
    count = threads()
    build.run(m, macs_per_row, count, _host_array(x, dtype), *weights, out, count, *block, rest,
              width)
    return torch.from_numpy(out)


_FORWARD_BLOCK = _broadcast_shape()


@functools.cache
def _part_block(dtype: torch.dtype, depth: int, rows: int, rest: tuple, width: tuple):
    """The block of exactly `rows` (< BROADCAST_ROWS) rows and its Launch: a
    pass on fewer rows than a block computes only those, at the cost of one
    more compilation per row count (on the Xeon of round 3, stop 36, a 5-row
    pass's compiled call took 4.0 instead of 4.9 us)."""
    block = _broadcast_shape(rows=rows)
    return block, launch(BUILDS, simd.forward_serial, simd.forward,
                         (dtype, depth, block, rest, width), rows, simd.forward_at)


def _lanes(dtype: torch.dtype) -> int:
    """Elements of `dtype` in one of simd's vectors."""
    return simd.VECTOR_BYTES // np.dtype(_NUMPY[dtype]).itemsize


def _padded(w: torch.Tensor, b: torch.Tensor | None, dtype: torch.dtype,
            multiple: int) -> tuple[np.ndarray, np.ndarray]:
    """w and b (zeros for None) as 1 x n in `dtype`, the n outputs padded with
    zeros to a whole multiple."""
    k, n = w.shape
    width = -(-n // multiple) * multiple
    wp = aligned_zeros((k, width), _NUMPY[dtype])
    wp[:, :n] = w.detach().to(dtype).numpy()
    bias = aligned_zeros((1, width), _NUMPY[dtype])
    if b is not None:
        bias[0, :n] = b.detach().to(dtype).numpy()
    return wp, bias


def _forward_weights(layers, dtype: torch.dtype, lanes: int):
    """What simd.forward takes of the layers, and the multiply-adds per row:
    the first layer's weights split as _split does (its whole vectors of
    outputs, the others grouped in vectors of `lanes` lanes, their last
    k-values), both's biases in one row; the later layers' weights and
    biases, their outputs padded to whole vectors; then _split's tuples."""
    first, *later = layers
    w1, wg1, tail1, rest, width = _split(first.w.detach().to(dtype).numpy(), lanes)
    bias1 = aligned_zeros((1, first.out_features), _NUMPY[dtype])
    bias1[0] = first.b.detach().to(dtype).numpy()
    padded = tuple(_padded(layer.w, layer.b, dtype, _lanes(dtype)) for layer in later)
    macs_per_row = sum(layer.in_features * layer.out_features for layer in layers)
    return (w1, wg1, tail1, bias1, padded, rest, width), macs_per_row
