"""What the generic property tests do not cover for the tiled and numba kernels:
numba as an optional extra, the CPU-only declaration, integer wrap-around in
int32 (a dtype the properties do not draw) and the tile parameter of `tiled`.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from matmul import KERNELS, UNAVAILABLE, UnsupportedDeviceError, compiled
from matmul.tiled import DEFAULT_TILE, tiled

NUMBA_KERNELS = ("numba_three_loops", "numba_tuned")
LESSON_KERNELS = ("three_loops", "dot_product", "broadcast", "einsum", "builtin")
ROOT = Path(__file__).resolve().parents[1]

needs_numba = pytest.mark.skipif(compiled.NUMBA_MISSING is not None,
                                 reason=str(compiled.NUMBA_MISSING))
numba_kernels = pytest.mark.parametrize("name", NUMBA_KERNELS)


def test_without_numba_the_kernels_are_listed_as_unavailable():
    """numba blocked (None in sys.modules fails its import): the rest registers."""
    script = textwrap.dedent("""
        import sys
        sys.modules["numba"] = None
        import torch
        import matmul
        from matmul import compiled
        print(sorted(matmul.KERNELS))
        print(sorted(matmul.UNAVAILABLE.items()))
        try:
            compiled.numba_tuned(torch.ones(1, 1), torch.ones(1, 1))
        except ImportError as error:
            print(error)
        try:
            matmul.get_kernel("numba_tuned")
        except KeyError as error:
            print(error.args[0])
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    registered, unavailable, call_error, lookup_error = run.stdout.splitlines()
    reason = "numba is not installed: pip install 'matmul-bench[numba]'"
    assert registered == str(sorted(LESSON_KERNELS + ("tiled",)))
    assert unavailable == str(sorted((name, reason) for name in NUMBA_KERNELS))
    assert call_error == reason
    assert reason in lookup_error


@needs_numba
def test_with_numba_the_kernels_are_registered():
    for name in NUMBA_KERNELS:
        assert name in KERNELS and name not in UNAVAILABLE
    assert list(KERNELS)[:len(LESSON_KERNELS)] == list(LESSON_KERNELS)


@needs_numba
@numba_kernels
def test_numba_kernels_refuse_other_devices(name):
    """CPU only: CUDA is refused by the registry, before the kernel runs
    (checked with a meta tensor, a device type the kernel does not list)."""
    kernel = KERNELS[name]
    assert kernel.supports("cpu") and not kernel.supports("cuda")
    meta = torch.empty(2, 3, device="meta"), torch.empty(3, 4, device="meta")
    with pytest.raises(UnsupportedDeviceError, match=r"supports \['cpu'\], got tensors on meta"):
        kernel(*meta)


@needs_numba
@numba_kernels
def test_int32_wraps_like_torch(name):
    """numba widens int32 products to int64; storing back must wrap as torch does."""
    a = torch.tensor([[2**20, 3, -(2**30)], [7, 2**31 - 1, 2**31 - 1]], dtype=torch.int32)
    b = torch.tensor([[2**20, 1], [5, 2**16], [4, -3]], dtype=torch.int32)
    assert torch.equal(KERNELS[name](a, b), a @ b)


@needs_numba
@numba_kernels
def test_operands_that_require_grad(name):
    """Weights with requires_grad (as in a trained layer) are read, not refused."""
    a = torch.arange(12.0).reshape(3, 4)
    b = torch.ones(4, 2, requires_grad=True)
    assert torch.equal(KERNELS[name](a, b), a @ b.detach())


@needs_numba
def test_tuned_row_blocks_and_column_padding():
    """Rows beyond whole 8-row blocks and an odd n (a zero-padded column pass),
    at a size the property tests' element budget does not reach."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randint(-50, 50, (8 * 37 + 5, 300), generator=generator)
    b = torch.randint(-50, 50, (300, 11), generator=generator)
    assert torch.equal(KERNELS["numba_tuned"](a, b), a @ b)


def test_registry_passes_the_declared_tile():
    assert KERNELS["tiled"].params == {"tile": DEFAULT_TILE}
    seen = []

    def spy(a, b, tile):
        seen.append(tile)
        return tiled(a, b, tile=tile)

    kernel = dataclasses.replace(KERNELS["tiled"], fn=spy, params={"tile": 7})
    assert kernel(torch.ones(2, 3), torch.ones(3, 2)).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert seen == [7]


@pytest.mark.parametrize("dtype", [torch.int64, torch.float64])
def test_tile_sweep_gives_the_same_product(dtype):
    """Tiles that divide no dimension, tiles of 1 and tiles larger than the
    matrices: exact for integers; for floats only the summation order moves."""
    generator = torch.Generator().manual_seed(1)
    a = torch.randint(-50, 50, (37, 29), generator=generator).to(dtype)
    b = torch.randint(-50, 50, (29, 13), generator=generator).to(dtype)[:, ::2]
    expected = a @ b
    for tile in (1, 2, 3, 7, 10, 29, DEFAULT_TILE, 1000):
        kernel = functools.partial(tiled, tile=tile)
        assert torch.equal(kernel(a, b), expected), f"tile={tile}"


@pytest.mark.parametrize("tile, error", [(0, ValueError), (-3, ValueError),
                                         (True, TypeError), (2.5, TypeError)])
def test_tile_must_be_a_positive_integer(tile, error):
    with pytest.raises(error):
        tiled(torch.ones(2, 2), torch.ones(2, 2), tile=tile)

