"""The cache of prepared weights (matmul.prepared) never serves a stale value:
every in-place edit torch counts, through the tensor or a view, storage
swapped under the same object, and a new tensor at a freed address all
rebuild; unchanged tensors do not. And the numba kernels that use it see the
edits (their products follow the weights)."""
from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from forward import MLP
from matmul import KERNELS, compiled
from matmul.prepared import LINE_BYTES, PreparedWeights, aligned_zeros


def cached_sum(cache: PreparedWeights, *tensors: torch.Tensor) -> float:
    return cache.get(tensors, ("sum",), lambda: sum(float(t.sum()) for t in tensors))


def cached_sum_of_one(cache: PreparedWeights, t: torch.Tensor) -> float:
    return cache.get_one(t, ("sum",), lambda t: float(t.sum()))


EDITS = pytest.mark.parametrize("edit", [
    lambda w: w.add_(1),
    lambda w: w.__setitem__((0, 0), 7.0),
    lambda w: w.T[1].copy_(torch.arange(2.0)),    # through a view
    lambda w: w.set_(torch.full((2, 3), 2.0)),    # new storage, same object
    lambda w: w.resize_(3, 2).fill_(4.0),
    lambda w: w.set_(w.untyped_storage(), 0, (3, 2), (1, 3)),  # same storage, new strides
], ids=["add_", "setitem", "view_copy_", "set_", "resize_", "set_strides"])


@EDITS
@pytest.mark.parametrize("lookup", [cached_sum, cached_sum_of_one], ids=["get", "get_one"])
def test_every_counted_edit_rebuilds(edit, lookup):
    cache, w = PreparedWeights(), torch.ones(2, 3)
    assert lookup(cache, w) == 6 and lookup(cache, w) == 6 and cache.builds == 1
    edit(w)
    assert lookup(cache, w) == float(w.sum()) and cache.builds == 2


def test_get_one_and_get_share_their_entries():
    cache, w = PreparedWeights(), torch.ones(2, 3)
    assert cached_sum(cache, w) == cached_sum_of_one(cache, w) == 6 and cache.builds == 1


def test_a_new_tensor_at_a_freed_address_is_not_the_old_one():
    cache = PreparedWeights(capacity=1)
    cached_sum(cache, torch.ones(2, 3))  # the entry keeps this tensor alive
    gc.collect()
    other = torch.full((2, 3), 3.0)
    assert cached_sum(cache, other) == 18


def test_entries_are_per_tensor_tuple_and_tag():
    cache, a, b = PreparedWeights(), torch.ones(2), torch.full((2,), 2.0)
    assert cached_sum(cache, a, b) == 6 and cached_sum(cache, b, a) == 6
    assert cache.get((a,), ("other",), lambda: "x") == "x"
    assert cache.builds == 3 and len(cache) == 3
    b.mul_(2)
    assert cached_sum(cache, a, b) == 10


def test_the_cache_is_bounded_and_skips_large_tensors():
    cache = PreparedWeights(capacity=2, max_elements=10)
    for _ in range(5):
        cached_sum(cache, torch.ones(3))
    assert len(cache) == 2
    big = torch.ones(11)
    assert cached_sum(cache, big) == 11 and cached_sum(cache, big) == 11
    assert cache.builds == 7 and len(cache) == 2


needs_numba = pytest.mark.skipif(compiled.NUMBA_MISSING is not None,
                                 reason=str(compiled.NUMBA_MISSING))


@needs_numba
@pytest.mark.parametrize("name", ["numba_tuned", "numba_fused"])
def test_numba_products_follow_edited_weights(name):
    """Integer-valued floats: every product is exact."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-4, 4, (5, 64), generator=g).float()
    w = torch.randint(-4, 4, (64, 10), generator=g).float()
    kernel = KERNELS[name]
    assert torch.equal(kernel(x, w), x @ w)
    w[3, 4] += 1
    assert torch.equal(kernel(x, w), x @ w)
    w.T[2].zero_()
    assert torch.equal(kernel(x, w), x @ w)


@needs_numba
def test_fused_forward_follows_edited_layers():
    mlp = MLP.kaiming((16, 8, 4), seed=1)
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(2))
    fused, reference = mlp.with_kernel("numba_fused"), mlp.with_kernel("builtin")
    torch.testing.assert_close(fused(x), reference(x))
    for layer in mlp.layers:  # both layers' weights and biases, in place
        layer.w.mul_(-0.5)
        layer.b.add_(0.25)
        torch.testing.assert_close(fused(x), reference(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_aligned_zeros_start_on_a_cache_line(dtype):
    # numpy alone starts most allocations 16, 32 or 48 bytes into a line.
    for rows in range(1, 9):
        a = aligned_zeros((rows, 784), dtype)
        assert a.ctypes.data % LINE_BYTES == 0 and a.flags.c_contiguous and a.flags.writeable
        assert a.shape == (rows, 784) and a.dtype == dtype and not a.any()


@needs_numba
def test_the_kernels_prepared_weights_start_on_a_cache_line():
    """Every array the numba kernels prepare from weights (their rows are
    whole cache lines for the MNIST layers) is line-aligned, in every
    allocation: an unaligned one made the product 15 % slower (see aligned_zeros)."""
    mlp = MLP.kaiming(seed=0)
    for _ in range(8):
        w = torch.randn(784, 10)
        prepared = [compiled._transposed(w, torch.float32, compiled.COLUMNS),
                    *compiled._columns(w, torch.float32, 8)[:4]]
        (w1, wg1, tail1, bias1, later, *_), _ = compiled._forward_weights(
            mlp.layers, torch.float32, 8)
        prepared += [w1, wg1, tail1, bias1, *(a for pair in later for a in pair)]
        prepared = [a for a in prepared if a.size]  # an empty array has no data to place
        assert len(prepared) >= 7
        assert [a.ctypes.data % LINE_BYTES for a in prepared] == [0] * len(prepared)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_the_fused_pass_copies_per_thread_start_on_a_cache_line(dtype):
    # simd.forward's per-thread copies of the later layers: numba's own
    # arrays start on 32 bytes, so half of them would not.
    for rows in range(1, 9):
        a = np.arange(rows * 24, dtype=dtype).reshape(rows, 24)
        copy = compiled.simd._aligned_copy(a)
        assert copy.ctypes.data % LINE_BYTES == 0 and copy.flags.c_contiguous
        assert copy.dtype == dtype and np.array_equal(copy, a)
        assert not np.shares_memory(copy, a)
