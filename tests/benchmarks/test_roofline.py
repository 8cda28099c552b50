"""The machine's two roofs, measured in the same run as the kernels: one read of
each slice (memory bandwidth) and a large square builtin product (compute peak).
The report places every kernel against max(bytes / bandwidth, flops / peak)."""
from __future__ import annotations

import pytest
import torch

from bench.runs import Workload
from bench.suite import cases
from matmul import KERNELS
from matmul.accuracy import check_product

# Rows of the peak product checked against the float64 reference (all of it would
# cost more than the product's timing).
CHECKED_ROWS = 64


@pytest.mark.mnist
@pytest.mark.parametrize("rows", cases.ROWS, ids=lambda rows: f"rows{rows}")
def test_read_x(rows, slices, timed, benchmark):
    """One read of the slice (x.sum()): the memory roof."""
    x = slices(rows)
    benchmark.group = f"matmul rows={rows}"
    total = cases.read_x(x)
    assert total.item() == pytest.approx(x.double().sum().item(), rel=1e-4)  # order of summation
    read = cases.Reference(cases.READ_X, lambda: cases.read_x(x))
    timed(read.call, read, Workload(suite="roofline", kernel=cases.READ_X, rows=rows,
                                     flops=x.numel(), bytes=x.numel() * x.element_size()))


def test_peak_gemm(bench_device, timed, benchmark):
    """A square fp32 builtin product, best of its rounds: the compute roof."""
    size = cases.peak_size(bench_device)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(bench_device)
    b = torch.randn(size, size, generator=generator).to(bench_device)
    builtin = KERNELS[cases.REFERENCE_KERNEL]
    benchmark.group = "roofline"
    c = builtin(a, b)
    for rows in (slice(0, CHECKED_ROWS), slice(-CHECKED_ROWS, None)):
        check_product(c[rows], a[rows], b)
    timed(lambda: builtin(a, b), cases.Reference(cases.READ_X, lambda: cases.read_x(a)),
          cases.product_workload("roofline", cases.PEAK_GEMM, a, b))
