"""The cache-blocked kernel's one knob: its tile size, swept on one MNIST slice."""
from __future__ import annotations

import dataclasses

import pytest

from bench.suite import cases
from matmul import KERNELS
from matmul.accuracy import check_product, product_bound

TILES = (16, 32, 64, 128, 256, 784)


@pytest.fixture(scope="module")
def sweep_slice(slices, layer_weights):
    """The slice the sweep runs on (the tiled kernel's budget) and its product's bound."""
    x = slices(KERNELS["tiled"].max_rows)
    return x, product_bound(x, layer_weights)


@pytest.mark.mnist
@pytest.mark.parametrize("tile", TILES, ids=lambda tile: f"tile{tile}")
def test_tile_sweep(tile, sweep_slice, layer_weights, supported, timed, benchmark):
    # The registered record with only its tile changed: same contract, same checks.
    base = KERNELS["tiled"]
    kernel = dataclasses.replace(base, params={**base.params, "tile": tile})
    supported(kernel)
    (x, bound), w = sweep_slice, layer_weights
    benchmark.group = f"tiled sweep rows={x.shape[0]}"
    check_product(kernel(x, w), x, w, bound)
    builtin = KERNELS[cases.REFERENCE_KERNEL]
    timed(lambda: kernel(x, w), cases.Reference(cases.REFERENCE_KERNEL, lambda: builtin(x, w)),
          cases.product_workload("tile_sweep", base.name, x, w, params={"tile": tile}))
