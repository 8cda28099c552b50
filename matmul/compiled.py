"""Kernels compiled by numba: the lesson's loops without the interpreter.

- `numba_three_loops`: the i, j, k loops of `lesson.three_loops`, compiled
  (`@njit`, one thread). Against the Python version it shows how much of the
  time was interpreter overhead.
- `numba_tuned`: a kernel for the skinny MNIST layer (50 000 x 784 @ 784 x 10),
  which is memory-bound: x is 157 MB, the weights 31 KB, so the floor is one
  read of x. See `_blocked` below.

numba is an optional extra (`pip install 'matmul-bench[numba]'`). Without it
(or with a numba that fails to import) this module still imports,
`NUMBA_MISSING` says why, and `matmul/__init__.py` leaves these kernels out of
the registry, listed in `UNAVAILABLE` with that reason.

Dtypes: numba computes in float32, float64, int32 and int64; integers
accumulate in their own type, so they are exact and wrap on overflow like
torch's. numpy has no bfloat16 and numba no float16 arithmetic, so both are
computed in float32 and rounded once at the end (as BLAS's half GEMM does);
narrower integer types go through int64 and wrap back.

Compilation is lazy (one machine-code version per dtype actually used, about
1 s each for the parallel kernel) and cached on disk (`cache=True`: in
`__pycache__` next to this file, or numba's per-user cache directory when that
is read-only; with neither, each process compiles), so only a first run pays.
CPU only: `.numpy()` needs host memory, so the registry declares devices={"cpu"}.
"""
from __future__ import annotations

import types

import torch

_INSTALL = "pip install 'matmul-bench[numba]'"
try:
    import numba
except ImportError as error:  # the optional extra is missing (or broken)
    numba = None
    NUMBA_MISSING = (
        f"numba is not installed: {_INSTALL}"
        if isinstance(error, ModuleNotFoundError) and error.name == "numba"
        else f"numba could not be imported ({error}): {_INSTALL}"
    )
else:
    NUMBA_MISSING = None
    import os

    # numba's default OpenMP pool and torch's each spin-wait for work after a
    # parallel region; alternating the two (every benchmark round does) left
    # each waiting ~10 ms for the other's spinning threads on 2 cores. The
    # workqueue layer does not spin. A user's own choice in the environment wins.
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "workqueue"

# What numba computes in, for every dtype torch hands us (other dtypes: int64
# for integers, float32 for floating point).
_NATIVE = (torch.float32, torch.float64, torch.int32, torch.int64)

# Floating-point reductions may be reassociated (split into SIMD lanes) and
# fused into FMAs: any summation order keeps the dot-product bound
# |error| <= γ_K |A||B|. No "fast" nnan/ninf: NaN and inf still propagate.
# Integer arithmetic is unaffected (and exact) whatever the flags.
_FLOAT_REASSOCIATION = {"reassoc", "contract"}


def _njit(**options):
    """numba.njit(cache=True, **options), or, without numba, a stub that raises."""

    def decorate(fn):
        if numba is None:
            def missing(*args):
                raise ImportError(NUMBA_MISSING)
            return missing
        try:
            return numba.njit(cache=True, **options)(fn)
        except RuntimeError:  # no writable cache directory: compile in each process
            return numba.njit(**options)(fn)

    return decorate


_prange = numba.prange if numba is not None else range


# -- the compiled loops (numpy arrays in, c filled in place) ------------------

@_njit()
def _three_loops(a, b, c):
    # Exactly lesson.three_loops: one scalar multiply-add per step, in order.
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            for p in range(a.shape[1]):
                c[i, j] += a[i, p] * b[p, j]


# Register blocking: ROWS rows of a times COLS columns of b per pass, so each
# loaded a[i, p] serves COLS products and each b value ROWS products, with all
# ROWS * COLS partial sums held in registers (numba vectorises the p loop, so
# each sum is one SIMD register of 16 float32 lanes). With n = 10 that is 16
# accumulators, 10 loads per 16 FMAs, and the 8 rows (25 KB) stay in cache
# for the 5 column passes: x is read from memory once.
#
# The 8 rows are not neighbours but row i of 8 equal slices of a, so memory
# is read as 8 long sequential streams rather than one 25 KB block at a time:
# measured on the MNIST shape, ~10% faster (one thread: 7.9 vs 8.6 ms).
ROWS, COLS = 8, 2


@_njit()
def _store(c, i, j, s0, s1):
    # Row i exists only below m (the last slice may be short) and column j + 1
    # only below n (an odd n is padded with a zero column of bt).
    if i < c.shape[0]:
        c[i, j] = s0
        if j + 1 < c.shape[1]:
            c[i, j + 1] = s1


@_njit(parallel=True, fastmath=_FLOAT_REASSOCIATION)
def _blocked(a, bt, c, zero):
    # a: m x k, bt: b transposed (n padded to whole COLS, zero rows), c: m x n.
    m, k = a.shape
    step = (m + ROWS - 1) // ROWS  # rows per slice
    last = m - 1  # rows past the end load this one (and are not stored)
    for i in _prange(step):
        r0, r1, r2, r3 = i, i + step, i + 2 * step, i + 3 * step
        r4, r5, r6, r7 = i + 4 * step, i + 5 * step, i + 6 * step, i + 7 * step
        a0, a1, a2, a3 = a[r0], a[min(r1, last)], a[min(r2, last)], a[min(r3, last)]
        a4, a5, a6, a7 = a[min(r4, last)], a[min(r5, last)], a[min(r6, last)], a[min(r7, last)]
        for j in range(0, bt.shape[0], COLS):
            b0, b1 = bt[j], bt[j + 1]
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
            s40 = s41 = s50 = s51 = s60 = s61 = s70 = s71 = zero
            for p in range(k):
                x = a0[p]
                s00 += x * b0[p]
                s01 += x * b1[p]
                x = a1[p]
                s10 += x * b0[p]
                s11 += x * b1[p]
                x = a2[p]
                s20 += x * b0[p]
                s21 += x * b1[p]
                x = a3[p]
                s30 += x * b0[p]
                s31 += x * b1[p]
                x = a4[p]
                s40 += x * b0[p]
                s41 += x * b1[p]
                x = a5[p]
                s50 += x * b0[p]
                s51 += x * b1[p]
                x = a6[p]
                s60 += x * b0[p]
                s61 += x * b1[p]
                x = a7[p]
                s70 += x * b0[p]
                s71 += x * b1[p]
            _store(c, r0, j, s00, s01)
            _store(c, r1, j, s10, s11)
            _store(c, r2, j, s20, s21)
            _store(c, r3, j, s30, s31)
            _store(c, r4, j, s40, s41)
            _store(c, r5, j, s50, s51)
            _store(c, r6, j, s60, s61)
            _store(c, r7, j, s70, s71)


# The same loops on one thread, for products too small to pay for waking the
# thread pool (tens of µs, and it varied 2x between processes).
def _renamed(fn, name):
    # A copy under its own name: numba's disk cache is keyed by the function's
    # name and line, so the serial and parallel builds must not share one.
    copy = types.FunctionType(fn.__code__, fn.__globals__, name)
    copy.__qualname__ = name
    return copy


_blocked_serial = (_njit(fastmath=_FLOAT_REASSOCIATION)(_renamed(_blocked.py_func, "_blocked_serial"))
                   if numba is not None else _blocked)
PARALLEL_MIN_MACS = 4_000_000


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
    return t.detach().to(dtype).contiguous().numpy()


def numba_three_loops(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """lesson.three_loops compiled by numba: same i, j, k loops, no interpreter."""
    dtype = _compute_dtype(a.dtype)
    c = torch.zeros(a.shape[0], b.shape[1], dtype=dtype)
    _three_loops(_host_array(a, dtype), _host_array(b, dtype), c.numpy())
    return c.to(a.dtype)


def numba_tuned(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Register-blocked (8 rows x 2 columns), parallel over rows; tuned for
    the MNIST layer (k = 784, n = 10), correct for every shape."""
    dtype = _compute_dtype(a.dtype)
    m, k = a.shape
    n = b.shape[1]
    c = torch.empty(m, n, dtype=dtype)  # every entry is written (0 when k = 0)
    if c.numel() == 0:
        return c.to(a.dtype)
    # b transposed, so each column of b is a contiguous row streamed with a's
    # rows; padded with zero rows to whole COLS-column passes. It is small.
    bt = torch.zeros(-(-n // COLS) * COLS, k, dtype=dtype)
    bt[:n] = b.detach().T
    zero = c.numpy().dtype.type(0)  # typed like c, so the sums stay in its dtype
    blocked = _blocked if m * k * n >= PARALLEL_MIN_MACS else _blocked_serial
    blocked(_host_array(a, dtype), bt.numpy(), c.numpy(), zero)
    return c.to(a.dtype)
