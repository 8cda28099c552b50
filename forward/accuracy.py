"""How close a forward pass must be to a float64 `torch.nn.functional` reference.

Per layer, with input h, weights W (K = fan_in), bias b: every kernel meets
|p̂ - hW| <= γ_K |h||W| (matmul.accuracy), and the bias add rounds once more,
so (Higham, Lemma 3.3: γ_K + u + uγ_K <= γ_{K+1})

    |ẑ - (hW + b)| <= γ_{K+1} (|h||W| + |b|)          in the layer's dtype.

The float64 reference obeys the same bound with its own γ_{K+1}. relu is exact
and 1-Lipschitz, so an error E in a layer's output reaches the next layer's
input unchanged at most, and that layer's W spreads it to at most E|W|. Summing
both sides' errors, with ȟ the reference's activations:

    E_1 = (γ + γ64)(|x||W_1| + |b_1|)
    E_l = (γ + γ64)((|ȟ_{l-1}| + E_{l-1}) |W_l| + |b_l|) + E_{l-1} |W_l|

It is a worst case, valid for any summation order: for float32 on normalized
MNIST through 784 -> 50 -> 10 (γ_785 ≈ 4.7e-5) it allows 0.005-0.013 on logits
up to ~6, where the kernels actually err by ~2e-6 -- still far below what a
dropped bias or relu costs (tests/test_forward.py checks both fail it).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from matmul.accuracy import assert_within, gamma

from .layers import Linear


def reference_forward(layers: Sequence[Linear], x: torch.Tensor) -> list[torch.Tensor]:
    """Each layer's float64 output (pre-activation) from torch.nn.functional, on the CPU."""
    h = x.detach().cpu().double()
    outputs = []
    for i, layer in enumerate(layers):
        if i:
            h = F.relu(h)
        h = F.linear(h, layer.w.detach().cpu().double().T, layer.b.detach().cpu().double())
        outputs.append(h)
    return outputs


def forward_allowance(layers: Sequence[Linear], x: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """(float64 reference logits, entrywise allowance E_L) for the forward pass of x."""
    references = reference_forward(layers, x)
    h_abs = x.detach().cpu().double().abs()
    error = None  # E_0 = 0: the input is exact
    dtype = x.dtype  # the computed pass's dtype, as lin promotes it layer by layer
    for i, layer in enumerate(layers):
        if i:
            h_abs = F.relu(references[i - 1])  # |relu(z)| = relu(z)
        product = torch.promote_types(dtype, layer.w.dtype)
        dtype = torch.promote_types(product, layer.b.dtype)
        # The product's rounding if it is floating, else (exact integers) the bias add's.
        u_dtype = product if product.is_floating_point else dtype
        g = gamma(layer.in_features + 1, u_dtype) + gamma(layer.in_features + 1, torch.float64)
        w_abs = layer.w.detach().cpu().double().abs()
        b_abs = layer.b.detach().cpu().double().abs()
        if error is None:
            error = g * (h_abs @ w_abs + b_abs)
        else:
            error = g * ((h_abs + error) @ w_abs + b_abs) + error @ w_abs
    return references[-1], error


def check_forward(out: torch.Tensor, layers: Sequence[Linear], x: torch.Tensor,
                  bound: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
    """Raise AssertionError unless out is the forward pass of x within forward_allowance.

    `bound` is forward_allowance(layers, x), when a caller checks several passes of one x.
    """
    expected_shape = (x.shape[0], layers[-1].out_features)
    if tuple(out.shape) != expected_shape:
        raise AssertionError(f"forward of x {tuple(x.shape)} has shape {tuple(out.shape)}, "
                             f"expected {expected_shape}")
    reference, allowance = bound if bound is not None else forward_allowance(layers, x)
    assert_within(out, reference, allowance,
                  f"forward of x {tuple(x.shape)} through {len(layers)} layers",
                  bound="the forward bound")


__all__ = ["check_forward", "forward_allowance", "reference_forward"]
