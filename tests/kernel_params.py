"""Every registered kernel as a pytest parameter: one helper for every kernel-generic test."""
from __future__ import annotations

import pytest

import matmul


def kernel_params(device: str = "cpu") -> list:
    """Every registered kernel that runs on `device` as a pytest param (id = its
    name); kernels that could not be registered show up as skips that say why."""
    params = [
        pytest.param(k, id=k.name) for k in matmul.KERNELS.values() if k.supports(device)
    ]
    params += [
        pytest.param(None, id=name, marks=pytest.mark.skip(reason=reason))
        for name, reason in matmul.UNAVAILABLE.items()
    ]
    return params
