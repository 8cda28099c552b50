"""Kernels compiled by numba: the lesson's loops without the interpreter.

- `numba_three_loops`: the i, j, k loops of `lesson.three_loops`, compiled
  (`@njit`, one thread). Against the Python version it shows how much of the
  time was interpreter overhead.
- `numba_tuned`: a kernel for the skinny MNIST layer (50 000 x 784 @ 784 x 10).
  x is 157 MB, the weights 31 KB; each float of x takes part in 10 multiply-
  adds (5 flops per byte), so depending on the machine's ratio of FMA rate to
  memory bandwidth either roof can bind: the kernel has to run its FMAs at
  full rate *while* x streams in. See `simd`: `blocked` and `dot_block`.
- `numba_fused`: numba_tuned's product, registered with `fused_forward`, the
  whole MLP forward pass in one parallel loop over blocks of rows.

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

import numpy as np
import torch

from .jit import cached_njit
from .optional import import_extra
from .prepared import PreparedWeights
from .registry import Workspace
from .serial_or_parallel import BuildChoice, size_class

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


# -- the tuned kernel and the fused forward pass ---------------------------------
#
# Both run simd's blocks: ROWS rows of a x COLUMNS rows of bt (b transposed)
# in vector registers along k, prefetching the rows of a block AHEAD blocks on.

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
    if t.dtype == dtype and not t.requires_grad and t.is_contiguous():
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


def _transposed(b: torch.Tensor, dtype: torch.dtype, multiple: int) -> np.ndarray:
    """b.T in `dtype` as a new C-contiguous array, with zero rows appended to a
    whole multiple: each column of b a contiguous row."""
    bt = np.zeros((-(-b.shape[1] // multiple) * multiple, b.shape[0]), _NUMPY[dtype])
    bt[: b.shape[1]] = b.detach().to(dtype).numpy().T
    return bt


# What numba_tuned and numba_fused allocate beyond their output: b transposed,
# its n columns padded with zero rows to whole passes of COLUMNS (on a call
# that does not find it prepared already).
PADDED_WEIGHTS = Workspace(f"output + k·n (b transposed, n padded to a multiple of {COLUMNS}, "
                           "unless already prepared)",
                           lambda m, k, n: k * -(-n // COLUMNS) * COLUMNS)


def _tuned(a: torch.Tensor, b: torch.Tensor, block) -> torch.Tensor:
    """a @ b by simd.blocked with `block` = _block_shape()'s (ahead, rows, cols)."""
    if simd is None:
        raise ImportError(NUMBA_MISSING)
    dtype = _compute_dtype(a.dtype)
    m, k = a.shape
    n = b.shape[1]
    if m * n == 0:
        return torch.empty(m, n, dtype=a.dtype)
    # Allocated by numpy and shared with torch: cheaper than the other way round.
    out = np.empty((m, n), _NUMPY[dtype])  # every entry is written (0 when k = 0)
    # b transposed, so each column of b is a contiguous row streamed with a's
    # rows; padded with zero rows to whole passes. It is small, and prepared
    # once per state of b.
    multiple = len(block[-1])
    bt = PREPARED.get((b,), ("bt", dtype, multiple), lambda: _transposed(b, dtype, multiple))
    BUILDS.call(size_class(m, k * n, "blocked", dtype, block), m * k * n, numba.get_num_threads(),
                simd.blocked_serial, simd.blocked, _host_array(a, dtype), bt, out, *block)
    c = torch.from_numpy(out)
    return c if dtype == a.dtype else c.to(a.dtype)


def numba_tuned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Register-blocked in SIMD vectors, prefetching a ahead, parallel over rows.

    Blocks of ROWS rows (as many as the vector registers hold: 5 with
    AVX-512) x 5 columns of c per pass, for the skinny MNIST layer; correct for
    every shape (n pads to whole passes of 5).

    Model: FMA-bound (ROWS * 5 vector FMAs per ROWS + 5 vector loads, one
    horizontal sum per output) while the L2 prefetches keep x streaming in
    from memory at that rate; with x on 4 KB pages, page walks come on top.
    """
    return _tuned(a, b, _block_shape())


def numba_fused(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """numba_tuned's product; an MLP's forward pass fused per block of rows.

    The product is numba_tuned's (same model); forward.MLP runs fused_forward.
    """
    return _tuned(a, b, _block_shape())


def fused_forward(x: torch.Tensor, layers) -> torch.Tensor:
    """An MLP's logits in one pass over x: per block of ROWS rows, layer 1 as
    numba_tuned's blocks into a cache-resident buffer (+ bias, relu), then each
    later layer broadcast-FMA over its outputs. NotImplemented unless x and
    every weight and bias share float32 or float64 on the CPU and there are at
    least two layers (forward.MLP then runs one kernel call per layer).

    Model: layer 1 is FMA-bound (its weights stay in L2, each row block of x
    in L1 across its passes); the later layers are a sliver of the flops
    (500 of 39 700 multiply-adds a row for 784 -> 50 -> 10); x is read once
    and the hidden activations never reach memory.
    """
    if numba is None:
        raise ImportError(NUMBA_MISSING)
    dtype = x.dtype
    if (len(layers) < 2 or dtype not in (torch.float32, torch.float64)
            or x.device.type != "cpu" or x.dim() != 2):
        return NotImplemented
    for layer in layers:
        if (layer.w.dtype != dtype or layer.b.dtype != dtype or layer.w.device.type != "cpu"
                or layer.b.device.type != "cpu" or 0 in layer.w.shape):
            return NotImplemented
    m = x.shape[0]
    if m == 0:
        return torch.empty(0, layers[-1].out_features, dtype=dtype)
    out = np.empty((m, layers[-1].out_features), _NUMPY[dtype])
    ahead, rows, cols = _block_shape()
    tensors = tuple(t for layer in layers for t in (layer.w, layer.b))
    w1t, bias1, padded, macs_per_row = PREPARED.get(
        tensors, ("forward", dtype, len(cols)), lambda: _forward_weights(layers, dtype, len(cols)))
    threads = numba.get_num_threads()
    BUILDS.call(size_class(m, macs_per_row, "forward", dtype, len(layers)), m * macs_per_row,
                threads, simd.forward_serial, simd.forward, _host_array(x, dtype), w1t, bias1,
                padded, out, threads, ahead, rows, cols)
    return torch.from_numpy(out)


def _padded(w: torch.Tensor, b: torch.Tensor, dtype: torch.dtype, multiple: int,
            transpose: bool) -> tuple[np.ndarray, np.ndarray]:
    """w (or w.T, with transpose) and b as 1 x n in `dtype`, the n outputs padded
    with zeros to a whole multiple."""
    k, n = w.shape
    width = -(-n // multiple) * multiple
    if transpose:
        wp = _transposed(w, dtype, multiple)
    else:
        wp = np.zeros((k, width), _NUMPY[dtype])
        wp[:, :n] = w.detach().to(dtype).numpy()
    bias = np.zeros((1, width), _NUMPY[dtype])
    bias[0, :n] = b.detach().to(dtype).numpy()
    return wp, bias


def _forward_weights(layers, dtype: torch.dtype, columns: int):
    """What simd.forward takes of the layers: the first layer's weights
    transposed and its outputs padded to whole passes of `columns`; the later
    layers' outputs padded to whole vectors; and the multiply-adds per row."""
    first, *later = layers
    w1t, bias1 = _padded(first.w, first.b, dtype, columns, True)
    step = simd.VECTOR_BYTES // np.dtype(_NUMPY[dtype]).itemsize
    padded = tuple(_padded(layer.w, layer.b, dtype, step, False) for layer in later)
    return w1t, bias1, padded, sum(layer.in_features * layer.out_features for layer in layers)
