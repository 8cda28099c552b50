"""What the suite benchmarks: every kernel on every MNIST slice within its budget,
each beside a reference, and the machine's two roofs (memory and compute,
measured by bench.suite.roofs)."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

import matmul
from bench.runs import Workload

ROWS = (5, 50, 500, 5_000, 50_000)
REFERENCE_KERNEL = "builtin"
# The reference of the other loop-free kernels: the same work in torch's own
# operations (`x @ w`; the forward pass as torch_forward), none of this
# project's code. Timed through the registry as the builtin kernel, the
# reference ran the contract checks every kernel runs, so a change to that
# shared path slowed both halves of a round and cancelled out: in round 3's
# stop 36 study on the Xeon, checking every call's operands twice slowed
# numba_tuned's 5-row product by 10 % by its raw time and by every
# alternative reference, but read 0.97 against the builtin, and the gate
# caught it in 9-11 of 40 comparisons.
SAME_WORK = "torch"
# The memory roof: one read of x, the least any product with x must do; it is
# also the builtin's own reference.
READ_X = "read_x"
# The compute roof: an FMA-throughput microkernel (bench.suite.roofs), the
# hardware's peak; beside it the best library GEMM, a square fp32 builtin
# product large enough to reach the library's peak rate (a GPU needs a larger
# one to fill its units), which is the roof where the microkernel cannot run.
FMA_PEAK = "fma_peak"
# The reference of the kernels that step through the interpreter: a fixed loop
# of INTERPRETER_STEPS small torch operations (the Python loop kernels' own
# kind of step), so that a round's two halves share their bottleneck. On the
# Intel Xeon VM of round 3 (stop 31) the host's load moved interpreter-bound
# code by up to 1.8x within seconds while the builtin product moved by 1.2x:
# over 24 half-second windows of one process, dot_product on 5 rows took
# 695-1265 us, its ratio to the builtin product 12.2-20.4, to this loop
# 1.90-2.21.
INTERPRETER = "interpreter"
INTERPRETER_STEPS = 50
PEAK_GEMM = "peak_gemm"
PEAK_SIZE = {"cpu": 2048, "cuda": 8192}


def peak_size(device: torch.device) -> int:
    return PEAK_SIZE.get(device.type, PEAK_SIZE["cpu"])


# Alternative references, timed in every round before the reference in
# gate-ready runs (this variable set: bench.suite.command.GATE_READY_ENV): one
# of each other kind of work. A shared machine does not slow every kind of
# code alike: on the Zen 4 VM of round 3 (stop 33), over 16 processes of 2 s,
# numba_fused's 500-row product divided by the builtin's moved 8.9 % (sd of
# the log) from process to process and divided by the FMA microkernel 3.1 %;
# the builtin's (MKL's skinny path on AMD) divided by one read of x 11 %, by
# a 128^3 builtin product 6.5 %. Which one tracks a benchmark best is the
# gate's choice, measured on each comparison's own processes
# (bench.gate.compare.choose).
ALTERNATIVES_ENV = "MATMUL_BENCH_ALTERNATIVES"
FMA = "fma"                  # the FMA microkernel, a call of ~10 us
# The same call timed again right after FMA: a reading of the core's own
# throughput, with the pool awake and the code in cache, where FMA's reading
# also holds what its call paid after the previous round's benchmarked one.
# The gate judges by it as a probe of calm rounds only (bench.gate.calm).
FMA_AGAIN = "fma_again"
FMA_ITERATIONS = 1 << 10
# In every run, the rounds of the largest slice, the one the report judges
# the roofline targets on, time the FMA probe twice too (two 10 us calls
# beside one of milliseconds): the report says how far the calm rounds'
# median lies from the median, the share of the host's sharing of the core
# in it (bench.report.roofline, bench.gate.calm).
PROBED_ROWS = ROWS[-1]
GEMM = "gemm128"             # the library's GEMM on two 128 x 128 fp32 operands
GEMM_SIZE = 128


@dataclass(frozen=True)
class Reference:
    """The call timed before the benchmarked one in every round, and its name;
    `alternatives`, timed before it in gate-ready runs (on PROBED_ROWS in every run)."""

    name: str
    call: Callable[[], object]
    alternatives: tuple[Reference, ...] = ()


def matmul_cases() -> list[tuple[matmul.Kernel, int]]:
    """(kernel, rows) for every registered kernel, only up to its cost budget."""
    return [(kernel, rows) for rows in ROWS for kernel in matmul.KERNELS.values()
            if rows <= kernel.max_rows]


def kernel_rows_params(device: str, *, loop_free: bool = False) -> list:
    """matmul_cases() as pytest params "kernel, rows" for one benchmark device:
    a kernel that cannot run there is one skip that says why, not one per slice."""
    import pytest

    params = [pytest.param(kernel, rows, id=f"{kernel.name}-rows{rows}")
              for kernel, rows in matmul_cases()
              if kernel.supports(device) and not (loop_free and kernel.python_dims)]
    skipped = {k.name: f"{k.name} supports {sorted(k.devices)}, not {device}"
               for k in matmul.KERNELS.values() if not k.supports(device)}
    skipped.update(matmul.UNAVAILABLE)
    params += [pytest.param(None, None, id=name, marks=pytest.mark.skip(reason=reason))
               for name, reason in skipped.items()]
    return params


def flops(m: int, k: int, n: int) -> int:
    """A multiply and an add per term."""
    return 2 * m * k * n


def bytes_moved(m: int, k: int, n: int, dtype: torch.dtype) -> int:
    """Compulsory traffic: read a and b once, write c once."""
    return (m * k + k * n + m * n) * dtype.itemsize


def read_x(x: torch.Tensor) -> torch.Tensor:
    """One pass over x: the least any product with x must do."""
    return x.sum()


def interpreter_steps(x: torch.Tensor) -> torch.Tensor:
    """INTERPRETER_STEPS interpreter steps on x's device, each the step of
    lesson.dot_product: two rows of x multiplied, summed, stored."""
    u, v = x[0], x[min(1, x.shape[0] - 1)]
    out = torch.zeros(INTERPRETER_STEPS, dtype=x.dtype, device=x.device)
    for step in range(INTERPRETER_STEPS):
        out[step] = (u * v).sum()
    return out


def reference_for(kernel: matmul.Kernel, x: torch.Tensor,
                  same_work_by_torch: Callable[[], object]) -> Reference:
    """The reference timed beside `kernel` on x: for a kernel that steps
    through the interpreter, INTERPRETER_STEPS steps of the interpreter's own;
    for the builtin, one read of x; for the others, the same work done by
    torch's own operations (SAME_WORK). Its alternatives: in gate-ready runs
    alternative_references, else on PROBED_ROWS the probe alone."""
    if kernel.python_dims:
        primary = Reference(INTERPRETER, lambda: interpreter_steps(x))
    elif kernel.name == REFERENCE_KERNEL:
        primary = Reference(READ_X, lambda: read_x(x))
    else:
        primary = Reference(SAME_WORK, same_work_by_torch)
    if os.environ.get(ALTERNATIVES_ENV):
        return replace(primary, alternatives=alternative_references(x, primary.name))
    if x.shape[0] == PROBED_ROWS:
        return replace(primary, alternatives=probe_references(x))
    return primary


def torch_forward(x: torch.Tensor, layers) -> torch.Tensor:
    """An MLP's logits in torch's own operations: what forward.MLP computes with
    the builtin kernel (x @ w + b, and clamp_min(0) after every layer but the
    last), without this project's code."""
    *hidden, last = layers
    for layer in hidden:
        x = (x @ layer.w + layer.b).clamp_min(0)
    return x @ last.w + last.b


def probe_references(x: torch.Tensor) -> tuple[Reference, ...]:
    """The FMA probe, timed twice (FMA, FMA_AGAIN); none off the CPU or without numba."""
    if x.device.type != "cpu":
        return ()
    from . import roofs

    fma = roofs.fma_peak(x.device, FMA_ITERATIONS)
    if isinstance(fma, str):
        return ()
    return Reference(FMA, fma.call), Reference(FMA_AGAIN, fma.call)


def alternative_references(x: torch.Tensor, primary: str) -> tuple[Reference, ...]:
    """The FMA microkernel (timed twice: FMA, FMA_AGAIN), a library GEMM and
    one read of x, less the primary's kind; on the CPU only (a GPU's drift is
    its own)."""
    if x.device.type != "cpu":
        return ()
    found = list(probe_references(x))
    generator = torch.Generator().manual_seed(GEMM_SIZE)
    square = torch.randn(GEMM_SIZE, GEMM_SIZE, generator=generator)
    product = torch.empty_like(square)
    found.append(Reference(GEMM, lambda: torch.mm(square, square, out=product)))
    if primary != READ_X:
        found.append(Reference(READ_X, lambda: read_x(x)))
    return tuple(found)


def product_workload(suite: str, kernel: str, x: torch.Tensor, w: torch.Tensor,
                     params: dict | None = None) -> Workload:
    """x @ w by `kernel`: its flops and compulsory bytes."""
    m, k = x.shape
    n = w.shape[1]
    return Workload(suite=suite, kernel=kernel, rows=m, flops=flops(m, k, n),
                    bytes=bytes_moved(m, k, n, x.dtype), params=params or {},
                    shape=(k, n), summary=_summary(kernel))


def forward_workload(kernel: str, x: torch.Tensor, sizes: tuple[int, ...]) -> Workload:
    """A forward pass of x through layers of `sizes`: every layer's flops; bytes
    are one read of x (the weights and activations stay in cache)."""
    rows = x.shape[0]
    work = sum(flops(rows, fan_in, fan_out) for fan_in, fan_out in zip(sizes, sizes[1:]))
    return Workload(suite="forward", kernel=kernel, rows=rows, flops=work,
                    bytes=x.numel() * x.element_size(), shape=tuple(sizes),
                    summary=_summary(kernel))


def _summary(kernel: str) -> str:
    """What a registered kernel does, for the run to keep (empty for a roof)."""
    found = matmul.KERNELS.get(kernel)
    return found.summary if found else ""
