"""How close a computed product must be to the exact one.

The standard forward-error bound for a dot product of length K computed in
floating point with unit roundoff u, in any summation order (Higham, *Accuracy
and Stability of Numerical Algorithms*, 2nd ed., eq. 3.5), applied entrywise:

    |C - Ĉ| <= γ_K |A| |B|,   γ_K = K u / (1 - K u)   (valid while K u < 1)

It scales with K, so it is tight for short products (a 0.1 % error in a K = 4
product is caught) and honest for long ones (float32 rounding over K = 784).
Kernels that accumulate in a wider type than their output (torch's float16 and
bfloat16 CPU paths) meet it more easily; a final rounding to the output type
costs at most u |C| <= γ_1 |A||B|, which the bound already covers for K >= 1.
Integer products must be exact.

The reference is computed in a wider type than the result: numpy's extended
precision (long double) for small products, float64 otherwise; its own γ_K is
added to the allowance so the check never blames the kernel for the reference.
"""
from __future__ import annotations

import numpy as np
import torch

# Products up to this many multiply-adds get the extended-precision reference.
EXTENDED_REFERENCE_MACS = 2_000_000


def unit_roundoff(dtype: torch.dtype | np.dtype) -> float:
    """u = half the machine epsilon of a floating dtype (0 for integers: exact)."""
    if isinstance(dtype, torch.dtype):
        if not dtype.is_floating_point:
            return 0.0
        return torch.finfo(dtype).eps / 2
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype).eps) / 2 if dtype.kind == "f" else 0.0


def gamma(k: int, dtype: torch.dtype | np.dtype) -> float:
    """γ_K for inner dimension k in dtype; inf where the bound says nothing (K u >= 1)."""
    ku = k * unit_roundoff(dtype)
    return ku / (1 - ku) if ku < 1 else float("inf")


def reference_product(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The product in a wider type (float64 tensor) and that type's γ_K."""
    m, k = a.shape
    n = b.shape[1]
    a64, b64 = a.detach().cpu().double(), b.detach().cpu().double()
    if m * k * n <= EXTENDED_REFERENCE_MACS:
        wide = np.longdouble
        exact = a64.numpy().astype(wide) @ b64.numpy().astype(wide)
        # Rounding the extended result to float64 costs at most u64 |C|.
        return torch.from_numpy(exact.astype(np.float64)), gamma(k, wide) + unit_roundoff(np.float64)
    return a64 @ b64, gamma(k, torch.float64)


def product_bound(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(the product in a wider type, the entrywise allowance) for a @ b in
    torch.result_type(a, b); the allowance is None for integers (exact)."""
    dtype = torch.result_type(a, b)
    exact, ref_gamma = reference_product(a, b)
    if not dtype.is_floating_point and not dtype.is_complex:
        return exact, None
    abs_product = a.detach().cpu().double().abs() @ b.detach().cpu().double().abs()
    return exact, (gamma(a.shape[1], dtype) + ref_gamma) * abs_product


def check_product(c: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                  bound: tuple[torch.Tensor, torch.Tensor | None] | None = None) -> None:
    """Raise AssertionError unless c is a @ b within the bound (exact for integers).

    `bound` is product_bound(a, b), when a caller checks several results of one
    product. The message names the shapes, dtype, the worst entry and its allowance.
    """
    expected_dtype = torch.result_type(a, b)
    if c.shape != (a.shape[0], b.shape[1]):
        raise AssertionError(
            f"product of a {tuple(a.shape)} @ b {tuple(b.shape)} has shape {tuple(c.shape)}"
        )
    if c.dtype != expected_dtype:
        raise AssertionError(f"a {tuple(a.shape)} {a.dtype} @ b {tuple(b.shape)} {b.dtype}: "
                             f"result dtype {c.dtype}, expected {expected_dtype}")
    exact, allowance = bound if bound is not None else product_bound(a, b)
    k = a.shape[1]
    if allowance is None:
        torch.testing.assert_close(
            c.cpu(), exact.to(expected_dtype), rtol=0, atol=0,
            msg=lambda m: f"a {tuple(a.shape)} @ b {tuple(b.shape)} in {expected_dtype} "
                          f"must be exact: {m}")
        return
    assert_within(c, exact, allowance,
                  f"a {tuple(a.shape)} @ b {tuple(b.shape)} in {expected_dtype} (K = {k})",
                  bound="γ_K|A||B|")


def assert_within(actual: torch.Tensor, expected: torch.Tensor, allowance: torch.Tensor,
                  what: str, bound: str = "the bound") -> None:
    """Raise AssertionError unless |actual - expected| <= allowance entrywise (2-D).

    NaN or inf where a finite value was expected always fails. The message names
    `what`, the worst entry, both values, the error and its allowance.
    """
    error = (actual.detach().cpu().double() - expected.detach().cpu().double()).abs()
    excess = torch.nan_to_num(error - allowance, nan=float("inf"))
    if excess.numel() and (excess > 0).any():
        i, j = divmod(int(excess.argmax()), actual.shape[1])
        raise AssertionError(
            f"{what}: entry ({i}, {j}) is {actual[i, j].item()!r}, expected "
            f"{expected[i, j].item()!r}, error {error[i, j].item():.3g} > allowed "
            f"{bound} = {allowance[i, j].item():.3g}"
        )
