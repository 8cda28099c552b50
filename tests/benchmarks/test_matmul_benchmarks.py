"""Every registered kernel on x_train[:rows] @ weights (784 x 10), up to its budget.

Each benchmark first checks its kernel's product on that slice against the
extended-precision reference (matmul.accuracy): a wrong kernel fails, however fast.
"""
from __future__ import annotations

import pytest

from bench import cases
from matmul import KERNELS
from matmul.accuracy import check_product

CASES = [pytest.param(kernel, rows, id=f"{kernel.name}-rows{rows}")
         for kernel, rows in cases.matmul_cases()]


@pytest.mark.mnist
@pytest.mark.parametrize("kernel, rows", CASES)
def test_matmul(kernel, rows, slices, layer_weights, supported, timed, benchmark):
    supported(kernel)
    x, weights = slices(rows), layer_weights
    benchmark.group = f"matmul rows={rows}"
    check_product(kernel(x, weights), x, weights)

    builtin = KERNELS[cases.REFERENCE_KERNEL]
    reference_name, reference = cases.reference_for(kernel, x, lambda: builtin(x, weights))
    timed(lambda: kernel(x, weights), reference, name=kernel.name, info={
        "kernel": kernel.name, "rows": rows, "reference": reference_name,
        **cases.product_info(x, weights),
    })


@pytest.mark.mnist
@pytest.mark.parametrize("rows", cases.ROWS, ids=lambda rows: f"rows{rows}")
def test_read_x(rows, slices, timed, benchmark):
    """The roofline: one read of the slice (x.sum()), for the report's plot."""
    x = slices(rows)
    benchmark.group = f"matmul rows={rows}"
    total = cases.read_x(x)
    assert total.item() == pytest.approx(x.double().sum().item(), rel=1e-4)  # order of summation
    timed(lambda: cases.read_x(x), lambda: cases.read_x(x), name=cases.READ_REFERENCE, info={
        "kernel": cases.READ_REFERENCE, "rows": rows, "reference": cases.READ_REFERENCE,
        "flops": x.numel(), "bytes": x.numel() * x.element_size(),
    })
