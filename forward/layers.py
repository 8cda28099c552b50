"""The affine layer and its activation: `lin`, `relu` and `Linear`.

`lin` runs its matmul through a registry kernel, so one forward pass can be
timed per kernel. It keeps the kernels' contract: a broken shape or mixed
devices raise `matmul.ContractError` (an AssertionError and a ValueError)
naming the shapes, and the result dtype is the promotion of x, w and b.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from matmul import ContractError, Kernel, get_kernel
from matmul.contract import check_same_device, check_tensors, shape_of

from .init import kaiming_normal


def check_layer(w: object, b: object) -> None:
    """Raise unless w is in x out and b is a 1-D bias of length out, on w's device."""
    check_tensors(w=w, b=b)
    if w.dim() != 2:
        raise ContractError(f"weights w must be 2-D (in x out), got w {shape_of(w)}")
    if b.dim() != 1 or b.shape[0] != w.shape[1]:
        raise ContractError(
            f"bias b must be 1-D with one entry per output column of w: "
            f"got b {shape_of(b)} for w {shape_of(w)}"
        )
    check_same_device(w=w, b=b)


def check_lin(x: object, w: object, b: object) -> None:
    """The full contract of lin(x, w, b), checked before any arithmetic."""
    if (isinstance(x, torch.Tensor) and isinstance(w, torch.Tensor) and isinstance(b, torch.Tensor)
            and x.dim() == 2 and w.dim() == 2 and b.dim() == 1
            and x.shape[1] == w.shape[0] and b.shape[0] == w.shape[1]
            and ((x.is_cpu and w.is_cpu and b.is_cpu) or x.device == w.device == b.device)):
        # Every check below passes: the common case, without building its
        # messages, nor device objects on the CPU (is_cpu is a flag).
        return
    check_tensors(x=x, w=w, b=b)
    check_layer(w, b)
    if x.dim() != 2 or x.shape[1] != w.shape[0]:
        raise ContractError(
            f"input x must be 2-D (batch x in) with in = w.shape[0]: "
            f"got x {shape_of(x)} for w {shape_of(w)}"
        )
    check_same_device(x=x, w=w, b=b)


def lin(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor,
        kernel: str | Kernel | None = None) -> torch.Tensor:
    """x @ w + b with the matmul done by `kernel` (a registry name or record; None = builtin).

    The bias is added after the product, broadcast over the rows.
    """
    check_lin(x, w, b)
    return get_kernel(kernel)(x, w) + b


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(x, 0) elementwise, in x's dtype (clamp_min keeps float64 float64)."""
    check_tensors(x=x)
    return x.clamp_min(0)


@dataclass(frozen=True, eq=False)
class Linear:
    """An affine layer holding weights w (in x out) and bias b (out), bound to one kernel.

    `kernel` may be given as a name or None (builtin); it is stored resolved, so
    an unknown name fails here rather than inside a timed forward pass.
    """

    w: torch.Tensor
    b: torch.Tensor
    kernel: Kernel | str | None = None

    def __post_init__(self) -> None:
        check_layer(self.w, self.b)
        object.__setattr__(self, "kernel", get_kernel(self.kernel))

    @classmethod
    def kaiming(cls, fan_in: int, fan_out: int, *, generator: torch.Generator | None = None,
                seed: int | None = None, kernel: Kernel | str | None = None,
                dtype: torch.dtype = torch.float32) -> Linear:
        """He init for a layer followed by relu: w ~ N(0, 2 / fan_in), b = 0."""
        w = kaiming_normal(fan_in, fan_out, generator=generator, seed=seed, dtype=dtype)
        return cls(w, torch.zeros(fan_out, dtype=dtype), kernel)

    @property
    def in_features(self) -> int:
        return self.w.shape[0]

    @property
    def out_features(self) -> int:
        return self.w.shape[1]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return lin(x, self.w, self.b, self.kernel)

    def with_kernel(self, kernel: Kernel | str | None) -> Linear:
        """The same weights (shared, not copied) behind another kernel."""
        return replace(self, kernel=kernel)

    def to(self, device: torch.device | str | None = None,
           dtype: torch.dtype | None = None) -> Linear:
        return replace(self, w=self.w.to(device=device, dtype=dtype),
                       b=self.b.to(device=device, dtype=dtype))

    def __repr__(self) -> str:
        return (f"Linear({self.in_features} -> {self.out_features}, {self.w.dtype}, "
                f"kernel={self.kernel.name!r})")


__all__ = ["Linear", "check_layer", "check_lin", "lin", "relu"]
