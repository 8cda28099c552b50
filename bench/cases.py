"""What the suite benchmarks: every kernel on every MNIST slice within its budget."""
from __future__ import annotations

from typing import Callable

import torch

import matmul

ROWS = (5, 50, 500, 5_000, 50_000)
REFERENCE_KERNEL = "builtin"
# The builtin's own reference: one read of x, the memory roofline of this
# skinny product (x is 50 000 x 784, the weights only 784 x 10).
READ_REFERENCE = "read_x"


def matmul_cases() -> list[tuple[matmul.Kernel, int]]:
    """(kernel, rows) for every registered kernel, only up to its cost budget."""
    return [(kernel, rows) for rows in ROWS for kernel in matmul.KERNELS.values()
            if rows <= kernel.max_rows]


def flops(m: int, k: int, n: int) -> int:
    """A multiply and an add per term."""
    return 2 * m * k * n


def bytes_moved(m: int, k: int, n: int, dtype: torch.dtype) -> int:
    """Compulsory traffic: read a and b once, write c once."""
    return (m * k + k * n + m * n) * dtype.itemsize


def read_x(x: torch.Tensor) -> torch.Tensor:
    """One pass over x: the least any product with x must do."""
    return x.sum()


def reference_for(kernel: matmul.Kernel, x: torch.Tensor,
                  with_builtin: Callable[[], object]) -> tuple[str, Callable[[], object]]:
    """(name, call) of the reference timed beside `kernel` on x: the same work done
    by the builtin kernel, or, for the builtin itself, one read of x."""
    if kernel.name == REFERENCE_KERNEL:
        return READ_REFERENCE, lambda: read_x(x)
    return REFERENCE_KERNEL, with_builtin


def product_info(x: torch.Tensor, w: torch.Tensor) -> dict[str, int]:
    """extra_info's flops and bytes for x @ w."""
    m, k = x.shape
    n = w.shape[1]
    return {"flops": flops(m, k, n), "bytes": bytes_moved(m, k, n, x.dtype)}
