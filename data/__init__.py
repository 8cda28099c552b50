"""MNIST for the benchmarks: verified IDX files -> float32 tensors.

    from data import load_mnist
    mnist = load_mnist()          # or load_mnist("/path/to/mnist")

Files are looked for in the ``directory`` argument, then ``$MNIST_DIR``, then
a per-user cache (``$MNIST_CACHE_DIR`` overrides its location) that is filled
from public mirrors.  Pre-fetch with ``python -m data fetch [--dir DIR]``.
"""

from .errors import MnistChecksumError, MnistDataError, MnistUnavailableError
from .files import MNIST_FILES
from .mnist import MNIST, load_mnist
from .sources import cache_dir, fetch

__all__ = [
    "MNIST",
    "MNIST_FILES",
    "MnistChecksumError",
    "MnistDataError",
    "MnistUnavailableError",
    "cache_dir",
    "fetch",
    "load_mnist",
]
