"""The one shape contract every kernel keeps.

A violation raises `ContractError`, which is both an `AssertionError` (the lesson's
contract: `assert a.shape[1] == b.shape[0]`, which users' tests catch) and a
`ValueError`. It is raised explicitly, so it survives `python -O`.
"""
from __future__ import annotations

import torch


class ContractError(AssertionError, ValueError):
    """Operands that break the matmul shape/device contract."""


def shape_of(t: torch.Tensor) -> tuple[int, ...]:
    """A tensor's shape as the contract's messages print it."""
    return tuple(t.shape)


def check_tensors(**operands: object) -> None:
    """Raise a TypeError naming the first operand that is not a torch.Tensor."""
    for name, value in operands.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")


def check_same_device(**operands: torch.Tensor) -> torch.device:
    """Return the common device, or raise ContractError naming every operand's device."""
    devices = {t.device for t in operands.values()}
    if len(devices) > 1:
        listing = ", ".join(f"{n} {shape_of(t)} on {t.device}" for n, t in operands.items())
        raise ContractError(f"operands must share one device: {listing}")
    return devices.pop()


def check_operands(a: object, b: object) -> None:
    """Raise ContractError unless a (m x k) @ b (k x n) is a valid matmul pair."""
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
        check_tensors(a=a, b=b)  # raises, naming the operand
    if a.dim() != 2 or b.dim() != 2:
        raise ContractError(
            f"matmul needs two 2-D tensors, got a {shape_of(a)} and b {shape_of(b)}"
        )
    if a.shape[1] != b.shape[0]:
        raise ContractError(
            f"inner dimensions differ: a {shape_of(a)} @ b {shape_of(b)} "
            f"({a.shape[1]} != {b.shape[0]})"
        )
    # Cheap tests first: this runs on every kernel call (is_cpu is a flag,
    # a device comparison builds two device objects).
    if not (a.is_cpu and b.is_cpu) and a.device != b.device:
        check_same_device(a=a, b=b)
