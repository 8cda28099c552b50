"""The MLP forward pass (784 -> 50 -> 10, Kaiming init) per loop-free kernel on MNIST slices.

Each benchmark first checks its output against the float64 torch.nn.functional
reference within forward.check_forward's documented bound.
"""
from __future__ import annotations

import functools

import pytest

from bench.suite import cases
from forward import MLP, check_forward, forward_allowance


def pytest_generate_tests(metafunc):
    """Every loop-free kernel that runs on the benchmark device, on every slice in its budget."""
    device = metafunc.config.getoption("--bench-device")
    metafunc.parametrize("kernel, rows", cases.kernel_rows_params(device, loop_free=True))


@pytest.fixture(scope="module")
def mlp(bench_device) -> MLP:
    return MLP.kaiming(seed=0).to(bench_device)


@pytest.fixture(scope="module")
def normalized(normalizer, slices):
    """x_train[:rows] normalized with the training set's mean and std, once per slice."""
    return functools.cache(lambda rows: normalizer(slices(rows)).contiguous())


@pytest.fixture(scope="module")
def bound(mlp, normalized):
    """forward_allowance of each slice, computed once for every kernel that checks it."""
    return functools.cache(lambda rows: forward_allowance(mlp.layers, normalized(rows)))


@pytest.mark.mnist
def test_forward(kernel, rows, mlp, normalized, bound, timed, benchmark):
    x = normalized(rows)
    benchmark.group = f"forward rows={rows}"
    mlp = mlp.with_kernel(kernel)
    check_forward(mlp(x), mlp.layers, x, bound(rows))
    layers = mlp.layers
    timed(lambda: mlp(x), cases.reference_for(kernel, x, lambda: cases.torch_forward(x, layers)),
          cases.forward_workload(kernel.name, x, mlp.sizes))
