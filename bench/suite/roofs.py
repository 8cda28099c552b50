"""The microkernels that measure the machine's roofs, in the same run as the kernels.

- Compute: `fma_peak(device)`, an FMA-throughput microkernel: independent
  accumulator chains held in registers, so nothing but the FMA units bounds
  it. On the CPU, numba's `simd.fma_chains` in the widest vectors numba
  compiles for (AVX-512's 16 floats, AVX2's 8), as many chains as the vector
  registers hold but two, one loop per thread of the run's numba pool. On a
  GPU, a Triton kernel of fp32 FMAs (`tl.fma` on CUDA cores: TF32 is a
  tensor-core format, never involved). Where neither can run it says why, and
  the report falls back to the builtin GEMM as the compute roof, saying so.
- Memory: `readers(device)`, the read kernels tried on every slice: torch's
  sum and numba's wide-load read (`simd.read_sum`) at 1, 2, 4, ... up to all of
  the run's threads. The report takes the best of them as the slice's memory
  roof, naming the reader and thread count that reached it. numba's read
  goes over a small slice again and again within one call (READ_BYTES a
  call at least), so that a slice that stays in cache between calls, as the
  kernels' inputs do in their benchmarks, is read at the speed of the cache
  that holds it, not at the speed of a call: one read of x_train[:5] (16 KB)
  is mostly call overhead, and the builtin product beat that "roof" on the
  Xeon machine.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from matmul import compiled
from matmul.optional import import_extra

(triton, tl), TRITON_MISSING = import_extra("triton", "triton", "triton.language")

# acc = acc * 1 + 2**-12 repeated ITERATIONS times: every lane ends at exactly
# ITERATIONS * 2**-12 (a float32 integer multiple of a power of two), so the
# microkernel's result is checked exactly before it is timed.
ADDEND = 2.0 ** -12
ITERATIONS = 1 << 18  # a call of milliseconds: the thread pool's wake-up is a sliver of it
# Triton: accumulator chains per lane (a GPU hides FMA latency with many
# resident warps; a few chains per thread keep the issue slots busy), lanes
# per program, and programs per streaming multiprocessor.
GPU_CHAINS = 8
GPU_BLOCK = 1024
GPU_PROGRAMS_PER_SM = 16


@dataclass(frozen=True)
class FmaPeak:
    """One call of the FMA microkernel: what it computes and what it is."""

    call: Callable[[], float]
    flops: int
    expected: float   # call()'s exact result
    params: dict      # what ran: ISA or device, lanes, chains, threads


def fma_peak(device: torch.device, iterations: int = ITERATIONS) -> FmaPeak | str:
    """The FMA microkernel for `device`, or why there is none; on the CPU a
    call runs `iterations` steps of every chain (the roof: ITERATIONS)."""
    if device.type == "cuda":
        return _triton_fma_peak(device) if triton is not None else TRITON_MISSING
    if compiled.simd is None:
        return compiled.NUMBA_MISSING
    return _numba_fma_peak(iterations)


def _numba_fma_peak(iterations: int) -> FmaPeak:
    simd, numba = compiled.simd, compiled.numba
    lanes = simd.VECTOR_BYTES // 4
    chains = max(1, simd.VECTOR_REGISTERS - 2)  # two registers hold the splats of x and y
    threads = numba.get_num_threads()
    out = np.zeros(threads, np.float32)
    one, addend, shape = np.float32(1.0), np.float32(ADDEND), (0,) * chains

    def call() -> float:
        simd.fma_peak(one, addend, iterations, out, shape, ())
        return float(out.sum(dtype=np.float64))

    isa = next((f for f in ("avx512f", "avx2", "avx") if f in simd.FEATURES), "sse/other")
    return FmaPeak(call, 2 * threads * chains * lanes * iterations,
                   threads * chains * lanes * iterations * ADDEND,
                   {"isa": isa, "lanes": lanes, "chains": chains, "threads": threads})


if triton is not None:
    @triton.jit
    def _fma_kernel(out, x, y, iterations, BLOCK: tl.constexpr):
        # GPU_CHAINS (8) independent chains per lane, written out: a loop over
        # a list of accumulators does not exist in Triton.
        a0 = tl.zeros([BLOCK], tl.float32)
        a1 = tl.zeros([BLOCK], tl.float32)
        a2 = tl.zeros([BLOCK], tl.float32)
        a3 = tl.zeros([BLOCK], tl.float32)
        a4 = tl.zeros([BLOCK], tl.float32)
        a5 = tl.zeros([BLOCK], tl.float32)
        a6 = tl.zeros([BLOCK], tl.float32)
        a7 = tl.zeros([BLOCK], tl.float32)
        for _ in range(iterations):
            a0 = tl.fma(a0, x, y)
            a1 = tl.fma(a1, x, y)
            a2 = tl.fma(a2, x, y)
            a3 = tl.fma(a3, x, y)
            a4 = tl.fma(a4, x, y)
            a5 = tl.fma(a5, x, y)
            a6 = tl.fma(a6, x, y)
            a7 = tl.fma(a7, x, y)
        total = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(out + offsets, total)


def _triton_fma_peak(device: torch.device, programs: int | None = None,
                     iterations: int = ITERATIONS, block: int = GPU_BLOCK) -> FmaPeak:
    """The Triton microkernel; `programs`, `iterations` and `block` default to
    a GPU-filling launch (tests pass small ones to run it in the interpreter)."""
    if programs is None:
        sms = torch.cuda.get_device_properties(device).multi_processor_count
        programs = sms * GPU_PROGRAMS_PER_SM
    out = torch.empty(programs * block, dtype=torch.float32, device=device)

    def call() -> float:
        _fma_kernel[(programs,)](out, 1.0, ADDEND, iterations, BLOCK=block)
        return float(out.sum(dtype=torch.float64))

    lanes = programs * block
    return FmaPeak(call, 2 * lanes * GPU_CHAINS * iterations,
                   lanes * GPU_CHAINS * iterations * ADDEND,
                   {"device": device.type, "lanes": lanes, "chains": GPU_CHAINS, "threads": 1})


# ---------------------------------------------------------------- reads

# The least a call of numba's read reads (a small slice over and over): its
# call overhead (about a microsecond) is then a sliver of the time.
READ_BYTES = 1 << 22

@dataclass(frozen=True)
class Reader:
    """A read kernel at a thread count: `with reader.threads_set(): read = reader.prepare(x)`."""

    name: str      # "torch" (x.sum()) or "numba" (simd.read_sum)
    threads: int

    @property
    def id(self) -> str:
        return f"{self.name}-threads{self.threads}"

    @contextmanager
    def threads_set(self) -> Iterator[None]:
        """The library's thread count set to this reader's for the duration."""
        library = torch if self.name == "torch" else compiled.numba  # same thread API
        previous = library.get_num_threads()
        library.set_num_threads(self.threads)
        try:
            yield
        finally:
            library.set_num_threads(previous)

    def repeats(self, x: torch.Tensor) -> int:
        """How many times a call reads all of x: once for torch's sum; for
        numba's read, as often as makes READ_BYTES."""
        if self.name == "torch":
            return 1
        return max(1, -(-READ_BYTES // max(1, x.numel() * x.element_size())))

    def prepare(self, x: torch.Tensor) -> Callable[[], object]:
        """A call that reads all of x repeats(x) times and returns the sum of
        what it read; x's views are made here, so the call itself is the read."""
        if self.name == "torch":
            return lambda: x.sum()
        simd = compiled.simd
        flat = x.detach().contiguous().reshape(-1).numpy()
        lanes = simd.VECTOR_BYTES // flat.itemsize
        whole = flat.size - flat.size % lanes
        vectors, tail = flat[:whole].reshape(-1, lanes), flat[whole:]
        out = np.zeros(self.threads, np.float64)
        read = simd.read_sum if self.threads > 1 else simd.read_sum_serial
        repeats = self.repeats(x)

        def call() -> float:
            read(vectors, tail, out, repeats)
            return float(out.sum(dtype=np.float64))

        return call


def thread_counts(most: int) -> list[int]:
    """1, 2, 4, ... below `most`, then `most`."""
    counts, count = [], 1
    while count < most:
        counts.append(count)
        count *= 2
    return counts + [most]


def readers(device: str) -> list[Reader]:
    """The read kernels tried on every slice on `device` (numba's only on the CPU, with numba)."""
    if torch.device(device).type != "cpu":
        return [Reader("torch", 1)]
    found = [Reader("torch", t) for t in thread_counts(torch.get_num_threads())]
    if compiled.simd is not None:
        found += [Reader("numba", t) for t in thread_counts(compiled.numba.get_num_threads())]
    return found
