"""What the generic tests do not cover for the Triton kernels: triton as an
optional extra, the declaration with and without Triton's interpreter, the
skinny kernel's padding of n to 16 and its row-block and k edges, the tiled
kernel's grouped block order, stores that stay inside c, IEEE float32 (not
TF32), one rounding of float32 sums for float16/bfloat16, exact integers.

Kernels run on CUDA when there is a GPU, else on the CPU under Triton's
interpreter (TRITON_INTERPRET=1 set before the test run), else those tests skip
saying why.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch

from matmul import KERNELS, UNAVAILABLE, Kernel, UnsupportedDeviceError, triton_kernels
from matmul.accuracy import check_product

TRITON_KERNELS = ("triton_tiled", "triton_skinny")
INTO = {"triton_tiled": triton_kernels.tiled_into, "triton_skinny": triton_kernels.skinny_into}
REASON = "triton is not installed: pip install 'matmul-bench[triton]'"


def _device() -> str | None:
    if triton_kernels.TRITON_MISSING is not None:
        return None
    if torch.cuda.is_available():
        return "cuda"
    return "cpu" if triton_kernels.INTERPRET else None


DEVICE = _device()
needs_triton = pytest.mark.skipif(triton_kernels.TRITON_MISSING is not None,
                                  reason=str(triton_kernels.TRITON_MISSING))
runs_kernels = pytest.mark.skipif(
    DEVICE is None,
    reason=str(triton_kernels.TRITON_MISSING) if triton_kernels.TRITON_MISSING else
    "no CUDA GPU, and Triton's interpreter is off (set TRITON_INTERPRET=1 to run these on the CPU)")
both_kernels = pytest.mark.parametrize("name", TRITON_KERNELS)


def small_integers(rows, cols, seed, dtype=torch.float32, bound=3, low=None):
    """Whole numbers in [low, bound] (low = -bound by default) on DEVICE: every sum
    of their products below 2**24 is exact in float32, in any order, so results
    compare with torch.equal."""
    generator = torch.Generator().manual_seed(seed)
    low = -bound if low is None else low
    return torch.randint(low, bound + 1, (rows, cols), generator=generator).to(dtype).to(DEVICE)


def exact(a, b):
    """a @ b computed exactly (float64 holds these sums), in a's dtype."""
    return (a.double() @ b.double()).to(a.dtype)


# --- triton as an optional extra ----------------------------------------------------

def test_without_the_interpreter_the_kernels_are_declared_for_cuda_only():
    """The declaration a GPU machine gets, and the registry refusing a CPU tensor there."""
    assert triton_kernels.declaration(False) == {"python_dims": 0, "max_rows": 50_000,
                                                 "devices": frozenset({"cuda"})}
    assert triton_kernels.declaration(True)["devices"] == {"cuda", "cpu"}
    kernel = dataclasses.replace(KERNELS["triton_tiled"] if "triton_tiled" in KERNELS else
                                 Kernel("triton_tiled", triton_kernels.triton_tiled, 0, 0),
                                 **triton_kernels.declaration(False))
    with pytest.raises(UnsupportedDeviceError, match="'triton_tiled' supports \\['cuda'\\], got tensors on cpu"):
        kernel(torch.ones(2, 3), torch.ones(3, 4))


@needs_triton
@both_kernels
def test_declaration_here(name):
    """Registered (not unavailable); the CPU only under the interpreter, with a
    small budget there; dtypes as the module documents them."""
    kernel = KERNELS[name]
    assert name not in UNAVAILABLE
    if triton_kernels.INTERPRET:
        assert kernel.devices == {"cuda", "cpu"} and kernel.python_dims == 1 and kernel.max_rows <= 50
    else:
        assert kernel.devices == {"cuda"} and kernel.python_dims == 0
    floats = {torch.float16, torch.bfloat16, torch.float32, torch.float64}
    integers = {torch.int32, torch.int64} if name == "triton_tiled" else set()
    assert kernel.dtypes == floats | integers


# --- shapes the property tests do not reach -------------------------------------------

def _into_sentinel(name, a, b):
    """The kernel's product written into a view of a larger NaN-filled buffer, and
    that buffer: entries outside the view must stay NaN (stores are masked)."""
    m, n = a.shape[0], b.shape[1]
    buffer = torch.full((m + 70, n + 70), float("nan"), dtype=a.dtype, device=DEVICE)
    c = buffer[3:3 + m, 5:5 + n]
    INTO[name](a, b, c)
    outside = buffer.clone()
    outside[3:3 + m, 5:5 + n] = 0
    assert outside.isnan().sum().item() == buffer.numel() - m * n, "a store left c"
    return c


# m around the 64-row blocks (float32), n around the padding to 16 and the 64-column cap.
SKINNY_SHAPES = [
    (5, 784, 10),     # the MNIST layer: n = 10 padded to 16, 12 whole k steps and a tail of 16
    (63, 784, 10), (64, 784, 10), (65, 784, 10), (129, 200, 10),  # row-block edges
    (70, 64, 1), (70, 128, 15), (70, 63, 16), (70, 65, 17),        # k: whole steps only / tail only
    (3, 20, 64), (3, 20, 65), (2, 9, 200),                         # n past one column block
    (1, 1, 1),
]


@runs_kernels
@pytest.mark.parametrize("m, k, n", SKINNY_SHAPES, ids=lambda d: str(d))
def test_skinny_padding_and_edges(m, k, n):
    a, b = small_integers(m, k, seed=m), small_integers(k, n, seed=n)
    assert torch.equal(_into_sentinel("triton_skinny", a, b), exact(a, b))


@runs_kernels
@both_kernels
def test_mnist_shape_reads_b_through_its_strides(name):
    """b as 10 columns of a 784 x 16 tensor whose other 6 hold NaN: padding n to
    16 must load zeros there, not the neighbouring memory."""
    a = small_integers(5, 784, seed=0)
    wide = torch.full((784, 16), float("nan"), device=DEVICE)
    wide[:, :10] = small_integers(784, 10, seed=1)
    b = wide[:, :10]
    assert torch.equal(KERNELS[name](a, b), exact(a, b))


@runs_kernels
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
def test_tiled_grouped_order_covers_every_block(dtype):
    """More row blocks than one group of 8 and a partial last group, two column
    blocks: every entry written once, nothing outside c."""
    block_m, block_n, _ = triton_kernels.TILED_BLOCKS[dtype]
    m, n = block_m * 9 + 1, block_n + 1
    a, b = small_integers(m, 5, seed=2, dtype=dtype), small_integers(5, n, seed=3, dtype=dtype)
    if dtype.is_floating_point:
        assert torch.equal(_into_sentinel("triton_tiled", a, b), exact(a, b))
    else:
        c = triton_kernels.tiled_into(a, b, torch.empty(m, n, dtype=dtype, device=DEVICE))
        assert torch.equal(c.cpu(), a.cpu() @ b.cpu())  # torch has no int64 matmul on CUDA


# --- what each dtype computes in -------------------------------------------------

@runs_kernels
@both_kernels
def test_float32_is_ieee_not_tf32(name):
    """64 x (1 + 2**-12) is 64 + 2**-6 exactly in float32, each partial sum too;
    TF32 keeps 10 mantissa bits, rounds 1 + 2**-12 to 1 and gives 64."""
    a = torch.full((16, 64), 1 + 2.0 ** -12, device=DEVICE)
    b = torch.ones(64, 16, device=DEVICE)
    c = KERNELS[name](a, b)
    assert torch.equal(c, torch.full_like(c, 64 + 2.0 ** -6))


@runs_kernels
@both_kernels
def test_float32_within_the_bound_on_the_mnist_shape(name):
    """Random float32 at the MNIST layer's k = 784 (TF32's error is ~1000x the bound)."""
    generator = torch.Generator().manual_seed(4)
    a = torch.rand(50, 784, generator=generator).to(DEVICE)
    b = torch.randn(784, 10, generator=generator).to(DEVICE)
    check_product(KERNELS[name](a, b), a, b)


@runs_kernels
@both_kernels
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_sums_in_float32_rounded_once(name, dtype):
    """Whole numbers in [0, 8], k = 200: every product and float32 partial sum is
    exact, and most sums (~3200, at most 12 800) lie beyond the 16-bit type's
    whole numbers (2048 for float16, 256 for bfloat16), so the result must be
    the exact sum rounded once; sums kept in the 16-bit type would be rounded
    at every step."""
    a = small_integers(20, 200, seed=5, dtype=dtype, bound=8, low=0)
    b = small_integers(200, 12, seed=6, dtype=dtype, bound=8, low=0)
    expected = exact(a, b)
    assert (expected.double() != a.double() @ b.double()).any(), "no sum needed rounding"
    assert torch.equal(KERNELS[name](a, b), expected)


@runs_kernels
def test_int64_exact_beyond_float64():
    """Sums near 2**55 that float64 cannot hold: computed in int64, not through floats."""
    a = torch.full((3, 16), 2**31 + 1, dtype=torch.int64, device=DEVICE)
    b = torch.full((16, 2), 2**20 + 3, dtype=torch.int64, device=DEVICE)
    c = KERNELS["triton_tiled"](a, b)
    assert c.dtype == torch.int64
    assert c.tolist() == [[16 * (2**31 + 1) * (2**20 + 3)] * 2] * 3


@runs_kernels
def test_int32_wraps_like_torch():
    a = torch.tensor([[2**20, 3, -(2**30)], [7, 2**31 - 1, 2**31 - 1]], dtype=torch.int32)
    b = torch.tensor([[2**20, 1], [5, 2**16], [4, -3]], dtype=torch.int32)
    assert torch.equal(KERNELS["triton_tiled"](a.to(DEVICE), b.to(DEVICE)).cpu(), a @ b)


@runs_kernels
@both_kernels
def test_operands_that_require_grad(name):
    """Weights with requires_grad (as in a trained layer) are read, not refused."""
    a = torch.arange(12.0, device=DEVICE).reshape(3, 4)
    b = torch.ones(4, 2, requires_grad=True, device=DEVICE)
    for dtype in (torch.float32, torch.bfloat16):
        c = KERNELS[name](a.to(dtype), b.to(dtype))
        assert torch.equal(c, (a @ b.detach()).to(dtype)) and not c.requires_grad
