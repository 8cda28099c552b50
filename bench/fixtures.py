"""Pytest fixtures for the benchmarks (a plugin loaded by conftest.py):
MNIST slices on the benchmark device and the paired-timing helper."""
from __future__ import annotations

import time

import pytest
import torch

from bench import timing


def pytest_addoption(parser):
    parser.addoption("--bench-device", default="cpu",
                     help="device for the benchmarks' tensors, e.g. cuda (default: cpu)")


@pytest.fixture(scope="session")
def bench_device(request) -> torch.device:
    device = torch.device(request.config.getoption("--bench-device"))
    if device.type == "cuda" and not torch.cuda.is_available():
        pytest.skip(f"--bench-device {device}: CUDA is not available on this machine")
    return device


@pytest.fixture(scope="session")
def slices(mnist, bench_device):
    """x_train[:rows] as contiguous tensors on the benchmark device, cut once per session."""
    cache: dict[int, torch.Tensor] = {}

    def get(rows: int) -> torch.Tensor:
        if rows not in cache:
            cache[rows] = mnist.x_train[:rows].contiguous().to(bench_device)
        return cache[rows]

    return get


@pytest.fixture(scope="session")
def layer_weights(weights, bench_device) -> torch.Tensor:
    """The seeded 784 x 10 weights on the benchmark device."""
    return weights.to(bench_device)


@pytest.fixture
def supported(bench_device):
    """Skip (saying why) a kernel that does not run on the benchmark device."""
    def check(kernel):
        if not kernel.supports(bench_device):
            pytest.skip(f"{kernel.name} supports {sorted(kernel.devices)}, not {bench_device}")
    return check


@pytest.fixture
def timed(benchmark, request, bench_device):
    """timed(target, reference, info) -> target's result, timed in pairs with reference.

    The max time per benchmark follows --benchmark-max-time; info goes to extra_info.
    """
    config = request.config
    clock = getattr(config.getoption("benchmark_timer"), "target", time.perf_counter)
    marker = request.node.get_closest_marker("gate_threshold")

    def run(target, reference, *, name, info=None, sync=None):
        # CUDA work is asynchronous: each timed call waits for the device.
        sync = sync or timing.synchronizer(bench_device)
        target = timing.synchronized(target, sync)
        reference = timing.synchronized(reference, sync)
        fraction = timing.slowdowns().get(name)
        if fraction:
            target = timing.slowed(target, fraction, clock)
        benchmark.extra_info.update(info or {})
        benchmark.extra_info.update(
            torch=torch.__version__, threads=torch.get_num_threads(), device=str(bench_device),
            slowdown=fraction or 0.0)
        if marker is not None:
            if len(marker.args) != 1:
                raise pytest.UsageError(
                    f"{request.node.nodeid}: gate_threshold takes one fraction, e.g. "
                    f"@pytest.mark.gate_threshold(0.10); got {marker.args}")
            benchmark.extra_info["gate_threshold"] = float(marker.args[0])
        result = timing.paired(
            benchmark, target, reference,
            max_time=float(config.getoption("benchmark_max_time")),
            min_rounds=int(config.getoption("benchmark_min_rounds")),
            clock=clock,
        )
        if benchmark.enabled and "flops" in benchmark.extra_info:
            median = benchmark.stats.stats.median
            benchmark.extra_info["gflops_per_s"] = benchmark.extra_info["flops"] / median / 1e9
            benchmark.extra_info["gbytes_per_s"] = benchmark.extra_info["bytes"] / median / 1e9
        return result

    return run
