"""One declaration per kernel (in the manner of PyTorch's OpInfo).

Tests, benchmarks, the forward layer and the report enumerate kernels only
through `KERNELS`. Adding a kernel is one function plus one `register(...)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from .contract import check_operands

KernelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Workspace:
    """What one call may allocate on top of its output, for an (m x k) @ (k x n)
    product of contiguous operands in a dtype the kernel computes natively.

    what:  in words, e.g. "output only", "output + k·n (b transposed)".
    extra: the elements allocated beyond the m x n output at the call's
           highest point, as a function of (m, k, n).
    The contract test (tests/test_memory_contract.py) measures each kernel's
    peak on a few shapes against (m·n + extra) elements plus OVERHEAD_BYTES.
    """

    what: str
    extra: Callable[[int, int, int], int] = lambda m, k, n: 0

    def bytes(self, m: int, k: int, n: int, itemsize: int) -> int:
        """The bytes the declaration allows: output and workspace."""
        return (m * n + self.extra(m, k, n)) * itemsize


OUTPUT_ONLY = Workspace("output only")
# A call's own bookkeeping on top of any declaration: tensor and storage headers,
# Python frames and objects, the contract check; independent of the shape.
OVERHEAD_BYTES = 16 * 1024


class UnsupportedDeviceError(ValueError):
    """A kernel was handed tensors on a device type it does not support."""


class UnsupportedDtypeError(TypeError):
    """A kernel was handed operands whose product dtype it does not compute."""


class UnsupportedLayoutError(TypeError):
    """A kernel was handed a sparse (or other non-strided) operand it does not read."""


# Dense tensors only: what every kernel that reads memory directly takes.
STRIDED = frozenset({torch.strided})


@dataclass(frozen=True)
class Kernel:
    """A registered kernel: call it as `kernel(a, b)`; the raw function is `.fn`.

    python_dims: how many of the product's dimensions (m, then n, then k) the
              kernel steps through in the interpreter: its cost model is the
              product of that many extents in interpreter steps (3: one step
              per multiply-add; 0: none; tiled declares 1, as its tile steps
              are at most m). It sizes the tests.
    max_rows: cost budget, the largest MNIST slice x_train[:rows] worth running.
    devices:  device types the kernel supports ("cpu", "cuda").
    dtypes:   product dtypes (torch.result_type(a, b)) the kernel computes;
              None means every dtype torch multiplies. Others are refused.
    forward:  optionally, a fused forward pass forward(x, layers, **params)
              that forward.MLP runs instead of one kernel call per layer; it
              returns NotImplemented for what it does not handle (a dtype, a
              device, a depth), which MLP then runs layer by layer.
    params:   keyword arguments every call passes to fn (a tuning knob such as
              a tile size); `dataclasses.replace(kernel, params=...)` varies them.
    workspace: what a call allocates beyond its output (a Workspace), checked
              against the measured peak; None: not declared.
    layouts:  operand layouts (torch.strided, torch.sparse_coo, ...) the kernel
              reads. Checked only when a call fails, so that the common call
              pays nothing: a failure on a layout not declared becomes an
              UnsupportedLayoutError naming both operands.
    """

    name: str
    fn: KernelFn
    python_dims: int
    max_rows: int
    devices: frozenset[str] = frozenset({"cpu", "cuda"})
    dtypes: frozenset[torch.dtype] | None = None
    forward: Callable | None = None
    params: dict = field(default_factory=dict)
    workspace: Workspace | None = None
    layouts: frozenset[torch.layout] = STRIDED

    @property
    def summary(self) -> str:
        """The first line of the kernel function's docstring: what it does."""
        return (self.fn.__doc__ or "").strip().partition("\n")[0]

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        check_operands(a, b)
        # Every check runs on every call, so each is written the cheap way:
        # is_cpu before device.type (0.04 against 0.24 us on the Xeon machine
        # of round 3), dtypes by identity
        # (torch's dtypes are singletons).
        if not (a.is_cpu and "cpu" in self.devices) and a.device.type not in self.devices:
            raise UnsupportedDeviceError(
                f"kernel {self.name!r} supports {sorted(self.devices)}, "
                f"got tensors on {a.device}"
            )
        dtype = a.dtype
        if b.dtype is not dtype:
            dtype = torch.result_type(a, b)
        if self.dtypes is not None and dtype not in self.dtypes:
            raise UnsupportedDtypeError(
                f"kernel {self.name!r} computes {sorted(map(str, self.dtypes))}, got "
                f"a {tuple(a.shape)} {a.dtype} @ b {tuple(b.shape)} {b.dtype} (product {dtype})"
            )
        try:
            if a.dtype is not dtype:
                a = a.to(dtype)
            if b.dtype is not dtype:
                b = b.to(dtype)
            return self.fn(a, b, **self.params) if self.params else self.fn(a, b)
        except Exception as error:
            # A try costs nothing until it catches (Python 3.11), so the layouts
            # are looked at only here; the kernel's own error stays as the cause.
            if a.layout not in self.layouts or b.layout not in self.layouts:
                raise UnsupportedLayoutError(
                    f"kernel {self.name!r} reads {sorted(map(str, self.layouts))} tensors, got "
                    f"a {tuple(a.shape)} {a.layout} @ b {tuple(b.shape)} {b.layout}"
                ) from error
            raise

    def python_steps(self, m: int, k: int, n: int) -> int:
        """Interpreter steps for an (m x k) @ (k x n) product: the cost model."""
        loop_extents = (m, n, k)[: self.python_dims]
        steps = 1
        for extent in loop_extents:
            steps *= extent
        return steps

    def supports(self, device: torch.device | str) -> bool:
        return torch.device(device).type in self.devices

    def computes(self, dtype: torch.dtype) -> bool:
        """Whether the kernel computes products of this dtype."""
        return self.dtypes is None or dtype in self.dtypes


KERNELS: dict[str, Kernel] = {}

# Kernels that could not be registered here (an optional dependency missing),
# name -> reason; the test summary shows them as skips.
UNAVAILABLE: dict[str, str] = {}


def register(name: str, fn: KernelFn, *, unavailable: str | None = None,
             **declaration) -> Kernel | None:
    """Declare a kernel once; the name must be new.

    `unavailable`, when set, is why the kernel cannot run here (an optional
    dependency missing): it is listed in UNAVAILABLE instead of KERNELS.
    """
    if name in KERNELS or name in UNAVAILABLE:
        raise ValueError(f"kernel {name!r} is already registered")
    if unavailable is not None:
        UNAVAILABLE[name] = unavailable
        return None
    kernel = Kernel(name=name, fn=fn, **declaration)
    KERNELS[name] = kernel
    return kernel


def get_kernel(kernel: str | Kernel | None, default: str = "builtin") -> Kernel:
    """Resolve a kernel name or record (None means `default`)."""
    if kernel is None:
        kernel = default
    if isinstance(kernel, Kernel):
        return kernel
    try:
        return KERNELS[kernel]
    except KeyError:
        known = ", ".join(KERNELS)
        reason = UNAVAILABLE.get(kernel)
        extra = f" ({reason})" if reason else ""
        raise KeyError(f"unknown kernel {kernel!r}{extra}; registered: {known}") from None
