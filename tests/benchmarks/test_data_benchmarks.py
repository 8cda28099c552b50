"""The MNIST load: verify checksums, decompress, parse (the memo cleared each round)."""
from __future__ import annotations

import pytest

from bench.runs import Workload
from bench.suite import cases
from data import MNIST_FILES, load_mnist


@pytest.mark.mnist
def test_load_mnist(mnist_dir, timed, benchmark):
    benchmark.group = "data"

    def load():
        load_mnist.cache_clear()
        return load_mnist(mnist_dir)

    def read_files():  # the reference: the same bytes, only read
        return [(mnist_dir / name).read_bytes() for name in MNIST_FILES]

    loaded = load()
    assert tuple(loaded.x_train.shape) == (50_000, 784)
    assert loaded.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    size = sum(len(raw) for raw in read_files())
    images = len(loaded.x_train) + len(loaded.x_valid) + len(loaded.x_test)
    timed(load, cases.Reference("read_files", read_files),
          Workload(suite="data", kernel="load_mnist", rows=images, bytes=size,
                   flops=images * 784))  # one division (pixel / 255) per pixel
