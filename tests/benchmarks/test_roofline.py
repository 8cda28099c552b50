"""The machine's roofs, measured in the same run as the kernels: the best of a
few read kernels on each slice (memory bandwidth), an FMA-throughput
microkernel (the hardware's compute peak) and a large square builtin product
(the best library GEMM, reported beside it). The report places every kernel
against max(bytes / bandwidth, flops / peak)."""
from __future__ import annotations

import pytest
import torch

from bench.runs import Workload
from bench.suite import cases, roofs
from matmul import KERNELS
from matmul.accuracy import check_product

# Rows of the peak product checked against the float64 reference (all of it would
# cost more than the product's timing).
CHECKED_ROWS = 64


def pytest_generate_tests(metafunc):
    if "reader" in metafunc.fixturenames:
        device = metafunc.config.getoption("--bench-device")
        metafunc.parametrize("reader", roofs.readers(device), ids=lambda r: r.id)


@pytest.mark.mnist
@pytest.mark.parametrize("rows", cases.ROWS, ids=lambda rows: f"rows{rows}")
def test_read_x(reader, rows, slices, timed, benchmark):
    """The slice read by one reader at one thread count (a small slice read
    over and over in one call, see roofs.READ_BYTES): the memory roof is the
    best of them."""
    x = slices(rows)
    benchmark.group = f"matmul rows={rows}"
    repeats = reader.repeats(x)
    with reader.threads_set():
        read = reader.prepare(x)
        total = float(read())
        assert total == pytest.approx(repeats * x.double().sum().item(), rel=1e-4)  # summation order
        timed(read, cases.Reference(cases.READ_X, lambda: cases.read_x(x)),
              Workload(suite="roofline", kernel=cases.READ_X, rows=rows,
                       flops=repeats * x.numel(), bytes=repeats * x.numel() * x.element_size(),
                       params={"reader": reader.name, "threads": reader.threads,
                               "repeats": repeats}))


def test_fma_peak(bench_device, timed, benchmark):
    """The FMA-throughput microkernel: the hardware's compute roof."""
    peak = roofs.fma_peak(bench_device)
    if isinstance(peak, str):
        pytest.skip(f"no FMA microkernel here ({peak}): the report's compute roof is the "
                    f"builtin {cases.PEAK_GEMM}")
    benchmark.group = "roofline"
    assert peak.call() == peak.expected  # exact: see roofs.ADDEND
    small = torch.ones(256, 1024, device=bench_device)
    timed(peak.call, cases.Reference(cases.READ_X, lambda: cases.read_x(small)),
          Workload(suite="roofline", kernel=cases.FMA_PEAK, rows=0, flops=peak.flops, bytes=0,
                   params=peak.params))


def test_peak_gemm(bench_device, timed, benchmark):
    """A square fp32 builtin product, best of its rounds: the best library GEMM."""
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
