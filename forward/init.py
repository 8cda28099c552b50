"""Kaiming (He) initialisation for layers followed by relu.

relu zeroes half of a symmetric pre-activation, halving its second moment; He
et al. (2015) compensate with Var(w) = 2 / fan_in, so that each layer's
pre-activation variance is 2 * mean(x^2) of its input: about 2 for normalized
inputs, and the same again layer after layer. The lesson's `randn` (Var(w) = 1)
gives fan_in * mean(x^2) instead, sqrt(fan_in / 2) times larger in std.
"""
from __future__ import annotations

import math

import torch


def make_generator(generator: torch.Generator | None = None,
                   seed: int | None = None) -> torch.Generator | None:
    """A generator from `seed`, or `generator` as given (None: torch's global RNG)."""
    if seed is not None:
        if generator is not None:
            raise ValueError("pass either generator or seed, not both")
        return torch.Generator().manual_seed(seed)
    return generator


def kaiming_std(fan_in: int, gain: float = math.sqrt(2.0)) -> float:
    """gain / sqrt(fan_in); the default gain sqrt(2) is relu's."""
    if fan_in < 1:
        raise ValueError(f"fan_in must be positive, got {fan_in}")
    return gain / math.sqrt(fan_in)


def kaiming_normal(fan_in: int, fan_out: int, *, generator: torch.Generator | None = None,
                   seed: int | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """fan_in x fan_out weights drawn from N(0, 2 / fan_in)."""
    generator = make_generator(generator, seed)
    w = torch.randn(fan_in, fan_out, generator=generator, dtype=dtype)
    return w.mul_(kaiming_std(fan_in))


__all__ = ["kaiming_normal", "kaiming_std", "make_generator"]
