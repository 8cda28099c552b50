"""Shared fixtures: hypothesis profiles, the real MNIST (loaded once) and seeded weights."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

from bench.mnist import SHARED_MNIST, local_mnist_dir

pytest_plugins = ["bench.fixtures"]

# A quick profile for development; `ci` (HYPOTHESIS_PROFILE=ci, set by .ci/run)
# runs more examples, reproducibly, with no deadline flakes and no database.
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

WEIGHTS_SEED = 42


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Directory of the four MNIST .gz files; in CI its absence is a failure, not a skip."""
    directory = local_mnist_dir()
    if directory is None:
        reason = ("real MNIST not found: set MNIST_DIR or run `python -m data fetch` "
                  f"(looked at {SHARED_MNIST} and the user cache)")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return directory.resolve()  # the loader reports resolved paths


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """The MNIST tensors, parsed once per session (the loader memoises too)."""
    from data import load_mnist

    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def weights() -> torch.Tensor:
    """The seed's layer: 784 x 10 standard-normal weights, from a fixed seed."""
    generator = torch.Generator().manual_seed(WEIGHTS_SEED)
    return torch.randn(784, 10, generator=generator)


@pytest.fixture(scope="session")
def normalizer(mnist):
    """The training set's mean and std, for normalising MNIST inputs (fitted once)."""
    from forward import Normalizer

    return Normalizer.fit(mnist.x_train)
