"""What the generic property tests do not cover for the tiled and numba kernels:
numba as an optional extra, the CPU-only declaration, integer wrap-around in
int32 (a dtype the properties do not draw), the tuned kernel's block edges,
the fused forward pass and what it declines, and the tile parameter of `tiled`.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np
import pytest
import torch

import matmul
from forward import MLP, Linear, check_forward
from matmul import KERNELS, UNAVAILABLE, UnsupportedDeviceError, compiled
from matmul.tiled import DEFAULT_TILE, tiled

NUMBA_KERNELS = ("numba_three_loops", "numba_tuned", "numba_fused")
LESSON_KERNELS = ("three_loops", "dot_product", "broadcast", "einsum", "builtin")

needs_numba = pytest.mark.skipif(compiled.NUMBA_MISSING is not None,
                                 reason=str(compiled.NUMBA_MISSING))
numba_kernels = pytest.mark.parametrize("name", NUMBA_KERNELS)


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


# The two blocked kernels and the rows of their blocks.
BLOCKED = {"numba_tuned": compiled.ROWS, "numba_fused": compiled.BROADCAST_ROWS}


@needs_numba
@pytest.mark.parametrize("name", BLOCKED)
@pytest.mark.parametrize("dtype", [torch.int64, torch.float32], ids=["int64", "f32"])
@pytest.mark.parametrize("rows", ["one", "short_block", "odd"])
def test_blocked_row_blocks_and_column_padding(name, rows, dtype):
    """Rows short of a block and past whole blocks, an n that pads the last
    column pass (and the last vector), a k with a scalar tail past whole
    vectors: at sizes the property tests' element budget does not reach.
    Integer values, so float32 sums are exact too."""
    block = BLOCKED[name]
    m = {"one": 1, "short_block": block - 1, "odd": block * 37 + 1}[rows]
    generator = torch.Generator().manual_seed(0)
    a = torch.randint(-50, 50, (m, 300), generator=generator).to(dtype)
    b = torch.randint(-50, 50, (300, 2 * compiled.COLUMNS + 1), generator=generator).to(dtype)
    assert torch.equal(KERNELS[name](a, b), a @ b)


@pytest.fixture(params=["serial", "parallel"])
def build(request, monkeypatch):
    """Every call runs this build of the numba kernels (compiled.BUILDS would
    otherwise choose by timing)."""
    monkeypatch.setattr(compiled.BUILDS, "force", request.param)
    return request.param


@needs_numba
@pytest.mark.parametrize("name", BLOCKED)
def test_blocked_both_builds_on_block_edges(name, build):
    """The serial and the parallel build (the thread pool's path), with rows
    that end mid-block, a k that ends mid-vector and an n wider than a group
    of vectors; exact in float32."""
    generator = torch.Generator().manual_seed(2)
    k = 1003
    m = 40 * BLOCKED[name] + 3
    a = torch.randint(-8, 8, (m, k), generator=generator).float()
    b = torch.randint(-8, 8, (k, 70), generator=generator).float()
    assert torch.equal(KERNELS[name](a, b), a @ b)


# --- numba_fused's columns past its last whole vector (simd.grouped_block) -----------

@needs_numba
@pytest.mark.parametrize("lanes", [4, 8, 16])
def test_column_group_fills_whole_vectors_with_the_least_depth(lanes):
    for columns in range(1, 2 * lanes + 2):
        g, vectors = compiled.simd.column_group(columns, lanes)
        assert lanes % g == 0 and vectors * lanes == columns * g  # no lane is padding
        assert g == 1 or columns * (g // 2) % lanes != 0          # no shallower g fills them
    assert compiled.simd.column_group(0, lanes) == (1, 0)
    assert compiled.simd.column_group(10, 8) == (4, 5)  # the skinny layer: 5 vectors of 2 columns
    assert compiled.simd.column_group(2, 16) == (8, 1)  # the forward pass's 2 of 50 hidden units


@needs_numba
def test_grouped_weights_lay_each_lane_as_documented():
    """Lane l of vector v of step s: w[s * g + l % g, v * (lanes // g) + l // g];
    10 columns in 16 lanes (5 vectors of 2 columns x 8 k-values), k = 19: two
    steps of 8, the last 3 k-values left to the caller."""
    simd = compiled.simd
    lanes, (k, n) = 16, (19, 10)
    w = np.arange(k * n, dtype=np.float32).reshape(k, n)
    out = simd.grouped_weights(w, lanes, np.zeros(simd.grouped_shape(k, n, lanes), np.float32))
    assert out.shape == (2, 80)
    expected = np.zeros_like(out)
    for s, v, lane in itertools.product(range(2), range(5), range(lanes)):
        expected[s, v * lanes + lane] = w[s * 8 + lane % 8, v * 2 + lane // 8]
    assert np.array_equal(out, expected)


@needs_numba
@pytest.mark.parametrize("registers, rows", [(32, 8), (16, 6)])
def test_grouped_passes_fit_the_registers(registers, rows):
    for vectors in range(1, 41):
        per_pass, sub_rows = compiled.simd.grouped_passes(vectors, rows, registers)
        assert 1 <= per_pass <= vectors and 1 <= sub_rows <= rows
        assert sub_rows * per_pass + per_pass + 1 + registers // 16 <= registers
    # The skinny layer in 8 lanes: its 5 vectors in one pass of 4 rows (5 loads
    # for 20 FMAs a step), not 8 rows in two passes (8 + 5 for 40).
    assert compiled.simd.grouped_passes(5, 8, 32) == (5, 4)


@pytest.fixture(params=["narrow", "wide"])
def group_width(request, monkeypatch):
    """numba_fused's grouped columns run in half-width vectors or the widest,
    whatever narrow_vectors_pay measured on this machine."""
    monkeypatch.setattr(compiled, "narrow_vectors_pay", lambda: request.param == "narrow")
    return request.param


@needs_numba
@pytest.mark.parametrize("dtype", [torch.int64, torch.float32], ids=["int64", "f32"])
@pytest.mark.parametrize("m, k, n", [
    (53, 784, 10),  # the skinny layer: every column grouped, rows past whole blocks
    (50, 784, 10),  # a last block that ends before its second sub-block of rows
    (21, 301, 15),  # vectors in several passes, k-values past the last whole step
    (9, 301, 3),    # k-values past the last whole step of the groups, added in order
    (4, 5, 7),      # fewer k-values than a step: every one of them added in order
    (17, 64, 37),   # whole vectors and grouped columns side by side
])
def test_grouped_columns_at_both_widths_and_builds(m, k, n, dtype, group_width, build):
    """Integer values, so float32 sums are exact too."""
    generator = torch.Generator().manual_seed(m)
    a = torch.randint(-20, 20, (m, k), generator=generator).to(dtype)
    b = torch.randint(-20, 20, (k, n), generator=generator).to(dtype)
    assert torch.equal(KERNELS["numba_fused"](a, b), a @ b)


@needs_numba
def test_half_width_vectors_only_where_their_fmas_keep_up():
    assert compiled.narrow_pays(100e9, 99e9)       # FMA units half the widest vectors (Zen 4)
    assert not compiled.narrow_pays(200e9, 100e9)  # units as wide as the vectors


@needs_numba
def test_a_clock_that_does_not_advance_measures_nothing_and_keeps_the_widest(monkeypatch):
    assert compiled.fma_rates(16, clock=lambda: 1.0) == (0.0, 0.0)
    monkeypatch.setattr(compiled, "fma_rates", lambda lanes: (0.0, 0.0))
    assert compiled.narrow_vectors_pay.__wrapped__() is False


@needs_numba
def test_fma_rates_are_measured_at_both_widths():
    wide, narrow = compiled.fma_rates(16)
    assert wide > 0 and narrow > 0


# --- the fused forward pass ---------------------------------------------------------

def _mlp(sizes, dtype, seed=0):
    """Kaiming weights and non-zero biases, so bias and relu are both exercised."""
    generator = torch.Generator().manual_seed(seed)
    return MLP(tuple(Linear(layer.w, 0.5 * torch.randn(layer.out_features, generator=generator))
                     for layer in MLP.kaiming(sizes, seed=seed).layers)).to(dtype=dtype)


F32, F64 = torch.float32, torch.float64


@needs_numba
@pytest.mark.parametrize("sizes, rows, dtype", [
    ((784, 50, 10), 1, F32),
    ((784, 50, 10), 1, F64),
    ((784, 50, 10), 2 * compiled.BROADCAST_ROWS + 1, F32),
    ((784, 50, 10), 1500, F32),  # many blocks a thread
    ((784, 50, 10), 1500, F64),
    # Three layers; widths that fill neither passes nor vectors (one dtype:
    # each depth is a compilation of its own).
    ((37, 23, 17, 3), 29, F32),
    # A first layer of whole groups of vectors, single vectors and more than
    # one pass of columns past them; a second wider than one group.
    ((101, 4 * 16 + 5, 57, 3), 3 * compiled.BROADCAST_ROWS - 1, F32),
], ids=["mnist-1-f32", "mnist-1-f64", "mnist-odd-f32", "mnist-1500-f32", "mnist-1500-f64",
        "deep-f32", "wide-f32"])
def test_fused_forward_within_the_bound(sizes, rows, dtype, build):
    """numba_fused's pass against the float64 reference, on block edges, in
    both builds, and NaN inputs stay NaN through relu as they do layer by layer."""
    mlp = _mlp(sizes, dtype).with_kernel("numba_fused")
    x = torch.randn(rows, sizes[0], generator=torch.Generator().manual_seed(3), dtype=dtype)
    out = mlp(x)
    assert out.dtype == dtype and out.shape == (rows, sizes[-1])
    check_forward(out, mlp.layers, x)
    x[-1, 0] = float("nan")
    assert mlp(x)[-1].isnan().all() and not mlp(x)[:-1].isnan().any()


@needs_numba
@pytest.mark.parametrize("sizes, rows", [((784, 50, 10), 2 * compiled.BROADCAST_ROWS + 1),
                                         ((37, 23, 17, 3), 29)], ids=["mnist", "deep"])
def test_fused_forward_at_both_group_widths(sizes, rows, group_width):
    """The first layer's grouped outputs (2 of 50; 7 of 23, with k-values past
    the groups' last step) in half-width vectors and in the widest."""
    mlp = _mlp(sizes, F32).with_kernel("numba_fused")
    x = torch.randn(rows, sizes[0], generator=torch.Generator().manual_seed(6))
    check_forward(mlp(x), mlp.layers, x)


@needs_numba
def test_fused_forward_declines_what_it_does_not_fuse():
    """Integer or mixed dtypes and single layers return NotImplemented, so
    forward.MLP runs them layer by layer on the same kernel (the same result
    to the bit as that kernel's products without its fused pass); what it
    fuses agrees with that within rounding. (Against another kernel's
    products the bits may differ: numba_fused's and numba_tuned's sum k in
    different orders, which on the Xeon machine rounded differently.)"""
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(4))
    float32, float64 = _mlp((6, 5, 3), torch.float32), _mlp((6, 5, 3), torch.float64)
    cases = [  # (mlp, input, declined)
        (float64, x.double(), False),
        (float64, x, True),  # float32 input, float64 layers
        (MLP((float32.layers[0], float64.layers[1])), x, True),
        (MLP(tuple(Linear(layer.w.round().long(), layer.b.round().long()) for layer in float32.layers)),
         x.round().long(), True),
        (MLP(float32.layers[:1]), x, True),
    ]
    for mlp, inputs, declined in cases:
        assert (compiled.fused_forward(inputs, mlp.layers) is NotImplemented) == declined
        out = mlp.with_kernel("numba_fused")(inputs)
        expected = mlp.with_kernel(dataclasses.replace(KERNELS["numba_fused"], forward=None))(inputs)
        assert out.dtype == expected.dtype
        assert torch.equal(out, expected) if declined else torch.allclose(out, expected)
    # A sparse input is declined too, and layer by layer the kernel names its layout.
    assert compiled.fused_forward(x.to_sparse(), float32.layers) is NotImplemented
    with pytest.raises(matmul.UnsupportedLayoutError, match="'numba_fused' reads .*sparse_coo"):
        float32.with_kernel("numba_fused")(x.to_sparse())


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



@needs_numba
@pytest.mark.parametrize("k", [6, 784, 1003])
def test_serial_and_parallel_builds_agree_to_the_bit(k, monkeypatch):
    """compiled.BUILDS picks a build by timing, so the choice must never show in
    the result: the scalar tail past whole vectors is added in order in both."""
    generator = torch.Generator().manual_seed(5)
    a = torch.randn(3 * compiled.ROWS + 2, k, generator=generator)
    b = torch.randn(k, 10, generator=generator)
    mlp = _mlp((k, 23, 7), torch.float32).with_kernel("numba_fused")
    results = []
    for build in ("serial", "parallel"):
        monkeypatch.setattr(compiled.BUILDS, "force", build)
        results.append([KERNELS[name](a, b) for name in BLOCKED] + [mlp(a)])
    assert all(map(torch.equal, *results))


@pytest.fixture
def converted(monkeypatch):
    """The operands that go through numpy arrays (compiled._host_array)."""
    found = []
    to_numpy = compiled._host_array
    monkeypatch.setattr(compiled, "_host_array",
                        lambda t, dtype: found.append(t) or to_numpy(t, dtype))
    return found


@needs_numba
@pytest.mark.parametrize("k", [6, 784, 1003])
def test_a_product_by_data_pointers_gives_the_bits_of_one_by_arrays(k, converted):
    """numba_tuned on one block of rows passes torch's data pointers
    (simd.blocked_at); a non-contiguous a goes through numpy arrays. Both
    run the serial build's loops, so they agree to the bit."""
    generator = torch.Generator().manual_seed(6)
    a = torch.randn(compiled.ROWS, k, generator=generator)
    b = torch.randn(k, 13, generator=generator)
    strided = a.T.contiguous().T
    results = [KERNELS["numba_tuned"](x, b) for x in (a, strided)]
    assert len(converted) == 1 and converted[0] is strided
    assert torch.equal(*results)
    torch.testing.assert_close(results[0], a @ b, atol=1e-4, rtol=1e-4)


@needs_numba
@pytest.mark.parametrize("dtype", [F32, F64])
def test_a_fused_pass_by_data_pointers_gives_the_bits_of_one_by_arrays(dtype, converted):
    """The same for numba_fused's forward pass (simd.forward_at) on one block."""
    mlp = _mlp((37, 23, 17, 3), dtype).with_kernel("numba_fused")
    x = torch.randn(compiled.BROADCAST_ROWS, 37, generator=torch.Generator().manual_seed(7),
                    dtype=dtype)
    strided = x.T.contiguous().T
    results = [mlp(v) for v in (x, strided)]
    assert len(converted) == 1 and converted[0] is strided
    assert torch.equal(*results)
    check_forward(results[0], mlp.layers, x)


@needs_numba
def test_a_pass_on_part_of_a_block_gives_the_bits_of_the_whole_block(converted, monkeypatch):
    """Fewer rows than a block run a block of exactly that many rows
    (compiled._part_block); each row's sums are the same, so are the bits."""
    made = []
    part_block = compiled._part_block
    monkeypatch.setattr(compiled, "_part_block", lambda *key: made.append(key) or part_block(*key))
    mlp = _mlp((37, 23, 17, 3), torch.float32).with_kernel("numba_fused")
    x = torch.randn(compiled.BROADCAST_ROWS, 37, generator=torch.Generator().manual_seed(8))
    rows = compiled.BROADCAST_ROWS - 3
    assert torch.equal(mlp(x[:rows].clone()), mlp(x)[:rows])
    assert [key[:3] for key in made] == [(torch.float32, 3, rows)] and not converted


@needs_numba
def test_fused_pass_in_parts_gives_the_bits_of_one_part():
    """simd.forward split into more parts than the machine has threads (each
    part then works from its own copies of the later layers) against one part
    (the shared ones): the same bits, on any machine."""
    mlp = _mlp((37, 23, 17, 3), torch.float32)
    x = torch.randn(9 * compiled.BROADCAST_ROWS + 5, 37, generator=torch.Generator().manual_seed(4))
    block = compiled._broadcast_shape()
    (*weights, rest, width), _ = compiled._forward_weights(
        mlp.layers, torch.float32, compiled.group_lanes(torch.float32))
    outs = []
    for parts in (1, 5):
        out = torch.empty(x.shape[0], 3).numpy()
        compiled.simd.forward(x.numpy(), *weights, out, parts, *block, rest, width)
        outs.append(torch.from_numpy(out))
    assert torch.equal(*outs)
    check_forward(outs[1], mlp.layers, x)
