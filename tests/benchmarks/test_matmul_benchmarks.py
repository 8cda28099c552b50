"""Every registered kernel on x_train[:rows] @ weights (784 x 10), up to its budget.

Each benchmark first checks its kernel's product on that slice against the
extended-precision reference (matmul.accuracy): a wrong kernel fails, however fast.
"""
from __future__ import annotations

import functools

import pytest

from bench.suite import cases
from matmul.accuracy import check_product, product_bound


def pytest_generate_tests(metafunc):
    """Every kernel that runs on the benchmark device, on every slice in its budget."""
    device = metafunc.config.getoption("--bench-device")
    metafunc.parametrize("kernel, rows", cases.kernel_rows_params(device))


@pytest.fixture(scope="module")
def bound(slices, layer_weights):
    """product_bound of each slice, computed once for every kernel that checks it."""
    return functools.cache(lambda rows: product_bound(slices(rows), layer_weights))


@pytest.mark.mnist
def test_matmul(kernel, rows, slices, layer_weights, bound, timed, benchmark):
    x, w = slices(rows), layer_weights
    benchmark.group = f"matmul rows={rows}"
    check_product(kernel(x, w), x, w, bound(rows))
    timed(lambda: kernel(x, w), cases.reference_for(kernel, x, lambda: x @ w),
          cases.product_workload("matmul", kernel.name, x, w))
