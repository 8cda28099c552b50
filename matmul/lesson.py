"""The five kernels of the lesson, each kept to its step.

Every function receives operands that already passed the contract and share one
dtype (the registry casts them to `torch.result_type(a, b)`), and returns a new
m x n tensor of that dtype on the operands' device. The loop kernels are slow
on purpose: their slowness is what the benchmarks measure.
"""
from __future__ import annotations

import torch


def _zeros(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.zeros(a.shape[0], b.shape[1], dtype=a.dtype, device=a.device)


def three_loops(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """i, j, k in Python: one scalar multiply-add per step."""
    c = _zeros(a, b)
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            for k in range(a.shape[1]):
                c[i, j] += a[i, k] * b[k, j]
    return c


def dot_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """i, j in Python: row i times column j elementwise, summed."""
    c = _zeros(a, b)
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            c[i, j] = (a[i, :] * b[:, j]).sum()
    return c


def broadcast(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """i in Python: row i as a column (k x 1) broadcast against b (k x n), summed over k."""
    c = _zeros(a, b)
    for i in range(a.shape[0]):
        c[i] = (a[i, :, None] * b).sum(dim=0)
    return c


def einsum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """No Python loop: Einstein summation over the shared index k."""
    return torch.einsum("ik,kj->ij", a, b)


def builtin(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The speed reference: torch's own matmul (BLAS on the CPU)."""
    return a @ b
