"""Memory as part of every kernel's contract: its measured peak stays within
the workspace it declares (matmul.registry.Workspace), on a few shapes; a
kernel that copies its input breaks that and is caught; and the suite's one
shared capture (bench.suite.memory.replay) gives memray's own peaks."""
from __future__ import annotations

import dataclasses

import pytest
import torch

import matmul
from bench.suite import memory
from kernel_params import kernel_params
from matmul.registry import OUTPUT_ONLY, OVERHEAD_BYTES

pytestmark = pytest.mark.skipif(memory.memray is None, reason=str(memory.MEMRAY_MISSING))

# A wider b than the overhead allowance, with n not a multiple of the numba
# kernels' passes; a skinny one (a copy of a or of b exceeds the allowance in
# both); MNIST's layer; one small enough for the three Python loops.
SHAPES = ((64, 600, 48), (33, 257, 3), (5, 784, 10), (6, 500, 3))
STEP_BUDGET = 10_000  # interpreter steps (Kernel.python_steps) worth one call here


def operands(m: int, k: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(m * k * n)
    return torch.randn(m, k, generator=generator), torch.randn(k, n, generator=generator)


def excess(kernel: matmul.Kernel, shapes=SHAPES) -> list[str]:
    """Each affordable shape where the kernel's peak leaves its declaration."""
    cases = [(shape, *operands(*shape)) for shape in shapes
             if kernel.python_steps(*shape) <= STEP_BUDGET]
    found: dict[tuple, object] = {}
    probes = memory.Probes()
    for shape, a, b in cases:
        for _ in range(2):  # compiled and warm before it is measured (both builds:
            kernel(a, b)    # compiled.BUILDS tries the serial and the parallel in turn),
        a, b = a.clone(), b.clone()  # but on operands it has not prepared anything for
        probes.add(memory.Probe(lambda a=a, b=b: kernel(a, b),
                                lambda measured, shape=shape: found.__setitem__(shape, measured),
                                own_tracker=bool(kernel.python_dims)))
    probes.measure()
    faults = []
    for shape, _, _ in cases:
        measured, allowed = found[shape], kernel.workspace.bytes(*shape, 4)
        if not (measured.output_bytes <= measured.peak_bytes <= allowed + OVERHEAD_BYTES):
            faults.append(f"{shape}: peak {measured.peak_bytes} B, declared "
                          f"{kernel.workspace.what!r}: {allowed} B + {OVERHEAD_BYTES} B overhead")
    return faults


@pytest.mark.parametrize("kernel", kernel_params())
def test_peak_memory_within_the_declared_workspace(kernel):
    if kernel.workspace is None:
        pytest.skip(f"{kernel.name} declares no workspace")
    assert excess(kernel) == []


def copying(name: str, fn) -> matmul.Kernel:
    return dataclasses.replace(matmul.KERNELS["builtin"], name=name, fn=fn, workspace=OUTPUT_ONLY)


@pytest.mark.parametrize("kernel", [
    copying("copies_a", lambda a, b: a.clone() @ b),
    copying("copies_b", lambda a, b: a @ b.clone()),
], ids=lambda k: k.name)
def test_a_kernel_that_copies_breaks_its_declaration(kernel):
    assert excess(kernel, SHAPES[:2]), f"{kernel.name} passed its declaration"


def test_one_shared_capture_gives_memrays_own_peaks():
    a, b = operands(500, 784, 10)
    calls = [lambda: matmul.KERNELS["builtin"](a, b), lambda: a.clone(),
             lambda: matmul.KERNELS["einsum"](a, b), lambda: [a + 1, b + 1]]
    for call in calls:
        call()
    # A tracker sees every thread, and a pytest-xdist worker's message thread
    # allocates whenever work arrives (1 044 allocator calls, 12 KB, in one
    # call's own capture once). Other threads only ever add, so the least of
    # three captures is the call's own.
    captures = [memory.measure_together(calls) for _ in range(3)]
    together = [min(found, key=lambda m: m.peak_bytes) for found in zip(*captures)]
    alone = [min((memory.measure_alone(call) for _ in range(3)), key=lambda m: m.peak_bytes)
             for call in calls]
    for shared, own in zip(together, alone):
        # The markers' own bookkeeping adds a few objects to each call in the shared capture.
        assert abs(shared.peak_bytes - own.peak_bytes) <= 4096, (shared, own)
        assert shared.output_bytes == own.output_bytes
    assert together[1].peak_bytes >= a.numel() * 4 > together[0].peak_bytes
    assert together[3].output_bytes == (a.numel() + b.numel()) * 4


def test_replay_finds_every_call_or_says_so():
    with pytest.raises(RuntimeError, match="found 0 of 1 calls"):
        memory.replay([], [(1, memory.MARKER_BYTES), (2, memory.MARKER_BYTES + 1)])
