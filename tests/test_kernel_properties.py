"""Properties every registered kernel keeps, on hypothesis-drawn operands.

Each property is a plain function `(kernel, *operands)` that raises
AssertionError, tagged with the strategy that draws its operands. One test runs
every property on every kernel of the registry, so a kernel registered later
gets them all with no code here; test_broken_kernels.py runs the same
PROPERTIES on deliberately broken kernels to show that each can fail.

Accuracy bound (implemented in matmul.accuracy.check_product): a dot product of
length K in a dtype with unit roundoff u, summed in any order, is within
γ_K |A||B| of the exact one, entrywise, with γ_K = K u / (1 - K u) (Higham,
eq. 3.5); integers must be exact. The strategies keep K u <= 1/4 and every
nonzero product a normal number, where that bound holds.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kernel_params import kernel_params
from matmul import ContractError
from matmul.accuracy import assert_within, check_product, gamma, unit_roundoff
from strategies import malformed_pairs, matmul_pairs, matmul_triples

PROPERTIES = []


def kernel_property(operands):
    """Register a property and the strategy (kernel -> operands) it runs on."""

    def register(fn):
        fn.operands = operands
        PROPERTIES.append(fn)
        return fn

    return register


def assert_agree(x, y, dtype, allowance, what):
    """x == y exactly for integer `dtype`, else |x - y| <= allowance entrywise."""
    assert x.shape == y.shape, f"{what}: shapes {tuple(x.shape)} and {tuple(y.shape)}"
    if not dtype.is_floating_point:
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=lambda m: f"{what}: {m}")
        return
    assert_within(x, y, allowance, what)


def assert_exact(c, expected, what):
    torch.testing.assert_close(c, expected, rtol=0, atol=0, msg=lambda m: f"{what}: {m}")


@kernel_property(matmul_pairs)
def accurate(kernel, a, b):
    """The product is the exact one within γ_K|A||B| (exact for integers),
    with shape m x n and dtype torch.result_type(a, b)."""
    check_product(kernel(a, b), a, b)


@kernel_property(matmul_pairs)
def keeps_contract(kernel, a, b):
    """dtype result_type(a, b), a's device, shape m x n; a and b untouched
    (values, shape and strides: a kernel may not transpose or scale its input)."""
    before = [(t.clone(), t.shape, t.stride()) for t in (a, b)]
    c = kernel(a, b)
    assert c.dtype == torch.result_type(a, b), f"dtype {c.dtype} for {a.dtype} @ {b.dtype}"
    assert c.device == a.device, f"result on {c.device}, operands on {a.device}"
    assert c.shape == (a.shape[0], b.shape[1]), f"shape {tuple(c.shape)}"
    for name, t, (copy, shape, stride) in zip("ab", (a, b), before, strict=True):
        assert (t.shape, t.stride()) == (shape, stride) and torch.equal(t, copy), (
            f"{kernel.name} modified its operand {name}"
        )


@kernel_property(malformed_pairs)
def rejects_malformed(kernel, a, b):
    """Differing inner dimensions or a non-2-D operand raise ContractError (an
    AssertionError too, the lesson's contract) naming both shapes."""
    try:
        kernel(a, b)
    except ContractError as error:
        assert isinstance(error, AssertionError), "ContractError must stay an AssertionError"
        message = str(error)
    else:
        raise AssertionError(f"accepted a {tuple(a.shape)} @ b {tuple(b.shape)}")
    for t in (a, b):
        assert str(tuple(t.shape)) in message, f"{message!r} does not name {tuple(t.shape)}"


@kernel_property(matmul_triples)
def algebra(kernel, a, b, c):
    """A @ I == A, I @ B == B, A @ 0 == 0 and 0 @ B == 0 exactly (each entry is
    one product by 1, or only zeros); (A @ B)ᵀ == Bᵀ @ Aᵀ and
    A @ (B + C) == A @ B + A @ C within the bounds derived below."""
    dtype, (m, k), n = torch.result_type(a, b), a.shape, b.shape[1]
    assert_exact(kernel(a, torch.eye(k, dtype=a.dtype)), a, "A @ I")
    assert_exact(kernel(torch.eye(k, dtype=b.dtype), b), b, "I @ B")
    zeros = torch.zeros(m, n, dtype=dtype)
    assert_exact(kernel(a, torch.zeros_like(b)), zeros, "A @ 0")
    assert_exact(kernel(torch.zeros_like(a), b), zeros, "0 @ B")

    # Each side is within γ_K|A||B| of the exact product, so they differ by at
    # most 2 γ_K |A||B| (a float64 γ_K more covers computing the allowance).
    abs_a, abs_b = a.double().abs(), b.double().abs()
    allowance = (2 * gamma(k, dtype) + gamma(k, torch.float64)) * (abs_a @ abs_b).T
    assert_agree(kernel(a, b).T, kernel(b.T, a.T), dtype, allowance, "(A @ B)ᵀ vs Bᵀ @ Aᵀ")

    # With S = fl(B + C) in the result dtype, |S - (B + C)| <= u|B + C|; the
    # left side is within γ_K|A||S| <= γ_K(1 + u)|A|(|B| + |C|) of A S, so within
    # (γ_K(1 + u) + u)|A|(|B| + |C|) of A(B + C); the right, summed in float64,
    # within γ_K|A|(|B| + |C|) of it. With γ_K <= 1/3 the sides differ by at
    # most (2 γ_K + 2u)|A|(|B| + |C|); 2 γ_{K+2} in float64 covers the float64
    # sum and the allowance's own rounding.
    left = kernel(a, b.to(dtype) + c.to(dtype))
    wide = torch.float64 if dtype.is_floating_point else dtype
    right = kernel(a, b).to(wide) + kernel(a, c).to(wide)
    factor = 2 * gamma(k, dtype) + 2 * unit_roundoff(dtype) + 2 * gamma(k + 2, torch.float64)
    allowance = factor * (abs_a @ (abs_b + c.double().abs()))
    assert_agree(left.to(wide), right, dtype, allowance, "A @ (B + C) vs A @ B + A @ C")


@pytest.mark.parametrize("prop", PROPERTIES, ids=lambda p: p.__name__)
@pytest.mark.parametrize("kernel", kernel_params())
@given(data=st.data())
def test_property(kernel, prop, data):
    prop(kernel, *data.draw(prop.operands(kernel), label="operands"))
