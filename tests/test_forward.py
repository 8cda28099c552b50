"""The forward pass: lin, relu, Linear, MLP, Kaiming init and normalization.

Every kernel runs the same tests through `kernel_params()`; nothing here names
a kernel except the builtin used as a plain reference.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from forward import MLP, Linear, check_forward, forward_allowance, lin, relu
from kernel_params import kernel_params
from matmul import ContractError, Kernel, UnsupportedDtypeError
from matmul.accuracy import assert_within, gamma

# Interpreter steps one forward test may spend (three loops take one per
# multiply-add); one row of 784 -> 50 -> 10 costs 39 700 steps there, 60 for the
# dot product, 2 for broadcast, 1 per layer for loop-free kernels.
STEP_BUDGET = 40_000
ROW_CAP = 500
# A kernel with a Python loop over rows runs at most this many: more rows test
# nothing new, and each step's small torch ops crawl when the cores are shared.
LOOP_ROW_CAP = 50
# Rows of normalized x_train on which first-layer statistics are measured.
STATS_ROWS = 10_000


def forward_rows(mlp: MLP) -> int:
    """Most rows within the kernel's cost budget, the step budget and the cap (at least 1)."""
    cap = LOOP_ROW_CAP if mlp.kernel.python_dims else ROW_CAP
    per_row = mlp.python_steps(2) - mlp.python_steps(1) or 1  # 0 when no Python loop
    return max(1, min(mlp.kernel.max_rows, cap, STEP_BUDGET // per_row))


@pytest.fixture(scope="module")
def x_norm(mnist, normalizer) -> torch.Tensor:
    """Normalised x_train[:STATS_ROWS] (training-set mean and std)."""
    return normalizer(mnist.x_train[:STATS_ROWS])


@pytest.fixture(scope="module")
def mlp() -> MLP:
    """784 -> 50 -> 10 with Kaiming weights and non-zero biases, so the bias add is checked."""
    base = MLP.kaiming(seed=0)
    generator = torch.Generator().manual_seed(1)
    return MLP(tuple(
        Linear(layer.w, 0.5 * torch.randn(layer.out_features, generator=generator))
        for layer in base.layers
    ))


# --- the forward pass on real MNIST, every kernel --------------------------------

@pytest.mark.mnist
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kernel", kernel_params())
def test_forward_matches_float64_reference(kernel, dtype, mlp, x_norm):
    """Within forward.accuracy's propagated γ_{K+1} bound of F.linear/F.relu in float64;
    a kernel that does not declare `dtype` refuses it, naming itself and the dtype."""
    model = mlp.with_kernel(kernel).to(dtype=dtype)
    x = x_norm[: forward_rows(model)].to(dtype)
    if not kernel.computes(dtype):
        with pytest.raises(UnsupportedDtypeError, match=rf"{kernel.name}.*product {dtype}"):
            model(x)
        return
    out = model(x)
    assert out.dtype == dtype
    check_forward(out, model.layers, x)


@pytest.mark.mnist
def test_forward_bound_catches_a_missing_relu_or_bias(mlp, x_norm):
    """The allowance is no blanket: dropping relu or the biases breaks it."""
    x = x_norm[:ROW_CAP]
    first, last = mlp.layers
    check_forward(mlp(x), mlp.layers, x)
    with pytest.raises(AssertionError, match="allowed"):
        check_forward(last(first(x)), mlp.layers, x)
    no_bias = MLP(tuple(Linear(layer.w, torch.zeros_like(layer.b)) for layer in mlp.layers))
    with pytest.raises(AssertionError, match="allowed"):
        check_forward(no_bias(x), mlp.layers, x)
    # And it is far above what the builtin actually gets wrong.
    reference, allowance = forward_allowance(mlp.layers, x)
    assert (mlp(x).double() - reference).abs().max() < 0.1 * allowance.max()


# --- Kaiming init on normalized MNIST ---------------------------------------------

@pytest.mark.mnist
def test_normalized_training_set_has_mean_0_std_1(mnist, normalizer):
    x = normalizer(mnist.x_train)
    assert x.dtype == torch.float32
    assert abs(x.mean().item()) < 1e-4
    assert abs(x.std().item() - 1) < 1e-4
    # Other splits use the training statistics, not their own.
    assert torch.equal(normalizer(mnist.x_valid), (mnist.x_valid - normalizer.mean) / normalizer.std)


@pytest.mark.mnist
def test_kaiming_keeps_first_layer_std_near_1_where_randn_explodes(x_norm, weights):
    """Band: Kaiming's first-layer pre-activation std in [0.5, 2] (order 1).

    Derivation (forward.init): with w ~ N(0, s²), Var(x·w) = fan_in · s² · mean(x²).
    Kaiming (s² = 2/fan_in) predicts sqrt(2 · mean(x²)), ≈ sqrt(2) ≈ 1.41 for
    normalized x: inside the band, not exactly 1 -- relu halves it back for the
    next layer. The lesson's randn (s = 1, the `weights` fixture) predicts
    sqrt(fan_in · mean(x²)), sqrt(fan_in / 2) ≈ 20 times more. The 25 %
    tolerances cover the spread of a std averaged over only 50 (Kaiming) or 10
    (randn) random units: ~3 % and ~8 % on MNIST's correlated pixels.
    """
    kaiming = MLP.kaiming(seed=0).layers[0]
    fan_in = kaiming.in_features
    zero_bias = torch.zeros(weights.shape[1])
    kaiming_std = kaiming(x_norm).std().item()
    randn_std = lin(x_norm, weights, zero_bias).std().item()
    mean_sq = x_norm.double().pow(2).mean().item()

    assert 0.5 <= kaiming_std <= 2.0
    assert kaiming_std == pytest.approx(math.sqrt(2 * mean_sq), rel=0.25)
    assert randn_std >= 10 * kaiming_std
    assert randn_std / kaiming_std == pytest.approx(math.sqrt(fan_in / 2), rel=0.25)


# --- hypothesis properties of relu and lin ---------------------------------------

float_arrays = st.sampled_from([np.float16, np.float32, np.float64]).flatmap(
    lambda dtype: arrays(dtype, array_shapes(min_dims=0, max_dims=3, max_side=5),
                         elements=st.floats(allow_nan=False, width=np.dtype(dtype).itemsize * 8)))


@given(float_arrays)
def test_relu_properties(array):
    x = torch.from_numpy(array)
    y = relu(x)
    assert y.dtype == x.dtype and y.shape == x.shape
    assert torch.equal(relu(y), y)            # idempotent
    assert (y >= 0).all()                     # non-negative
    assert torch.equal(y == 0, x <= 0)        # zero exactly where x <= 0
    assert torch.equal(y[x > 0], x[x > 0])    # the identity elsewhere


def f32(shape):
    return arrays(np.float32, shape, elements=st.floats(-1e3, 1e3, width=32)).map(torch.from_numpy)


@st.composite
def lin_shapes(draw):
    return tuple(draw(st.integers(1, 4)) for _ in range(3))  # rows, in, out


@pytest.mark.parametrize("kernel", kernel_params())
@given(data=st.data())
def test_lin_with_zero_weights_is_the_bias_broadcast(kernel, data):
    m, k, n = data.draw(lin_shapes())
    x, b = data.draw(f32((m, k))), data.draw(f32((n,)))
    assert torch.equal(lin(x, torch.zeros(k, n), b, kernel), b.expand(m, n))


@pytest.mark.parametrize("kernel", kernel_params())
@given(data=st.data(), alpha=st.floats(-4, 4, width=32))
def test_lin_is_linear_in_x(kernel, data, alpha):
    """lin(αx1 + x2) + αb == α lin(x1) + lin(x2), up to float32 rounding.

    Allowance: the three lin calls each err by <= γ_{K+1}(|x||w| + |b|), the
    rounding of αx1 + x2 carried through w by <= γ_2|αx1 + x2||w|, and four
    more roundings by <= u each of the same magnitudes; as γ_{K+1} >= 2u and
    γ_2 <= γ_{K+1}, 8 γ_{K+1} covers it with room for second-order terms. The
    absolute term covers underflow to subnormals (or to zero).
    """
    m, k, n = data.draw(lin_shapes())
    x1, x2 = data.draw(f32((m, k))), data.draw(f32((m, k)))
    w, b = data.draw(f32((k, n))), data.draw(f32((n,)))
    a = torch.tensor(alpha)
    left = lin(a * x1 + x2, w, b, kernel) + a * b
    right = a * lin(x1, w, b, kernel) + lin(x2, w, b, kernel)

    magnitude = (abs(alpha) * x1.double().abs() + x2.double().abs()) @ w.double().abs()
    magnitude += 2 * (1 + abs(alpha)) * b.double().abs()
    allowance = 8 * gamma(k + 1, torch.float32) * magnitude + (k + 8) * torch.finfo(torch.float32).tiny
    assert_within(left, right, allowance, f"lin(αx1 + x2) + αb vs α lin(x1) + lin(x2), α = {alpha}")


# --- contract: shapes, devices, dtypes --------------------------------------------

BAD_OPERANDS = {
    # name: (x shape, w shape, b shape, shapes the message must name)
    "input_width": ((3, 5), (4, 2), (2,), ["x (3, 5)", "w (4, 2)"]),
    "x_not_2d": ((4,), (4, 2), (2,), ["x (4,)", "w (4, 2)"]),
    "w_not_2d": ((3, 4), (4,), (2,), ["w (4,)"]),
    "bias_length": ((3, 4), (4, 2), (3,), ["b (3,)", "w (4, 2)"]),
    "bias_not_1d": ((3, 4), (4, 2), (1, 2), ["b (1, 2)", "w (4, 2)"]),
}


@pytest.mark.parametrize("case", BAD_OPERANDS)
@pytest.mark.parametrize("kernel", kernel_params())
def test_lin_rejects_bad_shapes_naming_them(kernel, case):
    x_shape, w_shape, b_shape, named = BAD_OPERANDS[case]
    with pytest.raises(ContractError) as raised:
        lin(torch.ones(x_shape), torch.ones(w_shape), torch.ones(b_shape), kernel)
    assert isinstance(raised.value, AssertionError) and isinstance(raised.value, ValueError)
    for text in named:
        assert text in str(raised.value)


@pytest.mark.parametrize("moved", ["x", "w", "b"])
@pytest.mark.parametrize("kernel", kernel_params())
def test_lin_rejects_mixed_devices(kernel, moved):
    # "meta" is a second device that exists everywhere, no accelerator needed.
    operands = {"x": torch.ones(3, 4), "w": torch.ones(4, 2), "b": torch.ones(2)}
    operands[moved] = operands[moved].to("meta")
    with pytest.raises(ContractError, match=r"share one device.*\(4, 2\)"):
        lin(operands["x"], operands["w"], operands["b"], kernel)


def test_layers_check_their_shapes_when_built():
    with pytest.raises(ContractError, match=r"b \(3,\) for w \(4, 2\)"):
        Linear(torch.ones(4, 2), torch.ones(3))
    with pytest.raises(ContractError, match=r"w \(4, 2\) then w \(3, 1\)"):
        MLP((Linear(torch.ones(4, 2), torch.ones(2)), Linear(torch.ones(3, 1), torch.ones(1))))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        lin([[1.0]], torch.ones(1, 1), torch.ones(1))
    with pytest.raises(KeyError, match="unknown kernel"):
        MLP.kaiming(kernel="no_such_kernel")


@pytest.mark.parametrize(
    "x_dtype, w_dtype, b_dtype",
    [(torch.float32,) * 3, (torch.float64,) * 3, (torch.float32, torch.float64, torch.float32),
     (torch.float32, torch.float32, torch.float64), (torch.float64, torch.float32, torch.float32)],
)
def test_lin_result_dtype_is_the_promotion_of_its_operands(x_dtype, w_dtype, b_dtype):
    out = lin(torch.ones(2, 3, dtype=x_dtype), torch.ones(3, 4, dtype=w_dtype),
              torch.ones(4, dtype=b_dtype))
    expected = torch.promote_types(torch.promote_types(x_dtype, w_dtype), b_dtype)
    assert out.dtype == expected
    assert relu(out).dtype == expected


# --- the MLP's contract, whether a kernel fuses the pass or not -------------------

SMALL_SIZES = (6, 5, 3)


@pytest.mark.parametrize("kernel", kernel_params())
def test_mlp_names_bad_shapes_and_promotes_dtypes(kernel):
    """Through a fused forward pass (Kernel.forward) or layer by layer alike: a bad
    input is named with the first layer's weights; mixed float32/float64 give
    float64 logits within the forward bound; integer MLPs are exact."""
    model = MLP.kaiming(SMALL_SIZES, seed=0, kernel=kernel)
    with pytest.raises(ContractError, match=r"x \(3, 7\) for w \(6, 5\)"):
        model(torch.ones(3, 7))
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(0))
    if kernel.computes(torch.float64):
        for x_dtype, w_dtype in [(torch.float32, torch.float64),
                                 (torch.float64, torch.float32)]:
            mixed = model.to(dtype=w_dtype)
            out = mixed(x.to(x_dtype))
            assert out.dtype == torch.float64
            check_forward(out, mixed.layers, x.to(x_dtype))
    if kernel.computes(torch.int64):
        generator = torch.Generator().manual_seed(1)
        integer = MLP(tuple(Linear(torch.randint(-3, 4, (i, o), generator=generator),
                                   torch.randint(-3, 4, (o,), generator=generator), kernel)
                            for i, o in zip(SMALL_SIZES, SMALL_SIZES[1:])))
        xi = torch.randint(-3, 4, (4, 6), generator=generator)
        assert torch.equal(integer(xi), integer.with_kernel("builtin")(xi))


def test_mlp_runs_a_fused_forward_pass_or_falls_back_layer_by_layer():
    """MLP calls kernel.forward(x, layers, **params) after checking x against the
    first layer; NotImplemented from it means one kernel call per layer."""
    calls = []

    def fused(x, layers, scale):
        calls.append((tuple(x.shape), len(layers), scale))
        if x.dtype == torch.float64:
            return NotImplemented
        return torch.full((x.shape[0], layers[-1].out_features), 7.0)

    builtin = MLP.kaiming(SMALL_SIZES, seed=0)
    spy = Kernel(name="spy", fn=lambda a, b, scale: a @ b, python_dims=0, max_rows=10,
                 forward=fused, params={"scale": 2})
    model = builtin.with_kernel(spy)
    assert torch.equal(model(torch.ones(2, 6)), torch.full((2, 3), 7.0))
    assert calls == [((2, 6), 2, 2)]
    with pytest.raises(ContractError, match=r"x \(2, 4\)"):
        model(torch.ones(2, 4))
    assert len(calls) == 1  # refused before the pass
    x = torch.randn(3, 6, dtype=torch.float64)
    assert torch.equal(model.to(dtype=torch.float64)(x), builtin.to(dtype=torch.float64)(x))
    assert calls[-1] == ((3, 6), 2, 2)


# --- the MLP as a benchmark target ------------------------------------------------

def test_kaiming_mlp_is_seeded_and_scaled():
    a, b, c = MLP.kaiming(seed=0), MLP.kaiming(seed=0), MLP.kaiming(seed=1)
    assert a.sizes == (784, 50, 10)
    for la, lb, lc in zip(a.layers, b.layers, c.layers):
        assert torch.equal(la.w, lb.w) and not torch.equal(la.w, lc.w)
        assert torch.equal(la.b, torch.zeros(la.out_features))
        # The sample std of N >= 500 draws has relative sd 1/sqrt(2N) <= 3.2 %.
        assert la.w.std().item() == pytest.approx(math.sqrt(2 / la.in_features), rel=0.1)


@pytest.mark.parametrize("kernel", kernel_params())
def test_with_kernel_shares_weights_and_rebinds_every_layer(kernel, mlp):
    other = mlp.with_kernel(kernel.name)
    assert other.kernel is kernel and all(layer.kernel is kernel for layer in other.layers)
    assert all(new.w is old.w and new.b is old.b for new, old in zip(other.layers, mlp.layers))
    assert mlp.kernel.name == "builtin"
    # The cost model sums the layers' products.
    assert other.python_steps(3) == (
        kernel.python_steps(3, 784, 50) + kernel.python_steps(3, 50, 10))
