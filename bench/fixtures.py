"""Pytest fixtures for the benchmarks (a plugin loaded by conftest.py):
MNIST slices and the paired-timing helper."""
from __future__ import annotations

import pytest
import torch

from bench import timing


@pytest.fixture(scope="session")
def slices(mnist):
    """x_train[:rows] as contiguous tensors, cut once per session."""
    cache: dict[int, torch.Tensor] = {}

    def get(rows: int) -> torch.Tensor:
        if rows not in cache:
            cache[rows] = mnist.x_train[:rows].contiguous()
        return cache[rows]

    return get


@pytest.fixture
def timed(benchmark, request):
    """timed(target, reference, info) -> target's result, timed in pairs with reference.

    The max time per benchmark follows --benchmark-max-time; info goes to extra_info.
    """
    config = request.config

    def run(target, reference, *, name, device="cpu", info=None, sync=None):
        sync = sync or timing.synchronizer(device)
        target = timing.synchronized(target, sync)
        reference = timing.synchronized(reference, sync)
        fraction = timing.slowdowns().get(name)
        if fraction:
            target = timing.slowed(target, fraction)
        benchmark.extra_info.update(info or {})
        benchmark.extra_info.update(
            torch=torch.__version__, threads=torch.get_num_threads(), slowdown=fraction or 0.0)
        result = timing.paired(
            benchmark, target, reference,
            max_time=float(config.getoption("benchmark_max_time")),
            min_rounds=int(config.getoption("benchmark_min_rounds")),
        )
        if benchmark.enabled and "flops" in benchmark.extra_info:
            median = benchmark.stats.stats.median
            benchmark.extra_info["gflops_per_s"] = benchmark.extra_info["flops"] / median / 1e9
            benchmark.extra_info["gbytes_per_s"] = benchmark.extra_info["bytes"] / median / 1e9
        return result

    return run
