"""The MLP forward pass (784 -> 50 -> 10, Kaiming init) per loop-free kernel on MNIST slices.

Each benchmark first checks its output against the float64 torch.nn.functional
reference within forward.check_forward's documented bound.
"""
from __future__ import annotations

import pytest

from bench import cases
from forward import MLP, check_forward

CASES = [pytest.param(kernel, rows, id=f"{kernel.name}-rows{rows}")
         for kernel, rows in cases.matmul_cases() if kernel.loops == 0]


@pytest.fixture(scope="module")
def normalized(normalizer, slices):
    """x_train[:rows] normalised with the training set's mean and std, once per slice."""
    cache = {}

    def get(rows):
        if rows not in cache:
            cache[rows] = normalizer(slices(rows)).contiguous()
        return cache[rows]

    return get


@pytest.mark.mnist
@pytest.mark.parametrize("kernel, rows", CASES)
def test_forward(kernel, rows, normalized, bench_device, supported, timed, benchmark):
    supported(kernel)
    x = normalized(rows)
    benchmark.group = f"forward rows={rows}"
    mlp = MLP.kaiming(seed=0).to(bench_device).with_kernel(kernel)
    check_forward(mlp(x), mlp.layers, x)

    builtin_mlp = mlp.with_kernel(cases.REFERENCE_KERNEL)
    reference_name, reference = cases.reference_for(kernel, x, lambda: builtin_mlp(x))
    sizes = mlp.sizes
    flops = sum(cases.flops(rows, fan_in, fan_out) for fan_in, fan_out in zip(sizes, sizes[1:]))
    timed(lambda: mlp(x), reference, name=f"forward_{kernel.name}", info={
        "kernel": kernel.name, "rows": rows, "reference": reference_name,
        "flops": flops, "bytes": x.numel() * x.element_size(),
    })
