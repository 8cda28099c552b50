"""The cache-blocked kernel's one knob: its tile size, swept on one MNIST slice."""
from __future__ import annotations

import dataclasses

import pytest

from bench import cases
from matmul import KERNELS
from matmul.accuracy import check_product

TILES = (16, 32, 64, 128, 256, 784)

@pytest.mark.mnist
@pytest.mark.parametrize("tile", TILES, ids=lambda tile: f"tile{tile}")
def test_tile_sweep(tile, slices, layer_weights, supported, timed, benchmark):
    # The registered record with only its tile changed: same contract, same checks.
    base = KERNELS["tiled"]
    kernel = dataclasses.replace(base, params={**base.params, "tile": tile})
    supported(kernel)
    rows = base.max_rows
    x, weights = slices(rows), layer_weights
    benchmark.group = f"tiled sweep rows={rows}"
    check_product(kernel(x, weights), x, weights)
    builtin = KERNELS[cases.REFERENCE_KERNEL]
    timed(lambda: kernel(x, weights), lambda: builtin(x, weights), name=f"tiled_{tile}", info={
        "kernel": "tiled", "tile": tile, "rows": rows, "reference": cases.REFERENCE_KERNEL,
        **cases.product_info(x, weights),
    })
