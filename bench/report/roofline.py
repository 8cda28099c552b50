"""This machine's roofline, from the roofline benchmarks of the same run.

Two roofs bound any call: moving its compulsory bytes at the memory bandwidth
(measured per slice by one read of x: small slices come from cache) and doing
its flops at the compute peak (a large square builtin product). Both are the
best of their rounds: what the machine can do. A call's roofline time is
max(bytes / bandwidth, flops / peak), and "% of roofline" is that time over
the call's median.
"""
from __future__ import annotations

from dataclasses import dataclass

from bench.runs import Benchmark, Run
from bench.suite import cases


@dataclass(frozen=True)
class Roofs:
    peak: float | None            # flop/s of the peak product (None: not in the run)
    bandwidth: dict[int, float]   # rows -> bytes/s of one read of that slice


@dataclass(frozen=True)
class Placement:
    """Where one call stands against the roofline."""

    time: float        # the roofline's time for the call
    bound_by: str      # "memory" or "compute"
    fraction: float    # roofline time / the call's median: 1.0 is at the roof
    best_fraction: float  # roofline time / the call's best round, like the roofs' own


def roofs(run: Run) -> Roofs:
    peak, bandwidth = None, {}
    for bench in run.benchmarks.values():
        work = bench.workload
        if work is None or work.suite != "roofline":
            continue
        if work.kernel == cases.PEAK_GEMM:
            peak = work.flops / bench.min
        elif work.kernel == cases.READ_X:
            bandwidth[work.rows] = work.bytes / bench.min
    return Roofs(peak, bandwidth)


def place(bench: Benchmark, roofs: Roofs) -> Placement | None:
    """The call's placement, or None when the run measured neither roof for its slice."""
    work = bench.workload
    bandwidth = roofs.bandwidth.get(work.rows)
    memory = work.bytes / bandwidth if bandwidth else 0.0
    compute = work.flops / roofs.peak if roofs.peak else 0.0
    if not (memory or compute):
        return None
    time = max(memory, compute)
    return Placement(time, "memory" if memory >= compute else "compute", time / bench.median,
                     time / bench.min)
