"""The lesson's MLP forward pass: 784 -> hidden -> 10, every matmul on one kernel.

relu follows every layer but the last, whose outputs are the logits. A kernel
with a fused forward pass (`Kernel.forward`, e.g. numba_fused) runs the whole
pass in one call; otherwise each layer is one kernel call. To time the forward
pass per kernel: `mlp = MLP.kaiming(seed=0)`, then
`mlp.with_kernel(kernel)(x)` on an already-normalized x (no per-call work
besides the layers), sized with `mlp.python_steps(rows)`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from matmul import ContractError, Kernel, get_kernel

from .init import make_generator
from .layers import Linear, check_lin, relu

MNIST_SIZES = (784, 50, 10)


@dataclass(frozen=True, eq=False)
class MLP:
    """A stack of `Linear` layers; `kernel` (name, record or None = builtin) runs all of them."""

    layers: tuple[Linear, ...]
    kernel: Kernel | str | None = None

    def __post_init__(self) -> None:
        kernel = get_kernel(self.kernel)
        layers = tuple(self.layers)
        if not layers:
            raise ValueError("an MLP needs at least one layer")
        for i, (a, b) in enumerate(zip(layers, layers[1:])):
            if a.out_features != b.in_features:
                raise ContractError(
                    f"layer {i} gives {a.out_features} features but layer {i + 1} takes "
                    f"{b.in_features}: w {tuple(a.w.shape)} then w {tuple(b.w.shape)}"
                )
        layers = tuple(layer if layer.kernel is kernel else layer.with_kernel(kernel) for layer in layers)
        object.__setattr__(self, "kernel", kernel)
        object.__setattr__(self, "layers", layers)

    @classmethod
    def kaiming(cls, sizes: Sequence[int] = MNIST_SIZES, *, seed: int | None = 0,
                generator: torch.Generator | None = None, kernel: Kernel | str | None = None,
                dtype: torch.dtype = torch.float32) -> MLP:
        """He-initialised layers sizes[0] -> ... -> sizes[-1], drawn from one seeded generator."""
        if len(sizes) < 2:
            raise ValueError(f"sizes needs an input and an output size, got {tuple(sizes)}")
        generator = make_generator(generator, seed)
        layers = tuple(
            Linear.kaiming(fan_in, fan_out, generator=generator, dtype=dtype)
            for fan_in, fan_out in zip(sizes, sizes[1:])
        )
        return cls(layers, kernel)

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.layers[0].in_features,) + tuple(layer.out_features for layer in self.layers)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of x (batch x sizes[0]), in the promotion of x's and the layers' dtypes.

        With a fused forward pass the contract is checked first (shapes named,
        one device); the pass may return NotImplemented for what it does not
        handle (a dtype, a device, a depth), which then runs layer by layer.
        """
        forward = self.kernel.forward
        if forward is not None:
            first = self.layers[0]
            check_lin(x, first.w, first.b)
            logits = forward(x, self.layers, **self.kernel.params)
            if logits is not NotImplemented:
                return logits
        *hidden, last = self.layers
        for layer in hidden:
            x = relu(layer(x))
        return last(x)

    def with_kernel(self, kernel: Kernel | str | None) -> MLP:
        """The same weights (shared, not copied) behind another kernel."""
        return replace(self, kernel=kernel)

    def to(self, device: torch.device | str | None = None,
           dtype: torch.dtype | None = None) -> MLP:
        return replace(self, layers=tuple(layer.to(device, dtype) for layer in self.layers))

    def python_steps(self, rows: int) -> int:
        """Interpreter steps of one forward pass on `rows` inputs (the kernel's cost model)."""
        return sum(self.kernel.python_steps(rows, layer.in_features, layer.out_features)
                   for layer in self.layers)

    def __repr__(self) -> str:
        arrows = " -> ".join(map(str, self.sizes))
        return f"MLP({arrows}, {self.layers[0].w.dtype}, kernel={self.kernel.name!r})"


__all__ = ["MLP", "MNIST_SIZES"]
