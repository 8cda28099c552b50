"""Cache blocking, the idea behind BLAS, written with torch operations.

The lesson's aside: BLAS is fast because it is *blocked*. Rather than sweeping
whole rows and columns (which fall out of cache before they are reused), it
cuts c = a @ b into tile x tile blocks and accumulates

    c[I, J] += a[I, P] @ b[P, J]      for each tile P of the inner dimension,

so the three tiles in play stay in cache while each is reused `tile` times.
Here the three loops run over tiles, not elements, and the block product is
torch's `@` on the tiles (BLAS has a register-blocked micro-kernel in its
place). Broadcasting would also do, but would build a tile^3 temporary per
step, which hides the point: the blocking is in the loops.

`tile` is the one tuning knob: the registry passes it from the kernel's
params, and `dataclasses.replace(kernel, params={"tile": t})` gives the
kernel of one step of a sweep (tests/benchmarks/test_tile_sweep.py).
"""
from __future__ import annotations

import operator

import torch

# Each tile product is one BLAS call plus Python overhead, so bigger tiles pay
# less overhead; the sweep (tests/benchmarks/test_tile_sweep.py) shows how much.
DEFAULT_TILE = 256

# float16/bfloat16 accumulate in float32 across tiles, as BLAS's half GEMM
# does: one rounding at the end instead of one per inner tile.
_ACCUMULATE_IN = {torch.float16: torch.float32, torch.bfloat16: torch.float32}


def tiled(a: torch.Tensor, b: torch.Tensor, tile: int = DEFAULT_TILE) -> torch.Tensor:
    """c = a @ b by tile x tile blocks: loops over row, column and inner tiles.

    Model: one BLAS call (addmm_) per tile triple plus its Python overhead;
    small tiles are bound by the overhead, large ones by BLAS on the tiles.
    """
    if isinstance(tile, bool):  # an int subclass, but never meant as a size
        raise TypeError(f"tile must be a positive integer, got {tile!r}")
    tile = operator.index(tile)  # an int or numpy integer; a float raises TypeError
    if tile < 1:
        raise ValueError(f"tile must be a positive integer, got {tile!r}")
    dtype = a.dtype
    acc = _ACCUMULATE_IN.get(dtype, dtype)
    a, b = a.to(acc), b.to(acc)
    m, k = a.shape
    n = b.shape[1]
    c = torch.zeros(m, n, dtype=acc, device=a.device)
    for i in range(0, m, tile):
        for j in range(0, n, tile):
            block = c[i:i + tile, j:j + tile]  # a view: updated in place below
            for p in range(0, k, tile):
                block.addmm_(a[i:i + tile, p:p + tile], b[p:p + tile, j:j + tile])
    return c.to(dtype)
