"""The roofs' microkernels (bench.suite.roofs) compute what they claim: the FMA
loop's exact result (on the CPU with numba; in Triton on a GPU or under
Triton's interpreter), numba's wide-load read summing every element once on
any length and split, the readers' thread counts restored after use."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.suite import roofs
from matmul import compiled

needs_numba = pytest.mark.skipif(compiled.NUMBA_MISSING is not None,
                                 reason=str(compiled.NUMBA_MISSING))


def _triton_device() -> str | None:
    if roofs.TRITON_MISSING is not None:
        return None
    if torch.cuda.is_available():
        return "cuda"
    from matmul import triton_kernels

    return "cpu" if triton_kernels.INTERPRET else None


@needs_numba
def test_numba_fma_microkernel_is_exact_and_counts_its_flops():
    peak = roofs.fma_peak(torch.device("cpu"))
    p = peak.params
    assert p["threads"] == compiled.numba.get_num_threads()
    assert p["lanes"] * 4 == compiled.simd.VECTOR_BYTES and p["chains"] >= 1
    assert peak.flops == 2 * p["threads"] * p["chains"] * p["lanes"] * roofs.ITERATIONS
    assert peak.call() == peak.expected == peak.flops / 2 * roofs.ADDEND


def test_without_numba_the_fma_microkernel_says_why(monkeypatch):
    monkeypatch.setattr(compiled, "simd", None)
    monkeypatch.setattr(compiled, "NUMBA_MISSING", "numba is not installed: pip install ...")
    assert roofs.fma_peak(torch.device("cpu")) == "numba is not installed: pip install ..."
    assert [r.name for r in roofs.readers("cpu")] == ["torch"] * len(
        roofs.thread_counts(torch.get_num_threads()))


@pytest.mark.skipif(_triton_device() is None, reason=str(roofs.TRITON_MISSING or
                    "no CUDA GPU, and Triton's interpreter is off (set TRITON_INTERPRET=1)"))
def test_triton_fma_microkernel_is_exact():
    """Small launch: two programs of 16 lanes, 8 chains, 40 iterations."""
    peak = roofs._triton_fma_peak(torch.device(_triton_device()), programs=2, iterations=40,
                                  block=16)
    assert peak.flops == 2 * 2 * 16 * roofs.GPU_CHAINS * 40
    assert peak.call() == peak.expected == 2 * 16 * roofs.GPU_CHAINS * 40 * roofs.ADDEND


@needs_numba
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 16 * 4097 + 3])
@pytest.mark.parametrize("parts", [1, 2, 3, 5])
def test_numba_read_sums_every_element_once(size, parts):
    """Integers small enough that every float32 partial sum is exact; sizes
    with and without a tail, splits with more parts than vectors, and more
    vectors than one READ_BLOCK (the parts are the kernel's, whatever the
    thread count)."""
    simd = compiled.simd
    flat = np.arange(size, dtype=np.float32) % 7
    lanes = simd.VECTOR_BYTES // 4
    whole = size - size % lanes
    out = np.zeros(parts, np.float64)
    for read in (simd.read_sum, simd.read_sum_serial):
        for repeats in (1, 3):
            read(flat[:whole].reshape(-1, lanes), flat[whole:], out, repeats)
            assert out.sum() == repeats * flat.sum(dtype=np.float64)


@needs_numba
def test_numba_reader_at_every_thread_count():
    x = torch.from_numpy(np.arange(5 * 784, dtype=np.float32) % 5).reshape(5, 784)
    for threads in roofs.thread_counts(compiled.numba.get_num_threads()):
        reader = roofs.Reader("numba", threads)
        with reader.threads_set():
            assert reader.prepare(x)() == reader.repeats(x) * x.double().sum()


@needs_numba
def test_numba_reads_a_small_slice_until_a_call_is_long_and_a_large_one_once():
    reader, torch_sum = roofs.Reader("numba", 1), roofs.Reader("torch", 1)
    small, large = torch.ones(5, 784), torch.ones(roofs.READ_BYTES // 4 + 1)
    assert reader.repeats(small) * small.numel() * 4 >= roofs.READ_BYTES > (
        (reader.repeats(small) - 1) * small.numel() * 4)
    assert reader.repeats(large) == 1 == torch_sum.repeats(small)


def test_readers_restore_the_thread_counts():
    before = torch.get_num_threads()
    for reader in roofs.readers("cpu"):
        with reader.threads_set():
            x = torch.ones(3, 5)
            assert reader.prepare(x)() == 15 * reader.repeats(x)
    assert torch.get_num_threads() == before


def test_thread_counts_are_powers_of_two_then_all():
    assert roofs.thread_counts(1) == [1]
    assert roofs.thread_counts(2) == [1, 2]
    assert roofs.thread_counts(6) == [1, 2, 4, 6]
    assert roofs.thread_counts(8) == [1, 2, 4, 8]
